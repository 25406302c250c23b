package app_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/mock/gomock"

	"github.com/jwtcache/jwtcache/adapters/memory"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/mocks"
)

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestServiceLimitBoundsCallsAndMemory floods the cache with 20,000 random
// valid names against a limit of 1,000: exactly 1,000 reach the token
// service, the other 19,000 are refused and leave nothing behind, and the
// names held keep working.
func TestServiceLimitBoundsCallsAndMemory(t *testing.T) {
	const limit, flood = 1000, 20000
	issuer := &countingIssuer{lifetime: time.Hour}
	svc := newService(t, issuer, nil, func(o *app.Options) {
		o.MaxServices = limit
		o.TokenRate = -1 // this test is about the name limit alone
	})
	defer svc.Close()
	ctx := t.Context()
	names := make([]string, flood)
	for i := range names {
		names[i] = fmt.Sprintf("svc-%x", uint32(i)*2654435761) // distinct, random-looking
	}

	before := liveHeap()
	var wg sync.WaitGroup
	var mu sync.Mutex
	served, refused := map[string]bool{}, 0
	ask := func(part []string) {
		for _, name := range part {
			_, err := svc.Token(ctx, name)
			mu.Lock()
			var tms *domain.TooManyServicesError
			switch {
			case err == nil:
				served[name] = true
			case errors.As(err, &tms) && tms.Limit == limit:
				refused++
			default:
				t.Errorf("Token(%s) = %v", name, err)
			}
			mu.Unlock()
		}
	}
	// The first limit names fill the cache; measure, then the flood.
	ask(names[:limit])
	filled := liveHeap()
	for g := range 8 {
		part := names[limit:]
		wg.Go(func() { ask(part[g*len(part)/8 : (g+1)*len(part)/8]) })
	}
	wg.Wait()
	after := liveHeap()

	if n := issuer.calls.Load(); n != limit {
		t.Fatalf("%d token-service calls for %d names against a limit of %d, want %d", n, flood, limit, limit)
	}
	if len(served) != limit || refused != flood-limit {
		t.Fatalf("served %d, refused %d; want %d and %d", len(served), refused, limit, flood-limit)
	}
	perName := float64(filled-min(before, filled)) / limit
	growth := int64(after) - int64(filled)
	t.Logf("heap: %d B before, %d B with %d names (%.0f B a name), %+d B after %d refused names",
		before, filled, limit, perName, growth, flood-limit)
	// Unbounded, the refused names would cost (flood-limit) × perName,
	// about 19 × the first thousand; bounded, the refusals keep nothing.
	if growth > 512<<10 {
		t.Fatalf("heap grew by %d B over %d refused names (%.0f B a name cached)", growth, flood-limit, perName)
	}
	for _, name := range names[:3] {
		if _, err := svc.Token(ctx, name); err != nil {
			t.Fatalf("a name held stopped working at the limit: %v", err)
		}
	}
	st, err := svc.Statistics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.ServiceLimitRefusals != flood-limit || st.TotalTokens != limit || st.TokenServiceFailures != 0 {
		t.Fatalf("statistics %+v; want %d refusals, %d tokens, no failures", st, flood-limit, limit)
	}
}

