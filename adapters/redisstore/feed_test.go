package redisstore

import (
	"strings"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/ports"
)

func TestChangeMessageFormat(t *testing.T) {
	longest := strings.Repeat("o", ports.MaxOriginLen)
	tests := []struct {
		msg  string
		want ports.Change
		ok   bool
	}{
		{"kyc 9f86d081884c7d65", ports.Change{Service: "kyc", Origin: "9f86d081884c7d65"}, true},
		{"kyc", ports.Change{Service: "kyc"}, true}, // an earlier version's message
		{"kyc " + longest, ports.Change{Service: "kyc", Origin: longest}, true},
		{"kyc a1 later-field", ports.Change{Service: "kyc", Origin: "a1"}, true}, // a later version's extra field
		{"kyc " + longest + "o", ports.Change{}, false},
		{"", ports.Change{}, false},
		{"KYC a1", ports.Change{}, false},
		{"kyc ", ports.Change{}, false},
		{"kyc  a1", ports.Change{}, false},
		{" kyc", ports.Change{}, false},
		{"kyc a:1", ports.Change{}, false},
		{"kyc\ta1", ports.Change{}, false},
		{"{kyc}", ports.Change{}, false},
	}
	for _, tc := range tests {
		got, ok := decodeChange(tc.msg)
		if ok != tc.ok || got != tc.want {
			t.Errorf("decodeChange(%q) = %+v, %v; want %+v, %v", tc.msg, got, ok, tc.want, tc.ok)
		}
		if tc.ok && !strings.Contains(tc.msg, " later") {
			if enc := encodeChange(tc.want); enc != tc.msg {
				t.Errorf("encodeChange(%+v) = %q, want %q", tc.want, enc, tc.msg)
			}
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
