package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/mock/gomock"

	"github.com/jwtcache/jwtcache/adapters/memory"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/mocks"
	"github.com/jwtcache/jwtcache/ports"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// countingIssuer hands out numbered tokens of a fixed lifetime, or fails
// while failing is set. It is the token service of the timing tests.
type countingIssuer struct {
	lifetime time.Duration
	clock    func() time.Time // optional: time.Now
	calls    atomic.Int64
	failing  atomic.Bool
	mu       sync.Mutex
	callTime []time.Time
}

func (f *countingIssuer) Issue(ctx context.Context, service string) (domain.Token, error) {
	n := f.calls.Add(1)
	now := time.Now()
	if f.clock != nil {
		now = f.clock()
	}
	f.mu.Lock()
	f.callTime = append(f.callTime, now)
	f.mu.Unlock()
	if f.failing.Load() {
		return domain.Token{}, &domain.TokenServiceError{Kind: domain.Unreachable, Service: service, Err: errors.New("connection refused")}
	}
	return domain.Token{
		AccessToken: fmt.Sprintf("%s-token-%d", service, n),
		TokenType:   "Bearer",
		Scope:       "api.read",
		IssuedAt:    now,
		ExpiresAt:   now.Add(f.lifetime),
	}, nil
}

func (f *countingIssuer) times() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.callTime...)
}

// newService is a Cache over store (a new memory store when nil), which is
// also its locker, feed and pinger.
func newService(t *testing.T, issuer ports.TokenIssuer, store *memory.Store, tweak func(*app.Options)) *app.Cache {
	t.Helper()
	if store == nil {
		store = memory.New(nil)
	}
	opts := app.Options{Issuer: issuer, Store: store, Locker: store, Feed: store, Pinger: store, Logger: quiet, Jitter: func() float64 { return 0.5 }}
	if tweak != nil {
		tweak(&opts)
	}
	svc, err := app.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestConcurrentMissesMakeOneTokenServiceCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctrl := gomock.NewController(t)
		issuer := mocks.NewMockTokenIssuer(ctrl)
		release := make(chan struct{})
		now := time.Now()
		want := domain.Token{AccessToken: "kyc-1", TokenType: "Bearer", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
		issuer.EXPECT().Issue(gomock.Any(), "kyc").DoAndReturn(func(context.Context, string) (domain.Token, error) {
			<-release
			return want, nil
		}).Times(1)
		svc := newService(t, issuer, nil, nil)
		defer svc.Close()

		var wg sync.WaitGroup
		got := make([]string, 100)
		errs := make([]error, 100)
		for i := range 100 {
			wg.Go(func() {
				tok, err := svc.Token(t.Context(), "kyc")
				got[i], errs[i] = tok.AccessToken, err
			})
		}
		synctest.Wait() // all 100 are blocked on the one token-service call
		close(release)
		wg.Wait()
		for i := range 100 {
			if errs[i] != nil || got[i] != "kyc-1" {
				t.Fatalf("caller %d got %q, %v", i, got[i], errs[i])
			}
		}
		st, err := svc.Statistics(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if st.CacheMisses != 100 || st.TokenServiceRequests != 1 {
			t.Fatalf("misses=%d requests=%d, want 100 and 1", st.CacheMisses, st.TokenServiceRequests)
		}
	})
}

