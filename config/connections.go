package config

import (
	"fmt"

	"github.com/jwtcache/jwtcache/internal/rlimit"
)

// ConnectionFDReserve is how many of the process's file descriptors
// SERVER_MAX_CONNECTIONS should leave for everything else: Redis's pool,
// the token service's connections, the credential files and the log. (The
// management listener's own cap, when it is on, comes on top and is not
// counted here.) A larger
// SERVER_MAX_CONNECTIONS is not refused (the open-file limit can be raised
// without a restart of anything but jwtcache), but warned about at
// start-up: a full listener would make those fail with "too many open
// files".
const ConnectionFDReserve = 256

// maxConnectionsWarning is the warning about SERVER_MAX_CONNECTIONS in this
// process, if any.
func (s ServerConfig) maxConnectionsWarning() (Warning, bool) {
	limit, known := rlimit.OpenFiles()
	return maxConnectionsWarning(s.MaxConnections, limit, known)
}

// maxConnectionsWarning warns when maxConns, a SERVER_MAX_CONNECTIONS set
// (0 is the default, which stays at half the limit), leaves fewer than
// ConnectionFDReserve descriptors of limit; known is false when the limit
// cannot be read.
func maxConnectionsWarning(maxConns int, limit uint64, known bool) (Warning, bool) {
	if maxConns <= 0 || !known {
		return Warning{}, false
	}
	if limit >= ConnectionFDReserve && uint64(maxConns) <= limit-ConnectionFDReserve {
		return Warning{}, false
	}
	return Warning{Env: "SERVER_MAX_CONNECTIONS", Message: fmt.Sprintf(
		"%s leaves fewer than %d of the process's %d file descriptors (ulimit -n) for Redis, the token service, "+
			"the management listener and the log: a full listener would make them fail with \"too many open files\". "+
			"Raise ulimit -n, or lower it or leave it unset (half the limit, or less)",
		ref("SERVER_MAX_CONNECTIONS"), ConnectionFDReserve, limit)}, true
}
