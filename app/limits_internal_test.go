package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jwtcache/jwtcache/adapters/memory"
	"github.com/jwtcache/jwtcache/domain"
)

// strictIssuer knows only the names starting with "kyc", as a strict
// per-service configuration does: any other name is refused without a
// request. It says so through ClientKey too, as tokenservice.Issuer does.
type strictIssuer struct{}

func (strictIssuer) ClientKey(service string) (string, bool) {
	return "", strings.HasPrefix(service, "kyc")
}

func (strictIssuer) Issue(_ context.Context, service string) (domain.Token, error) {
	if !strings.HasPrefix(service, "kyc") {
		return domain.Token{}, fmt.Errorf("issuer: service %q: %w", service, domain.ErrUnknownService)
	}
	now := time.Now()
	return domain.Token{AccessToken: "kyc-1", TokenType: "Bearer", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}, nil
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestRefusedNamesLeaveNothingBehind asks a strict cache for 60,000 names
// it does not serve, and for more than its budget allows: neither leaves
// an entry or a timer, and the heap does not grow with them.
func TestRefusedNamesLeaveNothingBehind(t *testing.T) {
	synctest.Test(t, refusedNamesLeaveNothingBehind)
}

func refusedNamesLeaveNothingBehind(t *testing.T) {
	store := memory.New(nil)
	s, err := New(Options{Issuer: strictIssuer{}, Store: store, Locker: store,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), TokenRate: 1, TokenBurst: 1, ClientKeys: strictIssuer{},
		MaxServices: -1}) // no cap: the refused names alone must leave nothing
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	if _, err := s.Token(ctx, "kyc"); err != nil { // spends the budget of 1
		t.Fatal(err)
	}
	before := liveHeap()
	const refused = 60000
	for i := range refused {
		name := fmt.Sprintf("unlisted-%d", i)
		if _, err := s.Token(ctx, name); err == nil || !strings.Contains(err.Error(), "unknown service") {
			t.Fatalf("Token(%s) = %v, want unknown service", name, err)
		}
	}
	// Over budget: misses of names the issuer would serve.
	for i := range 100 {
		if _, err := s.Token(ctx, fmt.Sprintf("kyc-%d", i)); !errors.Is(err, domain.ErrRateLimited) {
			t.Fatalf("a miss over the budget = %v, want ErrRateLimited", err)
		}
	}
	growth := int64(liveHeap()) - int64(before)
	if n := s.entries.len(); n != 1 {
		t.Fatalf("%d entries after %d refused names, want only kyc's", n, refused)
	}
	for _, e := range s.snapshot() {
		e.mu.Lock()
		timer := e.timer != nil
		e.mu.Unlock()
		if e.service != "kyc" || !timer {
			t.Fatalf("entry %q (timer %v) left", e.service, timer)
		}
	}
	t.Logf("heap grew by %d B over %d refused names", growth, refused)
	if growth > 256<<10 {
		t.Fatalf("heap grew by %d B over %d refused names", growth, refused)
	}
}
