package app_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jwtcache/jwtcache/adapters/memory"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

// countingStore is a memory store that counts its Gets and Lists and,
// while refusing is set, fails every Put.
type countingStore struct {
	*memory.Store
	gets, lists atomic.Int64
	refusing    atomic.Bool
}

func (c *countingStore) List(ctx context.Context) ([]ports.Entry, error) {
	c.lists.Add(1)
	return c.Store.List(ctx)
}

func (c *countingStore) Get(ctx context.Context, service string) (domain.Token, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, service)
}

func (c *countingStore) Put(ctx context.Context, service string, tok domain.Token) error {
	if c.refusing.Load() {
		return errors.New("READONLY You can't write against a read only replica")
	}
	return c.Store.Put(ctx, service, tok)
}

// TestReplicaIgnoresItsOwnChanges: the change a replica publishes costs it
// no store read when the feed hands it back, and a peer holding the token
// follows from the notification alone, without reading the store either.
func TestReplicaIgnoresItsOwnChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memory.New(nil)
		sa, sb := &countingStore{Store: mem}, &countingStore{Store: mem}
		issuer := &countingIssuer{lifetime: time.Hour}
		a := newService(t, issuer, mem, func(o *app.Options) { o.Store = sa })
		defer a.Close()
		b := newService(t, issuer, mem, func(o *app.Options) { o.Store = sb })
		defer b.Close()

		if _, err := b.Token(t.Context(), "kyc"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		time.Sleep(time.Minute) // synctest's clock: b's token is now older than the refresh
		bGets := sb.gets.Load()
		tok, err := a.Refresh(t.Context(), "kyc")
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the feed has delivered the change to both
		// a's fetch reads the store twice, before and under the lock.
		if n := sa.gets.Load(); n != 2 {
			t.Errorf("the publishing replica read the store %d times, want 2: none after its own change", n)
		}
		if n := sb.gets.Load() - bGets; n != 0 {
			t.Errorf("the peer read the store %d times after the change, want 0: the notification carries the token", n)
		}
		got, err := b.Token(t.Context(), "kyc")
		if err != nil || got.AccessToken != tok.AccessToken {
			t.Fatalf("peer serves %q, %v; want the refreshed token %q", got.AccessToken, err, tok.AccessToken)
		}
		if n := issuer.calls.Load(); n != 2 {
			t.Fatalf("token service called %d times, want 2", n)
		}
	})
}

// TestTokenKeptWhenTheStoreRefusesWrites: a token the store would not take
// is still served from the near cache; hearing its own change notification
// does not make the replica drop it for the store's empty answer.
func TestTokenKeptWhenTheStoreRefusesWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memory.New(nil)
		st := &countingStore{Store: mem}
		st.refusing.Store(true)
		issuer := &countingIssuer{lifetime: time.Hour}
		svc := newService(t, issuer, mem, func(o *app.Options) { o.Store = st })
		defer svc.Close()

		first, err := svc.Token(t.Context(), "kyc")
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		second, err := svc.Token(t.Context(), "kyc")
		if err != nil || second.AccessToken != first.AccessToken {
			t.Fatalf("second call got %q, %v; want the first token again", second.AccessToken, err)
		}
		if n := issuer.calls.Load(); n != 1 {
			t.Fatalf("token service called %d times, want 1", n)
		}
	})
}

// tapFeed is a memory store's feed through which a test can also deliver
// changes of its own making to the subscriber, as another replica (of this
// version or an earlier one) or the feed itself would.
type tapFeed struct {
	*memory.Store
	mu sync.Mutex
	fn func(ports.Change)
}

func (f *tapFeed) Subscribe(ctx context.Context, fn func(ports.Change)) error {
	f.mu.Lock()
	f.fn = fn
	f.mu.Unlock()
	return f.Store.Subscribe(ctx, fn)
}

