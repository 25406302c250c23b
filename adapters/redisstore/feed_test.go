package redisstore

import (
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/adapters/redisstore/redistest"
	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

func TestChangeMessageFormat(t *testing.T) {
	longest := strings.Repeat("o", ports.MaxOriginLen)
	k := newKeys("p")
	tests := []struct {
		msg  string
		want ports.Change
		ok   bool
	}{
		{"kyc 9f86d081884c7d65", ports.Change{Service: "kyc", Origin: "9f86d081884c7d65"}, true},
		{"kyc", ports.Change{Service: "kyc"}, true}, // an earlier version's message
		{"kyc " + longest, ports.Change{Service: "kyc", Origin: longest}, true},
		{"kyc a1 removed", ports.Change{Service: "kyc", Origin: "a1", Removed: true}, true},
		{"kyc a1 later-field", ports.Change{Service: "kyc", Origin: "a1"}, true},     // a later version's extra field
		{"kyc a1 later-field x y", ports.Change{Service: "kyc", Origin: "a1"}, true}, // and its value
		{"kyc a1 removed trailing", ports.Change{Service: "kyc", Origin: "a1", Removed: true}, true},
		{"kyc " + longest + "o", ports.Change{}, false},
		{"", ports.Change{}, false},
		{"KYC a1", ports.Change{}, false},
		{"kyc ", ports.Change{}, false},
		{"kyc  a1", ports.Change{}, false},
		{" kyc", ports.Change{}, false},
		{"kyc a:1", ports.Change{}, false},
		{"kyc\ta1", ports.Change{}, false},
		{"{kyc}", ports.Change{}, false},
		{"kyc a1 token ", ports.Change{}, false},
		{"kyc a1 token {}", ports.Change{}, false},
	}
	for _, tc := range tests {
		got, err := decodeChange(k, jsonV1{}, tc.msg)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("decodeChange(%q) = %+v, %v; want %+v, ok %v", tc.msg, got, err, tc.want, tc.ok)
		}
		if tc.ok && !strings.Contains(tc.msg, " later") && !strings.Contains(tc.msg, "trailing") {
			if enc, err := encodeChange(k, jsonV1{}, tc.want); err != nil || enc != tc.msg {
				t.Errorf("encodeChange(%+v) = %q, %v; want %q", tc.want, enc, err, tc.msg)
			}
		}
	}
}

// TestChangeCarriesTheTokenAsStored: a change with a token round-trips
// exactly, holding what Put would store; with encryption the token is
// sealed and bound to the service's key, so it opens neither as another
// service's token nor under another prefix, and an older reader sees a
// plain change of the service from the origin.
func TestChangeCarriesTheTokenAsStored(t *testing.T) {
	iat := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	tok := domain.Token{AccessToken: "eyJ.secret value.sig", TokenType: "Bearer", Scope: "read write", IssuedAt: iat, ExpiresAt: iat.Add(time.Hour), BoundToCertificate: true}
	key := make([]byte, EncryptionKeySize)
	sealedCodec, err := newCodec([][]byte{key})
	if err != nil {
		t.Fatal(err)
	}
	for name, cd := range map[string]codec{"plain": jsonV1{}, "sealed": sealedCodec} {
		t.Run(name, func(t *testing.T) {
			k := newKeys("p")
			c := ports.Change{Service: "kyc", Origin: "a1", Token: &tok}
			msg, err := encodeChange(k, cd, c)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(msg, "kyc a1 token {") {
				t.Fatalf("message %q does not start with service, origin and the token field", msg)
			}
			if name == "sealed" && strings.Contains(msg, "secret") {
				t.Fatalf("the sealed message holds the token in clear: %q", msg)
			}
			got, err := decodeChange(k, cd, msg)
			if err != nil || got.Token == nil || *got.Token != tok || got.Service != "kyc" || got.Origin != "a1" {
				t.Fatalf("decodeChange = %+v, %v; want the token back exactly", got, err)
			}
			// What an earlier version reads: the service and the origin.
			svc, rest, _ := strings.Cut(msg, " ")
			origin, _, _ := strings.Cut(rest, " ")
			if svc != "kyc" || origin != "a1" {
				t.Fatalf("an earlier reader would see %q from %q", svc, origin)
			}
			if name != "sealed" {
				return
			}
			moved := "aml" + strings.TrimPrefix(msg, "kyc")
			if _, err := decodeChange(k, cd, moved); !errors.Is(err, errUnreadable) {
				t.Fatalf("kyc's sealed token announced as aml's: %v, want it not to open", err)
			}
			if _, err := decodeChange(newKeys("other"), cd, msg); !errors.Is(err, errUnreadable) {
				t.Fatalf("a sealed token read under another prefix: %v, want it not to open", err)
			}
		})
	}
}

