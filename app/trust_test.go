package app_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jwtcache/jwtcache/adapters/memory"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

// hangingStore is a memory store (also locker, feed and pinger) that,
// while hung is set, answers nothing until the caller's context ends: a
// Redis stopped with SIGSTOP, or behind a network black hole.
type hangingStore struct {
	*memory.Store
	hung atomic.Bool
}

func (h *hangingStore) wait(ctx context.Context) error {
	if !h.hung.Load() {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

func (h *hangingStore) Get(ctx context.Context, service string) (domain.Token, error) {
	if err := h.wait(ctx); err != nil {
		return domain.Token{}, err
	}
	return h.Store.Get(ctx, service)
}

func (h *hangingStore) Put(ctx context.Context, service string, tok domain.Token) error {
	if err := h.wait(ctx); err != nil {
		return err
	}
	return h.Store.Put(ctx, service, tok)
}

func (h *hangingStore) List(ctx context.Context) ([]ports.Entry, error) {
	if err := h.wait(ctx); err != nil {
		return nil, err
	}
	return h.Store.List(ctx)
}

func (h *hangingStore) TryLock(ctx context.Context, service string, ttl time.Duration) (ports.Unlock, error) {
	if err := h.wait(ctx); err != nil {
		return nil, err
	}
	return h.Store.TryLock(ctx, service, ttl)
}

func (h *hangingStore) Held(ctx context.Context, services []string) ([]bool, error) {
	if err := h.wait(ctx); err != nil {
		return nil, err
	}
	return h.Store.Held(ctx, services)
}

func (h *hangingStore) Publish(ctx context.Context, c ports.Change) error {
	if err := h.wait(ctx); err != nil {
		return err
	}
	return h.Store.Publish(ctx, c)
}

func (h *hangingStore) Ping(ctx context.Context) error { return h.wait(ctx) }

func newOnHangingStore(t *testing.T, issuer ports.TokenIssuer, tweak func(*app.Options)) (*app.Cache, *hangingStore) {
	t.Helper()
	hs := &hangingStore{Store: memory.New(nil)}
	svc := newService(t, issuer, nil, func(o *app.Options) {
		o.Store, o.Locker, o.Feed, o.Pinger = hs, hs, hs, hs
		if tweak != nil {
			tweak(o)
		}
	})
	return svc, hs
}

// TestHungStoreCostsACallerAtMostTheStoreTimeout: with the store hung, an
// uncached name is answered after one StoreTimeout (the read that found
// the store hung) and the token-service call, not after a timeout per
// store command; a cached name is answered at once; and the status
// endpoints answer, partial, within the StoreTimeout.
func TestHungStoreCostsACallerAtMostTheStoreTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &countingIssuer{lifetime: time.Hour}
		const timeout = time.Second
		svc, hs := newOnHangingStore(t, issuer, func(o *app.Options) { o.StoreTimeout = timeout })
		defer svc.Close()
		if _, err := svc.Token(t.Context(), "cached"); err != nil {
			t.Fatal(err)
		}
		hs.hung.Store(true)

		start := time.Now()
		if _, err := svc.Token(t.Context(), "cached"); err != nil || time.Since(start) != 0 {
			t.Fatalf("cached name: %v after %v; want a token at once", err, time.Since(start))
		}
		start = time.Now()
		tok, err := svc.Token(t.Context(), "uncached")
		if err != nil || tok.AccessToken == "" {
			t.Fatalf("uncached name with the store hung: %v", err)
		}
		if d := time.Since(start); d > timeout {
			t.Fatalf("uncached name answered after %v; want at most the store timeout %v", d, timeout)
		}
		// Served from the near cache from now on, while the write waits
		// in the background.
		start = time.Now()
		if again, err := svc.Token(t.Context(), "uncached"); err != nil || again.AccessToken != tok.AccessToken || time.Since(start) != 0 {
			t.Fatalf("second request: %q, %v after %v", again.AccessToken, err, time.Since(start))
		}
		if n := issuer.calls.Load(); n != 2 {
			t.Fatalf("token service called %d times, want 2", n)
		}

		start = time.Now()
		st, err := svc.Status(t.Context(), "uncached")
		if err != nil || !st.Exists || !st.Partial() || time.Since(start) > timeout {
			t.Fatalf("Status = %+v, %v after %v; want the near cache's, partial, within %v", st, err, time.Since(start), timeout)
		}
		start = time.Now()
		stats, err := svc.Statistics(t.Context())
		if err != nil || !stats.Partial() || stats.TotalTokens != 2 || !strings.Contains(stats.StoreError, "deadline") || time.Since(start) > timeout {
			t.Fatalf("Statistics = %+v, %v after %v; want 2 tokens from the near cache, partial", stats, err, time.Since(start))
		}
		start = time.Now()
		if h := svc.Health(t.Context()); h.Store.Status != app.StatusDown || h.Status != app.StatusDegraded || time.Since(start) > timeout {
			t.Fatalf("Health = %+v after %v", h, time.Since(start))
		}
		synctest.Wait()

		hs.hung.Store(false)
		stats, err = svc.Statistics(t.Context())
		if err != nil || stats.Partial() {
			t.Fatalf("Statistics after the store came back = %+v, %v", stats, err)
		}
	})
}

