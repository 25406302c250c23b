package tokenservice

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jwtcache/jwtcache/internal/privatekey"
)

// ClientAssertionType is the client_assertion_type of private_key_jwt
// (RFC 7523 §2.2).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Signature algorithms of private_key_jwt assertions (RFC 7518 §3.1).
const (
	// SigningRS256 is RSASSA-PKCS1-v1_5 with SHA-256; it needs an RSA key
	// of at least 2048 bits.
	SigningRS256 = privatekey.RS256
	// SigningES256 is ECDSA on P-256 with SHA-256; it needs an EC P-256
	// key.
	SigningES256 = privatekey.ES256
)

// AssertionLifetime is how long a client assertion is valid: only as long
// as one token request can take, so that a captured assertion is worth
// little (RFC 7523 §3 asks for a short exp; many servers refuse more than
// a few minutes).
const AssertionLifetime = 60 * time.Second

// signingKey is a parsed private key with the algorithm it signs with;
// package privatekey reads it, for New and for a configuration check alike.
type signingKey = privatekey.Key

// assertion is a fresh private_key_jwt client assertion (RFC 7523 §3): the
// client is both issuer and subject, the token endpoint the audience, and
// a random jti lets the server refuse a replay.
func (c *client) assertion(now time.Time) (string, error) {
	key := c.signingKey()
	aud, _ := c.tokenEndpoint() // issue has checked that there is one
	header := struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
		Kid string `json:"kid,omitempty"`
	}{Alg: key.Alg(), Typ: "JWT", Kid: c.kid}
	claims := struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Aud string `json:"aud"`
		Jti string `json:"jti"`
		Iat int64  `json:"iat"`
		Exp int64  `json:"exp"`
	}{Iss: c.id, Sub: c.id, Aud: aud, Jti: newJTI(), Iat: now.Unix(), Exp: now.Add(AssertionLifetime).Unix()}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	p, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	b64 := base64.RawURLEncoding
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	sig, err := key.Sign(input)
	if err != nil {
		return "", fmt.Errorf("sign the client assertion: %w", err)
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// newJTI is 128 random bits, base64url.
func newJTI() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes the program instead).
	return base64.RawURLEncoding.EncodeToString(b)
}
