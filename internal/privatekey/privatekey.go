// Package privatekey reads the PEM private keys that sign private_key_jwt
// client assertions (RFC 7523), for the token-service adapter that signs
// with them and for the configuration check that refuses a bad key file at
// start-up: one parser, so that both agree on what a usable key is. Its
// errors say what is wrong, never what the key holds.
package privatekey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// Signature algorithms (RFC 7518 §3.1).
const (
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256; it needs an RSA key of at
	// least MinRSABits.
	RS256 = "RS256"
	// ES256 is ECDSA on P-256 with SHA-256; it needs an EC P-256 key.
	ES256 = "ES256"
)

// MinRSABits is the smallest RSA key accepted (NIST SP 800-131A).
const MinRSABits = 2048

// Key is a parsed private key with the algorithm it signs with.
type Key struct {
	alg string
	rsa *rsa.PrivateKey // nil for an EC key
	ec  *ecdsa.PrivateKey
}

// Alg is RS256 or ES256.
func (k *Key) Alg() string { return k.alg }

// Parser is the credfile.Parser of a private key file that must suit alg
// (empty: the key's own algorithm).
func Parser(alg string) func(contents [][]byte) (*Key, error) {
	return func(contents [][]byte) (*Key, error) {
		k, err := Parse(contents[0])
		if err != nil {
			return nil, err
		}
		switch alg {
		case "", k.alg:
			return k, nil
		case RS256, ES256:
			return nil, fmt.Errorf("holds a key for %s, not %s", k.alg, alg)
		default:
			return nil, fmt.Errorf("signing algorithm %q is not %s or %s", alg, RS256, ES256)
		}
	}
}

// Parse parses the first private key of PEM data: PKCS#8, PKCS#1 (RSA
// PRIVATE KEY) or SEC1 (EC PRIVATE KEY). Other blocks before it, such as
// the EC PARAMETERS that openssl writes first, are skipped. The parser's
// own errors are not passed on: they describe the DER, which is the key.
func Parse(data []byte) (*Key, error) {
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
		return of(key)
	}
}

func of(key any) (*Key, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < MinRSABits {
			return nil, fmt.Errorf("the RSA key has %d bits; RS256 needs at least %d", bits, MinRSABits)
		}
		return &Key{alg: RS256, rsa: k}, nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("the EC key is on %s; ES256 needs P-256", k.Curve.Params().Name)
		}
		return &Key{alg: ES256, ec: k}, nil
	default:
		return nil, fmt.Errorf("a %T key is not supported; want RSA (RS256) or EC P-256 (ES256)", key)
	}
}

// Sign returns the JWS signature of input (RFC 7515 §5.1).
func (k *Key) Sign(input string) ([]byte, error) {
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
