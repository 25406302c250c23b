package app_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jwtcache/jwtcache/adapters/memory"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
)

// countingStore is a memory store that counts its Gets and, while
// refusing is set, fails every Put.
type countingStore struct {
	*memory.Store
	gets     atomic.Int64
	refusing atomic.Bool
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
// no store read when the feed hands it back, while a peer holding the
// token reads the store once and follows.
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
		if n := sb.gets.Load() - bGets; n != 1 {
			t.Errorf("the peer read the store %d times after the change, want 1", n)
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
