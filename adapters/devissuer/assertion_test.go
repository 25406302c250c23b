package devissuer_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/devissuer"
	"github.com/jwtcache/jwtcache/ports/clocktest"
)

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// signJWS signs claims with key as alg (RS256 or ES256), header fields
// overridable through hdr.
func signJWS(t *testing.T, key crypto.Signer, alg string, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	h, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
	p, _ := json.Marshal(claims)
	input := enc(h) + "." + enc(p)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch k := key.(type) {
	case *rsa.PrivateKey:
		var err error
		if sig, err = rsa.SignPKCS1v15(nil, k, crypto.SHA256, digest[:]); err != nil {
			t.Fatal(err)
		}
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	}
	return input + "." + enc(sig)
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// assertionFixture is a dev issuer that knows the client by its public key
// only.
func assertionFixture(t *testing.T, pub crypto.PublicKey) (*fixture, string) {
	t.Helper()
	f := &fixture{clock: clocktest.NewFakeClock(start), logs: &syncBuffer{}}
	dev, err := devissuer.New(devissuer.Options{
		ClientID:        clientID,
		ClientPublicKey: pub,
		Clock:           f.clock,
		Logger:          slog.New(slog.NewTextHandler(f.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.dev = dev
	f.srv = httptest.NewServer(dev.Handler())
	t.Cleanup(f.srv.Close)
	return f, f.srv.URL + devissuer.TokenPath
}

func TestPrivateKeyJWT(t *testing.T) {
	for _, tc := range []struct {
		alg string
		key crypto.Signer
	}{{"RS256", rsaKey(t)}, {"ES256", ecKey(t)}} {
		t.Run(tc.alg, func(t *testing.T) {
			f, aud := assertionFixture(t, tc.key.Public())
			jti := 0
			claims := func(edit ...func(map[string]any)) map[string]any {
				jti++
				c := map[string]any{"iss": clientID, "sub": clientID, "aud": aud, "jti": "jti-" + string(rune('a'+jti)),
					"iat": start.Unix(), "exp": start.Add(time.Minute).Unix()}
				for _, e := range edit {
					e(c)
				}
				return c
			}
			form := func(assertion string, kv ...string) url.Values {
				v := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {assertionType}, "client_assertion": {assertion}}
				for i := 0; i+1 < len(kv); i += 2 {
					v.Set(kv[i], kv[i+1])
				}
				return v
			}

			good := signJWS(t, tc.key, tc.alg, claims())
			r := f.post(t, form(good, "client_id", clientID), nil)
			if r.status != 200 {
				t.Fatalf("valid assertion: %d %s", r.status, r.raw)
			}
			if c, err := f.dev.VerifyToken(r.body["access_token"].(string)); err != nil || c["sub"] != clientID {
				t.Errorf("issued token: %v %v", c, err)
			}
			if r := f.post(t, form(signJWS(t, tc.key, tc.alg, claims(func(c map[string]any) { c["aud"] = []any{"x", aud} }))), nil); r.status != 200 {
				t.Errorf("aud as an array: %d %s", r.status, r.raw)
			}

			// sameType is another key of the client's type; otherType a key
			// of the other type, signing with its own algorithm.
			var sameType, otherType crypto.Signer = ecKey(t), rsaKey(t)
			otherAlg := "RS256"
			if tc.alg == "RS256" {
				sameType, otherType, otherAlg = rsaKey(t), ecKey(t), "ES256"
			}
			rejects := map[string]struct {
				form url.Values
				want string
			}{
				"replayed jti": {form(good), "replay"},
				"wrong aud": {form(signJWS(t, tc.key, tc.alg, claims(func(c map[string]any) { c["aud"] = "https://elsewhere/oauth/token" }))),
					"aud must be this token endpoint"},
				"wrong iss": {form(signJWS(t, tc.key, tc.alg, claims(func(c map[string]any) { c["iss"] = "someone" }))), "iss and sub"},
				"expired":   {form(signJWS(t, tc.key, tc.alg, claims(func(c map[string]any) { c["exp"] = start.Unix() }))), "expired"},
				"exp too far": {form(signJWS(t, tc.key, tc.alg, claims(func(c map[string]any) { c["exp"] = start.Add(6 * time.Minute).Unix() }))),
					"more than 5m0s away"},
				"iat in the future": {form(signJWS(t, tc.key, tc.alg, claims(func(c map[string]any) { c["iat"] = start.Add(2 * time.Minute).Unix() }))),
					"iat is not a time up to now"},
				"no jti":          {form(signJWS(t, tc.key, tc.alg, claims(func(c map[string]any) { delete(c, "jti") }))), "no jti"},
				"other client_id": {form(signJWS(t, tc.key, tc.alg, claims()), "client_id", "other"), "client_id does not match"},
				"bad assertion type": {form(signJWS(t, tc.key, tc.alg, claims()), "client_assertion_type", "urn:other"),
					"client_assertion_type is not"},
				"tampered payload": {form(func() string {
					p := strings.Split(signJWS(t, tc.key, tc.alg, claims()), ".")
					p2 := strings.Split(signJWS(t, tc.key, tc.alg, claims(func(c map[string]any) { c["sub"] = "x" })), ".")
					return p[0] + "." + p2[1] + "." + p[2]
				}()), "does not verify"},
				"alg none": {form(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." +
					strings.Split(good, ".")[1] + "."), `alg "none"`},
				"another key":      {form(signJWS(t, sameType, tc.alg, claims())), "does not verify"},
				"another key type": {form(signJWS(t, otherType, otherAlg, claims())), "is not " + tc.alg},
				"secret auth is off": {url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {""}},
					"client authentication failed"},
			}
			for name, rj := range rejects {
				t.Run(name, func(t *testing.T) {
					r := f.post(t, rj.form, nil)
					desc, _ := r.body["error_description"].(string)
					if r.status != 401 || r.body["error"] != "invalid_client" || !strings.Contains(desc, rj.want) {
						t.Errorf("got %d %s, want 401 invalid_client saying %q", r.status, r.raw, rj.want)
					}
					if strings.Contains(r.raw+f.logs.String(), strings.Split(good, ".")[2]) {
						t.Error("the answer or the log quotes an assertion")
					}
				})
			}
			t.Run("assertion with Basic", func(t *testing.T) {
				r := f.post(t, form(signJWS(t, tc.key, tc.alg, claims())), encodedBasic(clientID, "x"))
				if r.status != 400 || r.body["error"] != "invalid_request" {
					t.Errorf("got %d %s, want 400 invalid_request", r.status, r.raw)
				}
			})
		})
	}
}

func TestPrivateKeyJWTOffByDefault(t *testing.T) {
	f := newFixture(t)
	k := ecKey(t)
	r := f.post(t, url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {assertionType},
		"client_assertion": {signJWS(t, k, "ES256", map[string]any{"iss": clientID})}}, nil)
	if desc, _ := r.body["error_description"].(string); r.status != 401 || !strings.Contains(desc, "private_key_jwt is not enabled") {
		t.Errorf("got %d %s", r.status, r.raw)
	}
}

func TestNewValidatesClientKey(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, pub := range map[string]crypto.PublicKey{"P-384": p384.Public(), "string": "key"} {
		if _, err := devissuer.New(devissuer.Options{ClientID: "x", ClientPublicKey: pub}); err == nil {
			t.Errorf("%s: New accepted the key", name)
		}
	}
	if _, err := devissuer.New(devissuer.Options{ClientID: "x", ClientPublicKey: ecKey(t).Public()}); err != nil {
		t.Errorf("key without secret: %v", err)
	}
}