func TestFreshTokenIsServedWithoutCallingTheTokenService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctrl := gomock.NewController(t)
		issuer := mocks.NewMockTokenIssuer(ctrl)
		now := time.Now()
		tok := domain.Token{AccessToken: "kyc-1", TokenType: "Bearer", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
		issuer.EXPECT().Issue(gomock.Any(), "kyc").Return(tok, nil).Times(1)
		svc := newService(t, issuer, nil, nil)
		defer svc.Close()

		policy := domain.RenewalPolicy{Buffer: domain.DefaultRenewalBuffer}
		windowStart := policy.RenewalWindowStart(tok)
		for range 1000 {
			if got, err := svc.Token(t.Context(), "kyc"); err != nil || got.AccessToken != "kyc-1" {
				t.Fatalf("Token = %q, %v", got.AccessToken, err)
			}
		}
		time.Sleep(time.Until(windowStart) - time.Nanosecond)
		synctest.Wait()
		if got, err := svc.BearerToken(t.Context(), "kyc"); err != nil || got != "Bearer kyc-1" {
			t.Fatalf("BearerToken = %q, %v", got, err)
		}
		st, _ := svc.Statistics(t.Context())
		if st.CacheHits != 1000 || st.CacheMisses != 1 || st.HitRatio() < 0.999 {
			t.Fatalf("hits=%d misses=%d ratio=%v", st.CacheHits, st.CacheMisses, st.HitRatio())
		}
	})
}

// TestRenewalKeepsCallersOutOfTheBuffer walks three hours of a one-hour
// token in one-second steps: every token handed out is fresh, nobody ever
// waits on the token service after the first miss, and the token service
// sees one call per token lifetime.
func TestRenewalKeepsCallersOutOfTheBuffer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &countingIssuer{lifetime: time.Hour}
		svc := newService(t, issuer, nil, nil)
		defer svc.Close()
		policy := domain.RenewalPolicy{Buffer: 20 * time.Second}

		start := time.Now()
		for time.Since(start) < 3*time.Hour {
			tok, err := svc.Token(t.Context(), "kyc")
			if err != nil {
				t.Fatal(err)
			}
			if s := policy.State(tok, time.Now()); s != domain.Fresh {
				t.Fatalf("at +%v handed out a %s token (expires %v)", time.Since(start), s, tok.ExpiresAt.Sub(start))
			}
			time.Sleep(time.Second)
			synctest.Wait()
		}
		st, _ := svc.Statistics(t.Context())
		if st.CacheMisses != 1 {
			t.Fatalf("callers waited on the token service %d times, want only the first miss", st.CacheMisses)
		}
		// Renewal starts 10-20s before each cacheExpiresAt, so three hours
		// take the first token and three renewals.
		if n := issuer.calls.Load(); n != 4 {
			t.Fatalf("token service called %d times in 3h of 1h tokens, want 4", n)
		}
		if st.Renewals != 3 {
			t.Fatalf("renewals = %d, want 3", st.Renewals)
		}
	})
}

func TestStillValidTokenIsServedWhileRenewalFailsThenNeverAfterExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &countingIssuer{lifetime: time.Hour}
		svc := newService(t, issuer, nil, nil)
		defer svc.Close()
		first, err := svc.Token(t.Context(), "kyc")
		if err != nil {
			t.Fatal(err)
		}
		issuer.failing.Store(true)

		// Served up to its last margin (TestTokenIsNotServedInItsLastMargin
		// checks that boundary), never after expiry.
		until := (&domain.RenewalPolicy{Buffer: domain.DefaultRenewalBuffer}).ServableUntil(first)
		for now := time.Now(); now.Before(until); now = time.Now() {
			tok, err := svc.Token(t.Context(), "kyc")
			if err != nil || tok.AccessToken != first.AccessToken {
				t.Fatalf("at %v before expiry: Token = %q, %v; want the old token", first.ExpiresAt.Sub(now), tok.AccessToken, err)
			}
			time.Sleep(time.Second)
			synctest.Wait()
		}
		time.Sleep(time.Until(first.ExpiresAt))
		tok, err := svc.Token(t.Context(), "kyc")
		var tse *domain.TokenServiceError
		if !errors.As(err, &tse) || tse.Kind != domain.Unreachable {
			t.Fatalf("after expiry Token = %q, %v; want an Unreachable error", tok.AccessToken, err)
		}
		st, _ := svc.Statistics(t.Context())
		if st.RenewalFailures == 0 || st.TokenServiceFailures == 0 {
			t.Fatalf("failures not counted: %+v", st)
		}
		h := svc.Health(t.Context())
		if h.TokenService.Status != app.StatusDown || h.Status != app.StatusDown {
			t.Fatalf("health = %+v; want token service DOWN and overall DOWN (no valid token)", h)
		}

		issuer.failing.Store(false)
		time.Sleep(app.DefaultMinBackoff) // the failure is shared for one backoff step
		tok, err = svc.Token(t.Context(), "kyc")
		if err != nil || tok.Expired(time.Now()) {
			t.Fatalf("after recovery Token = %v, %v", tok, err)
		}
		if h := svc.Health(t.Context()); h.Status != app.StatusUp {
			t.Fatalf("health after recovery = %+v", h)
		}
	})
}

