package main

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/redisstore/redistest"
)

// TestFleetReplicaCatchesUpAfterLosingRedis: replica B reaches Redis
// through a link the test cuts. While it is cut, replica A refreshes one
// token and evicts another, and B hears neither notification. Once the
// link is back, B's subscription comes back, B catches up from the store
// at its next check, and from then on it serves the refreshed token and not
// the evicted one: no stale token, without a restart.
func TestFleetReplicaCatchesUpAfterLosingRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	rs := redistest.StartServer(t) // private: its connections are the test's to cut
	link := startLink(t, rs.Addr)
	ts := startTokenService(t, time.Hour)
	prefix := redistest.Prefix()
	check := "JWT_RENEWAL_CHECK_INTERVAL=1"
	_, a := serve(t, fleetEnv(ts, prefix, []string{rs.Addr}, check))
	pb, b := serve(t, fleetEnv(ts, prefix, []string{link.addr()}, check))
	token := func(base, service string) string {
		t.Helper()
		code, body := call(t, "GET", base+"/api/v1/jwt/token/"+service)
		if code != 200 {
			t.Fatalf("GET token/%s on %s: %d %v", service, base, code, body)
		}
		return body["accessToken"].(string)
	}
	kyc, aml := token(a, "kyc"), token(a, "aml")
	if token(b, "kyc") != kyc || token(b, "aml") != aml {
		t.Fatal("replica B did not take replica A's tokens from Redis")
	}

	link.cut()
	code, ref := call(t, "POST", a+"/api/v1/jwt/refresh/kyc")
	if code != 200 || ref["accessToken"] == kyc {
		t.Fatalf("refresh on A: %d %v", code, ref)
	}
	if code, ev := call(t, "DELETE", a+"/api/v1/jwt/evict/aml"); code != 200 || ev["evicted"] != true {
		t.Fatalf("evict on A: %d %v", code, ev)
	}
	// B cannot hear it: its near cache still serves the tokens it holds,
	// which are valid.
	if token(b, "kyc") != kyc {
		t.Fatal("replica B changed its token while cut off from Redis")
	}
	logFrom := pb.outputLen()
	link.restore()

	redistest.WaitFor(t, 15*time.Second, "replica B to catch up with the refresh", func(context.Context) bool {
		return token(b, "kyc") == ref["accessToken"]
	})
	if got := token(b, "aml"); got == aml {
		t.Fatal("replica B still serves the token evicted while it was cut off")
	}
	for range 20 {
		if token(b, "kyc") != ref["accessToken"] {
			t.Fatal("replica B went back to the token replaced while it was cut off")
		}
	}
	logs := pb.outputFrom(logFrom)
	for _, want := range []string{"subscribed again after losing its connection", "caught up with the store after missed change notifications"} {
		if !strings.Contains(logs, want) {
			t.Errorf("replica B's log after the link came back lacks %q:\n%s", want, logs)
		}
	}
	mustContainNone(t, "replica B's log", pb.output(), kyc, aml, ref["accessToken"].(string))
	// The refresh cost one call, the catch-up none: B read aml's absence
	// from the store and fetched it once when asked.
	if n := ts.Requests(); n != 4 {
		t.Fatalf("%d token-service calls, want 4 (kyc, aml, the refresh, aml again)", n)
	}
}

// link is a TCP forwarder to a Redis that the test can cut: cut closes
// every connection and refuses new ones until restore.
type link struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool                  // guarded by mu
	conns map[net.Conn]struct{} // guarded by mu
}

func startLink(t *testing.T, target string) *link {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &link{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() {
		_ = ln.Close()
		l.cut()
	})
	go l.accept()
	return l
}

func (l *link) addr() string { return l.ln.Addr().String() }

func (l *link) accept() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		go l.forward(c)
	}
}

func (l *link) forward(c net.Conn) {
	l.mu.Lock()
	down := l.down
	l.mu.Unlock()
	if down {
		_ = c.Close()
		return
	}
	up, err := net.Dial("tcp", l.target)
	if err != nil {
		_ = c.Close()
		return
	}
	l.mu.Lock()
	l.conns[c], l.conns[up] = struct{}{}, struct{}{}
	l.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = io.Copy(up, c); _ = up.Close(); _ = c.Close() })
	wg.Go(func() { _, _ = io.Copy(c, up); _ = up.Close(); _ = c.Close() })
	wg.Wait()
	l.mu.Lock()
	delete(l.conns, c)
	delete(l.conns, up)
	l.mu.Unlock()
}

func (l *link) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = true
	for c := range l.conns {
		_ = c.Close()
	}
}

func (l *link) restore() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = false
}
