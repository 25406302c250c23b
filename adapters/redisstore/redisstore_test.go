package redisstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/adapters/redisstore/redistest"
	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
	"github.com/jwtcache/jwtcache/ports/clocktest"
	"github.com/jwtcache/jwtcache/ports/storetest"
)

const realAddr = redistest.SharedAddr

// testLogger sends a store's logs to the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testPrefix is a key prefix no other test run uses.
func testPrefix() string { return "jwtcache-test-" + strings.ToLower(rand.Text()[:12]) }

// backend is one Redis deployment the tests run against.
type backend struct {
	addrs []string
	// clock and advance are set for miniredis, whose time the tests move.
	clock   *clocktest.FakeClock
	advance func(time.Duration)
	// raw reaches the backend directly, to plant and inspect keys.
	raw redis.UniversalClient
	// encryptionKeys are the EncryptionKeys of every Store opened on b.
	encryptionKeys [][]byte
}

// withKeys returns b opening its Stores with encryptionKeys.
func (b *backend) withKeys(encryptionKeys ...[]byte) *backend {
	c := *b
	c.encryptionKeys = encryptionKeys
	return &c
}

// miniredisBackend starts a miniredis for one test.
func miniredisBackend(t *testing.T) *backend {
	mr := miniredis.RunT(t)
	clock := clocktest.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	raw := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = raw.Close() })
	return &backend{
		addrs: []string{mr.Addr()},
		clock: clock,
		// miniredis never expires keys by itself: its time moves with ours.
		advance: func(d time.Duration) { clock.Advance(d); mr.FastForward(d) },
		raw:     raw,
	}
}

// serverBackend is a real Redis (a single node or a cluster) at addrs.
func serverBackend(t *testing.T, addrs []string) *backend {
	raw := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs})
	t.Cleanup(func() { _ = raw.Close() })
	return &backend{addrs: addrs, raw: raw}
}

// realBackend is the Redis at realAddr, or miniredis when there is none
// (a failure when JWTCACHE_REQUIRE_REDIS=1).
func realBackend(t *testing.T) *backend {
	if redistest.SharedUp() {
		return serverBackend(t, []string{realAddr})
	}
	if redistest.Required() {
		t.Fatalf("redisstore: no Redis at %s and JWTCACHE_REQUIRE_REDIS=1", realAddr)
	}
	t.Log("redisstore: no Redis at 127.0.0.1:6379, using miniredis")
	return miniredisBackend(t)
}

