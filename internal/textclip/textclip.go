// Package textclip shortens text that came from outside (a token service's
// error description, a client's service name) for an error message or a
// log line: to a byte limit, on a character boundary, with the cut marked.
package textclip

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Mark ends a shortened text.
const Mark = "…"

// wordSlack is how far back from the cut Clip looks for a space, so as to
// cut between words rather than inside one.
const wordSlack = 16

// Clip returns s when it is at most limit bytes long; otherwise a prefix
// of s followed by Mark, limit bytes at most in all (just the prefix when
// limit leaves no room for Mark). The prefix ends on a character boundary: never
// inside a UTF-8 sequence, never between a letter and the combining marks,
// variation selectors or zero-width joiner sequences that belong to it,
// and, when a space lies within a few bytes before the cut, between words.
func Clip(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	if limit < len(Mark) {
		return s[:boundary(s, max(limit, 0))]
	}
	n := boundary(s, limit-len(Mark))
	// A cut that falls at a space ends a word already.
	if from := max(0, n-wordSlack); s[n] != ' ' {
		if i := strings.LastIndexByte(s[from:n], ' '); i >= 0 {
			if w := strings.TrimRight(s[:from+i], " "); w != "" {
				n = len(w)
			}
		}
	}
	return s[:n] + Mark
}

// boundary is the largest n <= limit at which s may be cut: a rune start
// whose rune does not extend the character before it.
func boundary(s string, limit int) int {
	n := limit
	for n > 0 {
		if !utf8.RuneStart(s[n]) {
			n--
			continue
		}
		r, _ := utf8.DecodeRuneInString(s[n:])
		prev, _ := utf8.DecodeLastRuneInString(s[:n])
		if extends(r) || prev == zwj {
			n--
			continue
		}
		return n
	}
	return 0
}

const zwj = '\u200d'

// extends reports whether r continues the character before it: a
// combining mark (variation selectors are among them), an emoji skin-tone
// modifier, or a zero-width joiner.
func extends(r rune) bool {
	return r == zwj || unicode.Is(unicode.M, r) || (r >= 0x1F3FB && r <= 0x1F3FF)
}
