//go:build unix

package rest

import "syscall"

// openFileLimit is the process's soft RLIMIT_NOFILE (very large when
// unlimited).
func openFileLimit() (uint64, bool) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, false
	}
	return uint64(r.Cur), true
}
