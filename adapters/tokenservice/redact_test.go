package tokenservice_test

import (
	"context"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jwtcache/jwtcache/adapters/tokenservice"
)

// echoing is a token service that refuses every request, quoting in its
// error_description what echo makes of the request: what some servers
// (and proxies) do with the headers and form they received.
func echoing(echo func(r *http.Request) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		body, _ := json.Marshal(map[string]string{"error": "invalid_client", "error_description": "got " + echo(r) + " end"})
		answer(401, string(body))(w, r)
	}
}

// TestBasicAuthorizationNeverInError: the Authorization header of
// client_secret_basic is the secret in base64; a token service that echoes
// it must not put it into jwtcache's errors (and so the 502 body, /health
// and the log), in any of the forms it may take.
func TestBasicAuthorizationNeverInError(t *testing.T) {
	forms := []struct {
		name string
		echo func(r *http.Request) string
	}{
		{"header value", func(r *http.Request) string { return r.Header.Get("Authorization") }},
		{"header value URL-escaped", func(r *http.Request) string { return url.QueryEscape(r.Header.Get("Authorization")) }},
		{"base64 without padding", func(r *http.Request) string {
			return strings.TrimRight(strings.TrimPrefix(r.Header.Get("Authorization"), "Basic "), "=")
		}},
		{"base64 without padding, URL-escaped", func(r *http.Request) string {
			return url.QueryEscape(strings.TrimRight(strings.TrimPrefix(r.Header.Get("Authorization"), "Basic "), "="))
		}},
	}
	// The second id makes the base64 end in padding.
	for _, id := range []string{clientID, "cid1"} {
		basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
		unpadded := strings.TrimRight(basic, "=")
		for _, form := range forms {
			t.Run(id+"/"+form.name, func(t *testing.T) {
				iss := newIssuer(t, serve(t, echoing(form.echo)).URL, func(o *tokenservice.Options) { o.ClientID = id })
				_, err := iss.Issue(context.Background(), service)
				assertNoCredential(t, err)
				tse := tokenServiceError(t, err)
				for _, leak := range []string{unpadded, url.QueryEscape(unpadded), unpadded[:len(unpadded)/2]} {
					if strings.Contains(err.Error(), leak) {
						t.Errorf("error %q holds (part of) the Basic credentials %q", err, leak)
					}
				}
				if d := tse.Description; d != "got [redacted] end" && d != "got Basic [redacted] end" && d != "got Basic+[redacted] end" {
					t.Errorf("Description = %q, want the credentials redacted", d)
				}
			})
		}
	}
}

// TestAssertionSignatureNeverInError: the signature is what makes a client
// assertion a credential; a server quoting only it is redacted too.
func TestAssertionSignatureNeverInError(t *testing.T) {
	var sig string
	srv := serve(t, echoing(func(r *http.Request) string {
		parts := strings.Split(r.PostForm.Get("client_assertion"), ".")
		sig = parts[len(parts)-1]
		return sig
	}))
	iss := newIssuer(t, srv.URL, func(o *tokenservice.Options) {
		o.ClientSecret = ""
		o.PrivateKeyFile = keyFile(t, testECKey(t, elliptic.P256()), "pkcs8")
	})
	_, err := iss.Issue(context.Background(), service)
	tse := tokenServiceError(t, err)
	if sig == "" || strings.Contains(err.Error(), sig) {
		t.Errorf("error %q holds the assertion's signature", err)
	}
	if tse.Description != "got [redacted] end" {
		t.Errorf("Description = %q, want the signature redacted", tse.Description)
	}
}