func TestFailingRenewalBacksOffExponentially(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &countingIssuer{lifetime: time.Hour}
		svc := newService(t, issuer, nil, func(o *app.Options) {
			o.Jitter = func() float64 { return 0 } // delay = half the exponential step
			o.MinBackoff = 2 * time.Second
			o.MaxBackoff = 16 * time.Second
			o.Policy = &domain.RenewalPolicy{Buffer: 5 * time.Minute}
		})
		defer svc.Close()
		first, _ := svc.Token(t.Context(), "kyc")
		issuer.failing.Store(true)
		// Keep the token in use so it is not idle, until it expires.
		for time.Now().Before(first.ExpiresAt) {
			_, _ = svc.Token(t.Context(), "kyc")
			time.Sleep(time.Minute)
			synctest.Wait()
		}
		calls := issuer.times()[1:]
		if len(calls) < 8 {
			t.Fatalf("only %d renewal attempts", len(calls))
		}
		want := []time.Duration{1, 2, 4, 8, 8, 8}
		for i, w := range want {
			if got := calls[i+1].Sub(calls[i]); got != w*time.Second {
				t.Fatalf("retry %d came after %v, want %v (all: %v)", i+1, got, w*time.Second, calls)
			}
		}
		if last := calls[len(calls)-1]; !last.Before(first.ExpiresAt) {
			t.Fatalf("retried at %v, after the token expired at %v", last, first.ExpiresAt)
		}
	})
}

func TestIdleTokenIsNotRenewedAndIsFetchedAgainOnDemand(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &countingIssuer{lifetime: time.Hour}
		svc := newService(t, issuer, nil, func(o *app.Options) { o.IdleTimeout = 10 * time.Minute })
		defer svc.Close()
		first, _ := svc.Token(t.Context(), "kyc")
		time.Sleep(time.Until(first.ExpiresAt) + time.Minute)
		synctest.Wait()
		if n := issuer.calls.Load(); n != 1 {
			t.Fatalf("an idle token was renewed: %d calls", n)
		}
		tok, err := svc.Token(t.Context(), "kyc")
		if err != nil || tok.AccessToken == first.AccessToken {
			t.Fatalf("Token after idle expiry = %q, %v", tok.AccessToken, err)
		}
		if n := issuer.calls.Load(); n != 2 {
			t.Fatalf("calls = %d, want 2", n)
		}
	})
}

func TestTokenUsedJustBeforeItsBufferButNeverRenewedIsRenewedOnDemand(t *testing.T) {
	// A token that is due (inside its buffer) with no failing renewal is
	// not served: the caller waits for a new one.
	synctest.Test(t, func(t *testing.T) {
		issuer := &countingIssuer{lifetime: time.Hour}
		svc := newService(t, issuer, nil, func(o *app.Options) { o.IdleTimeout = time.Minute })
		defer svc.Close()
		first, _ := svc.Token(t.Context(), "kyc")
		time.Sleep(time.Until(first.ExpiresAt) - 5*time.Second) // inside the 20s buffer
		tok, err := svc.Token(t.Context(), "kyc")
		if err != nil || tok.AccessToken == first.AccessToken {
			t.Fatalf("got %q, %v; want a new token", tok.AccessToken, err)
		}
	})
}

func TestRefreshEvictAndStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &countingIssuer{lifetime: time.Hour}
		svc := newService(t, issuer, nil, nil)
		defer svc.Close()
		ctx := t.Context()

		st, err := svc.Status(ctx, "kyc")
		if err != nil || st.Exists {
			t.Fatalf("Status before any token = %+v, %v", st, err)
		}
		first, _ := svc.Token(ctx, "kyc")
		time.Sleep(10 * time.Second)
		st, err = svc.Status(ctx, "kyc")
		if err != nil || !st.Exists || st.SecondsUntilExpiry != 3590 || st.SecondsUntilCacheExpiry != 3570 || st.NeedsRenewal() || st.Expired() {
			t.Fatalf("Status = %+v, %v", st, err)
		}

		refreshed, err := svc.Refresh(ctx, "kyc")
		if err != nil || refreshed.AccessToken == first.AccessToken {
			t.Fatalf("Refresh = %q, %v", refreshed.AccessToken, err)
		}
		if tok, _ := svc.Token(ctx, "kyc"); tok.AccessToken != refreshed.AccessToken {
			t.Fatalf("Token after Refresh = %q, want %q", tok.AccessToken, refreshed.AccessToken)
		}

		ev, err := svc.Evict(ctx, "kyc")
		if err != nil || !ev.Removed || ev.Token.ExpiresAt != refreshed.ExpiresAt {
			t.Fatalf("Evict = %+v, %v", ev, err)
		}
		if ev, err := svc.Evict(ctx, "kyc"); err != nil || ev.Removed {
			t.Fatalf("second Evict = %+v, %v", ev, err)
		}
		if st, _ := svc.Status(ctx, "kyc"); st.Exists {
			t.Fatalf("Status after Evict = %+v", st)
		}
		all, err := svc.Statuses(ctx)
		if err != nil || len(all.Tokens) != 0 {
			t.Fatalf("Statuses after Evict = %+v, %v", all, err)
		}
		calls := issuer.calls.Load()
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		if issuer.calls.Load() != calls {
			t.Fatal("an evicted token kept being renewed")
		}
		tok, err := svc.Token(ctx, "kyc")
		if err != nil || tok.AccessToken == refreshed.AccessToken {
			t.Fatalf("Token after Evict = %q, %v", tok.AccessToken, err)
		}
	})
}

func TestRefreshReportsFailureButTokenKeepsServing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &countingIssuer{lifetime: time.Hour}
		svc := newService(t, issuer, nil, nil)
		defer svc.Close()
		first, _ := svc.Token(t.Context(), "kyc")
		issuer.failing.Store(true)
		if _, err := svc.Refresh(t.Context(), "kyc"); err == nil {
			t.Fatal("Refresh succeeded with a failing token service")
		}
		if tok, err := svc.Token(t.Context(), "kyc"); err != nil || tok.AccessToken != first.AccessToken {
			t.Fatalf("Token after failed Refresh = %q, %v", tok.AccessToken, err)
		}
	})
}

func TestTwoReplicasOnOneStoreRenewOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &countingIssuer{lifetime: time.Hour}
		store := memory.New(nil)
		a := newService(t, issuer, store, func(o *app.Options) { o.Jitter = func() float64 { return 0.2 } })
		defer a.Close()
		b := newService(t, issuer, store, func(o *app.Options) { o.Jitter = func() float64 { return 0.8 } })
		defer b.Close()

		ta, _ := a.Token(t.Context(), "kyc")
		tb, _ := b.Token(t.Context(), "kyc")
		if ta.AccessToken != tb.AccessToken || issuer.calls.Load() != 1 {
			t.Fatalf("replicas got %q and %q with %d calls", ta.AccessToken, tb.AccessToken, issuer.calls.Load())
		}
		for range 10 {
			time.Sleep(time.Hour)
			synctest.Wait()
			ta, _ = a.Token(t.Context(), "kyc")
			tb, _ = b.Token(t.Context(), "kyc")
			if ta.AccessToken != tb.AccessToken {
				t.Fatalf("replicas diverged: %q vs %q", ta.AccessToken, tb.AccessToken)
			}
		}
		if n := issuer.calls.Load(); n != 11 {
			t.Fatalf("two replicas over 10 lifetimes made %d calls, want 11", n)
		}
	})
}