func (f *tapFeed) deliver(c ports.Change) {
	f.mu.Lock()
	fn := f.fn
	f.mu.Unlock()
	fn(c)
}

// feedPeer is a replica b on store mem, with a counting store and a tapped
// feed, holding kyc's first token.
func feedPeer(t *testing.T, mem *memory.Store, issuer *countingIssuer) (*app.Cache, *countingStore, *tapFeed, domain.Token) {
	t.Helper()
	st, feed := &countingStore{Store: mem}, &tapFeed{Store: mem}
	b := newService(t, issuer, mem, func(o *app.Options) { o.Store, o.Feed = st, feed })
	t.Cleanup(func() { b.Close() })
	tok, err := b.Token(t.Context(), "kyc")
	if err != nil {
		t.Fatal(err)
	}
	synctest.Wait()
	return b, st, feed, tok
}

func serves(t *testing.T, c *app.Cache, want string) {
	t.Helper()
	got, err := c.Token(t.Context(), "kyc")
	if err != nil || got.AccessToken != want {
		t.Fatalf("serves %q, %v; want %q", got.AccessToken, err, want)
	}
}

// TestNotificationsNeverInstallAnOlderToken: a late or replayed
// notification carrying a token issued before the one held is ignored, and
// so is an expired one.
func TestNotificationsNeverInstallAnOlderToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memory.New(nil)
		issuer := &countingIssuer{lifetime: time.Hour}
		older := domain.Token{AccessToken: "older", TokenType: "Bearer", IssuedAt: time.Now().Add(-time.Second), ExpiresAt: time.Now().Add(time.Hour)}
		time.Sleep(time.Second)
		b, st, feed, held := feedPeer(t, mem, issuer)
		before := st.gets.Load()
		feed.deliver(ports.Change{Service: "kyc", Origin: "other", Token: &older})
		serves(t, b, held.AccessToken)
		expired := domain.Token{AccessToken: "expired", TokenType: "Bearer", IssuedAt: time.Now(), ExpiresAt: time.Now()}
		feed.deliver(ports.Change{Service: "kyc", Origin: "other", Token: &expired})
		serves(t, b, held.AccessToken)
		newer := domain.Token{AccessToken: "newer", TokenType: "Bearer", IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
		feed.deliver(ports.Change{Service: "kyc", Origin: "other", Token: &newer})
		serves(t, b, "newer")
		if n := st.gets.Load() - before; n != 0 {
			t.Fatalf("store read %d times for notifications carrying tokens, want 0", n)
		}
	})
}

// TestBareHintFromAnEarlierVersionReadsTheStoreOnce: a publisher that
// sends no token makes the replica read the store, once per notification.
func TestBareHintFromAnEarlierVersionReadsTheStoreOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memory.New(nil)
		b, st, feed, _ := feedPeer(t, mem, &countingIssuer{lifetime: time.Hour})
		newer := domain.Token{AccessToken: "newer", TokenType: "Bearer", IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
		if err := mem.Put(t.Context(), "kyc", newer); err != nil {
			t.Fatal(err)
		}
		before := st.gets.Load()
		feed.deliver(ports.Change{Service: "kyc"})
		if n := st.gets.Load() - before; n != 1 {
			t.Fatalf("a bare hint cost %d store reads, want 1", n)
		}
		serves(t, b, "newer")
	})
}

// TestEvictionReachesPeersWithoutAStoreRead: another replica's Evict
// drops the token here from its notification alone; the next call fetches.
func TestEvictionReachesPeersWithoutAStoreRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memory.New(nil)
		issuer := &countingIssuer{lifetime: time.Hour}
		b, st, _, held := feedPeer(t, mem, issuer)
		before := st.gets.Load()
		a := newService(t, issuer, mem, nil)
		defer a.Close()
		if _, err := a.Evict(t.Context(), "kyc"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n := st.gets.Load() - before; n != 0 {
			t.Fatalf("the peer read the store %d times for the eviction, want 0", n)
		}
		got, err := b.Token(t.Context(), "kyc")
		if err != nil || got.AccessToken == held.AccessToken {
			t.Fatalf("after the eviction the peer serves %q, %v; want a new token", got.AccessToken, err)
		}
	})
}

