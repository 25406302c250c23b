package devissuer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// JWK is an EC public JSON Web Key (RFC 7517, RFC 7518 §6.2).
type JWK struct {
	// Kty is the key type, "EC".
	Kty string `json:"kty"`
	// Crv is the curve, "P-256".
	Crv string `json:"crv"`
	// X and Y are the point's coordinates, 32 bytes each, base64url.
	X string `json:"x"`
	Y string `json:"y"`
	// Kid is the key id, the RFC 7638 thumbprint; tokens carry it.
	Kid string `json:"kid"`
	// Alg is "ES256".
	Alg string `json:"alg"`
	// Use is "sig".
	Use string `json:"use"`
}

// JWKS is a JSON Web Key Set, what JWKSPath serves.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// coordLen is the byte length of a P-256 coordinate and of each half of an
// ES256 signature (RFC 7518 §3.4).
const coordLen = 32

var b64 = base64.RawURLEncoding

// publicJWK encodes pub, with its RFC 7638 thumbprint as kid.
func publicJWK(pub *ecdsa.PublicKey) (JWK, error) {
	if pub.Curve != elliptic.P256() {
		return JWK{}, errors.New("not a P-256 key")
	}
	point, err := pub.Bytes() // 0x04 || X || Y
	if err != nil {
		return JWK{}, err
	}
	x, y := b64.EncodeToString(point[1:1+coordLen]), b64.EncodeToString(point[1+coordLen:])
	// RFC 7638 §3.2: the required members, in lexicographic order, no
	// whitespace.
	thumb := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	return JWK{Kty: "EC", Crv: "P-256", X: x, Y: y, Kid: b64.EncodeToString(thumb[:]), Alg: "ES256", Use: "sig"}, nil
}

// PublicKey decodes k.
func (k JWK) PublicKey() (*ecdsa.PublicKey, error) {
	if k.Kty != "EC" || k.Crv != "P-256" {
		return nil, fmt.Errorf("devissuer: JWK is %s/%s, not EC/P-256", k.Kty, k.Crv)
	}
	x, errX := b64.DecodeString(k.X)
	y, errY := b64.DecodeString(k.Y)
	if errX != nil || errY != nil || len(x) != coordLen || len(y) != coordLen {
		return nil, errors.New("devissuer: JWK coordinates are not 32-byte base64url")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, fmt.Errorf("devissuer: JWK: %w", err)
	}
	return pub, nil
}

type jwtHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
	Kid string `json:"kid,omitempty"`
}

// sign returns claims as a compact ES256 JWS.
func (s *Server) sign(claims map[string]any) (string, error) {
	header, err := json.Marshal(jwtHeader{Alg: "ES256", Typ: "JWT", Kid: s.jwk.Kid})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	r, sv, err := ecdsa.Sign(rand.Reader, s.key, digest[:])
	if err != nil {
		return "", err
	}
	// RFC 7518 §3.4: R and S as fixed-size big-endian, concatenated.
	sig := make([]byte, 2*coordLen)
	r.FillBytes(sig[:coordLen])
	sv.FillBytes(sig[coordLen:])
	return input + "." + b64.EncodeToString(sig), nil
}

// VerifyES256 checks the ES256 signature of a compact JWS with pub and
// returns its claims (JSON numbers as float64). It checks nothing else: not
// exp, not iss. Its errors never quote the token.
func VerifyES256(token string, pub *ecdsa.PublicKey) (map[string]any, error) {
	claims, _, err := verifyES256(token, pub)
	return claims, err
}

func verifyES256(token string, pub *ecdsa.PublicKey) (map[string]any, jwtHeader, error) {
	jws, err := parseJWS(token)
	if err != nil {
		return nil, jws.header, err
	}
	// Checking alg before anything else is what stops "none" and algorithm
	// confusion.
	if jws.header.Alg != "ES256" {
		return nil, jws.header, fmt.Errorf("devissuer: token alg %q is not ES256", jws.header.Alg)
	}
	if len(jws.sig) != 2*coordLen {
		return nil, jws.header, errors.New("devissuer: token signature is not a 64-byte base64url ES256 signature")
	}
	digest := sha256.Sum256([]byte(jws.signingInput))
	r := new(big.Int).SetBytes(jws.sig[:coordLen])
	sv := new(big.Int).SetBytes(jws.sig[coordLen:])
	if !ecdsa.Verify(pub, digest[:], r, sv) {
		return nil, jws.header, errors.New("devissuer: token signature does not verify")
	}
	claims, err := jws.claims()
	return claims, jws.header, err
}

// jws is a compact JWS taken apart, its signature not yet checked.
type jws struct {
	header jwtHeader
	// signingInput is header.payload, as signed.
	signingInput string
	payload      string
	sig          []byte
}

// parseJWS splits and decodes token. Its errors never quote the token.
func parseJWS(token string) (jws, error) {
	var j jws
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return j, errors.New("devissuer: token is not a compact JWS (three dot-separated parts)")
	}
	rawHeader, err := b64.DecodeString(parts[0])
	if err != nil || json.Unmarshal(rawHeader, &j.header) != nil {
		return j, errors.New("devissuer: token header is not base64url JSON")
	}
	if j.sig, err = b64.DecodeString(parts[2]); err != nil {
		return j, errors.New("devissuer: token signature is not base64url")
	}
	j.signingInput, j.payload = parts[0]+"."+parts[1], parts[1]
	return j, nil
}

// claims decodes the payload; call it only once the signature verified.
func (j jws) claims() (map[string]any, error) {
	rawClaims, err := b64.DecodeString(j.payload)
	if err != nil {
		return nil, errors.New("devissuer: token payload is not base64url")
	}
	var claims map[string]any
	if json.Unmarshal(rawClaims, &claims) != nil || claims == nil {
		return nil, errors.New("devissuer: token payload is not a JSON object")
	}
	return claims, nil
}

// VerifyToken checks that token is one of this server's and still valid:
// ES256 signature by the server's key, its kid, its iss, and an exp after
// the server clock's now. It returns the claims (JSON numbers as float64).
func (s *Server) VerifyToken(token string) (map[string]any, error) {
	claims, hdr, err := verifyES256(token, &s.key.PublicKey)
	if err != nil {
		return nil, err
	}
	if hdr.Kid != s.jwk.Kid {
		return nil, errors.New("devissuer: token kid is not this server's key")
	}
	if iss, _ := claims["iss"].(string); iss != s.issuer {
		return nil, fmt.Errorf("devissuer: token iss %q is not %q", iss, s.issuer)
	}
	exp, ok := claims["exp"].(float64)
	if !ok {
		return nil, errors.New("devissuer: token has no numeric exp")
	}
	if now := s.clock.Now(); !now.Before(time.Unix(int64(exp), 0)) {
		return nil, errors.New("devissuer: token expired")
	}
	return claims, nil
}
