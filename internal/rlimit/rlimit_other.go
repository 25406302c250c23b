//go:build !unix

package rlimit

// OpenFiles reports no limit where RLIMIT_NOFILE does not exist.
func OpenFiles() (limit uint64, ok bool) { return 0, false }
