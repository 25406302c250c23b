package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jwtcache/jwtcache/adapters/memory"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
)

// pruneLog is a memory store recording when it is pruned.
type pruneLog struct {
	*memory.Store
	mu    sync.Mutex
	times []time.Duration // since start
	start time.Time
}

func (p *pruneLog) Prune(ctx context.Context) (int, error) {
	p.mu.Lock()
	p.times = append(p.times, time.Since(p.start))
	p.mu.Unlock()
	return p.Store.Prune(ctx)
}

func (p *pruneLog) at() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Duration(nil), p.times...)
}

// TestReplicasStartedTogetherDoNotCleanUpTogether: two replicas started at
// the same instant with different jitter run their cleanups at different
// times from the first one on, each about one period apart (±10 %).
func TestReplicasStartedTogetherDoNotCleanUpTogether(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memory.New(nil)
		issuer := &countingIssuer{lifetime: time.Hour}
		start := time.Now()
		var logs []*pruneLog
		for _, jitter := range []float64{0.1, 0.7} {
			p := &pruneLog{Store: mem, start: start}
			logs = append(logs, p)
			c := newService(t, issuer, mem, func(o *app.Options) {
				o.Pruner = p
				o.CleanupInterval = time.Minute
				o.Jitter = func() float64 { return jitter }
			})
			defer c.Close()
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		a, b := logs[0].at(), logs[1].at()
		if len(a) < 9 || len(b) < 9 {
			t.Fatalf("cleanups in 10 minutes: %d and %d, want about 10 each", len(a), len(b))
		}
		if a[0] != 6*time.Second || b[0] != 42*time.Second {
			t.Fatalf("first cleanups at %v and %v, want at the jittered share of the period: 6s and 42s", a[0], b[0])
		}
		for _, times := range [][]time.Duration{a, b} {
			for i := 1; i < len(times); i++ {
				if gap := times[i] - times[i-1]; gap < 54*time.Second || gap > 66*time.Second {
					t.Fatalf("cleanups %v apart, want one period ±10%%", gap)
				}
			}
		}
		seen := map[time.Duration]bool{}
		for _, at := range a {
			seen[at] = true
		}
		for _, at := range b {
			if seen[at] {
				t.Fatalf("both replicas cleaned up at %v", at)
			}
		}
	})
}

// TestCleanupReadsNoToken: the cleanup prunes the store and tidies the near
// cache, but never lists or reads the store's tokens.
func TestCleanupReadsNoToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memory.New(nil)
		st := &countingStore{Store: mem}
		p := &pruneLog{Store: mem, start: time.Now()}
		issuer := &countingIssuer{lifetime: 2 * time.Minute}
		svc := newService(t, issuer, mem, func(o *app.Options) {
			o.Store, o.Pruner = st, p
			o.CleanupInterval = time.Minute
			o.IdleTimeout = time.Minute // the token is not renewed: nobody asks
		})
		defer svc.Close()
		if _, err := svc.Token(t.Context(), "kyc"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		gets := st.gets.Load()
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if len(p.at()) < 4 {
			t.Fatalf("the store was pruned %d times in 5 minutes, want every minute", len(p.at()))
		}
		if n, g := st.lists.Load(), st.gets.Load()-gets; n != 0 || g != 0 {
			t.Fatalf("cleanups listed the store %d times and read %d tokens, want none", n, g)
		}
		if all, _ := mem.List(t.Context()); len(all) != 0 {
			t.Fatalf("the expired token is still in the store: %v", all)
		}
	})
}

// TestMaxLifeRenewsOncePerCachedLife: with CACHE_TTL shorter than the
// token's lifetime, the token is renewed ahead of the end of its cached
// life, once per cached life, and no caller ever meets a miss in between.
func TestMaxLifeRenewsOncePerCachedLife(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &countingIssuer{lifetime: time.Hour}
		policy := domain.RenewalPolicy{Buffer: domain.DefaultRenewalBuffer, MaxLife: 30 * time.Minute}
		svc := newService(t, issuer, nil, func(o *app.Options) { o.Policy = &policy })
		defer svc.Close()
		start := time.Now()
		for time.Since(start) < 2*time.Hour {
			tok, err := svc.Token(t.Context(), "kyc")
			if err != nil || policy.State(tok, time.Now()) != domain.Fresh {
				t.Fatalf("at %v: %v, %v", time.Since(start), tok, err)
			}
			time.Sleep(time.Second)
			synctest.Wait()
		}
		st, _ := svc.Statistics(t.Context())
		if st.CacheMisses != 1 {
			t.Fatalf("%d misses, want only the first", st.CacheMisses)
		}
		times := issuer.times()
		if len(times) != 5 { // the first fetch, then one per 30-minute cached life
			t.Fatalf("%d token-service calls in 2 hours, want 5", len(times))
		}
		for i := 1; i < len(times); i++ {
			if gap := times[i].Sub(times[i-1]); gap >= 30*time.Minute || gap < 29*time.Minute {
				t.Fatalf("renewed %v after the previous token, want just under the 30-minute cached life", gap)
			}
		}
	})
}

// TestShortCacheTTLIsLoggedOnceAtTheFirstToken: when tokens outlive
// CACHE_TTL, the first token that shows it is logged, once.
func TestShortCacheTTLIsLoggedOnceAtTheFirstToken(t *testing.T) {
	for _, tc := range []struct {
		name    string
		maxLife time.Duration
		lines   int
	}{
		{"CACHE_TTL shorter than the tokens", 30 * time.Minute, 1},
		{"CACHE_TTL as long as the tokens", time.Hour, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var buf bytes.Buffer
				var mu sync.Mutex
				logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
				policy := domain.RenewalPolicy{Buffer: domain.DefaultRenewalBuffer, MaxLife: tc.maxLife}
				svc := newService(t, &countingIssuer{lifetime: time.Hour}, nil, func(o *app.Options) { o.Policy, o.Logger = &policy, logger })
				defer svc.Close()
				for _, name := range []string{"kyc", "aml"} {
					if _, err := svc.Token(t.Context(), name); err != nil {
						t.Fatal(err)
					}
				}
				mu.Lock()
				defer mu.Unlock()
				if n := strings.Count(buf.String(), "CACHE_TTL"); n != tc.lines {
					t.Fatalf("%d lines about CACHE_TTL, want %d:\n%s", n, tc.lines, buf.String())
				}
				if tc.lines > 0 && !strings.Contains(buf.String(), "maxLife=30m0s tokenLifetime=1h0m0s") {
					t.Fatalf("the line does not give both lifetimes:\n%s", buf.String())
				}
			})
		})
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