// TestMissedChangesAreCaughtUpOnceAtTheNextCheck: after the feed says it
// missed changes, each token held is read from the store once, at the next
// safety-net check and not before, so that a refresh made meanwhile is
// followed; the check after that reads nothing.
func TestMissedChangesAreCaughtUpOnceAtTheNextCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memory.New(nil)
		issuer := &countingIssuer{lifetime: time.Hour}
		st, feed := &countingStore{Store: mem}, &tapFeed{Store: mem}
		b := newService(t, issuer, mem, func(o *app.Options) {
			o.Store, o.Feed = st, feed
			o.CheckInterval = time.Minute
			o.Jitter = func() float64 { return 0 } // checks at 0s, 54s, 108s, ...
		})
		defer b.Close()
		for _, svc := range []string{"kyc", "aml"} {
			if _, err := b.Token(t.Context(), svc); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		// Refreshed elsewhere while b's subscription was down: no message.
		newer := domain.Token{AccessToken: "refreshed", TokenType: "Bearer", IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
		if err := mem.Put(t.Context(), "kyc", newer); err != nil {
			t.Fatal(err)
		}
		before := st.gets.Load()
		feed.deliver(ports.Change{Missed: true})
		if n := st.gets.Load() - before; n != 0 {
			t.Fatalf("%d store reads at the missed-changes notice, want none before the next check", n)
		}
		time.Sleep(54 * time.Second)
		synctest.Wait()
		if n := st.gets.Load() - before; n != 2 {
			t.Fatalf("%d store reads at the check after the notice, want one per token held (2)", n)
		}
		serves(t, b, "refreshed")
		time.Sleep(54 * time.Second)
		synctest.Wait()
		if n := st.gets.Load() - before; n != 2 {
			t.Fatalf("%d store reads after a second check, want still 2: the catch-up runs once", n)
		}
	})
}

// TestLockLoserTakesTheWinnersTokenFromTheNotification: a replica that
// finds the renewal lock held gets the holder's token from its notification
// and reads the store only before trying the lock.
func TestLockLoserTakesTheWinnersTokenFromTheNotification(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memory.New(nil)
		release := make(chan struct{})
		slow := &gatedIssuer{countingIssuer: countingIssuer{lifetime: time.Hour}, gate: release}
		a := newService(t, slow, mem, nil)
		defer a.Close()
		sb := &countingStore{Store: mem}
		b := newService(t, slow, mem, func(o *app.Options) { o.Store = sb })
		defer b.Close()

		var wg sync.WaitGroup
		var ta, tb domain.Token
		wg.Go(func() { ta, _ = a.Token(t.Context(), "kyc") })
		synctest.Wait() // a holds the lock and waits on the token service
		wg.Go(func() { tb, _ = b.Token(t.Context(), "kyc") })
		synctest.Wait() // b found the lock held and waits
		time.Sleep(100 * time.Millisecond)
		close(release)
		wg.Wait()
		if ta.AccessToken == "" || tb.AccessToken != ta.AccessToken || slow.calls.Load() != 1 {
			t.Fatalf("a got %q, b got %q, with %d token-service calls; want one token for both", ta.AccessToken, tb.AccessToken, slow.calls.Load())
		}
		if n := sb.gets.Load(); n != 1 {
			t.Fatalf("the waiting replica read the store %d times, want 1 (before trying the lock)", n)
		}
	})
}

// gatedIssuer is a countingIssuer whose calls wait for gate to close.
type gatedIssuer struct {
	countingIssuer
	gate chan struct{}
}

func (g *gatedIssuer) Issue(ctx context.Context, service string) (domain.Token, error) {
	<-g.gate
	return g.countingIssuer.Issue(ctx, service)
}

