package textclip

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	for _, tt := range []struct {
		name string
		s    string
		max  int
		want string
	}{
		{"short", "short", 10, "short"},
		{"exactly", "exactly", 7, "exactly"},
		{"cut and marked", "abcdefgh", 6, "abc…"},
		{"too small for the mark", "abcdef", 2, "ab"},
		{"two-byte runes not split", "ééééé", 8, "éé…"},      // 2+2+3; a third é would need 9
		{"three-byte runes not split", "日本語テキスト", 10, "日本…"}, // 3+3+3
		{"four-byte runes not split", "😀😀😀", 10, "😀…"},
		// e + U+0301 COMBINING ACUTE is one character: never cut between.
		{"combining mark kept with its letter", "abe\u0301cd", 6, "ab…"},
		{"emoji ZWJ sequence kept whole", "a👩\u200d💻b", 12, "a…"},
		{"variation selector kept", "ab❤\ufe0fc", 8, "ab…"},
		// A word is not cut when a space lies close before the cut.
		{"word boundary preferred", "the token service said no", 18, "the token…"},
		{"cut at a word's end", "the token service said no", 20, "the token service…"},
		{"long word cut", strings.Repeat("x", 30), 10, "xxxxxxx…"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Clip(tt.s, tt.max)
			if got != tt.want {
				t.Errorf("Clip(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
			}
			if len(got) > tt.max && tt.s != got {
				t.Errorf("Clip(%q, %d) = %q: %d bytes", tt.s, tt.max, got, len(got))
			}
			if !utf8.ValidString(got) {
				t.Errorf("Clip(%q, %d) = %q: invalid UTF-8", tt.s, tt.max, got)
			}
		})
	}
}

func FuzzClip(f *testing.F) {
	for _, s := range []string{"", "abc", "ééé", "a👩\u200d💻b", "e\u0301\u0301\u0301x", "word word word"} {
		f.Add(s, 5)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 0 || max > 1000 || !utf8.ValidString(s) {
			return
		}
		got := Clip(s, max)
		if len(s) <= max {
			if got != s {
				t.Fatalf("Clip(%q, %d) = %q, want it unchanged", s, max, got)
			}
			return
		}
		if len(got) > max || !utf8.ValidString(got) {
			t.Fatalf("Clip(%q, %d) = %q: too long or invalid", s, max, got)
		}
		if body := strings.TrimSuffix(got, Mark); !strings.HasPrefix(s, body) {
			t.Fatalf("Clip(%q, %d) = %q is not a prefix of s", s, max, got)
		}
	})
}
