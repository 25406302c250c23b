package redisstore

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/domain"
)

// testKey returns a random encryption key.
func testKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, EncryptionKeySize)
	_, _ = rand.Read(k)
	return k
}

// wantKID is keyID computed independently, as an operator would:
// `sha256sum` of the key, first 8 hex digits.
func wantKID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:])[:8]
}

// rawValue is what `redis-cli GET key` shows.
func rawValue(t *testing.T, b *backend, key string) []byte {
	t.Helper()
	v, err := b.raw.Get(t.Context(), key).Bytes()
	if err != nil {
		t.Fatalf("raw GET %s: %v", key, err)
	}
	return v
}

// plant writes value under service's token key and indexes it, as if a
// Put had written it.
func plant(t *testing.T, b *backend, s *Store, service string, value []byte) {
	t.Helper()
	ctx := t.Context()
	if err := b.raw.Set(ctx, s.keys.token(service), value, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	score := float64(b.now().Add(time.Hour).UnixMilli())
	if err := b.raw.ZAdd(ctx, s.keys.index, redis.Z{Score: score, Member: service}).Err(); err != nil {
		t.Fatal(err)
	}
}

// wantMiss checks that Get of service is a counted miss.
func wantMiss(t *testing.T, s *Store, service string) error {
	t.Helper()
	before := s.CorruptValues()
	_, err := s.Get(t.Context(), service)
	if !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Get(%q) = %v, want domain.ErrNotFound", service, err)
	}
	if s.CorruptValues() != before+1 {
		t.Fatalf("CorruptValues = %d after Get(%q), want %d", s.CorruptValues(), service, before+1)
	}
	return err
}

func mustGetToken(t *testing.T, s *Store, service string, want domain.Token) {
	t.Helper()
	got, err := s.Get(t.Context(), service)
	if err != nil {
		t.Fatalf("Get(%q): %v", service, err)
	}
	if got.AccessToken != want.AccessToken || got.TokenType != want.TokenType || got.Scope != want.Scope ||
		!got.IssuedAt.Equal(want.IssuedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) ||
		got.IssuedAt.Location() != time.UTC || got.ExpiresAt.Location() != time.UTC {
		t.Fatalf("Get(%q) returned another token (scope %q, exp %v; want scope %q, exp %v)",
			service, got.Scope, got.ExpiresAt, want.Scope, want.ExpiresAt)
	}
}

func TestEncryptedRoundTripShowsNothingInClear(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := t.Context()
		prefix := testPrefix()
		t.Cleanup(func() { b.dropPrefix(t, prefix) })
		key := testKey(t)
		s := b.withKeys(key).store(t, prefix, 0)

		iat := b.now().UTC().Add(123456 * time.Nanosecond)
		tok := domain.Token{
			AccessToken: "eyJ-AT-REST-SECRET-" + strings.ToLower(rand.Text()),
			TokenType:   "Bearer",
			Scope:       "kyc.read-at-rest-scope",
			IssuedAt:    iat,
			ExpiresAt:   iat.Add(time.Hour),
		}
		if err := s.Put(ctx, "kyc", tok); err != nil {
			t.Fatal(err)
		}
		mustGetToken(t, s, "kyc", tok)
		entries, err := s.List(ctx)
		if err != nil || len(entries) != 1 || entries[0].Token.AccessToken != tok.AccessToken {
			t.Fatalf("List = %d entries, %v; want the token", len(entries), err)
		}

		raw := rawValue(t, b, s.keys.token("kyc"))
		for what, clear := range map[string]string{
			"token":              tok.AccessToken,
			"token's start":      "eyJ",
			"scope":              tok.Scope,
			"type":               tok.TokenType,
			"expiry (RFC 3339)":  tok.ExpiresAt.Format("2006-01-02T15"),
			"issued (RFC 3339)":  tok.IssuedAt.Format("2006-01-02T15"),
			"expiry (unix secs)": strconv.FormatInt(tok.ExpiresAt.Unix(), 10),
		} {
			if bytes.Contains(raw, []byte(clear)) {
				t.Errorf("the raw value shows the %s in clear", what)
			}
		}

		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			t.Fatalf("raw value is not JSON: %v", err)
		}
		if names := slices.Sorted(maps.Keys(fields)); !slices.Equal(names, []string{"c", "kid", "n", "v"}) {
			t.Fatalf("raw value fields = %v, want c, kid, n, v", names)
		}
		var v struct {
			V   int    `json:"v"`
			KID string `json:"kid"`
			N   string `json:"n"`
			C   string `json:"c"`
		}
		_ = json.Unmarshal(raw, &v)
		nonce, err := base64.StdEncoding.DecodeString(v.N)
		if v.V != 2 || v.KID != wantKID(key) || err != nil || len(nonce) != 12 {
			t.Fatalf("v = %d, kid = %q (want %q), nonce %d bytes (%v)", v.V, v.KID, wantKID(key), len(nonce), err)
		}

		// The same token again: a fresh nonce, so another value.
		if err := s.Put(ctx, "kyc", tok); err != nil {
			t.Fatal(err)
		}
		if again := rawValue(t, b, s.keys.token("kyc")); bytes.Equal(again, raw) {
			t.Fatal("sealing the same token twice gave the same value: the nonce is not fresh")
		}
		mustGetToken(t, s, "kyc", tok)
	})
}

func TestSealedValueIsBoundToItsKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := t.Context()
		b = b.withKeys(testKey(t))
		prefix, other := testPrefix(), testPrefix()
		t.Cleanup(func() { b.dropPrefix(t, prefix); b.dropPrefix(t, other) })
		s := b.store(t, prefix, 0)
		tok := token(b.now(), time.Hour, "kyc-only-token")
		if err := s.Put(ctx, "kyc", tok); err != nil {
			t.Fatal(err)
		}
		value := rawValue(t, b, s.keys.token("kyc"))

		// Copied under another service's key: a replica asked for
		// data-processor's token must not hand out kyc's.
		plant(t, b, s, "data-processor", value)
		wantMiss(t, s, "data-processor")
		entries, err := s.List(ctx)
		if err != nil || len(entries) != 1 || entries[0].Service != "kyc" {
			t.Fatalf("List = %v, %v; want kyc alone", entries, err)
		}
		if s.CorruptValues() != 2 {
			t.Fatalf("CorruptValues = %d after List, want 2", s.CorruptValues())
		}
		mustGetToken(t, s, "kyc", tok)

		// Copied under the same service of another prefix (another
		// deployment sharing the Redis and the key).
		o := b.store(t, other, 0)
		plant(t, b, o, "kyc", value)
		wantMiss(t, o, "kyc")
	})
}

func TestKeyRotation(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := t.Context()
		prefix := testPrefix()
		t.Cleanup(func() { b.dropPrefix(t, prefix) })
		k1, k2 := testKey(t), testKey(t)
		a := b.withKeys(k1).store(t, prefix, 0)      // before the rotation
		bb := b.withKeys(k2, k1).store(t, prefix, 0) // during: k2 current, k1 previous
		c := b.withKeys(k2).store(t, prefix, 0)      // after: k1 dropped
		d := b.withKeys(k1).store(t, prefix, 0)      // a replica that missed the rotation
		key := a.keys.token("kyc")

		old := token(b.now(), time.Hour, "sealed-with-k1")
		if err := a.Put(ctx, "kyc", old); err != nil {
			t.Fatal(err)
		}
		written := rawValue(t, b, key)
		mustGetToken(t, bb, "kyc", old)
		if entries, err := bb.List(ctx); err != nil || len(entries) != 1 {
			t.Fatalf("List with the previous key = %d entries, %v; want 1", len(entries), err)
		}
		if !bytes.Equal(rawValue(t, b, key), written) {
			t.Fatal("reading with a previous key rewrote the value: reads must not write")
		}

		renewed := token(b.now(), 2*time.Hour, "sealed-with-k2")
		if err := bb.Put(ctx, "kyc", renewed); err != nil {
			t.Fatal(err)
		}
		var v valueV2
		if err := json.Unmarshal(rawValue(t, b, key), &v); err != nil || v.KID != wantKID(k2) {
			t.Fatalf("after the rotation Put, kid = %q (%v), want k2's %q", v.KID, err, wantKID(k2))
		}
		mustGetToken(t, bb, "kyc", renewed)
		mustGetToken(t, c, "kyc", renewed)
		wantMiss(t, d, "kyc")
		wantMiss(t, a, "kyc")
		if bb.CorruptValues()+c.CorruptValues() != 0 {
			t.Fatal("stores holding the key counted an unreadable value")
		}
	})
}

