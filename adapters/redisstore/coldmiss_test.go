package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/adapters/redisstore/redistest"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

// maxColdMissCommands is what a cold miss may cost on the Redis store: GET
// (the store, before the lock), SET NX (the lock), GET (the store, under
// the lock), SET and ZADD (the token and its index entry), PUBLISH, and
// EVALSHA (the lock's release; a script's own commands are not counted).
const maxColdMissCommands = 7

// keyLog records every command a client sends as "name key", except the
// handshake go-redis sends on each new connection (HELLO, CLIENT SETINFO),
// which depends on the pool's state, not on the store.
type keyLog struct {
	mu   sync.Mutex
	cmds []string
}

func (l *keyLog) add(cmds ...redis.Cmder) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range cmds {
		entry := strings.ToLower(c.Name())
		if entry == "hello" || entry == "client" {
			continue
		}
		if args := c.Args(); len(args) > 1 {
			entry += fmt.Sprint(" ", args[1])
		}
		l.cmds = append(l.cmds, entry)
	}
}

func (l *keyLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	cmds := l.cmds
	l.cmds = nil
	return cmds
}

func (l *keyLog) DialHook(next redis.DialHook) redis.DialHook { return next }

func (l *keyLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { l.add(cmd); return next(ctx, cmd) }
}

func (l *keyLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { l.add(cmds...); return next(ctx, cmds) }
}

type hourIssuer struct{}

func (hourIssuer) Issue(_ context.Context, service string) (domain.Token, error) {
	now := time.Now()
	return domain.Token{AccessToken: service + "-token", TokenType: "Bearer", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}, nil
}

// TestColdMissCommands: a cold miss through the core costs at most
// maxColdMissCommands Redis commands, and none after the replica hears
// its own change notification.
func TestColdMissCommands(t *testing.T) {
	addr := redistest.RequireShared(t)
	client := redis.NewClient(&redis.Options{Addr: addr})
	var log keyLog
	client.AddHook(&log)
	s := NewWithClient(client, Options{KeyPrefix: testPrefix(), Logger: testLogger(t)})
	cache, err := app.New(app.Options{Issuer: hourIssuer{}, Store: s, Locker: s, Feed: s, Pinger: s,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cache.Close()
		_, _ = s.Delete(context.Background(), "warm")
		_, _ = s.Delete(context.Background(), "kyc")
		_ = client.Close()
	})
	ctx := t.Context()
	// Warm up: the subscription is live and the scripts are loaded, so
	// neither a SUBSCRIBE nor a one-off NOSCRIPT retry is counted below.
	if _, err := cache.Token(ctx, "warm"); err != nil {
		t.Fatal(err)
	}
	warmKey := s.keys.token("warm")
	nudge := func() {
		// A change of "warm" from another publisher, after the miss's own:
		// the cache processes notifications in order, so once it has read
		// "warm" it has handled its own change of "kyc" too.
		if err := s.Publish(ctx, ports.Change{Service: "warm", Origin: "someone-else"}); err != nil {
			t.Fatal(err)
		}
	}
	waitWarmRead := func(what string) []string {
		var cmds []string
		redistest.WaitFor(t, 5*time.Second, what, func(context.Context) bool {
			cmds = append(cmds, log.take()...)
			return slices.Contains(cmds, "get "+warmKey)
		})
		return cmds
	}
	log.take()
	admin := redis.NewClient(&redis.Options{Addr: addr}) // not logged
	defer admin.Close()
	redistest.WaitFor(t, 5*time.Second, "the cache's subscription", func(ctx context.Context) bool {
		n, err := admin.PubSubNumSub(ctx, s.keys.channel).Result()
		return err == nil && n[s.keys.channel] > 0
	})
	nudge()
	waitWarmRead("the warm-up notification")

	if _, err := cache.Token(ctx, "kyc"); err != nil {
		t.Fatal(err)
	}
	miss := log.take()
	nudge()
	after := waitWarmRead("the nudge")
	if len(miss) > maxColdMissCommands {
		t.Errorf("a cold miss cost %d commands, want at most %d: %q", len(miss), maxColdMissCommands, miss)
	}
	for _, c := range after {
		if strings.Contains(c, "{kyc}") {
			t.Errorf("after its own change the replica sent %q; all after the miss: %q", c, after)
		}
	}
	t.Logf("cold miss: %d commands: %q", len(miss), miss)
}