// TestServiceLimitServesTheSharedStoreAndRefusesRefreshes: at the limit, a
// name another replica keeps in the shared store is still served, without
// an entry or a call here; a forced refresh of a new name is refused.
func TestServiceLimitServesTheSharedStoreAndRefusesRefreshes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctrl := gomock.NewController(t)
		issuer := mocks.NewMockTokenIssuer(ctrl)
		now := time.Now()
		issuer.EXPECT().Issue(gomock.Any(), "kyc").Return(domain.Token{AccessToken: "kyc-1", TokenType: "Bearer", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}, nil).Times(1)
		store := memory.New(nil)
		svc := newService(t, issuer, store, func(o *app.Options) { o.MaxServices = 1 })
		defer svc.Close()
		ctx := t.Context()
		if _, err := svc.Token(ctx, "kyc"); err != nil {
			t.Fatal(err)
		}
		elsewhere := domain.Token{AccessToken: "billing-1", TokenType: "Bearer", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := store.Put(ctx, "billing", elsewhere); err != nil {
			t.Fatal(err)
		}
		if tok, err := svc.Token(ctx, "billing"); err != nil || tok.AccessToken != "billing-1" {
			t.Fatalf("a name in the shared store at the limit: %q, %v", tok.AccessToken, err)
		}
		for _, name := range []string{"billing", "payments"} {
			if _, err := svc.Refresh(ctx, name); !errors.Is(err, domain.ErrTooManyServices) {
				t.Fatalf("Refresh(%s) beyond the limit = %v, want ErrTooManyServices", name, err)
			}
		}
		if _, err := svc.Token(ctx, "payments"); !errors.Is(err, domain.ErrTooManyServices) ||
			!strings.Contains(err.Error(), "limit of 1 ") {
			t.Fatalf("Token beyond the limit = %v", err)
		}
		if st, _ := svc.Statistics(ctx); st.ServiceLimitRefusals != 3 {
			t.Fatalf("ServiceLimitRefusals = %d, want 3", st.ServiceLimitRefusals)
		}
	})
}

// clientKeys maps a service to its client: the part of its name before
// the first '-'; names starting with "unknown" have none.
type clientKeys struct{}

func (clientKeys) ClientKey(service string) (string, bool) {
	if strings.HasPrefix(service, "unknown") {
		return "", false
	}
	k, _, _ := strings.Cut(service, "-")
	return k, true
}

// TestTokenBudgetRefusesCallersPerClient: each client gets its burst, then
// its rate; a caller over budget is refused with Retry-After, without a
// call, without counting as a token-service failure and without opening
// the shared-failure window.
func TestTokenBudgetRefusesCallersPerClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &countingIssuer{lifetime: time.Hour}
		svc := newService(t, issuer, nil, func(o *app.Options) {
			o.TokenRate, o.TokenBurst = 10, 5 // one every 100ms
			o.ClientKeys = clientKeys{}
			o.RefreshMinInterval = -1
		})
		defer svc.Close()
		ctx := t.Context()
		for i := range 5 {
			if _, err := svc.Token(ctx, fmt.Sprintf("a-%d", i)); err != nil {
				t.Fatalf("within the burst: %v", err)
			}
		}
		_, err := svc.Token(ctx, "a-5")
		var rl *domain.RateLimitedError
		if !errors.As(err, &rl) || rl.RetryAfter != 100*time.Millisecond {
			t.Fatalf("sixth call at once = %v, want RateLimitedError after 100ms", err)
		}
		if _, err := svc.Refresh(ctx, "a-0"); !errors.Is(err, domain.ErrRateLimited) {
			t.Fatalf("a forced refresh over budget = %v, want ErrRateLimited", err)
		}
		// Another client has its own budget; a name no client serves
		// costs none.
		if _, err := svc.Token(ctx, "b-0"); err != nil {
			t.Fatalf("another client was refused: %v", err)
		}
		if n := issuer.calls.Load(); n != 6 {
			t.Fatalf("%d token-service calls, want 6", n)
		}
		time.Sleep(100*time.Millisecond - time.Nanosecond)
		if _, err := svc.Token(ctx, "a-5"); !errors.Is(err, domain.ErrRateLimited) {
			t.Fatalf("1ns before the bucket refills = %v, want ErrRateLimited", err)
		}
		time.Sleep(time.Nanosecond)
		// No shared-failure window: the refused name is asked for at once.
		if tok, err := svc.Token(ctx, "a-5"); err != nil || tok.AccessToken == "" {
			t.Fatalf("once the bucket refilled = %v", err)
		}
		st, _ := svc.Statistics(ctx)
		if st.RateLimitRefusals != 3 || st.TokenServiceFailures != 0 || st.TokenServiceRequests != 7 {
			t.Fatalf("statistics %+v: want 3 refusals, 0 failures, 7 requests", st)
		}
		if h := svc.Health(ctx); h.Status != app.StatusUp {
			t.Fatalf("refusals changed health: %+v", h)
		}
	})
}

