package devissuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// clientAssertionType is the only client_assertion_type accepted (RFC 7523
// §2.2).
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// MaxAssertionLifetime is how far in the future a client assertion's exp
// may be. A longer-lived assertion would have to be remembered longer to
// stop its replay.
const MaxAssertionLifetime = 5 * time.Minute

// clockSkew is how far in the future an assertion's iat or nbf may be.
const clockSkew = time.Minute

func checkClientKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case nil, *rsa.PublicKey:
		return nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return errors.New("devissuer: client public key: only EC keys on P-256 (ES256) are supported")
		}
		return nil
	default:
		return fmt.Errorf("devissuer: client public key: a %T is not supported; want *rsa.PublicKey or *ecdsa.PublicKey", pub)
	}
}

// checkAssertion authenticates a private_key_jwt request. Its error says
// what is wrong in words fit for error_description: it never quotes the
// assertion.
func (s *Server) checkAssertion(r *http.Request, form url.Values) error {
	if s.clientKey == nil {
		return errors.New("private_key_jwt is not enabled for this client")
	}
	if form.Get("client_assertion_type") != clientAssertionType {
		return errors.New("client_assertion_type is not " + clientAssertionType)
	}
	claims, err := verifyAssertion(form.Get("client_assertion"), s.clientKey)
	if err != nil {
		return err
	}
	iss, _ := claims["iss"].(string)
	sub, _ := claims["sub"].(string)
	if iss != s.clientID || sub != s.clientID {
		return errors.New("the assertion's iss and sub must both be the client id")
	}
	if id := form.Get("client_id"); id != "" && id != s.clientID {
		return errors.New("client_id does not match the assertion")
	}
	if want := tokenURL(r); !hasAudience(claims["aud"], want) {
		return fmt.Errorf("the assertion's aud must be this token endpoint, %s", want)
	}
	now := s.clock.Now()
	exp, ok := numericDate(claims["exp"])
	switch {
	case !ok:
		return errors.New("the assertion has no numeric exp")
	case !now.Before(exp):
		return errors.New("the assertion has expired")
	case exp.Sub(now) > MaxAssertionLifetime:
		return fmt.Errorf("the assertion's exp is more than %s away", MaxAssertionLifetime)
	}
	for _, name := range []string{"iat", "nbf"} {
		if v, present := claims[name]; present {
			t, ok := numericDate(v)
			if !ok || t.After(now.Add(clockSkew)) {
				return fmt.Errorf("the assertion's %s is not a time up to now", name)
			}
		}
	}
	jti, _ := claims["jti"].(string)
	if jti == "" {
		return errors.New("the assertion has no jti")
	}
	if !s.seen.add(jti, exp, now) {
		return errors.New("the assertion's jti was used before (replay)")
	}
	return nil
}

// tokenURL is the token endpoint's URL as r reached it, the aud a client
// must use. The server learns its own address late (port 0), and behind
// httptest it never knows it, so the request is the reference.
func tokenURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + TokenPath
}

// hasAudience reports whether aud, a string or an array of strings (RFC
// 7519 §4.1.3), holds want.
func hasAudience(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, v := range a {
			if v == want {
				return true
			}
		}
	}
	return false
}

// numericDate reads a JWT NumericDate, seconds since the epoch as a JSON
// number (float64 after decoding).
func numericDate(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 || f > 1e11 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// verifyAssertion checks the signature of a compact JWS with pub, whose
// type decides the algorithm: RS256 for RSA, ES256 for EC. Checking alg
// against the key before anything else is what stops "none" and algorithm
// confusion.
func verifyAssertion(token string, pub crypto.PublicKey) (map[string]any, error) {
	jws, err := parseJWS(token)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256([]byte(jws.signingInput))
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if jws.header.Alg != "RS256" {
			return nil, fmt.Errorf("devissuer: assertion alg %q is not RS256, the client key's", jws.header.Alg)
		}
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], jws.sig) != nil {
			return nil, errors.New("devissuer: assertion signature does not verify")
		}
	case *ecdsa.PublicKey:
		if jws.header.Alg != "ES256" {
			return nil, fmt.Errorf("devissuer: assertion alg %q is not ES256, the client key's", jws.header.Alg)
		}
		if len(jws.sig) != 2*coordLen || !ecdsa.Verify(k, digest[:],
			new(big.Int).SetBytes(jws.sig[:coordLen]), new(big.Int).SetBytes(jws.sig[coordLen:])) {
			return nil, errors.New("devissuer: assertion signature does not verify")
		}
	default:
		return nil, errors.New("devissuer: no client key")
	}
	return jws.claims()
}

// jtiSet remembers the jti of accepted assertions until their exp, after
// which the exp check refuses them anyway.
type jtiSet struct {
	mu sync.Mutex
	m  map[string]time.Time
}

// add records jti until exp; false when it is already recorded.
func (j *jtiSet) add(jti string, exp, now time.Time) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	for id, until := range j.m {
		if !now.Before(until) {
			delete(j.m, id)
		}
	}
	if _, seen := j.m[jti]; seen {
		return false
	}
	j.m[jti] = exp
	return true
}
