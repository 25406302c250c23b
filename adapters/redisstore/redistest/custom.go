package redistest

import (
	"context"
	"net"
	"strconv"
	"testing"
)

// StartServerWith starts a private redis-server like StartServer, with the
// further arguments args gives for its port (requirepass, ACL users,
// "--port 0 --tls-port PORT" ...; later arguments override earlier ones),
// and waits until ready holds for its address: a server that demands a
// password or speaks only TLS does not answer a plain PING.
func StartServerWith(t testing.TB, ready func(ctx context.Context, addr string) bool, args func(port string) []string) *Server {
	t.Helper()
	RequireBinaries(t)
	port := strconv.Itoa(freePort(t, false))
	s := &Server{t: t, dir: t.TempDir(), port: port, extra: args(port), ready: ready}
	s.Addr = net.JoinHostPort("127.0.0.1", s.port)
	s.Start()
	t.Cleanup(s.Stop)
	return s
}