// store opens a Store on b under prefix, closed with the test.
func (b *backend) store(t *testing.T, prefix string, maxTTL time.Duration) *Store {
	t.Helper()
	opts := Options{Addrs: b.addrs, KeyPrefix: prefix, MaxTTL: maxTTL, Logger: testLogger(t),
		DialTimeout: time.Second, ReadTimeout: 2 * time.Second, EncryptionKeys: b.encryptionKeys}
	if b.clock != nil {
		opts.Clock = b.clock
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func (b *backend) now() time.Time {
	if b.clock != nil {
		return b.clock.Now()
	}
	return time.Now()
}

// scan returns the keys matching pattern on every node of b.
func (b *backend) scan(t *testing.T, pattern string) []string {
	t.Helper()
	// Not t.Context(): cleanups scan too, after it is canceled.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	var found []string
	scanNode := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			found = append(found, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	switch c := b.raw.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, scanNode)
	case *redis.Client:
		err = scanNode(ctx, c)
	}
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return found
}

// dropPrefix deletes every key under prefix, one key per DEL (keys of
// different services live in different cluster slots).
func (b *backend) dropPrefix(t *testing.T, prefix string) {
	for _, k := range b.scan(t, prefix+":*") {
		if err := b.raw.Del(context.Background(), k).Err(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
}

// subjects returns a storetest factory on b: each case gets a key prefix of
// its own, and each replica a Store (and connections) of its own.
func (b *backend) subjects(maxTTL time.Duration) func(t *testing.T) storetest.Subject {
	return func(t *testing.T) storetest.Subject {
		prefix := testPrefix()
		t.Cleanup(func() { b.dropPrefix(t, prefix) })
		replica := func(t *testing.T) storetest.Subject {
			s := b.store(t, prefix, maxTTL)
			return storetest.Subject{Store: s, Locker: s, Feed: s, Pruner: s}
		}
		subj := replica(t)
		subj.Peer = replica
		if b.clock != nil {
			subj.Clock, subj.Advance = b.clock, b.advance
		}
		return subj
	}
}

func TestContract(t *testing.T) {
	t.Run("real", func(t *testing.T) {
		t.Parallel()
		b := realBackend(t)
		storetest.Run(t, b.subjects(0))
	})
	t.Run("miniredis", func(t *testing.T) {
		t.Parallel()
		// One miniredis per case, so that moving its time moves only that
		// case's.
		storetest.Run(t, func(t *testing.T) storetest.Subject { return miniredisBackend(t).subjects(0)(t) })
	})
	t.Run("miniredis encrypted", func(t *testing.T) {
		t.Parallel()
		keys := [][]byte{testKey(t), testKey(t)}
		storetest.Run(t, func(t *testing.T) storetest.Subject {
			return miniredisBackend(t).withKeys(keys...).subjects(0)(t)
		})
	})
	t.Run("real encrypted", func(t *testing.T) {
		t.Parallel()
		b := realBackend(t).withKeys(testKey(t))
		storetest.Run(t, b.subjects(0))
	})
}

// eachBackend runs f against miniredis and against the real Redis (or
// miniredis again when there is none).
func eachBackend(t *testing.T, f func(t *testing.T, b *backend)) {
	t.Run("miniredis", func(t *testing.T) { f(t, miniredisBackend(t)) })
	t.Run("real", func(t *testing.T) { f(t, realBackend(t)) })
}

func token(now time.Time, life time.Duration, secret string) domain.Token {
	now = now.UTC()
	return domain.Token{AccessToken: secret, TokenType: "Bearer", Scope: "read", IssuedAt: now, ExpiresAt: now.Add(life)}
}

func TestUnreadableValuesAreMisses(t *testing.T) {
	const planted = "PLANTED-SECRET-VALUE"
	values := map[string]func(ctx context.Context, raw redis.UniversalClient, key string) error{
		"not JSON": func(ctx context.Context, raw redis.UniversalClient, key string) error {
			return raw.Set(ctx, key, "\x00\xffgarbage "+planted, 0).Err()
		},
		"unknown version": func(ctx context.Context, raw redis.UniversalClient, key string) error {
			return raw.Set(ctx, key, `{"v":3,"typ":"Bearer","exp":"2099-01-01T00:00:00Z","tok":"`+planted+`"}`, 0).Err()
		},
		"no version": func(ctx context.Context, raw redis.UniversalClient, key string) error {
			return raw.Set(ctx, key, `{"access_token":"`+planted+`","expires_in":3600}`, 0).Err()
		},
		"version 1 without token": func(ctx context.Context, raw redis.UniversalClient, key string) error {
			return raw.Set(ctx, key, `{"v":1,"typ":"Bearer","exp":"2099-01-01T00:00:00Z"}`, 0).Err()
		},
		"wrong JSON types": func(ctx context.Context, raw redis.UniversalClient, key string) error {
			return raw.Set(ctx, key, `{"v":1,"exp":17,"tok":"`+planted+`"}`, 0).Err()
		},
		"hash": func(ctx context.Context, raw redis.UniversalClient, key string) error {
			return raw.HSet(ctx, key, "tok", planted).Err()
		},
	}
	eachBackend(t, func(t *testing.T, b *backend) {
		for name, plant := range values {
			t.Run(name, func(t *testing.T) {
				ctx := t.Context()
				prefix := testPrefix()
				t.Cleanup(func() { b.dropPrefix(t, prefix) })
				s := b.store(t, prefix, 0)
				var logs bytes.Buffer
				s.log = slog.New(slog.NewTextHandler(&logs, nil))
				key := s.keys.token("kyc")
				if err := plant(ctx, b.raw, key); err != nil {
					t.Fatal(err)
				}
				// Indexed, as if a Put had written it.
				if err := b.raw.ZAdd(ctx, s.keys.index, redis.Z{Score: float64(b.now().Add(time.Hour).UnixMilli()), Member: "kyc"}).Err(); err != nil {
					t.Fatal(err)
				}

				_, getErr := s.Get(ctx, "kyc")
				if !errors.Is(getErr, domain.ErrNotFound) {
					t.Fatalf("Get = %v, want domain.ErrNotFound", getErr)
				}
				if s.CorruptValues() != 1 {
					t.Fatalf("CorruptValues = %d after Get, want 1", s.CorruptValues())
				}
				entries, err := s.List(ctx)
				if err != nil || len(entries) != 0 {
					t.Fatalf("List = %v, %v; want no entries", entries, err)
				}
				if s.CorruptValues() != 2 {
					t.Fatalf("CorruptValues = %d after List, want 2", s.CorruptValues())
				}
				if strings.Contains(getErr.Error()+logs.String(), planted) || !strings.Contains(logs.String(), "kyc") {
					t.Fatalf("the error or logs quote the value, or the logs miss the service: %v\n%s", getErr, logs.String())
				}

				want := token(b.now(), time.Hour, "fresh-token")
				if err := s.Put(ctx, "kyc", want); err != nil {
					t.Fatalf("Put over the unreadable value: %v", err)
				}
				if got, err := s.Get(ctx, "kyc"); err != nil || got.AccessToken != want.AccessToken {
					t.Fatalf("Get after Put failed: %v", err)
				}
			})
		}
	})
}

func TestKeyTTLFollowsTokenAndMaxTTL(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := t.Context()
		prefix := testPrefix()
		t.Cleanup(func() { b.dropPrefix(t, prefix) })
		s := b.store(t, prefix, 20*time.Minute)
		for _, c := range []struct {
			name    string
			life    time.Duration
			age     time.Duration // how long before the Put the token was fetched
			wantMax time.Duration
		}{
			{"short-lived", 10 * time.Minute, 0, 10 * time.Minute},
			{"long-lived", 2 * time.Hour, 0, 20 * time.Minute},
			{"sub-millisecond", 5*time.Minute + 999*time.Microsecond, 0, 5 * time.Minute},
			// The cached life counts from the fetch, as the renewal policy
			// does, not from the Put: both end at IssuedAt + MaxTTL.
			{"fetched-earlier", 2 * time.Hour, 15 * time.Minute, 5 * time.Minute},
			{"fetched-earlier-expiring-sooner", 19 * time.Minute, 15 * time.Minute, 4 * time.Minute},
		} {
			now := b.now()
			tok := token(now.Add(-c.age), c.life, "secret")
			if err := s.Put(ctx, c.name, tok); err != nil {
				t.Fatal(err)
			}
			ttl, err := b.raw.PTTL(ctx, s.keys.token(c.name)).Result()
			if err != nil {
				t.Fatal(err)
			}
			if ttl > c.wantMax || ttl > tok.ExpiresAt.Sub(now) || ttl < c.wantMax-5*time.Second {
				t.Errorf("%s: key TTL = %v, want at most %v and close to it", c.name, ttl, c.wantMax)
			}
			score, err := b.raw.ZScore(ctx, s.keys.index, c.name).Result()
			if err != nil {
				t.Fatal(err)
			}
			want := float64(now.Add(c.wantMax).UnixMilli())
			if exact := b.clock != nil; exact && score != want || !exact && (score < want-5000 || score > want+5000) {
				t.Errorf("%s: index score = %v, want the key's expiry %v", c.name, score, want)
			}
		}
	})
}

func TestKeyLayout(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := t.Context()
		prefix := testPrefix()
		t.Cleanup(func() { b.dropPrefix(t, prefix) })
		s := b.store(t, prefix, 0)
		if err := s.Put(ctx, "kyc", token(b.now(), time.Hour, "secret")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TryLock(ctx, "kyc", time.Minute); err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, k := range b.scan(t, "*jwt*") {
			if strings.HasPrefix(k, prefix+":") {
				got[k] = true
			}
		}
		want := []string{prefix + ":jwt:{kyc}:token", prefix + ":jwt:{kyc}:lock", prefix + ":jwt:index"}
		for _, k := range want {
			if !got[k] {
				t.Errorf("key %q missing from the *jwt* keys %v", k, got)
			}
		}
		if len(got) != len(want) {
			t.Errorf("keys = %v, want exactly %v", got, want)
		}
		if under := b.scan(t, prefix+":*"); len(under) != len(want) {
			t.Errorf("keys under the prefix = %v: some do not match *jwt*", under)
		}
	})
}

