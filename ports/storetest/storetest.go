// Package storetest is the contract suite every store adapter runs: one set
// of behaviours for ports.TokenStore, ports.RenewalLocker and
// ports.ChangeFeed, checked the same way against the memory store,
// miniredis, a real Redis server and a Redis Cluster.
//
// Decisions the suite pins down, so that every store agrees on them:
//
//   - Times round-trip exactly, to the nanosecond (compared with Equal), and
//     UTC times come back in UTC.
//   - A store holds a token at most until its ExpiresAt: by ExpiresAt +
//     ExpiryGrace, Get returns domain.ErrNotFound and List leaves it out. A
//     store may drop it earlier (the Redis store caps a key's life).
//   - Put of a token that has already expired (by the store's clock) succeeds
//     and removes whatever the service had: it replaces the token and the
//     store drops the replacement at once.
//   - Get, Put, Delete, TryLock, Held and Publish reject a malformed service
//     name with an error wrapping domain.ErrInvalidServiceName; Publish
//     rejects a malformed origin with one wrapping ports.ErrInvalidOrigin.
//   - TryLock rejects a ttl that is not positive. Unlock is idempotent and
//     never releases a lock that expired and was taken by someone else.
//   - Subscribe's fn receives every Publish made by any instance sharing the
//     backend, the subscriber itself included, as the Change published:
//     Origin intact (empty included), a Token exactly (every field, times
//     to the nanosecond), Removed, and changes of one service from two
//     origins never merged into one. Publish rejects a Change with Missed
//     set, or whose fields do not go together, with an error wrapping
//     ports.ErrInvalidChange.
//   - Prune never removes a token that has not expired, and, once a token
//     has been expired for a while (two minutes here: a store may allow
//     for clocks that disagree), removes what it left behind.
//
// Every case gets a fresh Subject and uses service names under a random
// prefix, so a shared backend (a real Redis) can serve parallel runs; List
// results are filtered to that prefix.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

// ExpiryGrace is how long after a token's ExpiresAt (or a lock's ttl) a
// store may still hold it.
const ExpiryGrace = time.Second

// realTTL is the lock ttl and token lifetime used when the suite has to wait
// in real time: short to keep the suite fast, long enough that a loaded
// machine running -race still does a Put and a Get inside it most of the time
// (the assertions tolerate it when it does not).
const realTTL = 150 * time.Millisecond

// pollEvery is how often the suite re-checks a condition it waits for.
const pollEvery = 5 * time.Millisecond

// feedTimeout bounds the wait for a published change to arrive.
const feedTimeout = 5 * time.Second

// Subject is one instance of a store adapter, as one replica sees the
// backend.
type Subject struct {
	// Store is the adapter's TokenStore. Required.
	Store ports.TokenStore
	// Locker is the adapter's RenewalLocker. Required.
	Locker ports.RenewalLocker
	// Feed is the adapter's ChangeFeed. Optional: nil skips the feed cases.
	Feed ports.ChangeFeed
	// Pruner is the adapter's Pruner. Optional: nil skips the prune case.
	Pruner ports.Pruner
	// Peer returns another instance sharing this subject's backend, as a
	// second replica would (it may be the same object for an in-process
	// store). Required. Only Store, Locker and Feed of the peer are used.
	Peer func(t *testing.T) Subject
	// Clock is the clock the store works by; the suite builds its tokens
	// from it. Optional: nil means the system clock.
	Clock ports.Clock
	// Advance moves the backend's time forward by d: the store's Clock and
	// whatever expires keys and locks. Optional: nil means real time passes
	// and the suite waits (polling, with a deadline) for short expiries.
	Advance func(d time.Duration)
}

