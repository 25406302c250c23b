package redisstore

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jwtcache/jwtcache/domain"
)

// fuzzKey is the Redis key the fuzzed values are read under.
const fuzzKey = "jwtcache:jwt:{kyc}:token"

// fuzzCodecs are the two codecs a Store may use: plain JSON (no
// encryption keys) and sealed (one key).
func fuzzCodecs(tb testing.TB) (plain, seal codec) {
	tb.Helper()
	plain, err := newCodec(nil)
	if err != nil {
		tb.Fatal(err)
	}
	seal, err = newCodec([][]byte{bytes.Repeat([]byte{7}, EncryptionKeySize)})
	if err != nil {
		tb.Fatal(err)
	}
	return plain, seal
}

// FuzzDecode feeds both codecs anything a Redis key could hold (another
// version's value, another program's, a truncated write, a tampered
// seal): decode never panics, and a value it cannot read is
// errUnreadable, with an error that does not quote the value. A value it
// reads encodes back to a value that decodes to the same token.
func FuzzDecode(f *testing.F) {
	plain, seal := fuzzCodecs(f)
	tok := domain.Token{
		AccessToken: "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJreWMifQ.c2ln", TokenType: "Bearer", Scope: "api.read",
		IssuedAt:  time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC),
		ExpiresAt: time.Date(2026, 3, 1, 13, 0, 0, 123456789, time.UTC),
	}
	goodPlain, err := plain.encode(fuzzKey, tok)
	if err != nil {
		f.Fatal(err)
	}
	goodSealed, err := seal.encode(fuzzKey, tok)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(goodPlain),
		string(goodSealed),
		"",
		"not json",
		"null",
		"[]",
		`{}`,
		`{"v":1}`,
		`{"v":3,"tok":"x","exp":"2026-03-01T13:00:00Z"}`,
		`{"v":1,"tok":42}`,
		`{"v":1,"tok":"x","exp":"yesterday"}`,
		`{"v":1,"tok":"x","exp":"2026-03-01T13:00:00Z"}`,
		`{"v":1,"tok":"x","exp":"0001-01-01T00:00:00Z"}`,
		`{"v":1,"tok":"x","exp":"9999-12-31T23:59:59.999999999Z","iat":"-0001-01-01T00:00:00Z"}`,
		`{"v":1.5,"tok":"x","exp":"2026-03-01T13:00:00Z"}`,
		`{"v":1,"tok":"\ud800","exp":"2026-03-01T13:00:00Z"}`,
		`{"v":1,"tok":"x","exp":"2026-03-01T13:00:00+99:00"}`,
		`{"v":2,"kid":"00000000","n":"AAAAAAAAAAAAAAAA","c":"AAAA"}`,
		`{"v":2,"kid":"zzzzzzzz","n":"AAAAAAAAAAAAAAAA","c":""}`,
		`{"v":2,"kid":"00000000","n":"AA==","c":"AAAA"}`,
		`{"v":2,"kid":"00000000","n":"not base64","c":"AAAA"}`,
		string(goodPlain[:len(goodPlain)/2]),
		string(goodSealed[:len(goodSealed)-6]) + `A"}`,
		"\xff\xfe\x00",
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, value []byte, sealed bool) {
		c := plain
		if sealed {
			c = seal
		}
		tok, err := c.decode(fuzzKey, value)
		if err != nil {
			if !errors.Is(err, errUnreadable) {
				t.Fatalf("decode error %v does not wrap errUnreadable", err)
			}
			// A value long enough to be recognised never appears in the
			// error (it may be a token).
			if len(value) >= 8 && utf8.Valid(value) && strings.Contains(err.Error(), string(value)) {
				t.Fatalf("decode error %q quotes the value", err)
			}
			if !tok.IsZero() {
				t.Fatal("decode returned a token with its error")
			}
			return
		}
		if tok.IsZero() || tok.ExpiresAt.IsZero() {
			t.Fatalf("decode accepted a value without a token or an expiry: %q", value)
		}
		again, err := c.encode(fuzzKey, tok)
		if err != nil {
			// JSON decoding replaced any invalid UTF-8, so a token read
			// back is valid UTF-8, the only thing encode checks.
			t.Fatalf("a decoded token does not encode: %v", err)
		}
		back, err := c.decode(fuzzKey, again)
		if err != nil {
			t.Fatalf("a re-encoded token does not decode: %v", err)
		}
		if !sameToken(tok, back) {
			t.Fatal("the round trip changed the token")
		}
	})
}

// FuzzRoundTrip encodes any token with either codec and checks that it
// decodes to the same token, to the nanosecond, or that encode refused it
// (invalid UTF-8) with an error that does not quote it.
func FuzzRoundTrip(f *testing.F) {
	f.Add("eyJ.eyJ.sig", "Bearer", "api.read api.write", int64(1772366400123456789), int64(3600e9), false)
	f.Add("t", "", "", int64(0), int64(1), true)
	f.Add("tok\u2028\"\\<>&", "bearer", "a\x00b", int64(-1<<62), int64(1<<62), false)
	f.Add("\xffsecret-token", "Bearer", "", int64(1), int64(1), true)
	plain, seal := fuzzCodecs(f)
	f.Fuzz(func(t *testing.T, access, typ, scope string, iatNanos, lifetime int64, sealed bool) {
		if access == "" {
			return // a token has an access token; the store never puts one without
		}
		c := plain
		if sealed {
			c = seal
		}
		iat := time.Unix(0, iatNanos).UTC()
		tok := domain.Token{AccessToken: access, TokenType: typ, Scope: scope, IssuedAt: iat, ExpiresAt: iat.Add(time.Duration(lifetime))}
		value, err := c.encode(fuzzKey, tok)
		if err != nil {
			if utf8.ValidString(access) && utf8.ValidString(typ) && utf8.ValidString(scope) {
				t.Fatalf("encode refused a valid token: %v", err)
			}
			if len(access) >= 8 && strings.Contains(err.Error(), access) {
				t.Fatal("the encode error quotes the token")
			}
			return
		}
		if sealed && len(access) >= 8 && bytes.Contains(value, []byte(access)) {
			t.Fatal("a sealed value shows the token in clear")
		}
		back, err := c.decode(fuzzKey, value)
		if err != nil {
			t.Fatalf("decode of an encoded token: %v", err)
		}
		if !sameToken(tok, back) {
			t.Fatalf("round trip changed the token: %v..%v -> %v..%v", tok.IssuedAt, tok.ExpiresAt, back.IssuedAt, back.ExpiresAt)
		}
	})
}

func sameToken(a, b domain.Token) bool {
	return a.AccessToken == b.AccessToken && a.TokenType == b.TokenType && a.Scope == b.Scope &&
		a.IssuedAt.Equal(b.IssuedAt) && a.ExpiresAt.Equal(b.ExpiresAt)
}