func TestCallerCancellationDoesNotCancelTheSharedFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctrl := gomock.NewController(t)
		issuer := mocks.NewMockTokenIssuer(ctrl)
		release := make(chan struct{})
		now := time.Now()
		issuer.EXPECT().Issue(gomock.Any(), "kyc").DoAndReturn(func(ctx context.Context, _ string) (domain.Token, error) {
			select {
			case <-release:
			case <-ctx.Done():
				return domain.Token{}, ctx.Err()
			}
			return domain.Token{AccessToken: "kyc-1", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}, nil
		}).Times(1)
		svc := newService(t, issuer, nil, nil)
		defer svc.Close()

		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { _, err := svc.Token(ctx, "kyc"); errc <- err }()
		synctest.Wait()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled caller got %v", err)
		}
		done := make(chan string, 1)
		go func() { tok, _ := svc.Token(t.Context(), "kyc"); done <- tok.AccessToken }()
		synctest.Wait()
		close(release)
		if got := <-done; got != "kyc-1" {
			t.Fatalf("second caller got %q", got)
		}
	})
}

func TestInvalidServiceNameNeverReachesTheTokenService(t *testing.T) {
	ctrl := gomock.NewController(t)
	issuer := mocks.NewMockTokenIssuer(ctrl)
	issuer.EXPECT().Issue(gomock.Any(), gomock.Any()).Times(0)
	svc := newService(t, issuer, nil, nil)
	defer svc.Close()
	for _, name := range []string{"", "KYC", "kyc_1", "../etc"} {
		if _, err := svc.Token(t.Context(), name); !errors.Is(err, domain.ErrInvalidServiceName) {
			t.Errorf("Token(%q) = %v", name, err)
		}
		if _, err := svc.Refresh(t.Context(), name); !errors.Is(err, domain.ErrInvalidServiceName) {
			t.Errorf("Refresh(%q) = %v", name, err)
		}
		if _, err := svc.Evict(t.Context(), name); !errors.Is(err, domain.ErrInvalidServiceName) {
			t.Errorf("Evict(%q) = %v", name, err)
		}
		if _, err := svc.Status(t.Context(), name); !errors.Is(err, domain.ErrInvalidServiceName) {
			t.Errorf("Status(%q) = %v", name, err)
		}
	}
}

func TestClosedServiceRefusesCalls(t *testing.T) {
	svc := newService(t, &countingIssuer{lifetime: time.Hour}, nil, nil)
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Token(t.Context(), "kyc"); !errors.Is(err, domain.ErrClosed) {
		t.Fatalf("Token after Close = %v", err)
	}
	if err := svc.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

type downStore struct{}

func (downStore) Ping(context.Context) error { return errors.New("connection refused") }

func TestHealthIsDegradedWhenTheStoreIsDown(t *testing.T) {
	svc := newService(t, &countingIssuer{lifetime: time.Hour}, nil, func(o *app.Options) { o.Pinger = downStore{} })
	defer svc.Close()
	if _, err := svc.Token(t.Context(), "kyc"); err != nil {
		t.Fatal(err)
	}
	h := svc.Health(t.Context())
	if h.Status != app.StatusDegraded || h.Store.Status != app.StatusDown || h.TokenService.Status != app.StatusUp || !h.Healthy() {
		t.Fatalf("health = %+v", h)
	}
}

func TestOptionsAreValidated(t *testing.T) {
	issuer := &countingIssuer{lifetime: time.Hour}
	st := memory.New(nil)
	for name, o := range map[string]app.Options{
		"no issuer":          {Store: st, Locker: st},
		"no store":           {Issuer: issuer, Locker: st},
		"no locker":          {Issuer: issuer, Store: st},
		"lock shorter":       {Issuer: issuer, Store: st, Locker: st, LockTTL: time.Second, FetchTimeout: 2 * time.Second},
		"negative buffer":    {Issuer: issuer, Store: st, Locker: st, Policy: &domain.RenewalPolicy{Buffer: -1}},
		"negative intervals": {Issuer: issuer, Store: st, Locker: st, CheckInterval: -1},
	} {
		if _, err := app.New(o); err == nil {
			t.Errorf("%s: New accepted invalid options", name)
		}
	}
}

func TestCacheHitAllocatesNothing(t *testing.T) {
	svc := newService(t, &countingIssuer{lifetime: time.Hour}, nil, nil)
	defer svc.Close()
	ctx := context.Background()
	if _, err := svc.BearerToken(ctx, "kyc"); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = svc.BearerToken(ctx, "kyc") }); n != 0 {
		t.Fatalf("BearerToken hit allocates %v times", n)
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = svc.Token(ctx, "kyc") }); n != 0 {
		t.Fatalf("Token hit allocates %v times", n)
	}
}