// TestHungStoreDuringALockWait: a replica waiting for another's renewal
// stops waiting when the store stops answering, and fetches on its own.
func TestHungStoreDuringALockWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &countingIssuer{lifetime: time.Hour}
		const timeout = time.Second
		svc, hs := newOnHangingStore(t, issuer, func(o *app.Options) { o.StoreTimeout = timeout })
		defer svc.Close()
		// Another replica holds the lock and never finishes.
		if _, err := hs.Store.TryLock(t.Context(), "kyc", time.Hour); err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() {
			_, err := svc.Token(t.Context(), "kyc")
			done <- err
		}()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		hs.hung.Store(true)
		start := time.Now()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > timeout+500*time.Millisecond {
			t.Fatalf("answered %v after the store hung; want within the store timeout and one poll", d)
		}
	})
}

// TestStoreWriteFailuresShowInHealthAndCounters: a store that refuses
// writes (full, read-only) leaves every replica serving its own token, and
// says so: the store is DEGRADED with the reason until a write succeeds,
// and each refusal is counted.
func TestStoreWriteFailuresShowInHealthAndCounters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memory.New(nil)
		st := &countingStore{Store: mem}
		st.refusing.Store(true)
		issuer := &countingIssuer{lifetime: time.Hour}
		svc := newService(t, issuer, mem, func(o *app.Options) { o.Store = st })
		defer svc.Close()
		for range 100 {
			for _, name := range []string{"a", "b", "c"} {
				if _, err := svc.Token(t.Context(), name); err != nil {
					t.Fatal(err)
				}
			}
		}
		if n := issuer.calls.Load(); n != 3 {
			t.Fatalf("token service called %d times for 3 names, want 3", n)
		}
		if n := svc.Counters().StoreWriteFailures; n != 3 {
			t.Fatalf("StoreWriteFailures = %d, want 3", n)
		}
		h := svc.Health(t.Context())
		if h.Store.Status != app.StatusDegraded || !strings.Contains(h.Store.Detail, "read only") || h.Status != app.StatusDegraded {
			t.Fatalf("Health = %+v; want the store DEGRADED with the reason", h)
		}
		// Health tries the refused write again: a store that takes writes
		// again is UP without waiting for a renewal, and holds the token.
		st.refusing.Store(false)
		if h := svc.Health(t.Context()); h.Store.Status != app.StatusUp || h.Status != app.StatusUp {
			t.Fatalf("Health once the store takes writes again = %+v", h)
		}
		stored := 0
		for _, name := range []string{"a", "b", "c"} {
			if _, err := mem.Get(t.Context(), name); err == nil {
				stored++
			}
		}
		if stored != 1 {
			t.Fatalf("%d tokens in the store after Health, want the one refused last", stored)
		}
		if n := issuer.calls.Load(); n != 3 {
			t.Fatalf("token service called %d times, want 3", n)
		}
	})
}

// fakeProber answers probes with err, counting them.
type fakeProber struct {
	calls atomic.Int64
	err   atomic.Pointer[error]
}

func (p *fakeProber) Probe(context.Context) error {
	p.calls.Add(1)
	if e := p.err.Load(); e != nil {
		return *e
	}
	return nil
}

func (p *fakeProber) fail(err error) { p.err.Store(&err) }