// Run runs the contract suite. newSubject is called once per case, possibly
// from parallel goroutines, and must return an isolated subject (a fresh
// store, or a fresh key prefix on a shared server); it should register its
// cleanup with t.Cleanup. Run returns when every case has finished.
func Run(t *testing.T, newSubject func(t *testing.T) Subject) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, h *harness)
	}{
		{"GetUnknownIsNotFound", testGetUnknown},
		{"PutGetRoundTripsEveryField", testRoundTrip},
		{"PutReplaces", testPutReplaces},
		{"PeerSeesPutAndDelete", testPeerSees},
		{"DeleteReportsPresence", testDelete},
		{"ListReturnsEntriesNotDeleted", testList},
		{"ListIsCompleteForManyServices", testListMany},
		{"PutExpiredTokenRemoves", testPutExpired},
		{"ExpiredTokenIsDropped", testExpiredDropped},
		{"InvalidServiceNameRejected", testInvalidName},
		{"ConcurrentUse", testConcurrent},
		{"TryLockIsExclusive", testLockExclusive},
		{"UnlockThenRetake", testLockRetake},
		{"TryLockRejectsNonPositiveTTL", testLockTTL},
		{"ExpiredLockStaleUnlockKeepsNewOwner", testLockExpiry},
		{"HeldReportsInOrder", testHeld},
		{"FeedDeliversToPeer", testFeedPeer},
		{"FeedDeliversToSelf", testFeedSelf},
		{"FeedKeepsEveryOrigin", testFeedOrigins},
		{"InvalidOriginRejected", testInvalidOrigin},
		{"FeedCarriesTokensAndRemovals", testFeedCarries},
		{"InvalidChangeRejected", testInvalidChange},
		{"PruneKeepsLiveTokensAndDropsExpired", testPrune},
	}
	// The enclosing t.Run blocks until the parallel cases are done, so
	// callers may tear the backend down right after Run returns.
	t.Run("contract", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				c.run(t, newHarness(t, newSubject(t)))
			})
		}
	})
}

// harness is one case's view: the subject, its peer, and service names
// under a prefix of its own.
type harness struct {
	a, b   Subject
	prefix string
}

func newHarness(t *testing.T, s Subject) *harness {
	t.Helper()
	if s.Store == nil || s.Locker == nil || s.Peer == nil {
		t.Fatal("storetest: Subject needs Store, Locker and Peer")
	}
	if s.Clock == nil {
		s.Clock = ports.SystemClock
	}
	return &harness{a: s, b: s.Peer(t), prefix: "st" + randomHex(6) + "-"}
}

// svc is a service name unique to this case.
func (h *harness) svc(name string) string { return h.prefix + name }

func (h *harness) now() time.Time { return h.a.Clock.Now() }

// controlled reports whether the suite moves time itself.
func (h *harness) controlled() bool { return h.a.Advance != nil }

// token builds a token issued now and living for life, with sub-millisecond
// digits in both times so that any loss of precision shows, and a credential
// holding characters an encoder must escape.
func (h *harness) token(life time.Duration) domain.Token {
	iat := h.now().UTC().Truncate(time.Millisecond).Add(123456 * time.Nanosecond)
	return domain.Token{
		AccessToken: "eyJ" + randomHex(8) + `.p"\/<&>é€` + "\x00\t.sig",
		TokenType:   "Bearer",
		Scope:       "read:tokens write \"quoted\"",
		IssuedAt:    iat,
		ExpiresAt:   iat.Add(life),
	}
}

// mine keeps the entries of this case's services.
func (h *harness) mine(entries []ports.Entry) map[string]domain.Token {
	out := make(map[string]domain.Token)
	for _, e := range entries {
		if strings.HasPrefix(e.Service, h.prefix) {
			out[e.Service] = e.Token
		}
	}
	return out
}

func (h *harness) list(t *testing.T, s Subject) map[string]domain.Token {
	t.Helper()
	entries, err := s.Store.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	got := h.mine(entries)
	if n := countPrefix(entries, h.prefix); n != len(got) {
		t.Fatalf("List returned %d entries of this case for %d services: duplicates", n, len(got))
	}
	return got
}

func countPrefix(entries []ports.Entry, prefix string) int {
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Service, prefix) {
			n++
		}
	}
	return n
}

func mustPut(t *testing.T, s Subject, svc string, tok domain.Token) {
	t.Helper()
	if err := s.Store.Put(t.Context(), svc, tok); err != nil {
		t.Fatalf("Put(%q): %v", svc, err)
	}
}

