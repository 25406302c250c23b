package tokenservice

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// ClientAssertionType is the client_assertion_type of private_key_jwt
// (RFC 7523 §2.2).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Signature algorithms of private_key_jwt assertions (RFC 7518 §3.1).
const (
	// SigningRS256 is RSASSA-PKCS1-v1_5 with SHA-256; it needs an RSA key
	// of at least 2048 bits.
	SigningRS256 = "RS256"
	// SigningES256 is ECDSA on P-256 with SHA-256; it needs an EC P-256
	// key.
	SigningES256 = "ES256"
)

// AssertionLifetime is how long a client assertion is valid: only as long
// as one token request can take, so that a captured assertion is worth
// little (RFC 7523 §3 asks for a short exp; many servers refuse more than
// a few minutes).
const AssertionLifetime = 60 * time.Second

// minRSABits is the smallest RSA key accepted (NIST SP 800-131A).
const minRSABits = 2048

// signingKey is a parsed private key with the algorithm it signs with.
type signingKey struct {
	alg string
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
}

// keyParser is the credfile.Parser of a private key file that must suit
// alg (empty: the key's own). Its errors never describe the key.
func keyParser(alg string) func(contents [][]byte) (*signingKey, error) {
	return func(contents [][]byte) (*signingKey, error) {
		k, err := parseKey(contents[0])
		if err != nil {
			return nil, err
		}
		switch alg {
		case "", k.alg:
			return k, nil
		case SigningRS256, SigningES256:
			return nil, fmt.Errorf("holds a key for %s, not %s", k.alg, alg)
		default:
			return nil, fmt.Errorf("signing algorithm %q is not %s or %s", alg, SigningRS256, SigningES256)
		}
	}
}

// parseKey parses the first private key of PEM data: PKCS#8, PKCS#1 (RSA
// PRIVATE KEY) or SEC1 (EC PRIVATE KEY). Other blocks before it, such as
// the EC PARAMETERS that openssl writes first, are skipped. The parser's
// own errors are not passed on: they describe the DER, which is the key.
func parseKey(data []byte) (*signingKey, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM private key block (want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)")
		}
		if _, encrypted := block.Headers["DEK-Info"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errors.New("the key is encrypted; give an unencrypted key (file permissions protect it)")
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("the %s block does not parse", block.Type)
		}
		return signingKeyOf(key)
	}
}

func signingKeyOf(key any) (*signingKey, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < minRSABits {
			return nil, fmt.Errorf("the RSA key has %d bits; RS256 needs at least %d", bits, minRSABits)
		}
		return &signingKey{alg: SigningRS256, rsa: k}, nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("the EC key is on %s; ES256 needs P-256", k.Curve.Params().Name)
		}
		return &signingKey{alg: SigningES256, ec: k}, nil
	default:
		return nil, fmt.Errorf("a %T key is not supported; want RSA (RS256) or EC P-256 (ES256)", key)
	}
}

// sign returns the JWS signature of input.
func (k *signingKey) sign(input string) ([]byte, error) {
	digest := sha256.Sum256([]byte(input))
	if k.rsa != nil {
		return rsa.SignPKCS1v15(nil, k.rsa, crypto.SHA256, digest[:])
	}
	r, s, err := ecdsa.Sign(rand.Reader, k.ec, digest[:])
	if err != nil {
		return nil, err
	}
	// RFC 7518 §3.4: R and S as 32-byte big-endian integers, concatenated,
	// not the ASN.1 that crypto/ecdsa uses elsewhere.
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return sig, nil
}

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
	}{Alg: key.alg, Typ: "JWT", Kid: c.kid}
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
	sig, err := key.sign(input)
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