// commandLog records the name of every command a client sends.
type commandLog struct {
	mu    sync.Mutex
	names []string
}

func (l *commandLog) add(cmds ...redis.Cmder) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range cmds {
		l.names = append(l.names, strings.ToLower(c.Name()))
	}
}

func (l *commandLog) DialHook(next redis.DialHook) redis.DialHook { return next }

func (l *commandLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { l.add(cmd); return next(ctx, cmd) }
}

func (l *commandLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { l.add(cmds...); return next(ctx, cmds) }
}

func TestNoCommandScansTheKeySpace(t *testing.T) {
	b := miniredisBackend(t)
	s := b.store(t, testPrefix(), 0)
	var log commandLog
	s.client.AddHook(&log)
	ctx := t.Context()
	for _, svc := range []string{"kyc", "data-processor"} {
		if err := s.Put(ctx, svc, token(b.now(), time.Hour, "secret")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Get(ctx, "kyc"); err != nil {
		t.Fatal(err)
	}
	_ = b.raw.Del(ctx, s.keys.token("data-processor")) // a stale index member
	if entries, err := s.List(ctx); err != nil || len(entries) != 1 {
		t.Fatalf("List = %v, %v", entries, err)
	}
	if _, err := s.Delete(ctx, "kyc"); err != nil {
		t.Fatal(err)
	}
	unlock, err := s.TryLock(ctx, "kyc", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = s.Held(ctx, []string{"kyc"})
	_ = unlock(ctx)
	_ = s.Publish(ctx, ports.Change{Service: "kyc"})
	for _, name := range log.names {
		switch name {
		case "keys", "scan", "mget", "flushdb", "flushall":
			t.Errorf("the store sent %s", strings.ToUpper(name))
		}
	}
	if len(log.names) == 0 {
		t.Fatal("the command log is empty: the hook did not work")
	}
}

func TestListRemovesStaleIndexMembers(t *testing.T) {
	b := miniredisBackend(t)
	s := b.store(t, testPrefix(), 0)
	ctx := t.Context()
	for _, svc := range []string{"kyc", "evicted"} {
		if err := s.Put(ctx, svc, token(b.now(), time.Hour, "secret")); err != nil {
			t.Fatal(err)
		}
	}
	// As if Redis had evicted the key under memory pressure.
	b.raw.Del(ctx, s.keys.token("evicted"))
	// And a member no token key could belong to.
	b.raw.ZAdd(ctx, s.keys.index, redis.Z{Score: float64(b.now().Add(time.Hour).UnixMilli()), Member: "Not A Service"})
	entries, err := s.List(ctx)
	if err != nil || len(entries) != 1 || entries[0].Service != "kyc" {
		t.Fatalf("List = %v, %v; want kyc alone", entries, err)
	}
	members, _ := b.raw.ZRange(ctx, s.keys.index, 0, -1).Result()
	if len(members) != 1 || members[0] != "kyc" {
		t.Fatalf("index = %v after List, want [kyc]", members)
	}

	// Members long past their score go without a GET.
	if err := s.Put(ctx, "short", token(b.now(), time.Minute, "secret")); err != nil {
		t.Fatal(err)
	}
	b.advance(time.Minute + indexSkew + time.Second)
	if _, err := s.List(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.raw.ZScore(ctx, s.keys.index, "short").Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("expired member still indexed: %v", err)
	}
}

func TestRemoveStaleKeepsMembersPutSinceRead(t *testing.T) {
	b := miniredisBackend(t)
	ctx := t.Context()
	b.raw.ZAdd(ctx, "idx", redis.Z{Score: 1700000000123, Member: "kyc"}, redis.Z{Score: 1700000000456, Member: "old"})
	// List read kyc at an older score; a Put has raised it since.
	n, err := removeStale.Run(ctx, b.raw, []string{"idx"}, "kyc", "1700000000000", "old", formatScore(1700000000456)).Int()
	if err != nil || n != 1 {
		t.Fatalf("removeStale = %d, %v; want 1", n, err)
	}
	members, _ := b.raw.ZRange(ctx, "idx", 0, -1).Result()
	if len(members) != 1 || members[0] != "kyc" {
		t.Fatalf("index = %v, want [kyc]", members)
	}
}

func TestSecretsStayOutOfErrors(t *testing.T) {
	t.Run("password", func(t *testing.T) {
		mr := miniredis.RunT(t)
		mr.RequireAuth("the-right-one")
		const password = "wrong-pw-SECRET"
		opts := Options{Addrs: []string{mr.Addr()}, Password: password, DialTimeout: time.Second}
		s, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		err = s.Ping(t.Context())
		if err == nil {
			t.Fatal("Ping with a wrong password succeeded")
		}
		if _, gerr := s.Get(t.Context(), "kyc"); gerr != nil {
			err = errors.Join(err, gerr)
		}
		for _, text := range []string{err.Error(), opts.String(), opts.LogValue().String()} {
			if strings.Contains(text, password) {
				t.Errorf("password leaked: %s", text)
			}
		}
	})
	t.Run("token", func(t *testing.T) {
		mr := miniredis.RunT(t)
		s, err := New(Options{Addrs: []string{mr.Addr()}, DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		const secret = "eyJ-TOKEN-SECRET"
		mr.Close() // every command now fails
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		err = s.Put(ctx, "kyc", token(time.Now(), time.Hour, secret))
		if err == nil {
			t.Fatal("Put to a stopped server succeeded")
		}
		bad := token(time.Now(), time.Hour, secret+"\xff")
		err = errors.Join(err, s.Put(t.Context(), "kyc", bad))
		if strings.Contains(err.Error(), secret) {
			t.Errorf("token leaked: %v", err)
		}
		if !strings.Contains(err.Error(), `redisstore: put "kyc"`) {
			t.Errorf("error %q does not say which operation failed", err)
		}
	})
}

func TestNewChecksOptions(t *testing.T) {
	for name, opts := range map[string]Options{
		"no address":          {},
		"database in cluster": {Addrs: []string{"a:1", "b:2"}, DB: 1},
		"brace in prefix":     {Addrs: []string{"a:1"}, KeyPrefix: "app{x}"},
		"negative max TTL":    {Addrs: []string{"a:1"}, MaxTTL: -time.Second},
	} {
		if s, err := New(opts); err == nil {
			_ = s.Close()
			t.Errorf("%s: New succeeded", name)
		}
	}
	// Sentinel picks a database like a single node.
	s, err := New(Options{Addrs: []string{"a:1", "b:2"}, MasterName: "mymaster", DB: 2})
	if err != nil {
		t.Fatalf("sentinel with DB: %v", err)
	}
	_ = s.Close()
}

func TestClientOptionsMapping(t *testing.T) {
	s, err := New(Options{Addrs: []string{"127.0.0.1:1"}, ReadTimeout: 2 * time.Second, PoolTimeout: -time.Millisecond,
		PoolSize: 8, MaxIdleConns: 7, MinIdleConns: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, ok := s.client.(*redis.Client)
	if !ok {
		t.Fatalf("one address gave a %T, want *redis.Client", s.client)
	}
	o := c.Options()
	if o.PoolTimeout != 3*time.Second || o.PoolSize != 8 || o.MaxIdleConns != 7 || !o.ContextTimeoutEnabled {
		t.Errorf("pool timeout %v, size %d, idle %d, context timeouts %v", o.PoolTimeout, o.PoolSize, o.MaxIdleConns, o.ContextTimeoutEnabled)
	}
	if s.keys.index != "jwtcache:jwt:index" || s.maxTTL != DefaultMaxTTL {
		t.Errorf("defaults: index key %q, max TTL %v", s.keys.index, s.maxTTL)
	}

	cs, err := New(Options{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}, TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if _, ok := cs.client.(*redis.ClusterClient); !ok {
		t.Errorf("two addresses gave a %T, want *redis.ClusterClient", cs.client)
	}
}

func TestTLSDialerVerifiesTheHost(t *testing.T) {
	// A plain TCP listener: the handshake must be attempted (and fail),
	// never fall back to plaintext.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = c.Write([]byte("+OK\r\n"))
			_ = c.Close()
		}
	}()
	conn, err := tlsDialer(time.Second, nil)(t.Context(), "tcp", ln.Addr().String())
	if err == nil {
		conn.Close()
		t.Fatal("TLS dial to a plaintext server succeeded")
	}
}

func TestCloseEndsSubscriptions(t *testing.T) {
	b := miniredisBackend(t)
	s := b.store(t, testPrefix(), 0)
	if err := s.Subscribe(t.Context(), func(ports.Change) {}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Subscribe(t.Context(), func(ports.Change) {}); err == nil {
		t.Fatal("Subscribe after Close succeeded")
	}
}