func mustGet(t *testing.T, s Subject, svc string) domain.Token {
	t.Helper()
	tok, err := s.Store.Get(t.Context(), svc)
	if err != nil {
		t.Fatalf("Get(%q): %v", svc, err)
	}
	return tok
}

func wantNotFound(t *testing.T, s Subject, svc string) {
	t.Helper()
	tok, err := s.Store.Get(t.Context(), svc)
	if !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Get(%q) = %v, %v; want domain.ErrNotFound", svc, tok, err)
	}
}

// sameToken fails unless got is want, field by field, times to the
// nanosecond and in want's location.
func sameToken(t *testing.T, what string, got, want domain.Token) {
	t.Helper()
	if got.AccessToken != want.AccessToken {
		// Never print a credential, even a test one: the habit matters.
		t.Errorf("%s: AccessToken differs (len %d, want len %d)", what, len(got.AccessToken), len(want.AccessToken))
	}
	if got.TokenType != want.TokenType {
		t.Errorf("%s: TokenType = %q, want %q", what, got.TokenType, want.TokenType)
	}
	if got.Scope != want.Scope {
		t.Errorf("%s: Scope = %q, want %q", what, got.Scope, want.Scope)
	}
	sameTime(t, what+": IssuedAt", got.IssuedAt, want.IssuedAt)
	sameTime(t, what+": ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}

func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %s, want %s", what, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
	if got.Location() != want.Location() {
		t.Errorf("%s location = %v, want %v", what, got.Location(), want.Location())
	}
}

// waitUntil polls cond until it holds, failing once deadline (by the
// system clock) has passed and a last check still fails.
func waitUntil(t *testing.T, deadline time.Time, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			if cond() {
				return
			}
			t.Fatalf("%s: still not true %v after the deadline", what, time.Since(deadline))
		}
		select {
		case <-tick.C:
		case <-t.Context().Done():
			t.Fatalf("%s: %v", what, t.Context().Err())
		}
	}
}

// randomHex returns n random bytes in hex. crypto/rand.Read never fails
// (it crashes the program instead), so it is safe off the test goroutine.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func testGetUnknown(t *testing.T, h *harness) {
	wantNotFound(t, h.a, h.svc("unknown"))
	wantNotFound(t, h.b, h.svc("unknown"))
}

func testRoundTrip(t *testing.T, h *harness) {
	svc := h.svc("kyc")
	want := h.token(time.Hour)
	mustPut(t, h.a, svc, want)
	sameToken(t, "Get", mustGet(t, h.a, svc), want)
	sameToken(t, "peer Get", mustGet(t, h.b, svc), want)
	got := h.list(t, h.a)
	if len(got) != 1 {
		t.Fatalf("List has %d entries, want 1", len(got))
	}
	sameToken(t, "List", got[svc], want)

	// Empty optional fields survive too.
	bare := h.token(time.Minute)
	bare.Scope = ""
	bare.TokenType = "mac"
	mustPut(t, h.a, svc, bare)
	sameToken(t, "Get of a token without scope", mustGet(t, h.a, svc), bare)
}

func testPutReplaces(t *testing.T, h *harness) {
	svc := h.svc("kyc")
	first := h.token(time.Hour)
	mustPut(t, h.a, svc, first)
	second := h.token(2 * time.Hour)
	second.Scope = "other"
	mustPut(t, h.b, svc, second)
	sameToken(t, "Get after replace", mustGet(t, h.a, svc), second)
	if got := h.list(t, h.a); len(got) != 1 {
		t.Fatalf("List has %d entries after a replace, want 1", len(got))
	}
	// A shorter-lived replacement is a replacement all the same.
	third := h.token(30 * time.Minute)
	mustPut(t, h.a, svc, third)
	sameToken(t, "Get after a shorter replace", mustGet(t, h.b, svc), third)
}

func testPeerSees(t *testing.T, h *harness) {
	svc := h.svc("data-processor")
	tok := h.token(time.Hour)
	mustPut(t, h.a, svc, tok)
	sameToken(t, "peer Get", mustGet(t, h.b, svc), tok)
	if _, ok := h.list(t, h.b)[svc]; !ok {
		t.Fatal("peer List misses the token")
	}
	if ok, err := h.b.Store.Delete(t.Context(), svc); err != nil || !ok {
		t.Fatalf("peer Delete = %v, %v; want true, nil", ok, err)
	}
	wantNotFound(t, h.a, svc)
}

