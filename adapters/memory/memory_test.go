package memory

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
	"github.com/jwtcache/jwtcache/ports/clocktest"
	"github.com/jwtcache/jwtcache/ports/storetest"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestContractFakeClock(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Subject {
		clock := clocktest.NewFakeClock(epoch)
		s := New(clock)
		return storetest.Subject{
			Store: s, Locker: s, Feed: s, Pruner: s, Clock: clock, Advance: clock.Advance,
			// Replicas of an in-process store share the one Store.
			Peer: func(*testing.T) storetest.Subject { return storetest.Subject{Store: s, Locker: s, Feed: s} },
		}
	})
}

func TestContractSystemClock(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Subject {
		s := New(nil)
		return storetest.Subject{
			Store: s, Locker: s, Feed: s, Pruner: s,
			Peer: func(*testing.T) storetest.Subject { return storetest.Subject{Store: s, Locker: s, Feed: s} },
		}
	})
}

func TestExpiredTokensAreDroppedLazily(t *testing.T) {
	clock := clocktest.NewFakeClock(epoch)
	s := New(clock)
	ctx := t.Context()
	tok := domain.Token{AccessToken: "x", IssuedAt: epoch, ExpiresAt: epoch.Add(time.Minute)}
	for _, svc := range []string{"kyc", "data-processor"} {
		if err := s.Put(ctx, svc, tok); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Minute - time.Nanosecond)
	if _, err := s.Get(ctx, "kyc"); err != nil {
		t.Fatalf("Get 1ns before expiry: %v", err)
	}
	clock.Advance(time.Nanosecond)
	if _, err := s.Get(ctx, "kyc"); err == nil {
		t.Fatal("Get at ExpiresAt returned the token")
	}
	if n := stored(s); n != 1 {
		t.Fatalf("after Get, %d tokens held, want 1", n)
	}
	if entries, _ := s.List(ctx); len(entries) != 0 {
		t.Fatalf("List = %d entries, want 0", len(entries))
	}
	if n := stored(s); n != 0 {
		t.Fatalf("after List, %d tokens held, want 0", n)
	}
	if ok, _ := s.Delete(ctx, "kyc"); ok {
		t.Fatal("Delete of an expired token reported true")
	}
}

func stored(s *Store) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.tokens)
}

func TestSubscriberMayCallBackIntoTheStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(nil)
		ctx, cancel := context.WithCancel(t.Context())
		var mu sync.Mutex
		var got []string
		err := s.Subscribe(ctx, func(c ports.Change) {
			// Publishing and reading from inside fn must not deadlock.
			_, _ = s.Get(ctx, c.Service)
			if c.Service == "kyc" {
				_ = s.Publish(ctx, ports.Change{Service: "echo"})
			}
			mu.Lock()
			got = append(got, c.Service)
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock() // Publish must not wait for fn, even while fn is blocked.
		if err := s.Publish(ctx, ports.Change{Service: "kyc"}); err != nil {
			t.Fatal(err)
		}
		mu.Unlock()
		synctest.Wait()
		mu.Lock()
		if len(got) != 2 || got[0] != "kyc" || got[1] != "echo" {
			t.Errorf("fn saw %v, want [kyc echo]", got)
		}
		mu.Unlock()

		// After ctx ends nothing is delivered and the goroutine is gone
		// (synctest.Test would report it blocked forever otherwise).
		cancel()
		synctest.Wait()
		if err := s.Publish(t.Context(), ports.Change{Service: "late"}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 2 {
			t.Errorf("fn called after its context ended: %v", got)
		}
		if err := s.Subscribe(ctx, func(ports.Change) {}); err == nil {
			t.Error("Subscribe with an ended context succeeded")
		}
	})
}

func TestPendingChangesCoalesce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(nil)
		release := make(chan struct{})
		calls := map[ports.Change]int{}
		err := s.Subscribe(t.Context(), func(c ports.Change) {
			if c.Service == "block" {
				<-release
			}
			calls[c]++
		})
		if err != nil {
			t.Fatal(err)
		}
		_ = s.Publish(t.Context(), ports.Change{Service: "block"})
		synctest.Wait() // fn is now blocked on "block"
		a, b := ports.Change{Service: "kyc", Origin: "a"}, ports.Change{Service: "kyc", Origin: "b"}
		for range 100 {
			_ = s.Publish(t.Context(), a)
			_ = s.Publish(t.Context(), b)
		}
		close(release)
		synctest.Wait()
		if len(calls) != 3 || calls[a] != 1 || calls[b] != 1 {
			t.Errorf("calls = %v, want one per pending change, origins kept apart", calls)
		}
	})
}
