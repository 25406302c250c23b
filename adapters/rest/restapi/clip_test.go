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
		{"abcdef", 3, "abc"},
		{"aé", 2, "a"}, // é is two bytes: not split
		{"日本", 4, "日"},
	} {
		if got := clip(tt.s, tt.n); got != tt.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
	long := strings.Repeat("a", MaxEcho-1) + "é"
	if got := Clip(long); got != strings.Repeat("a", MaxEcho-1) {
		t.Errorf("Clip of %d bytes ending in a split é kept %d bytes", len(long), len(got))
	}
	if s := strings.Repeat("x", MaxEcho); Clip(s) != s {
		t.Error("Clip cut a string of exactly MaxEcho bytes")
	}
}
