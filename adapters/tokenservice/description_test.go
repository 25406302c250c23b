package tokenservice_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestLongDescriptionCutOnACharacter: the token service's
// error_description is cut to 200 bytes on a character boundary, and the
// cut is marked.
func TestLongDescriptionCutOnACharacter(t *testing.T) {
	for _, tt := range []struct {
		name, desc string
		// broken is a suffix of the kept text that would mean a character
		// was split.
		broken string
	}{
		{"two-byte letters", strings.Repeat("é", 150), ""},
		{"three-byte letters", strings.Repeat("日本語", 40), ""},
		{"combining accents", strings.Repeat("e\u0301", 100), "e"},
		{"emoji sequences", strings.Repeat("👩\u200d💻", 30), "\u200d"},
		{"words", strings.Repeat("refused ", 40), "refuse"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, answer(400, `{"error":"invalid_request","error_description":"`+tt.desc+`"}`))
			_, err := newIssuer(t, srv.URL).Issue(context.Background(), service)
			d := tokenServiceError(t, err).Description
			if len(d) > 200 || !utf8.ValidString(d) || !strings.HasSuffix(d, "…") {
				t.Fatalf("Description %q (%d bytes): want at most 200 bytes of valid UTF-8 ending in …", d, len(d))
			}
			kept := strings.TrimSuffix(d, "…")
			if !strings.HasPrefix(tt.desc, kept) || len(kept) < 150 {
				t.Errorf("kept %q is not a long prefix of the description", kept)
			}
			if tt.broken != "" && strings.HasSuffix(kept, tt.broken) {
				t.Errorf("kept %q ends inside a character or word (%q)", kept, tt.broken)
			}
		})
	}
}