// TestUnknownNamesCostNoBudget: names the issuer refuses without a call
// (strict mode) take nothing from the budget.
func TestUnknownNamesCostNoBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctrl := gomock.NewController(t)
		issuer := mocks.NewMockTokenIssuer(ctrl)
		issuer.EXPECT().Issue(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, s string) (domain.Token, error) {
			if strings.HasPrefix(s, "unknown") {
				return domain.Token{}, fmt.Errorf("issuer: %w", domain.ErrUnknownService)
			}
			now := time.Now()
			return domain.Token{AccessToken: s + "-1", TokenType: "Bearer", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}, nil
		}).AnyTimes()
		svc := newService(t, issuer, nil, func(o *app.Options) {
			o.TokenRate, o.TokenBurst = 1, 1
			o.ClientKeys = clientKeys{}
		})
		defer svc.Close()
		for i := range 100 {
			if _, err := svc.Token(t.Context(), fmt.Sprintf("unknown-%d", i)); !errors.Is(err, domain.ErrUnknownService) {
				t.Fatalf("unknown name = %v", err)
			}
		}
		if _, err := svc.Token(t.Context(), "kyc"); err != nil {
			t.Fatalf("a known name after 100 unknown ones = %v; they spent its budget", err)
		}
	})
}

// TestRenewalsSpendTheBudgetButAreNeverRefused empties the budget just
// before two renewals are due: both renew all the same, and a caller
// right after finds the budget they spent gone.
func TestRenewalsSpendTheBudgetButAreNeverRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &countingIssuer{lifetime: time.Minute}
		svc := newService(t, issuer, nil, func(o *app.Options) {
			o.TokenRate, o.TokenBurst = 1, 2
			o.IdleTimeout = -1
		})
		defer svc.Close()
		ctx := t.Context()
		start := time.Now()
		x, _ := svc.Token(ctx, "x")
		if _, err := svc.Token(ctx, "y"); err != nil {
			t.Fatal(err)
		}
		renewAt := domain.RenewalPolicy{Buffer: domain.DefaultRenewalBuffer}.RenewAt(x, 0.5)
		// Two new names a second before the renewals empty the bucket.
		time.Sleep(renewAt.Sub(start) - time.Second)
		for _, name := range []string{"z", "w"} {
			if _, err := svc.Token(ctx, name); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Second)
		synctest.Wait()
		st, _ := svc.Statistics(ctx)
		if st.Renewals != 2 || st.RenewalFailures != 0 || st.RateLimitRefusals != 0 {
			t.Fatalf("with the budget spent: %+v; want 2 renewals, none refused", st)
		}
		// A second refilled one token; the renewals spent it.
		if _, err := svc.Token(ctx, "v"); !errors.Is(err, domain.ErrRateLimited) {
			t.Fatalf("a caller after the renewals = %v, want ErrRateLimited", err)
		}
		if tok, err := svc.Token(ctx, "x"); err != nil || tok.AccessToken == x.AccessToken {
			t.Fatalf("x after its renewal = %q, %v", tok.AccessToken, err)
		}
	})
}

