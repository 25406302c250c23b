package tokenservice

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// Mutual-TLS client authentication methods (RFC 8705 §2), named as in the
// RFC 8414 token_endpoint_auth_methods_supported registry. The client
// presents its certificate in the TLS handshake and sends client_id in the
// form; no secret travels.
const (
	// AuthTLSClientAuth: the token service checks the certificate against
	// its PKI (a CA it trusts, and the subject or SAN registered for the
	// client).
	AuthTLSClientAuth = "tls_client_auth"
	// AuthSelfSignedTLSClientAuth: the certificate is self-signed and
	// registered with the client (its JWK set).
	AuthSelfSignedTLSClientAuth = "self_signed_tls_client_auth"
)

// certificateBound reports whether token is a JWT bound to a client
// certificate: a cnf claim with an x5t#S256 thumbprint (RFC 8705 §3.1). As
// with exp, the signature is not checked: jwtcache holds the token, it
// does not judge it; the flag only tells the operator that resource
// servers will want the certificate too.
func certificateBound(token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return false
	}
	var claims struct {
		Cnf struct {
			X5tS256 string `json:"x5t#S256"`
		} `json:"cnf"`
	}
	return json.Unmarshal(payload, &claims) == nil && claims.Cnf.X5tS256 != ""
}
