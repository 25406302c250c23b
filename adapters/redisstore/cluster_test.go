package redisstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/adapters/redisstore/redistest"
	"github.com/jwtcache/jwtcache/ports/storetest"
)

// TestCluster runs the contract suite against a three-master Redis Cluster
// of local redis-server processes, so that every command is known to work
// across slots and nodes.
func TestCluster(t *testing.T) {
	redistest.RequireBinaries(t)
	t.Parallel()
	addrs := redistest.StartCluster(t, 3)
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
	//lint:ignore SA1019 CLUSTER SLOTS works on every Redis the tests may start; CLUSTER SHARDS needs Redis 7.
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