// sealWith seals tok under redisKey with encryptionKeys[0], as a Store
// with those keys would.
func sealWith(t *testing.T, redisKey string, tok domain.Token, encryptionKeys ...[]byte) []byte {
	t.Helper()
	c, err := newCodec(encryptionKeys)
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.encode(redisKey, tok)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// edit changes the fields of a sealed value.
func edit(t *testing.T, sealedValue []byte, f func(v *valueV2)) []byte {
	t.Helper()
	var v valueV2
	if err := json.Unmarshal(sealedValue, &v); err != nil {
		t.Fatal(err)
	}
	f(&v)
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestUnopenableValuesAreMisses(t *testing.T) {
	const secret = "PLANTED-SECRET-TOKEN"
	k1, k2, stranger := testKey(t), testKey(t), testKey(t)
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[(i+len(b))%len(b)] ^= 0x01
		return b
	}
	// Each makes the value to plant from a value sealed with k1 under the
	// right key, the Redis key and the token it holds.
	values := map[string]func(t *testing.T, good []byte, key string, tok domain.Token) []byte{
		"tampered ciphertext": func(t *testing.T, good []byte, _ string, _ domain.Token) []byte {
			return edit(t, good, func(v *valueV2) { v.C = flip(v.C, 0) })
		},
		"tampered tag": func(t *testing.T, good []byte, _ string, _ domain.Token) []byte {
			return edit(t, good, func(v *valueV2) { v.C = flip(v.C, -1) })
		},
		"tampered nonce": func(t *testing.T, good []byte, _ string, _ domain.Token) []byte {
			return edit(t, good, func(v *valueV2) { v.N = flip(v.N, 0) })
		},
		"truncated ciphertext": func(t *testing.T, good []byte, _ string, _ domain.Token) []byte {
			return edit(t, good, func(v *valueV2) { v.C = v.C[:10] })
		},
		"no ciphertext": func(t *testing.T, good []byte, _ string, _ domain.Token) []byte {
			return edit(t, good, func(v *valueV2) { v.C = nil })
		},
		"short nonce": func(t *testing.T, good []byte, _ string, _ domain.Token) []byte {
			return edit(t, good, func(v *valueV2) { v.N = v.N[:8] })
		},
		"another configured key's id": func(t *testing.T, good []byte, _ string, _ domain.Token) []byte {
			return edit(t, good, func(v *valueV2) { v.KID = keyID(k2) })
		},
		"unknown key id": func(t *testing.T, good []byte, _ string, _ domain.Token) []byte {
			return edit(t, good, func(v *valueV2) { v.KID = keyID(stranger) })
		},
		"malformed key id": func(t *testing.T, good []byte, _ string, _ domain.Token) []byte {
			return edit(t, good, func(v *valueV2) { v.KID = "\n" + secret })
		},
		"sealed by a key not configured": func(t *testing.T, _ []byte, key string, tok domain.Token) []byte {
			return sealWith(t, key, tok, stranger)
		},
		"sealed by a stranger claiming a configured key's id": func(t *testing.T, _ []byte, key string, tok domain.Token) []byte {
			return edit(t, sealWith(t, key, tok, stranger), func(v *valueV2) { v.KID = keyID(k1) })
		},
		"plaintext version 1": func(t *testing.T, _ []byte, key string, tok domain.Token) []byte {
			v, err := jsonV1{}.encode(key, tok)
			if err != nil {
				t.Fatal(err)
			}
			return v
		},
		"nonce not base64": func(t *testing.T, good []byte, _ string, _ domain.Token) []byte {
			return []byte(`{"v":2,"kid":"` + keyID(k1) + `","n":"!!` + secret + `","c":"AAAA"}`)
		},
		"version 2 without fields": func(*testing.T, []byte, string, domain.Token) []byte {
			return []byte(`{"v":2}`)
		},
		"sealed JSON that is not a token": func(t *testing.T, good []byte, key string, _ domain.Token) []byte {
			var v valueV2
			_ = json.Unmarshal(good, &v)
			c, _ := newCodec([][]byte{k1})
			aead := c.(sealed).keys[0].aead
			v.C = aead.Seal(nil, v.N, []byte(`{"v":1,"tok":"`+secret+`"}`), []byte(key))
			out, _ := json.Marshal(v)
			return out
		},
	}
	eachBackend(t, func(t *testing.T, b *backend) {
		b = b.withKeys(k1, k2)
		for name, build := range values {
			t.Run(name, func(t *testing.T) {
				ctx := t.Context()
				prefix := testPrefix()
				t.Cleanup(func() { b.dropPrefix(t, prefix) })
				s := b.store(t, prefix, 0)
				var logs bytes.Buffer
				s.log = slog.New(slog.NewTextHandler(&logs, nil))
				key := s.keys.token("kyc")
				tok := token(b.now(), time.Hour, secret)
				value := build(t, sealWith(t, key, tok, k1), key, tok)
				plant(t, b, s, "kyc", value)

				getErr := wantMiss(t, s, "kyc")
				entries, err := s.List(ctx)
				if err != nil || len(entries) != 0 {
					t.Fatalf("List = %v, %v; want no entries", entries, err)
				}
				if s.CorruptValues() != 2 {
					t.Fatalf("CorruptValues = %d after List, want 2", s.CorruptValues())
				}
				text := getErr.Error() + logs.String()
				if strings.Contains(text, secret) || strings.Contains(text, string(value)) || !strings.Contains(logs.String(), "kyc") {
					t.Fatalf("the error or logs quote the value, or the logs miss the service: %v\n%s", getErr, logs.String())
				}

				want := token(b.now(), time.Hour, "fresh-token")
				if err := s.Put(ctx, "kyc", want); err != nil {
					t.Fatalf("Put over the unreadable value: %v", err)
				}
				mustGetToken(t, s, "kyc", want)
			})
		}
	})
}

func TestSealedValueWithoutEncryptionIsAMiss(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		prefix := testPrefix()
		t.Cleanup(func() { b.dropPrefix(t, prefix) })
		s := b.store(t, prefix, 0)
		var logs bytes.Buffer
		s.log = slog.New(slog.NewTextHandler(&logs, nil))
		plant(t, b, s, "kyc", sealWith(t, s.keys.token("kyc"), token(b.now(), time.Hour, "secret"), testKey(t)))
		wantMiss(t, s, "kyc")
		if !strings.Contains(logs.String(), "no encryption key is configured") {
			t.Errorf("the warning does not say why the value is unreadable:\n%s", logs.String())
		}
		want := token(b.now(), time.Hour, "in-clear")
		if err := s.Put(t.Context(), "kyc", want); err != nil {
			t.Fatal(err)
		}
		mustGetToken(t, s, "kyc", want)
		if !bytes.Contains(rawValue(t, b, s.keys.token("kyc")), []byte(`"v":1`)) {
			t.Error("a store without keys did not write version 1")
		}
	})
}