// jumpClock is the system clock plus an offset a test can jump forward, as
// a process suspended and resumed sees it: its timers did not fire.
type jumpClock struct{ offset atomic.Int64 }

func (c *jumpClock) Now() time.Time       { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *jumpClock) jump(d time.Duration) { c.offset.Add(int64(d)) }

func TestSafetyNetRenewsWhenATimerCouldNotFireButRespectsItsJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := &jumpClock{}
		issuer := &countingIssuer{lifetime: time.Hour, clock: clock.Now}
		svc := newService(t, issuer, nil, func(o *app.Options) {
			o.Clock = clock
			o.CheckInterval = 5 * time.Second
		})
		defer svc.Close()
		if _, err := svc.Token(t.Context(), "kyc"); err != nil {
			t.Fatal(err)
		}
		// Renewal window from 59m20s, jittered timer at 59m25s, buffer at
		// 59m40s. The process "sleeps" past the window start.
		clock.jump(59*time.Minute + 15*time.Second)
		time.Sleep(5 * time.Second) // check at 59m20s: in the window, but the timer is not late
		synctest.Wait()
		time.Sleep(5 * time.Second) // check at 59m25s: the timer is due, not yet late
		synctest.Wait()
		if n := issuer.calls.Load(); n != 1 {
			t.Fatalf("the safety net renewed before the token's jittered renewal time (%d calls)", n)
		}
		time.Sleep(5 * time.Second) // check at 59m30s: the timer is 5s late
		synctest.Wait()
		if n := issuer.calls.Load(); n != 2 {
			t.Fatalf("the safety net did not renew a token whose timer could not fire (%d calls)", n)
		}
		st, _ := svc.Statistics(t.Context())
		if st.CacheMisses != 1 || st.Renewals != 1 {
			t.Fatalf("statistics after the safety-net renewal: %+v", st)
		}
	})
}

func TestUnknownServiceIsNotATokenServiceFailure(t *testing.T) {
	ctrl := gomock.NewController(t)
	issuer := mocks.NewMockTokenIssuer(ctrl)
	issuer.EXPECT().Issue(gomock.Any(), "unlisted").Return(domain.Token{}, fmt.Errorf("tokenservice: %w", domain.ErrUnknownService)).Times(1)
	svc := newService(t, issuer, nil, nil)
	defer svc.Close()
	if _, err := svc.Token(t.Context(), "unlisted"); !errors.Is(err, domain.ErrUnknownService) {
		t.Fatalf("Token = %v; want ErrUnknownService", err)
	}
	st, _ := svc.Statistics(t.Context())
	if st.TokenServiceRequests != 0 || st.TokenServiceFailures != 0 {
		t.Fatalf("a refused name counted as a token-service call: %+v", st)
	}
	if h := svc.Health(t.Context()); h.Status != app.StatusUp {
		t.Fatalf("a refused name changed health: %+v", h)
	}
}

// blockingIssuer blocks every Issue until its context ends, and says when
// one has begun.
type blockingIssuer struct{ entered chan struct{} }

func (b blockingIssuer) Issue(ctx context.Context, _ string) (domain.Token, error) {
	b.entered <- struct{}{}
	<-ctx.Done()
	return domain.Token{}, fmt.Errorf("issuer: %w", ctx.Err())
}