func testDelete(t *testing.T, h *harness) {
	svc := h.svc("kyc")
	mustPut(t, h.a, svc, h.token(time.Hour))
	ok, err := h.a.Store.Delete(t.Context(), svc)
	if err != nil || !ok {
		t.Fatalf("first Delete = %v, %v; want true, nil", ok, err)
	}
	ok, err = h.a.Store.Delete(t.Context(), svc)
	if err != nil || ok {
		t.Fatalf("second Delete = %v, %v; want false, nil", ok, err)
	}
	ok, err = h.a.Store.Delete(t.Context(), h.svc("never-put"))
	if err != nil || ok {
		t.Fatalf("Delete of an unknown service = %v, %v; want false, nil", ok, err)
	}
	wantNotFound(t, h.a, svc)
}

func testList(t *testing.T, h *harness) {
	if got := h.list(t, h.a); len(got) != 0 {
		t.Fatalf("List of an empty store has %d entries", len(got))
	}
	want := map[string]domain.Token{}
	for _, name := range []string{"kyc", "data-processor", "reference-data", "gone"} {
		svc := h.svc(name)
		want[svc] = h.token(time.Hour)
		mustPut(t, h.a, svc, want[svc])
	}
	if _, err := h.a.Store.Delete(t.Context(), h.svc("gone")); err != nil {
		t.Fatal(err)
	}
	delete(want, h.svc("gone"))
	for _, s := range []Subject{h.a, h.b} {
		got := h.list(t, s)
		if len(got) != len(want) {
			t.Fatalf("List has %d entries, want %d: %v", len(got), len(want), slices.Sorted(maps.Keys(got)))
		}
		for svc, tok := range want {
			sameToken(t, "List["+svc+"]", got[svc], tok)
		}
	}
}

func testListMany(t *testing.T, h *harness) {
	const n = 500
	want := make(map[string]domain.Token, n)
	for i := range n {
		svc := h.svc(fmt.Sprintf("svc-%d", i))
		want[svc] = h.token(time.Duration(i+1) * time.Minute)
	}
	g, ctx := errgroup.WithContext(t.Context())
	g.SetLimit(16)
	for svc, tok := range want {
		g.Go(func() error { return h.a.Store.Put(ctx, svc, tok) })
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("Put: %v", err)
	}
	got := h.list(t, h.b)
	if len(got) != n {
		t.Fatalf("List has %d of %d entries", len(got), n)
	}
	for svc, tok := range want {
		if g, ok := got[svc]; !ok || g.AccessToken != tok.AccessToken || !g.ExpiresAt.Equal(tok.ExpiresAt) {
			t.Fatalf("List entry for %q is missing or wrong", svc)
		}
	}
}

func testPutExpired(t *testing.T, h *harness) {
	svc := h.svc("kyc")
	mustPut(t, h.a, svc, h.token(time.Hour))
	expired := h.token(time.Hour)
	expired.IssuedAt = expired.IssuedAt.Add(-2 * time.Hour)
	expired.ExpiresAt = expired.ExpiresAt.Add(-2 * time.Hour)
	mustPut(t, h.a, svc, expired)
	wantNotFound(t, h.a, svc)
	if _, ok := h.list(t, h.a)[svc]; ok {
		t.Fatal("List still has the service after a Put of an expired token")
	}
	// On a service with nothing cached it is a no-op.
	mustPut(t, h.a, h.svc("fresh"), expired)
	wantNotFound(t, h.b, h.svc("fresh"))
	// The zero Token is as expired as a token gets.
	mustPut(t, h.a, h.svc("zero"), domain.Token{})
	wantNotFound(t, h.a, h.svc("zero"))
}

