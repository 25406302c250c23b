package app_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
)

// rejectingIssuer hands out numbered tokens living 10 minutes (less than
// the memory store's default TTL), or refuses with invalid_client while
// rejecting is set.
type rejectingIssuer struct {
	calls     atomic.Int64
	rejecting atomic.Bool
}

func (f *rejectingIssuer) Issue(_ context.Context, service string) (domain.Token, error) {
	n := f.calls.Add(1)
	if f.rejecting.Load() {
		return domain.Token{}, &domain.TokenServiceError{Kind: domain.Rejected, Code: "invalid_client", HTTPStatus: 401, Service: service}
	}
	now := time.Now()
	return domain.Token{AccessToken: fmt.Sprintf("SECRET-%s-%d", service, n), TokenType: "Bearer", IssuedAt: now, ExpiresAt: now.Add(10 * time.Minute)}, nil
}

// drain returns the events waiting on sub.
func drain(sub *app.Subscription) []app.Event {
	var out []app.Event
	for {
		select {
		case e, ok := <-sub.C():
			if !ok {
				return out
			}
			out = append(out, e)
		default:
			return out
		}
	}
}

func describeEvents(events []app.Event) string {
	var parts []string
	for _, e := range events {
		s := fmt.Sprintf("%d:%s:%s", e.ID, e.Type, e.Service)
		if e.Failure != "" {
			s += fmt.Sprintf("(%s/%s/%d)", e.Failure, e.TokenServiceError, e.Failures)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// TestCacheEvents follows one service through a miss, a renewal, failing
// renewals, refreshes and an eviction, and another refused a token, and
// checks the events, their order and the status the console reads.
func TestCacheEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &rejectingIssuer{}
		svc := newService(t, issuer, nil, nil)
		defer svc.Close()
		sub := svc.Events().Subscribe(0)
		ctx := t.Context()
		start := time.Now()

		tok, err := svc.Token(ctx, "kyc")
		if err != nil {
			t.Fatal(err)
		}
		st, _ := svc.Status(ctx, "kyc")
		policy := domain.RenewalPolicy{Buffer: domain.DefaultRenewalBuffer}
		if want := policy.RenewAt(tok, 0.5); !st.RenewAt.Equal(want) || !st.LastRenewal.IsZero() || st.Failures != 0 {
			t.Fatalf("after the miss: renewAt %v (want %v), lastRenewal %v, failures %d", st.RenewAt, want, st.LastRenewal, st.Failures)
		}

		// The renewal timer fires.
		time.Sleep(time.Until(st.RenewAt) + time.Second)
		synctest.Wait()
		renewedAt := st.RenewAt
		st, _ = svc.Status(ctx, "kyc")
		if st.LastRenewal.Before(renewedAt) || st.LastRenewal.After(time.Now()) || !st.IssuedAt.After(start) {
			t.Fatalf("after the renewal: lastRenewal %v, want after %v", st.LastRenewal, renewedAt)
		}

		// Renewals fail: the still-valid token is served, retried with backoff.
		issuer.rejecting.Store(true)
		if _, err := svc.Token(ctx, "kyc"); err != nil { // in use: renewed, not left idle
			t.Fatal(err)
		}
		time.Sleep(time.Until(st.RenewAt) + time.Millisecond)
		synctest.Wait()
		st, _ = svc.Status(ctx, "kyc")
		if st.Failures != 1 {
			t.Fatalf("after a failed renewal: failures %d, want 1 (%+v; events %s)", st.Failures, st, describeEvents(svc.Events().Recent(0)))
		}
		if _, err := svc.Refresh(ctx, "kyc"); err == nil {
			t.Fatal("refresh succeeded while the token service rejects")
		}
		if _, err := svc.Token(ctx, "ledger"); err == nil {
			t.Fatal("a miss succeeded while the token service rejects")
		}

		issuer.rejecting.Store(false)
		if _, err := svc.Refresh(ctx, "kyc"); err != nil {
			t.Fatal(err)
		}
		if ev, err := svc.Evict(ctx, "kyc"); err != nil || !ev.Removed {
			t.Fatalf("evict: %v %v", ev, err)
		}
		if _, err := svc.Evict(ctx, "kyc"); err != nil { // nothing left: no event
			t.Fatal(err)
		}
		synctest.Wait()

		got := describeEvents(drain(sub))
		want := "1:obtained:kyc 2:renewed:kyc 3:renewal_failed:kyc(rejected/invalid_client/1) " +
			"4:refresh_failed:kyc(rejected/invalid_client/0) 5:refused:ledger(rejected/invalid_client/0) " +
			"6:refreshed:kyc 7:evicted:kyc"
		if got != want {
			t.Fatalf("events:\n%s\nwant\n%s", got, want)
		}
		for _, e := range svc.Events().Recent(0) {
			if strings.Contains(fmt.Sprintf("%+v", e), "SECRET") {
				t.Fatalf("an event holds a token: %+v", e)
			}
			if e.At.Before(start) || e.At.After(time.Now()) {
				t.Fatalf("event %d at %v, outside the test", e.ID, e.At)
			}
			if (e.Type == app.EventObtained || e.Type == app.EventRenewed || e.Type == app.EventRefreshed || e.Type == app.EventEvicted) &&
				e.ExpiresAt.IsZero() {
				t.Fatalf("event %d has no expiry", e.ID)
			}
		}

		if err := svc.Close(); err != nil {
			t.Fatal(err)
		}
		if _, open := <-sub.C(); open {
			t.Fatal("the subscription outlived Close")
		}
	})
}

// TestCacheEventsRefusedNames: a name the configuration or a limit
// refuses makes no event, however often it is asked for.
func TestCacheEventsRefusedNames(t *testing.T) {
	for name, refusal := range map[string]error{
		"unknown service": fmt.Errorf("tokenservice: %w", domain.ErrUnknownService),
		"rate limited":    &domain.RateLimitedError{Service: "nope"},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				svc := newService(t, issuerFunc(func(context.Context, string) (domain.Token, error) {
					return domain.Token{}, refusal
				}), nil, nil)
				defer svc.Close()
				for range 3 {
					if _, err := svc.Token(t.Context(), "nope"); err == nil {
						t.Fatal("a refused name got a token")
					}
				}
				if got := svc.Events().Recent(0); len(got) != 0 {
					t.Fatalf("events for a refused name: %s", describeEvents(got))
				}
			})
		})
	}
}

type issuerFunc func(context.Context, string) (domain.Token, error)

func (f issuerFunc) Issue(ctx context.Context, service string) (domain.Token, error) {
	return f(ctx, service)
}

func TestEventOptions(t *testing.T) {
	if _, err := app.New(app.Options{Issuer: &rejectingIssuer{}, Store: nil}); err == nil {
		t.Fatal("no store accepted")
	}
	svc := newService(t, &rejectingIssuer{}, nil, func(o *app.Options) { o.EventHistory = 2 })
	defer svc.Close()
	for _, name := range []string{"a", "b", "c"} {
		if _, err := svc.Token(t.Context(), name); err != nil {
			t.Fatal(err)
		}
	}
	if got := describeEvents(svc.Events().Recent(0)); got != "2:obtained:b 3:obtained:c" {
		t.Fatalf("history of 2: %s", got)
	}
	_, err := app.New(app.Options{Issuer: &rejectingIssuer{}, Store: nil, EventQueue: -1})
	if err == nil {
		t.Fatal("a negative queue accepted")
	}
}