func TestNewChecksEncryptionKeys(t *testing.T) {
	// Printable, so that any form of the key in an error would show.
	secretKey := func(n int) []byte { return bytes.Repeat([]byte("SeCrEtKy"), 8)[:n] }
	good := secretKey(32)
	for name, c := range map[string]struct {
		keys  [][]byte
		index int
	}{
		"short":            {[][]byte{secretKey(16)}, 0},
		"one byte short":   {[][]byte{good, secretKey(31)}, 1},
		"one byte long":    {[][]byte{good, secretKey(33)}, 1},
		"twice as long":    {[][]byte{good, good, secretKey(64)}, 2},
		"empty":            {[][]byte{{}}, 0},
		"nil after a good": {[][]byte{good, nil}, 1},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := New(Options{Addrs: []string{"127.0.0.1:1"}, EncryptionKeys: c.keys})
			if err == nil {
				_ = s.Close()
				t.Fatal("New succeeded")
			}
			if want := fmt.Sprintf("EncryptionKeys[%d]", c.index); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %s", err, want)
			}
			bad := c.keys[c.index]
			for _, form := range []string{string(bad[:min(len(bad), 8)]), "SeCrEt", hex.EncodeToString(bad), base64.StdEncoding.EncodeToString(bad), fmt.Sprint(bad)} {
				if len(form) > 2 && strings.Contains(err.Error(), form) {
					t.Errorf("error %q shows the key", err)
				}
			}
			func() {
				defer func() {
					if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "EncryptionKeys[") {
						t.Errorf("NewWithClient panicked with %v, want an error naming the key", r)
					}
				}()
				NewWithClient(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), Options{EncryptionKeys: c.keys})
			}()
		})
	}
	// The current key repeated among the previous ones is fine.
	s, err := New(Options{Addrs: []string{"127.0.0.1:1"}, EncryptionKeys: [][]byte{good, testKey(t), good}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := len(s.codec.(sealed).keys); n != 2 {
		t.Errorf("%d keys kept, want 2", n)
	}
}

func TestOptionsStringRedactsEncryptionKeys(t *testing.T) {
	key := bytes.Repeat([]byte("SeCrEtKy"), 4)
	opts := Options{Addrs: []string{"a:1"}, EncryptionKeys: [][]byte{key, testKey(t)}}
	for _, text := range []string{opts.String(), opts.LogValue().String(), fmt.Sprint(opts), fmt.Sprintf("%+v", opts)} {
		if strings.Contains(text, "SeCrEt") || strings.Contains(text, strings.Trim(fmt.Sprint(key[:4]), "[]")) {
			t.Errorf("the key shows: %s", text)
		}
		if !strings.Contains(text, "EncryptionKeys:[2 redacted]") {
			t.Errorf("%s does not say there are 2 keys", text)
		}
	}
	if text := (Options{Addrs: []string{"a:1"}}).String(); !strings.Contains(text, "EncryptionKeys:[]") {
		t.Errorf("without keys: %s", text)
	}
}

// FuzzOpen checks that no value read from Redis crashes the opener, and
// that anything it accepts is a whole token.
func FuzzOpen(f *testing.F) {
	k1 := bytes.Repeat([]byte{1}, EncryptionKeySize)
	k2 := bytes.Repeat([]byte{2}, EncryptionKeySize)
	c, err := newCodec([][]byte{k1, k2})
	if err != nil {
		f.Fatal(err)
	}
	const key = "jwtcache:jwt:{kyc}:token"
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	good, err := c.encode(key, token(now, time.Hour, "eyJ-fuzz"))
	if err != nil {
		f.Fatal(err)
	}
	plain, _ := jsonV1{}.encode(key, token(now, time.Hour, "eyJ-fuzz"))
	var v valueV2
	_ = json.Unmarshal(good, &v)
	shortNonce, _ := json.Marshal(valueV2{V: 2, KID: v.KID, N: v.N[:4], C: v.C})
	shortC, _ := json.Marshal(valueV2{V: 2, KID: v.KID, N: v.N, C: v.C[:3]})
	for _, seed := range [][]byte{good, plain, shortNonce, shortC, []byte(`{"v":2}`), []byte(`{"v":2,"kid":"` + v.KID + `","n":null,"c":null}`),
		[]byte(`null`), []byte(`[]`), []byte(`{"v":"2"}`), {}, {0xff, 0x00}} {
		f.Add(key, seed)
	}
	f.Add("jwtcache:jwt:{other}:token", good)
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		for _, c := range []codec{c, jsonV1{}} {
			tok, err := c.decode(key, value)
			if err != nil {
				if !errors.Is(err, errUnreadable) {
					t.Fatalf("decode error %v does not wrap errUnreadable", err)
				}
				continue
			}
			if tok.AccessToken == "" || tok.ExpiresAt.IsZero() {
				t.Fatalf("decode accepted a value without a token or expiry")
			}
		}
	})
}
