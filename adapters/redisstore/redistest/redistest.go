// Package redistest gives tests real Redis servers: the shared one at
// 127.0.0.1:6379, private redis-server processes that a test may stop and
// restart, and Redis Clusters of several processes.
//
// Where a real Redis is missing (a newcomer's laptop), RequireServer skips
// the test with a message saying so — except when JWTCACHE_REQUIRE_REDIS=1
// (CI), where it fails: a missing Redis must never pass as a skipped test.
package redistest

import (
	"context"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SharedAddr is the Redis this machine kind runs for the tests.
const SharedAddr = "127.0.0.1:6379"

// Required reports whether a missing Redis fails the tests
// (JWTCACHE_REQUIRE_REDIS=1) instead of skipping them or falling back.
func Required() bool { return os.Getenv("JWTCACHE_REQUIRE_REDIS") == "1" }

// SharedUp reports whether a Redis answers PING at SharedAddr within
// 300ms; it asks once per test binary.
var SharedUp = sync.OnceValue(func() bool { return ping(SharedAddr, 300*time.Millisecond) })

func ping(addr string, timeout time.Duration) bool {
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: timeout, ReadTimeout: timeout, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return c.Ping(ctx).Err() == nil
}

// Unavailable ends a test that cannot run without a real Redis: a skip
// that says why, or a failure when Required.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s, and JWTCACHE_REQUIRE_REDIS=1", why)
	}
	t.Skipf("%s; this test needs a real Redis (CI always has one)", why)
}

// RequireShared returns SharedAddr, or ends the test with Unavailable.
func RequireShared(t testing.TB) string {
	t.Helper()
	if !SharedUp() {
		Unavailable(t, "no Redis answers at "+SharedAddr)
	}
	return SharedAddr
}

// RequireBinaries ends the test with Unavailable unless redis-server and
// redis-cli are on PATH.
func RequireBinaries(t testing.TB) {
	t.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			Unavailable(t, bin+" is not on PATH")
		}
	}
}

// Prefix is a key prefix no other test run uses, so tests can share a
// Redis.
func Prefix() string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 12)
	for i := range b {
		b[i] = letters[rand.IntN(len(letters))]
	}
	return "jwtcache-test-" + string(b)
}

// Server is a private redis-server process on a free loopback port.
type Server struct {
	t    testing.TB
	Addr string
	dir  string
	port string

	// extra are more redis-server arguments, and ready says when the
	// server answers; see StartServerWith.
	extra []string
	ready func(ctx context.Context, addr string) bool

	mu  sync.Mutex
	cmd *exec.Cmd
}

// StartServer starts a private redis-server (persisting nothing), waits
// until it answers, and stops it when the test ends.
func StartServer(t testing.TB) *Server {
	t.Helper()
	RequireBinaries(t)
	port := freePort(t, false)
	s := &Server{t: t, dir: t.TempDir(), port: strconv.Itoa(port)}
	s.Addr = net.JoinHostPort("127.0.0.1", s.port)
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start (re)starts the server on its port, empty, and waits until it
// answers.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	s.cmd = startProcess(s.t, s.dir, s.port, s.extra...)
	ready := s.ready
	if ready == nil {
		ready = func(_ context.Context, addr string) bool { return ping(addr, 200*time.Millisecond) }
	}
	WaitFor(s.t, 10*time.Second, "redis-server at "+s.Addr, func(ctx context.Context) bool { return ready(ctx, s.Addr) })
}

// Stop kills the server at once, as a crash would; Start brings it back.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

func startProcess(t testing.TB, dir, port string, extra ...string) *exec.Cmd {
	t.Helper()
	args := append([]string{
		"--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir,
		"--logfile", filepath.Join(dir, "redis-"+port+".log"),
	}, extra...)
	cmd := exec.Command("redis-server", args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server on port %s: %v", port, err)
	}
	return cmd
}

// StartCluster starts n redis-server processes in cluster mode on free
// loopback ports, joins them into a cluster with one master each and no
// replicas, waits until every node reports cluster_state:ok, and returns
// their addresses. The processes are killed when the test ends.
func StartCluster(t testing.TB, n int) []string {
	t.Helper()
	RequireBinaries(t)
	dir := t.TempDir()
	addrs := make([]string, n)
	for i := range n {
		p := strconv.Itoa(freePort(t, true))
		addrs[i] = net.JoinHostPort("127.0.0.1", p)
		cmd := startProcess(t, dir, p,
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes-"+p+".conf"),
			"--cluster-node-timeout", "5000")
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	for _, addr := range addrs {
		WaitFor(t, 10*time.Second, "redis-server at "+addr, func(context.Context) bool { return ping(addr, 200*time.Millisecond) })
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		WaitFor(t, 20*time.Second, "cluster_state:ok at "+addr, func(ctx context.Context) bool {
			info, err := c.ClusterInfo(ctx).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok")
		})
		_ = c.Close()
	}
	return addrs
}

// freePort returns a loopback port that is free, and whose cluster bus
// port (port + 10000) is free too when bus is set.
func freePort(t testing.TB, bus bool) int {
	t.Helper()
	for range 100 {
		port := 20000 + rand.IntN(30000)
		a, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		if !bus {
			_ = a.Close()
			return port
		}
		b, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		_ = a.Close()
		if err != nil {
			continue
		}
		_ = b.Close()
		return port
	}
	t.Fatal("no free loopback port")
	return 0
}

// WaitFor polls cond every 20ms until it holds, failing the test after
// timeout. It is for waiting on other processes, whose progress no fake
// clock controls.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func(ctx context.Context) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond(ctx) {
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}