// TestRefreshStormMakesOneCall: 100 forced refreshes in a burst, together
// and one after another, make one token-service call; they get that
// refresh's token, marked reused; after the interval a refresh calls again.
func TestRefreshStormMakesOneCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &countingIssuer{lifetime: time.Hour}
		store := memory.New(nil)
		svc := newService(t, issuer, store, nil) // default interval
		defer svc.Close()
		ctx := t.Context()
		first, _ := svc.Token(ctx, "kyc")
		start := time.Now()

		var wg sync.WaitGroup
		got := make([]app.RefreshResult, 100)
		for i := range 50 {
			wg.Go(func() {
				r, err := svc.RefreshWithResult(ctx, "kyc")
				if err != nil {
					t.Error(err)
				}
				got[i] = r
			})
		}
		wg.Wait()
		for i := 50; i < 100; i++ {
			r, err := svc.RefreshWithResult(ctx, "kyc")
			if err != nil {
				t.Fatal(err)
			}
			got[i] = r
		}
		if n := issuer.calls.Load(); n != 2 {
			t.Fatalf("%d token-service calls for a miss and 100 refreshes, want 2", n)
		}
		refreshed := got[0].Token
		reused := 0
		for i, r := range got {
			if r.Token.AccessToken != refreshed.AccessToken || r.Token.AccessToken == first.AccessToken {
				t.Fatalf("refresh %d got %q, want the one refresh's %q", i, r.Token.AccessToken, refreshed.AccessToken)
			}
			if r.Reused {
				reused++
			}
		}
		// Those that came together shared the call or found it done; those
		// that came after it all reused it.
		for i := 50; i < 100; i++ {
			if !got[i].Reused {
				t.Fatalf("refresh %d, after the call, not marked reused", i)
			}
		}
		if st, _ := svc.Statistics(ctx); st.ForcedRefreshes != 100 || st.ReusedRefreshes != uint64(reused) {
			t.Fatalf("ForcedRefreshes %d, ReusedRefreshes %d; want 100 and %d", st.ForcedRefreshes, st.ReusedRefreshes, reused)
		}

		time.Sleep(time.Until(start.Add(app.DefaultRefreshMinInterval)) - time.Nanosecond)
		if r, _ := svc.RefreshWithResult(ctx, "kyc"); !r.Reused {
			t.Fatal("a refresh 1ns before the interval ended called the token service")
		}
		time.Sleep(time.Nanosecond)
		r, err := svc.RefreshWithResult(ctx, "kyc")
		if err != nil || r.Reused || r.Token.AccessToken == refreshed.AccessToken {
			t.Fatalf("a refresh after the interval = %+v, %v; want a new token", r, err)
		}
		// A store that lost the token (a restart, garbage written over it)
		// ends the reuse: a forced refresh is how the store gets repaired.
		if _, err := store.Delete(ctx, "kyc"); err != nil {
			t.Fatal(err)
		}
		r, err = svc.RefreshWithResult(ctx, "kyc")
		if err != nil || r.Reused {
			t.Fatalf("a refresh with the store emptied = %+v, %v; want a new call", r, err)
		}
		if got, err := store.Get(ctx, "kyc"); err != nil || got.AccessToken != r.Token.AccessToken {
			t.Fatalf("the store after that refresh holds %q, %v", got.AccessToken, err)
		}
		// An eviction ends the reuse at once.
		if _, err := svc.Evict(ctx, "kyc"); err != nil {
			t.Fatal(err)
		}
		if r, err := svc.RefreshWithResult(ctx, "kyc"); err != nil || r.Reused {
			t.Fatalf("a refresh after an eviction = %+v, %v; want a new call", r, err)
		}
		if n := issuer.calls.Load(); n != 5 {
			t.Fatalf("%d token-service calls, want 5", n)
		}
	})
}

func TestLimitOptionsAreValidated(t *testing.T) {
	store := memory.New(nil)
	base := app.Options{Issuer: &countingIssuer{lifetime: time.Hour}, Store: store, Locker: store, Logger: quiet}
	for name, tweak := range map[string]func(*app.Options){
		"negative burst": func(o *app.Options) { o.TokenBurst = -1 },
		"NaN rate":       func(o *app.Options) { o.TokenRate = math.NaN() },
	} {
		o := base
		tweak(&o)
		if _, err := app.New(o); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}