// TestTheFetcherRenewsWhileTheOthersStandBy: the replica that fetched a
// token renews it; a replica that took it from the store reads nothing and
// takes no lock at renewal, and takes the new token from the notification.
// Once the fetcher is gone, the one standing by renews, still before the
// token's buffer.
func TestTheFetcherRenewsWhileTheOthersStandBy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memory.New(nil)
		issuer := &countingIssuer{lifetime: time.Hour}
		// a's jitter puts its timer as late as a fetcher's goes, b's as
		// early as a back-up's: b still waits for a.
		a := newService(t, issuer, mem, func(o *app.Options) { o.Jitter = func() float64 { return 0 } })
		defer a.Close()
		sb := &countingStore{Store: mem}
		b := newService(t, issuer, mem, func(o *app.Options) { o.Store, o.Jitter = sb, func() float64 { return 0 } })
		defer b.Close()
		first, _ := a.Token(t.Context(), "kyc")
		serves(t, b, first.AccessToken)
		gets := sb.gets.Load()
		time.Sleep(59*time.Minute + 35*time.Second) // a renews at 59m30s, b would at 59m34s
		synctest.Wait()
		if n := issuer.calls.Load(); n != 2 {
			t.Fatalf("%d token-service calls, want 2", n)
		}
		if n := sb.gets.Load() - gets; n != 0 {
			t.Fatalf("the replica standing by read the store %d times at the renewal, want 0", n)
		}
		second, _ := a.Token(t.Context(), "kyc")
		serves(t, b, second.AccessToken)

		a.Close() // the fetcher is gone: b's back-up timer renews
		policy := domain.RenewalPolicy{Buffer: domain.DefaultRenewalBuffer}
		time.Sleep(time.Until(policy.CacheExpiresAt(second)) - time.Nanosecond)
		synctest.Wait()
		if n := issuer.calls.Load(); n != 3 {
			t.Fatalf("%d token-service calls once the fetcher was gone, want 3: the replica standing by renews", n)
		}
		got, err := b.Token(t.Context(), "kyc")
		if err != nil || got.AccessToken == second.AccessToken || policy.State(got, time.Now()) != domain.Fresh {
			t.Fatalf("after the back-up renewal b serves %v, %v; want a fresh new token", got, err)
		}
	})
}

// refusingFeed refuses subscriptions while refuse is set, as a Redis user
// without the change channel's permission would.
type refusingFeed struct {
	*memory.Store
	refuse atomic.Bool
}

func (f *refusingFeed) Subscribe(ctx context.Context, fn func(ports.Change)) error {
	if f.refuse.Load() {
		return errors.New("NOPERM this user has no permissions to access the channel")
	}
	return f.Store.Subscribe(ctx, fn)
}

// TestHealthShowsAFailingChangeFeed: while the change feed cannot be
// subscribed to, the store is DEGRADED with the reason (tokens are still
// served, but this replica does not hear the others); UP once it returns.
func TestHealthShowsAFailingChangeFeed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memory.New(nil)
		feed := &refusingFeed{Store: mem}
		feed.refuse.Store(true)
		svc := newService(t, &countingIssuer{lifetime: time.Hour}, mem, func(o *app.Options) { o.Feed = feed })
		defer svc.Close()
		synctest.Wait()
		h := svc.Health(t.Context())
		if h.Store.Status != app.StatusDegraded || !strings.Contains(h.Store.Detail, "change feed unavailable: NOPERM") || h.Status != app.StatusDegraded {
			t.Fatalf("health while the feed is refused = %+v; want the store DEGRADED naming the feed", h)
		}
		feed.refuse.Store(false)
		time.Sleep(app.DefaultMaxBackoff)
		synctest.Wait()
		if h := svc.Health(t.Context()); h.Store.Status != app.StatusUp {
			t.Fatalf("health once the feed is back = %+v; want the store UP", h)
		}
	})
}
