package redisstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/ports/storetest"
)

// TestCluster runs the contract suite against a three-master Redis Cluster
// of local redis-server processes, so that every command is known to work
// across slots and nodes.
func TestCluster(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		if requireRedis {
			t.Fatal("redisstore: redis-server is not on PATH and JWTCACHE_REQUIRE_REDIS=1")
		}
		t.Skip("redisstore: redis-server is not on PATH; the Redis Cluster test needs it")
	}
	if _, err := exec.LookPath("redis-cli"); err != nil {
		if requireRedis {
			t.Fatal("redisstore: redis-cli is not on PATH and JWTCACHE_REQUIRE_REDIS=1")
		}
		t.Skip("redisstore: redis-cli is not on PATH; the Redis Cluster test needs it")
	}
	t.Parallel()
	addrs := startCluster(t, 3)
	b := serverBackend(t, addrs)
	if _, ok := b.raw.(*redis.ClusterClient); !ok {
		t.Fatalf("three addresses gave a %T, want a cluster client", b.raw)
	}

	storetest.Run(t, b.subjects(0))

	t.Run("services spread over nodes", func(t *testing.T) {
		ctx := t.Context()
		prefix := testPrefix()
		t.Cleanup(func() { b.dropPrefix(t, prefix) })
		s := b.store(t, prefix, 0)
		const n = 30
		for i := range n {
			if err := s.Put(ctx, fmt.Sprintf("svc-%d", i), token(time.Now(), time.Hour, "secret")); err != nil {
				t.Fatal(err)
			}
		}
		entries, err := s.List(ctx)
		if err != nil || len(entries) != n {
			t.Fatalf("List = %d entries, %v; want %d", len(entries), err, n)
		}
		cc := b.raw.(*redis.ClusterClient)
		nodes := map[string]bool{}
		for i := range n {
			svc := fmt.Sprintf("svc-%d", i)
			tokSlot := cc.ClusterKeySlot(ctx, s.keys.token(svc)).Val()
			if lockSlot := cc.ClusterKeySlot(ctx, s.keys.lock(svc)).Val(); lockSlot != tokSlot {
				t.Fatalf("%s: token key in slot %d, lock key in slot %d", svc, tokSlot, lockSlot)
			}
			nodes[slotOwner(t, cc, tokSlot)] = true
		}
		if len(nodes) < 2 {
			t.Fatalf("%d services all landed on %v: the test does not cross nodes", n, nodes)
		}
	})
}

// slotOwner returns the address of the master serving slot.
func slotOwner(t *testing.T, cc *redis.ClusterClient, slot int64) string {
	t.Helper()
	slots, err := cc.ClusterSlots(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		if int64(s.Start) <= slot && slot <= int64(s.End) {
			return s.Nodes[0].Addr
		}
	}
	t.Fatalf("no node serves slot %d", slot)
	return ""
}

// startCluster starts n redis-server processes in cluster mode on free
// loopback ports, joins them into a cluster with one master each and no
// replicas, and waits until every node reports cluster_state:ok. The
// processes are killed when the test ends.
func startCluster(t *testing.T, n int) []string {
	t.Helper()
	dir := t.TempDir()
	addrs := make([]string, n)
	for i := range n {
		port := freeClusterPort(t)
		addrs[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		p := strconv.Itoa(port)
		cmd := exec.Command("redis-server",
			"--port", p, "--bind", "127.0.0.1",
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes-"+p+".conf"),
			"--cluster-node-timeout", "5000",
			"--save", "", "--appendonly", "no", "--dir", dir,
			"--logfile", filepath.Join(dir, "redis-"+p+".log"),
		)
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server on %s: %v", p, err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	for _, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		waitFor(t, 10*time.Second, "redis-server at "+addr+" answering", func(ctx context.Context) bool {
			return c.Ping(ctx).Err() == nil
		})
		_ = c.Close()
	}

	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		waitFor(t, 20*time.Second, "cluster_state:ok at "+addr, func(ctx context.Context) bool {
			info, err := c.ClusterInfo(ctx).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok")
		})
		_ = c.Close()
	}
	return addrs
}

// freeClusterPort returns a loopback port that is free and whose cluster
// bus port (port + 10000) is free too.
func freeClusterPort(t *testing.T) int {
	t.Helper()
	for range 100 {
		port := 20000 + rand.IntN(30000)
		a, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		b, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		_ = a.Close()
		if err != nil {
			continue
		}
		_ = b.Close()
		return port
	}
	t.Fatal("no free port pair for a cluster node")
	return 0
}

// waitFor polls cond until it holds, failing after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
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