func testExpiredDropped(t *testing.T, h *harness) {
	svc, other := h.svc("short"), h.svc("long")
	life := time.Minute
	if !h.controlled() {
		life = realTTL
	}
	tok := h.token(life)
	mustPut(t, h.a, svc, tok)
	mustPut(t, h.a, other, h.token(time.Hour))
	got, err := h.a.Store.Get(t.Context(), svc)
	switch {
	case err == nil:
		sameToken(t, "Get before expiry", got, tok)
	case errors.Is(err, domain.ErrNotFound) && !h.controlled() && !h.now().Before(tok.ExpiresAt):
		// The machine was slow: the token expired before we looked.
	default:
		t.Fatalf("Get before expiry: %v", err)
	}

	gone := func() bool {
		_, err := h.a.Store.Get(t.Context(), svc)
		if err != nil && !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("Get after expiry: %v", err)
		}
		return err != nil
	}
	if h.controlled() {
		h.a.Advance(life + ExpiryGrace)
		if !gone() {
			t.Fatal("the store still holds a token ExpiryGrace after its expiry")
		}
	} else {
		waitUntil(t, tok.ExpiresAt.Add(ExpiryGrace), "token dropped after expiry", gone)
	}
	wantNotFound(t, h.b, svc)
	listed := h.list(t, h.a)
	if _, ok := listed[svc]; ok {
		t.Fatal("List still has a token past its expiry + ExpiryGrace")
	}
	if _, ok := listed[other]; !ok {
		t.Fatal("List lost a live token while dropping an expired one")
	}
}

func testInvalidName(t *testing.T, h *harness) {
	ctx := t.Context()
	for _, bad := range []string{"", "KYC", "kyc}", "{kyc}", "kyc:lock", "kyc svc", "kyc*", strings.Repeat("a", 64)} {
		check := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, domain.ErrInvalidServiceName) {
				t.Errorf("%s(%q) error = %v, want domain.ErrInvalidServiceName", op, bad, err)
			}
		}
		_, err := h.a.Store.Get(ctx, bad)
		check("Get", err)
		check("Put", h.a.Store.Put(ctx, bad, h.token(time.Hour)))
		_, err = h.a.Store.Delete(ctx, bad)
		check("Delete", err)
		_, err = h.a.Locker.TryLock(ctx, bad, time.Minute)
		check("TryLock", err)
		_, err = h.a.Locker.Held(ctx, []string{h.svc("ok"), bad})
		check("Held", err)
		if h.a.Feed != nil {
			check("Publish", h.a.Feed.Publish(ctx, ports.Change{Service: bad, Origin: "a1"}))
		}
	}
}

