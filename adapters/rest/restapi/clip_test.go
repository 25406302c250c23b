package restapi

import (
	"strings"
	"testing"
)

func TestClip(t *testing.T) {
	for _, tt := range []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"abcdefgh", 6, "abc…"},
		{"aé", 2, "a"},           // é is two bytes: not split
		{"日本語", 8, "日…"},         // nor is 本
		{"ae\u0301bcd", 6, "a…"}, // nor e and its combining accent
	} {
		if got := clip(tt.s, tt.n); got != tt.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
	long := strings.Repeat("a", MaxEcho-1) + "é"
	if got := Clip(long); got != strings.Repeat("a", MaxEcho-3)+"…" {
		t.Errorf("Clip of %d bytes ending in a split é gave %d bytes", len(long), len(got))
	}
	if s := strings.Repeat("x", MaxEcho); Clip(s) != s {
		t.Error("Clip cut a string of exactly MaxEcho bytes")
	}
}