// TestHealthProbesTheTokenService: with hour-long tokens, Health learns of
// a token service gone down from the periodic probe, not an hour later;
// the latest of probe and real call wins; probes count as no request.
func TestHealthProbesTheTokenService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &countingIssuer{lifetime: time.Hour}
		prober := &fakeProber{}
		svc := newService(t, issuer, nil, func(o *app.Options) {
			o.Prober = prober
			o.HealthCheckInterval = 10 * time.Second
		})
		defer svc.Close()
		if _, err := svc.Token(t.Context(), "kyc"); err != nil {
			t.Fatal(err)
		}
		prober.fail(errors.New("token endpoint auth.example: connection refused"))
		time.Sleep(11 * time.Second) // one interval, +10% jitter at most
		synctest.Wait()
		h := svc.Health(t.Context())
		if h.TokenService.Status != app.StatusDown || !strings.Contains(h.TokenService.Detail, "connection refused") || h.Status != app.StatusDegraded {
			t.Fatalf("Health = %+v; want the token service DOWN from the probe, overall DEGRADED (a valid token is cached)", h)
		}
		// A real call after the probe is the newer news.
		if _, err := svc.Refresh(t.Context(), "kyc"); err != nil {
			t.Fatal(err)
		}
		if h := svc.Health(t.Context()); h.TokenService.Status != app.StatusUp {
			t.Fatalf("Health after a successful call = %+v", h)
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if n := prober.calls.Load(); n < 50 || n > 67 {
			t.Fatalf("%d probes in 10m at a 10s interval", n)
		}
		if n := svc.Counters().TokenServiceRequests; n != 2 {
			t.Fatalf("TokenServiceRequests = %d, want 2: probes are not requests", n)
		}
	})
}

// TestIssuerHealthMakesTheTokenServiceDegradedOrDown: a problem the issuer
// reports (a credential file gone bad, discovery never fetched) shows in
// Health before any call fails.
func TestIssuerHealthMakesTheTokenServiceDegradedOrDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &countingIssuer{lifetime: time.Hour}
		var problem atomic.Pointer[error]
		svc := newService(t, issuer, nil, func(o *app.Options) {
			o.IssuerHealth = func() error {
				if p := problem.Load(); p != nil {
					return *p
				}
				return nil
			}
		})
		defer svc.Close()
		set := func(err error) { problem.Store(&err) }

		set(errors.New("credential file /run/secrets/client-secret: empty"))
		if h := svc.Health(t.Context()); h.TokenService.Status != app.StatusDegraded || h.Status != app.StatusDegraded || !strings.Contains(h.TokenService.Detail, "empty") {
			t.Fatalf("bad credential file: Health = %+v, want DEGRADED", h)
		}
		set(fmt.Errorf("issuer %q: %w", "https://idp.example", app.ErrIssuerDown))
		if h := svc.Health(t.Context()); h.TokenService.Status != app.StatusDown || h.Status != app.StatusDown {
			t.Fatalf("no discovery document, nothing cached: Health = %+v, want DOWN", h)
		}
		problem.Store(nil)
		if _, err := svc.Token(t.Context(), "kyc"); err != nil {
			t.Fatal(err)
		}
		set(fmt.Errorf("issuer %q: %w", "https://idp.example", app.ErrIssuerDown))
		if h := svc.Health(t.Context()); h.TokenService.Status != app.StatusDown || h.Status != app.StatusDegraded {
			t.Fatalf("no discovery document, a valid token cached: Health = %+v, want DEGRADED overall", h)
		}
	})
}

// TestReplicaNeverGoesBackInTime: a token written back into the store that
// was issued before the one a replica holds (a replayed older value) is
// never installed, even when it looks fresher; the replica renews instead.
func TestReplicaNeverGoesBackInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memory.New(nil)
		issuer := &countingIssuer{lifetime: time.Hour}
		svc := newService(t, issuer, mem, nil)
		defer svc.Close()
		time.Sleep(10 * time.Minute)
		cur, err := svc.Token(t.Context(), "kyc")
		if err != nil {
			t.Fatal(err)
		}
		old := domain.Token{AccessToken: "replayed", TokenType: "Bearer",
			IssuedAt: cur.IssuedAt.Add(-10 * time.Minute), ExpiresAt: cur.ExpiresAt.Add(time.Hour)}
		if err := mem.Put(t.Context(), "kyc", old); err != nil {
			t.Fatal(err)
		}
		for time.Now().Before(cur.ExpiresAt.Add(time.Minute)) {
			tok, err := svc.Token(t.Context(), "kyc")
			if err != nil || tok.AccessToken == "replayed" {
				t.Fatalf("at +%v: Token = %q, %v; the older token was installed", time.Until(cur.ExpiresAt), tok.AccessToken, err)
			}
			time.Sleep(time.Second)
			synctest.Wait()
		}
		if n := issuer.calls.Load(); n != 2 {
			t.Fatalf("token service called %d times, want 2 (the renewal)", n)
		}
	})
}
