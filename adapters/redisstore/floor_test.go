package redisstore

import (
	"testing"
	"time"
)

// TestReplayedOlderValueIsAMiss: with encryption, an older sealed value of
// a service written back over its token key after a newer Put (someone
// with write access to Redis undoing a refresh) does not open as the
// service's token: Get misses and List leaves it out. It stays refused
// after the newer token is deleted (an eviction), and a value sealed for
// one service's floor does not serve as another's.
func TestReplayedOlderValueIsAMiss(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := t.Context()
		prefix := testPrefix()
		t.Cleanup(func() { b.dropPrefix(t, prefix) })
		s := b.withKeys(testKey(t)).store(t, prefix, 0)

		old := token(b.now(), time.Hour, "kyc-leaked-token")
		if err := s.Put(ctx, "kyc", old); err != nil {
			t.Fatal(err)
		}
		oldValue := rawValue(t, b, s.keys.token("kyc"))
		newer := token(b.now().Add(time.Minute), time.Hour, "kyc-refreshed-token")
		if err := s.Put(ctx, "kyc", newer); err != nil {
			t.Fatal(err)
		}
		mustGetToken(t, s, "kyc", newer)

		plant(t, b, s, "kyc", oldValue)
		wantMiss(t, s, "kyc")
		if entries, err := s.List(ctx); err != nil || len(entries) != 0 {
			t.Fatalf("List = %v, %v; want the replayed value left out", entries, err)
		}

		if _, err := s.Delete(ctx, "kyc"); err != nil {
			t.Fatal(err)
		}
		plant(t, b, s, "kyc", oldValue)
		wantMiss(t, s, "kyc")

		// Another service's token, older than kyc's floor, with kyc's
		// floor copied over its own: the floor does not open there.
		other := token(b.now(), time.Hour, "dp-token")
		if err := s.Put(ctx, "data-processor", other); err != nil {
			t.Fatal(err)
		}
		if err := b.raw.Set(ctx, s.keys.floor("data-processor"), rawValue(t, b, s.keys.floor("kyc")), time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		wantMiss(t, s, "data-processor")
	})
}

// TestFloorWithoutEncryption: without encryption anyone who can write to
// Redis can plant any token, so no floor is written.
func TestNoFloorWithoutEncryption(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		prefix := testPrefix()
		t.Cleanup(func() { b.dropPrefix(t, prefix) })
		s := b.store(t, prefix, 0)
		if err := s.Put(t.Context(), "kyc", token(b.now(), time.Hour, "kyc-token")); err != nil {
			t.Fatal(err)
		}
		if n, err := b.raw.Exists(t.Context(), s.keys.floor("kyc")).Result(); err != nil || n != 0 {
			t.Fatalf("a floor key exists without encryption (%d, %v)", n, err)
		}
	})
}
