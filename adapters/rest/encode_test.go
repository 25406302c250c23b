package rest

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

var trickyStrings = []string{
	"",
	"plain ascii token.abc-DEF_123",
	`quote " and backslash \ and slash /`,
	"controls \x00\x01\x08\x0c\n\r\t\x1f\x7f",
	"html <script>&amp;</script>",
	"unicode é 日本 🎉",
	"line separators \u2028 \u2029",
	"invalid utf-8 \xff\xfe and truncated \xe6\x97",
	"\xed\xa0\x80 surrogate half",
}

// TestAppendStringMatchesEncodingJSON pins the hand-written escaping to
// the standard library's, byte for byte.
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range trickyStrings {
		checkAppendString(t, s)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s)
	}
	f.Fuzz(checkAppendString)
}

func checkAppendString(t *testing.T, s string) {
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := appendString(nil, s); string(got) != string(want) {
		t.Errorf("appendString(%q) = %s, want %s", s, got, want)
	}
}

func TestFloatMatchesEncodingJSON(t *testing.T) {
	for _, v := range []float64{0, 1, 0.95, 1.0 / 3, 95.24, 1e-7, 123456789, 1e21, -0.5} {
		var w jsonWriter
		w.float("k", v)
		want, _ := json.Marshal(v)
		if got := string(w.b); got != `"k":`+string(want) {
			t.Errorf("float(%v) = %s, want %s", v, got, want)
		}
	}
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		var w jsonWriter
		w.float("k", v)
		if got := string(w.b); got != `"k":0` {
			t.Errorf("float(%v) = %s, want 0", v, got)
		}
	}
}

func TestWriterDocument(t *testing.T) {
	w := getWriter()
	defer putWriter(w)
	w.open()
	w.str("s", "a\"b")
	w.int("i", -3)
	w.uint("u", math.MaxUint64)
	w.bool("b", true)
	w.time("t", time.Date(2024, 1, 15, 11, 30, 0, 999_000_000, time.FixedZone("CET", 3600)))
	w.object("o")
	w.object("empty")
	w.close()
	w.entry(`we"ird`)
	w.close()
	w.str("x", "y")
	w.close()
	w.close()
	const want = `{"s":"a\"b","i":-3,"u":18446744073709551615,"b":true,"t":"2024-01-15T10:30:00Z","o":{"empty":{},"we\"ird":{},"x":"y"}}`
	if got := string(w.b); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if !json.Valid(w.b) {
		t.Error("invalid JSON")
	}
}

func TestSeconds(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want int64
	}{
		{3600 * time.Second, 3600},
		{3600*time.Second - time.Millisecond, 3600},
		{3599*time.Second + 300*time.Millisecond, 3600},
		{3600*time.Second + 400*time.Millisecond, 3601},
		{0, 0},
	} {
		if got := seconds(tt.d); got != tt.want {
			t.Errorf("seconds(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

func TestRetryAfterValue(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{time.Nanosecond, "1"},
		{1500 * time.Millisecond, "2"},
		{30 * time.Second, "30"},
		{0, "0"},
		{-time.Second, "0"},
		// Rounding up must not overflow into a negative number.
		{math.MaxInt64, "9223372037"},
		{math.MaxInt64 - time.Second + 2, "9223372036"},
	} {
		if got := retryAfterValue(tt.d); got != tt.want {
			t.Errorf("retryAfterValue(%v) = %s, want %s", tt.d, got, tt.want)
		}
	}
}