func testConcurrent(t *testing.T, h *harness) {
	services := []string{h.svc("a"), h.svc("b"), h.svc("c")}
	const workers, rounds = 8, 60
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		s := h.a
		if w%2 == 1 {
			s = h.b
		}
		wg.Go(func() {
			ctx := t.Context()
			for i := range rounds {
				svc := services[(w+i)%len(services)]
				var err error
				switch i % 6 {
				case 0, 1:
					tok := h.token(time.Hour)
					tok.Scope = svc
					err = s.Store.Put(ctx, svc, tok)
				case 2:
					var tok domain.Token
					tok, err = s.Store.Get(ctx, svc)
					if err == nil && tok.Scope != svc {
						err = fmt.Errorf("Get(%q) returned the token of %q", svc, tok.Scope)
					}
				case 3:
					_, err = s.Store.Delete(ctx, svc)
				case 4:
					var entries []ports.Entry
					entries, err = s.Store.List(ctx)
					for _, e := range entries {
						if strings.HasPrefix(e.Service, h.prefix) && e.Token.Scope != e.Service {
							err = fmt.Errorf("list paired %q with the token of %q", e.Service, e.Token.Scope)
						}
					}
				case 5:
					var unlock ports.Unlock
					unlock, err = s.Locker.TryLock(ctx, svc, time.Minute)
					if err == nil {
						_, err = s.Locker.Held(ctx, services)
						if uerr := unlock(ctx); err == nil {
							err = uerr
						}
					}
				}
				if err != nil && !errors.Is(err, domain.ErrNotFound) && !errors.Is(err, domain.ErrLockHeld) {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func mustLock(t *testing.T, s Subject, svc string, ttl time.Duration) ports.Unlock {
	t.Helper()
	unlock, err := s.Locker.TryLock(t.Context(), svc, ttl)
	if err != nil {
		t.Fatalf("TryLock(%q): %v", svc, err)
	}
	if unlock == nil {
		t.Fatalf("TryLock(%q) returned a nil Unlock", svc)
	}
	return unlock
}

func wantHeld(t *testing.T, s Subject, svc string) {
	t.Helper()
	_, err := s.Locker.TryLock(t.Context(), svc, time.Minute)
	if !errors.Is(err, domain.ErrLockHeld) {
		t.Fatalf("TryLock(%q) of a held lock = %v, want domain.ErrLockHeld", svc, err)
	}
}

func held(t *testing.T, s Subject, services ...string) []bool {
	t.Helper()
	got, err := s.Locker.Held(t.Context(), services)
	if err != nil {
		t.Fatalf("Held: %v", err)
	}
	return got
}

func testLockExclusive(t *testing.T, h *harness) {
	svc := h.svc("kyc")
	mustLock(t, h.a, svc, time.Minute)
	wantHeld(t, h.a, svc)
	wantHeld(t, h.b, svc)
	// Locks are per service.
	mustLock(t, h.b, h.svc("other"), time.Minute)
}

func testLockRetake(t *testing.T, h *harness) {
	svc := h.svc("kyc")
	unlock := mustLock(t, h.a, svc, time.Minute)
	if err := unlock(t.Context()); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	if got := held(t, h.b, svc); !slices.Equal(got, []bool{false}) {
		t.Fatalf("Held after Unlock = %v", got)
	}
	unlockB := mustLock(t, h.b, svc, time.Minute)
	// A second Unlock of the released lock is harmless and leaves B's lock.
	if err := unlock(t.Context()); err != nil {
		t.Fatalf("second Unlock: %v", err)
	}
	wantHeld(t, h.a, svc)
	if err := unlockB(t.Context()); err != nil {
		t.Fatalf("Unlock of B: %v", err)
	}
	mustLock(t, h.a, svc, time.Minute)
}

func testLockTTL(t *testing.T, h *harness) {
	for _, ttl := range []time.Duration{0, -time.Second} {
		if _, err := h.a.Locker.TryLock(t.Context(), h.svc("kyc"), ttl); err == nil || errors.Is(err, domain.ErrLockHeld) {
			t.Errorf("TryLock with ttl %v = %v, want an error", ttl, err)
		}
	}
	if got := held(t, h.a, h.svc("kyc")); got[0] {
		t.Fatal("a rejected TryLock left the lock held")
	}
}

func testLockExpiry(t *testing.T, h *harness) {
	svc := h.svc("kyc")
	ttl := 30 * time.Second
	if !h.controlled() {
		ttl = realTTL
	}
	start := time.Now()
	unlockA := mustLock(t, h.a, svc, ttl)
	if h.controlled() {
		h.a.Advance(ttl - time.Millisecond)
		wantHeld(t, h.b, svc)
		h.a.Advance(2 * time.Millisecond)
		if got := held(t, h.b, svc); got[0] {
			t.Fatal("lock still held after its ttl")
		}
	} else {
		waitUntil(t, start.Add(ttl+ExpiryGrace), "lock expired", func() bool { return !held(t, h.b, svc)[0] })
	}
	unlockB := mustLock(t, h.b, svc, time.Minute)
	// A's lock expired and B took it: A's Unlock must leave B's lock alone.
	if err := unlockA(t.Context()); err != nil {
		t.Fatalf("stale Unlock: %v", err)
	}
	if got := held(t, h.a, svc); !got[0] {
		t.Fatal("a stale Unlock released the new owner's lock")
	}
	wantHeld(t, h.a, svc)
	if err := unlockB(t.Context()); err != nil {
		t.Fatalf("Unlock of the new owner: %v", err)
	}
	if got := held(t, h.a, svc); got[0] {
		t.Fatal("lock held after its owner released it")
	}
}

func testHeld(t *testing.T, h *harness) {
	s1, s2, s3 := h.svc("one"), h.svc("two"), h.svc("three")
	mustLock(t, h.a, s1, time.Minute)
	mustLock(t, h.b, s3, time.Minute)
	want := []bool{true, false, true, true, false}
	for _, s := range []Subject{h.a, h.b} {
		if got := held(t, s, s1, s2, s3, s1, h.svc("four")); !slices.Equal(got, want) {
			t.Fatalf("Held = %v, want %v", got, want)
		}
	}
	got, err := h.a.Locker.Held(t.Context(), nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("Held(nil) = %v, %v; want empty, nil", got, err)
	}
}

// subscribe subscribes s and returns the channel its fn forwards to; the
// subscription ends with the test.
func subscribe(t *testing.T, s Subject) <-chan ports.Change {
	t.Helper()
	got := make(chan ports.Change, 64)
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	err := s.Feed.Subscribe(ctx, func(c ports.Change) {
		select {
		case got <- c:
		default: // the test only needs the first few
		}
	})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	return got
}

// waitFor waits for want among the changes ch delivers, skipping others.
func waitFor(t *testing.T, ch <-chan ports.Change, want ports.Change) {
	t.Helper()
	timeout := time.NewTimer(feedTimeout)
	defer timeout.Stop()
	for {
		select {
		case got := <-ch:
			if got == want {
				return
			}
		case <-timeout.C:
			t.Fatalf("no change %+v within %v", want, feedTimeout)
		}
	}
}

func mustPublish(t *testing.T, s Subject, c ports.Change) {
	t.Helper()
	if err := s.Feed.Publish(t.Context(), c); err != nil {
		t.Fatalf("Publish(%+v): %v", c, err)
	}
}

func testFeedPeer(t *testing.T, h *harness) {
	if h.a.Feed == nil || h.b.Feed == nil {
		t.Skip("the store has no ChangeFeed")
	}
	got := subscribe(t, h.b)
	c := ports.Change{Service: h.svc("kyc"), Origin: "replica-a_1"}
	mustPublish(t, h.a, c)
	waitFor(t, got, c)
	// A second change is delivered too, and one without an origin as such.
	c = ports.Change{Service: h.svc("other")}
	mustPublish(t, h.a, c)
	waitFor(t, got, c)
}

func testFeedSelf(t *testing.T, h *harness) {
	if h.a.Feed == nil {
		t.Skip("the store has no ChangeFeed")
	}
	got := subscribe(t, h.a)
	c := ports.Change{Service: h.svc("kyc"), Origin: "self"}
	mustPublish(t, h.a, c)
	waitFor(t, got, c)
}

// testFeedOrigins: one service changed by two replicas in a row reaches a
// subscriber as two changes, so that neither replica's change is lost to
// the other ignoring its own.
func testFeedOrigins(t *testing.T, h *harness) {
	if h.a.Feed == nil || h.b.Feed == nil {
		t.Skip("the store has no ChangeFeed")
	}
	got := subscribe(t, h.b)
	svc := h.svc("kyc")
	want := map[ports.Change]bool{{Service: svc, Origin: "a"}: true, {Service: svc, Origin: "b"}: true}
	mustPublish(t, h.a, ports.Change{Service: svc, Origin: "a"})
	mustPublish(t, h.b, ports.Change{Service: svc, Origin: "b"})
	timeout := time.NewTimer(feedTimeout)
	defer timeout.Stop()
	for len(want) > 0 {
		select {
		case c := <-got:
			delete(want, c)
		case <-timeout.C:
			t.Fatalf("changes %v not delivered within %v", want, feedTimeout)
		}
	}
}

func testInvalidOrigin(t *testing.T, h *harness) {
	if h.a.Feed == nil {
		t.Skip("the store has no ChangeFeed")
	}
	for _, bad := range []string{"a b", "a:b", "ä", "a\n", strings.Repeat("a", ports.MaxOriginLen+1)} {
		err := h.a.Feed.Publish(t.Context(), ports.Change{Service: h.svc("kyc"), Origin: bad})
		if !errors.Is(err, ports.ErrInvalidOrigin) {
			t.Errorf("Publish with origin %q: error = %v, want ports.ErrInvalidOrigin", bad, err)
		}
	}
	if err := h.a.Feed.Publish(t.Context(), ports.Change{Service: h.svc("kyc"), Origin: strings.Repeat("a", ports.MaxOriginLen)}); err != nil {
		t.Errorf("Publish with the longest origin: %v", err)
	}
}

// waitForMatch waits for a change satisfying ok among those ch delivers.
func waitForMatch(t *testing.T, ch <-chan ports.Change, what string, ok func(ports.Change) bool) ports.Change {
	t.Helper()
	timeout := time.NewTimer(feedTimeout)
	defer timeout.Stop()
	for {
		select {
		case got := <-ch:
			if ok(got) {
				return got
			}
		case <-timeout.C:
			t.Fatalf("no %s within %v", what, feedTimeout)
		}
	}
}

func testFeedCarries(t *testing.T, h *harness) {
	if h.a.Feed == nil || h.b.Feed == nil {
		t.Skip("the store has no ChangeFeed")
	}
	got := subscribe(t, h.b)
	svc := h.svc("kyc")
	tok := h.token(time.Hour)
	tok.BoundToCertificate = true
	mustPublish(t, h.a, ports.Change{Service: svc, Origin: "a1", Token: &tok})
	c := waitForMatch(t, got, "change carrying the token", func(c ports.Change) bool { return c.Service == svc && c.Token != nil })
	if c.Origin != "a1" || c.Removed || c.Missed {
		t.Fatalf("change = %+v, want the token from a1 and nothing else", c)
	}
	checkSame(t, *c.Token, tok)
	mustPublish(t, h.a, ports.Change{Service: svc, Origin: "a1", Removed: true})
	c = waitForMatch(t, got, "removal", func(c ports.Change) bool { return c.Service == svc && c.Removed })
	if c.Origin != "a1" || c.Token != nil {
		t.Fatalf("change = %+v, want a removal from a1", c)
	}
}

// checkSame fails unless got is want, field by field, times to the
// nanosecond.
func checkSame(t *testing.T, got, want domain.Token) {
	t.Helper()
	if got.AccessToken != want.AccessToken || got.TokenType != want.TokenType || got.Scope != want.Scope ||
		!got.IssuedAt.Equal(want.IssuedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) || got.BoundToCertificate != want.BoundToCertificate {
		t.Fatalf("token = %v, want %v", got, want)
	}
}

func testInvalidChange(t *testing.T, h *harness) {
	if h.a.Feed == nil {
		t.Skip("the store has no ChangeFeed")
	}
	tok := h.token(time.Hour)
	for name, c := range map[string]ports.Change{
		"missed":                {Missed: true},
		"token and removal":     {Service: h.svc("kyc"), Origin: "a1", Token: &tok, Removed: true},
		"empty token":           {Service: h.svc("kyc"), Origin: "a1", Token: &domain.Token{}},
		"token without origin":  {Service: h.svc("kyc"), Token: &tok},
		"missed with a service": {Missed: true, Service: h.svc("kyc")},
	} {
		if err := h.a.Feed.Publish(t.Context(), c); !errors.Is(err, ports.ErrInvalidChange) {
			t.Errorf("Publish(%s): error = %v, want ports.ErrInvalidChange", name, err)
		}
	}
}

func testPrune(t *testing.T, h *harness) {
	if h.a.Pruner == nil {
		t.Skip("the store has no Pruner")
	}
	ctx := t.Context()
	live, short := h.svc("live"), h.svc("short")
	if err := h.a.Store.Put(ctx, live, h.token(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := h.a.Store.Put(ctx, short, h.token(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.a.Pruner.Prune(ctx); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if _, err := h.a.Store.Get(ctx, short); err != nil {
		t.Fatalf("Prune removed a token that has not expired: %v", err)
	}
	if !h.controlled() {
		return // waiting minutes for expiry is the controlled backends' job
	}
	h.a.Advance(3 * time.Minute)
	n, err := h.a.Pruner.Prune(ctx)
	if err != nil || n < 1 {
		t.Fatalf("Prune after expiry = %d, %v; want the expired token's entry removed", n, err)
	}
	if _, err := h.a.Store.Get(ctx, live); err != nil {
		t.Fatalf("Prune removed a token that has not expired: %v", err)
	}
	if got := h.list(t, h.a); len(got) != 1 {
		t.Fatalf("List after Prune = %v, want only the live token", got)
	}
}