// TestUndecodableChangesAreDroppedAndCounted: a message whose token does
// not open reaches nobody, is counted, and is logged without its content.
func TestUndecodableChangesAreDroppedAndCounted(t *testing.T) {
	b := miniredisBackend(t)
	var logs strings.Builder
	var mu sync.Mutex
	key := make([]byte, EncryptionKeySize)
	s := b.withKeys(key).store(t, testPrefix(), 0)
	s.log = slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	got := make(chan ports.Change, 16)
	if err := s.Subscribe(t.Context(), func(c ports.Change) { got <- c }); err != nil {
		t.Fatal(err)
	}
	planted := `kyc a1 token {"v":1,"typ":"Bearer","iat":"2026-03-01T12:00:00Z","exp":"2099-03-01T12:00:00Z","tok":"PLANTED-SECRET"}`
	if err := b.raw.Publish(t.Context(), s.keys.channel, planted).Err(); err != nil {
		t.Fatal(err)
	}
	iat := b.now()
	want := ports.Change{Service: "kyc", Origin: "a1", Token: &domain.Token{AccessToken: "real", TokenType: "Bearer", IssuedAt: iat, ExpiresAt: iat.Add(time.Hour)}}
	if err := s.Publish(t.Context(), want); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-got:
		if c.Token == nil || c.Token.AccessToken != "real" {
			t.Fatalf("first change delivered = %+v, want the sealed one (the plaintext one must be dropped)", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the valid change was not delivered")
	}
	if n := s.DroppedChanges(); n != 1 {
		t.Fatalf("DroppedChanges = %d, want 1", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "dropping a change notification") || strings.Contains(logs.String(), "PLANTED") {
		t.Fatalf("log = %q; want a warning that does not quote the message", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestReconnectedFeedSaysChangesWereMissed: when the subscription's
// connection is killed, go-redis subscribes again, and the subscriber is
// told that changes may have been missed; changes after that arrive again.
func TestReconnectedFeedSaysChangesWereMissed(t *testing.T) {
	srv := redistest.StartServer(t) // a private one: the kill must touch nobody else's subscription
	b := &backend{addrs: []string{srv.Addr}, raw: redis.NewClient(&redis.Options{Addr: srv.Addr})}
	t.Cleanup(func() { b.raw.Close() })
	s := b.store(t, testPrefix(), 0)
	got := make(chan ports.Change, 16)
	if err := s.Subscribe(t.Context(), func(c ports.Change) { got <- c }); err != nil {
		t.Fatal(err)
	}
	// Kill every pub/sub connection on the channel: ours.
	if err := b.raw.Do(t.Context(), "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for missed := false; !missed; {
		select {
		case c := <-got:
			missed = c.Missed
		case <-deadline:
			t.Fatal("no missed-changes notice after the connection was killed")
		}
	}
	want := ports.Change{Service: "kyc", Origin: "a1", Removed: true}
	if err := s.Publish(t.Context(), want); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case c := <-got:
			if c == want {
				return
			}
		case <-deadline:
			t.Fatal("changes published after the reconnect were not delivered")
		}
	}
}

// TestMalformedMessagesAreIgnored: whatever else reaches the change
// channel, a subscriber hears only valid changes.
func TestMalformedMessagesAreIgnored(t *testing.T) {
	b := miniredisBackend(t)
	s := b.store(t, testPrefix(), 0)
	got := make(chan ports.Change, 16)
	if err := s.Subscribe(t.Context(), func(c ports.Change) { got <- c }); err != nil {
		t.Fatal(err)
	}
	for _, junk := range []string{"", "KYC", "kyc a:b", "kyc ", `{"s":"kyc"}`, strings.Repeat("a", 1000)} {
		if err := b.raw.Publish(t.Context(), s.keys.channel, junk).Err(); err != nil {
			t.Fatal(err)
		}
	}
	want := ports.Change{Service: "kyc", Origin: "a1"}
	if err := s.Publish(t.Context(), want); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-got:
		if c != want {
			t.Fatalf("first change delivered = %+v, want %+v (malformed messages must be dropped)", c, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the valid change was not delivered")
	}
}