// TestCloseReleasesLockOfAbandonedFetch: Close returns only once a fetch
// blocked in a slow token service has released its renewal lock, even
// when the caller that started the fetch has gone.
func TestCloseReleasesLockOfAbandonedFetch(t *testing.T) {
	for _, abandon := range []bool{false, true} {
		t.Run(fmt.Sprintf("caller gone=%v", abandon), func(t *testing.T) {
			st := memory.New(nil)
			iss := blockingIssuer{entered: make(chan struct{}, 1)}
			svc, err := app.New(app.Options{Issuer: iss, Store: st, Locker: st, LockTTL: time.Hour, FetchTimeout: time.Minute,
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			got := make(chan error, 1)
			go func() {
				_, err := svc.Token(ctx, "kyc")
				got <- err
			}()
			<-iss.entered
			if held, _ := st.Held(context.Background(), []string{"kyc"}); !held[0] {
				t.Fatal("the fetch holds no lock")
			}
			if abandon {
				cancel()
				<-got
			}
			if err := svc.Close(); err != nil {
				t.Fatal(err)
			}
			if held, _ := st.Held(context.Background(), []string{"kyc"}); held[0] {
				t.Fatal("the renewal lock is still held after Close returned")
			}
			if !abandon {
				if err := <-got; err == nil {
					t.Fatal("the caller got a token from a cancelled fetch")
				}
			}
		})
	}
}

// With nothing valid cached and the token service failing, callers share
// its answer for one backoff step instead of each calling it again.
func TestFailureWithNothingToServeIsSharedForOneBackoffStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &countingIssuer{lifetime: time.Hour}
		issuer.failing.Store(true)
		svc := newService(t, issuer, nil, func(o *app.Options) {
			o.MinBackoff = 2 * time.Second
			o.Jitter = func() float64 { return 0.999 } // a step of ~2s
		})
		defer svc.Close()
		for range 50 {
			if _, err := svc.Token(t.Context(), "kyc"); err == nil {
				t.Fatal("Token succeeded with a failing token service")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if n := issuer.calls.Load(); n != 1 {
			t.Fatalf("50 requests within 0.5s made %d token-service calls, want 1", n)
		}
		time.Sleep(2 * time.Second)
		issuer.failing.Store(false)
		if _, err := svc.Token(t.Context(), "kyc"); err != nil {
			t.Fatalf("after the backoff step: %v", err)
		}
		if n := issuer.calls.Load(); n != 2 {
			t.Fatalf("calls = %d, want 2", n)
		}
		if _, err := svc.Refresh(t.Context(), "kyc"); err != nil {
			t.Fatal(err)
		}
	})
}

// retryAfterIssuer succeeds once, then answers 503 with Retry-After.
type retryAfterIssuer struct {
	countingIssuer
	retryAfter time.Duration
}

func (r *retryAfterIssuer) Issue(ctx context.Context, service string) (domain.Token, error) {
	tok, err := r.countingIssuer.Issue(ctx, service)
	if err != nil {
		return tok, &domain.TokenServiceError{Kind: domain.Rejected, Service: service, Code: "temporarily_unavailable", HTTPStatus: 503, RetryAfter: r.retryAfter}
	}
	return tok, nil
}

func TestRenewalRetriesHonourRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &retryAfterIssuer{countingIssuer: countingIssuer{lifetime: time.Hour}, retryAfter: 45 * time.Second}
		svc := newService(t, issuer, nil, func(o *app.Options) {
			o.Policy = &domain.RenewalPolicy{Buffer: 10 * time.Minute}
		})
		defer svc.Close()
		first, _ := svc.Token(t.Context(), "kyc")
		issuer.failing.Store(true)
		for time.Now().Before(first.ExpiresAt.Add(-time.Minute)) {
			_, _ = svc.Token(t.Context(), "kyc")
			time.Sleep(time.Minute)
			synctest.Wait()
		}
		calls := issuer.times()[1:]
		if len(calls) < 3 {
			t.Fatalf("only %d renewal attempts", len(calls))
		}
		for i := 1; i < len(calls); i++ {
			if gap := calls[i].Sub(calls[i-1]); gap < 45*time.Second {
				t.Fatalf("retry %d came %v after the previous one, sooner than the token service's Retry-After of 45s", i, gap)
			}
		}
	})
}

