package rest

import "github.com/jwtcache/jwtcache/internal/rlimit"

// openFileLimit is the process's soft RLIMIT_NOFILE (very large when
// unlimited); ok is false where there is none.
func openFileLimit() (uint64, bool) { return rlimit.OpenFiles() }
