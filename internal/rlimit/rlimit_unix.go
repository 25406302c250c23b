//go:build unix

package rlimit

import "syscall"

// OpenFiles is the process's soft RLIMIT_NOFILE (very large when
// unlimited); ok is false when it cannot be read.
func OpenFiles() (limit uint64, ok bool) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, false
	}
	return uint64(r.Cur), true
}