// TestTokenIsNotServedInItsLastMargin: while renewal fails, the still-valid
// token is served up to ServableUntil and not from then on, so that no
// caller receives a token that expires on its way.
func TestTokenIsNotServedInItsLastMargin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &countingIssuer{lifetime: time.Hour}
		svc := newService(t, issuer, nil, nil)
		defer svc.Close()
		first, err := svc.Token(t.Context(), "kyc")
		if err != nil {
			t.Fatal(err)
		}
		issuer.failing.Store(true)
		policy := domain.RenewalPolicy{Buffer: domain.DefaultRenewalBuffer}
		until := policy.ServableUntil(first)
		if want := first.ExpiresAt.Add(-domain.MaxServeMargin); !until.Equal(want) {
			t.Fatalf("ServableUntil = %v, want %v", until, want)
		}
		time.Sleep(time.Until(until) - time.Nanosecond)
		if tok, err := svc.Token(t.Context(), "kyc"); err != nil || tok.AccessToken != first.AccessToken {
			t.Fatalf("1ns before ServableUntil: Token = %q, %v; want the old token", tok.AccessToken, err)
		}
		time.Sleep(time.Nanosecond)
		if tok, err := svc.Token(t.Context(), "kyc"); err == nil {
			t.Fatalf("at ServableUntil (%v before expiry): Token = %v; want the token service's error", time.Until(first.ExpiresAt), tok)
		}
	})
}

// callerKey marks a caller's context in TestSharedFetchCarriesTheCallersValues.
type callerKey struct{}

// valueIssuer records a value of the context each Issue gets.
type valueIssuer struct {
	countingIssuer
	seenMu sync.Mutex
	seen   any // guarded by seenMu
}

func (v *valueIssuer) Issue(ctx context.Context, service string) (domain.Token, error) {
	v.set(ctx.Value(callerKey{}))
	return v.countingIssuer.Issue(ctx, service)
}

func (v *valueIssuer) set(x any) { v.seenMu.Lock(); v.seen = x; v.seenMu.Unlock() }

func (v *valueIssuer) get() any { v.seenMu.Lock(); defer v.seenMu.Unlock(); return v.seen }

// TestSharedFetchCarriesTheCallersValues: the fetch a miss starts carries
// the caller's context values (a trace span, for one) to the issuer, while
// a background renewal carries none; the caller leaving still does not
// cancel it (TestCallerCancellationDoesNotCancelTheSharedFetch).
func TestSharedFetchCarriesTheCallersValues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &valueIssuer{countingIssuer: countingIssuer{lifetime: time.Hour}}
		svc := newService(t, issuer, nil, func(o *app.Options) { o.IdleTimeout = -1 })
		defer svc.Close()
		ctx := context.WithValue(t.Context(), callerKey{}, "span-of-the-caller")
		if _, err := svc.Token(ctx, "kyc"); err != nil {
			t.Fatal(err)
		}
		if got := issuer.get(); got != "span-of-the-caller" {
			t.Fatalf("the miss's fetch saw %v; want the caller's value", got)
		}
		if _, err := svc.Refresh(ctx, "kyc"); err != nil {
			t.Fatal(err)
		}
		if got := issuer.get(); got != "span-of-the-caller" {
			t.Fatalf("the forced refresh saw %v; want the caller's value", got)
		}
		issuer.set(nil)
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := issuer.calls.Load(); n < 3 {
			t.Fatalf("%d calls; want the background renewal too", n)
		}
		if got := issuer.get(); got != nil {
			t.Fatalf("the background renewal saw %v; want no caller's value", got)
		}
	})
}
