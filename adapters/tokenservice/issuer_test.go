package tokenservice_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/domain"
)

const (
	clientID = "client:id+1"
	// secret holds every character that breaks naive Basic auth or form
	// encoding.
	secret  = "s3cr+t/=&%:x y"
	service = "kyc"
	// accessToken is what the test servers hand out; no error may show it.
	accessToken = "opaque-access-token-VALUE-123"
)

var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// newIssuer returns an issuer for url with the test client; edit adjusts
// the options.
func newIssuer(t *testing.T, url string, edit ...func(*tokenservice.Options)) *tokenservice.Issuer {
	t.Helper()
	opts := tokenservice.Options{
		URL:          url,
		ClientID:     clientID,
		ClientSecret: secret,
		Scope:        "api.read api.write",
		Clock:        fixedClock{now},
	}
	for _, e := range edit {
		e(&opts)
	}
	iss, err := tokenservice.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return iss
}

// serve starts a token server answering every request with h.
func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// answer is a handler that replies with status, headers and body.
func answer(status int, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func tokenServiceError(t *testing.T, err error) *domain.TokenServiceError {
	t.Helper()
	var tse *domain.TokenServiceError
	if !errors.As(err, &tse) {
		t.Fatalf("error %v (%T) is not a *domain.TokenServiceError", err, err)
	}
	if tse.Service != service {
		t.Errorf("Service = %q, want %q", tse.Service, service)
	}
	return tse
}

// assertNoCredential fails if err shows the secret or the access token in
// any form.
func assertNoCredential(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		for _, cred := range []string{secret, url.QueryEscape(secret), accessToken} {
			if strings.Contains(text, cred) {
				t.Errorf("error text %q contains a credential", text)
			}
		}
	}
}

func TestIssueBasicAuth(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			t.Errorf("method = %s, want POST", r.Method)
		}
		if got := r.Header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
			t.Errorf("Content-Type = %q", got)
		}
		if got := r.Header.Get("Accept"); got != "application/json" {
			t.Errorf("Accept = %q", got)
		}
		// RFC 6749 §2.3.1: each part form-url-encoded, then Basic.
		raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(r.Header.Get("Authorization"), "Basic "))
		if want := url.QueryEscape(clientID) + ":" + url.QueryEscape(secret); string(raw) != want {
			t.Errorf("Basic credentials = %q, want %q", raw, want)
		}
		id, sec, ok := r.BasicAuth()
		id, _ = url.QueryUnescape(id)
		sec, _ = url.QueryUnescape(sec)
		if !ok || id != clientID || sec != secret {
			t.Errorf("decoded Basic credentials do not match the client")
		}
		if err := r.ParseForm(); err != nil {
			t.Fatal(err)
		}
		want := url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read api.write"}}
		if r.PostForm.Encode() != want.Encode() {
			t.Errorf("form = %q, want %q", r.PostForm.Encode(), want.Encode())
		}
		answer(200, `{"access_token":"`+accessToken+`","token_type":"bearer","expires_in":3600,"scope":"api.read"}`)(w, r)
	})
	tok, err := newIssuer(t, srv.URL).Issue(context.Background(), service)
	if err != nil {
		t.Fatal(err)
	}
	want := domain.Token{AccessToken: accessToken, TokenType: "Bearer", Scope: "api.read", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	if tok != want {
		t.Errorf("token = %v, want %v", tok, want)
	}
}

func TestIssueClientSecretPost(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Error("client_secret_post sent an Authorization header")
		}
		_ = r.ParseForm()
		want := url.Values{
			"grant_type":    {"urn:example:grant"},
			"client_id":     {clientID},
			"client_secret": {secret},
			"audience":      {"https://api.example.com"},
			"resource":      {"https://api.example.com"},
		}
		if r.PostForm.Encode() != want.Encode() {
			t.Errorf("form = %q, want %q", r.PostForm.Encode(), want.Encode())
		}
		answer(200, `{"access_token":"`+accessToken+`","expires_in":60}`)(w, r)
	})
	iss := newIssuer(t, srv.URL, func(o *tokenservice.Options) {
		o.AuthMethod = tokenservice.AuthClientSecretPost
		o.GrantType = "urn:example:grant"
		o.Scope = ""
		o.Audience = "https://api.example.com"
	})
	tok, err := iss.Issue(context.Background(), service)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Scope != "" || tok.TokenType != "Bearer" || tok.ExpiresAt != now.Add(time.Minute) {
		t.Errorf("token = %v", tok)
	}
}

// jwt builds an unsigned-looking JWT with the given claims; the issuer does
// not check signatures.
func jwt(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"ES256","typ":"JWT"}`)) + "." + enc([]byte(claims)) + "." + enc([]byte("signature"))
}

func TestIssueParsesResponse(t *testing.T) {
	jwtExp := jwt(fmt.Sprintf(`{"sub":"x","iat":%d,"exp":%d}`, now.Unix()-5, now.Add(10*time.Minute).Unix()))
	// exp in whole seconds, rounded down, as token services write it.
	jwtSoon := jwt(fmt.Sprintf(`{"sub":"x","exp":%d}`, now.Add(59*time.Second).Unix()))
	tests := []struct {
		name        string
		body        string
		wantType    string
		wantScope   string
		wantExpires time.Time
	}{
		{"bearer in capitals", `{"access_token":"a","token_type":"BEARER","expires_in":10}`, "Bearer", "api.read api.write", now.Add(10 * time.Second)},
		{"missing token type", `{"access_token":"a","expires_in":10}`, "Bearer", "api.read api.write", now.Add(10 * time.Second)},
		{"other token type kept", `{"access_token":"a","token_type":"DPoP","expires_in":10}`, "DPoP", "api.read api.write", now.Add(10 * time.Second)},
		{"expires_in as string", `{"access_token":"a","expires_in":"3599"}`, "Bearer", "api.read api.write", now.Add(3599 * time.Second)},
		{"expires_in fractional", `{"access_token":"a","expires_in":1.5}`, "Bearer", "api.read api.write", now.Add(1500 * time.Millisecond)},
		{"expires_in null uses JWT exp", `{"access_token":"` + jwtExp + `","expires_in":null}`, "Bearer", "api.read api.write", now.Add(10 * time.Minute)},
		{"JWT exp fallback", `{"access_token":"` + jwtExp + `"}`, "Bearer", "api.read api.write", now.Add(10 * time.Minute)},
		{"expires_in wins over JWT exp", `{"access_token":"` + jwtExp + `","expires_in":30}`, "Bearer", "api.read api.write", now.Add(30 * time.Second)},
		{"JWT exp earlier than expires_in wins", `{"access_token":"` + jwtSoon + `","expires_in":60}`, "Bearer", "api.read api.write", time.Unix(now.Add(59*time.Second).Unix(), 0)},
		{"granted scope", `{"access_token":"a","expires_in":10,"scope":"api.read"}`, "Bearer", "api.read", now.Add(10 * time.Second)},
		{"scope as array", `{"access_token":"a","expires_in":10,"scope":["x","y"]}`, "Bearer", "x y", now.Add(10 * time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, answer(200, tt.body))
			tok, err := newIssuer(t, srv.URL).Issue(context.Background(), service)
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != tt.wantType || tok.Scope != tt.wantScope || !tok.ExpiresAt.Equal(tt.wantExpires) || !tok.IssuedAt.Equal(now) {
				t.Errorf("token = %v, want type %q scope %q expiresAt %v issuedAt %v", tok, tt.wantType, tt.wantScope, tt.wantExpires, now)
			}
		})
	}
}

func TestIssueErrors(t *testing.T) {
	longDesc := strings.Repeat("x", 300)
	retryDate := now.Add(30 * time.Second).Format(http.TimeFormat)
	opaque := `"access_token":"` + accessToken + `"`
	tests := []struct {
		name          string
		handler       http.HandlerFunc
		maxBody       int64
		kind          domain.TokenServiceErrorKind
		err           error // wanted in the chain, if any
		status        int
		code          string
		desc          string
		retryAfter    time.Duration
		temporary     bool
		checkDescLen  bool
		descNoControl bool
	}{
		{name: "invalid_client", handler: answer(401, `{"error":"invalid_client","error_description":"bad\ncredentials\u001b[31m","error_uri":"https://x"}`),
			kind: domain.Rejected, status: 401, code: "invalid_client", desc: "badcredentials[31m"},
		{name: "invalid_scope 400", handler: answer(400, `{"error":"invalid_scope"}`),
			kind: domain.Rejected, status: 400, code: "invalid_scope"},
		{name: "long description cut", handler: answer(400, `{"error":"invalid_request","error_description":"`+longDesc+`"}`),
			kind: domain.Rejected, status: 400, code: "invalid_request", checkDescLen: true},
		// A 429 is the token service asking us to wait, whatever its body:
		// unavailable for now, not a rejection nor a bad response.
		{name: "429 slow_down with Retry-After seconds", handler: answer(429, `{"error":"slow_down"}`, "Retry-After", "7"),
			kind: domain.Unreachable, status: 429, code: "slow_down", retryAfter: 7 * time.Second, temporary: true},
		{name: "503 with Retry-After date", handler: answer(503, `{"error":"temporarily_unavailable"}`, "Retry-After", retryDate),
			kind: domain.Rejected, status: 503, code: "temporarily_unavailable", retryAfter: 30 * time.Second, temporary: true},
		{name: "500 server_error", handler: answer(500, `{"error":"server_error"}`),
			kind: domain.Rejected, status: 500, code: "server_error", temporary: true},
		{name: "200 with an error body", handler: answer(200, `{"error":"access_denied"}`),
			kind: domain.Rejected, status: 200, code: "access_denied"},
		{name: "502 html", handler: answer(502, `<html>bad gateway `+accessToken+`</html>`, "Content-Type", "text/html"),
			kind: domain.BadResponse, status: 502, err: tokenservice.ErrUnexpectedStatus, temporary: true},
		{name: "429 without body, Retry-After", handler: answer(429, ``, "Retry-After", "2"),
			kind: domain.Unreachable, status: 429, err: tokenservice.ErrTooManyRequests, retryAfter: 2 * time.Second, temporary: true},
		{name: "429 html, Retry-After date", handler: answer(429, `<html>slow down</html>`, "Retry-After", retryDate, "Content-Type", "text/html"),
			kind: domain.Unreachable, status: 429, err: tokenservice.ErrTooManyRequests, retryAfter: 30 * time.Second, temporary: true},
		// A Retry-After beyond domain.MaxRetryAfter is clamped: one answer
		// must not silence a service name for years.
		{name: "429 Retry-After at the cap", handler: answer(429, ``, "Retry-After", "300"),
			kind: domain.Unreachable, status: 429, err: tokenservice.ErrTooManyRequests, retryAfter: domain.MaxRetryAfter, temporary: true},
		{name: "429 Retry-After just over the cap", handler: answer(429, ``, "Retry-After", "301"),
			kind: domain.Unreachable, status: 429, err: tokenservice.ErrTooManyRequests, retryAfter: domain.MaxRetryAfter, temporary: true},
		{name: "429 huge Retry-After", handler: answer(429, ``, "Retry-After", "99999999999"),
			kind: domain.Unreachable, status: 429, err: tokenservice.ErrTooManyRequests, retryAfter: domain.MaxRetryAfter, temporary: true},
		{name: "429 Retry-After beyond int64", handler: answer(429, ``, "Retry-After", "99999999999999999999"),
			kind: domain.Unreachable, status: 429, err: tokenservice.ErrTooManyRequests, retryAfter: domain.MaxRetryAfter, temporary: true},
		{name: "503 Retry-After date a year ahead", handler: answer(503, `{"error":"temporarily_unavailable"}`, "Retry-After", now.AddDate(1, 0, 0).Format(http.TimeFormat)),
			kind: domain.Rejected, status: 503, code: "temporarily_unavailable", retryAfter: domain.MaxRetryAfter, temporary: true},
		{name: "404", handler: answer(404, `not found`),
			kind: domain.BadResponse, status: 404, err: tokenservice.ErrUnexpectedStatus},
		{name: "redirect not followed", handler: answer(302, ``, "Location", "/elsewhere"),
			kind: domain.BadResponse, status: 302, err: tokenservice.ErrUnexpectedStatus},
		{name: "error JSON without error field", handler: answer(400, `{"message":"nope"}`),
			kind: domain.BadResponse, status: 400, err: tokenservice.ErrUnexpectedStatus},
		{name: "non-JSON 200", handler: answer(200, `access_token=`+accessToken+`&expires_in=3600`, "Content-Type", "application/x-www-form-urlencoded"),
			kind: domain.BadResponse, status: 200, err: tokenservice.ErrNotJSON},
		{name: "JSON array 200", handler: answer(200, `["`+accessToken+`"]`),
			kind: domain.BadResponse, status: 200, err: tokenservice.ErrNotJSON},
		{name: "no access_token", handler: answer(200, `{"token_type":"Bearer","expires_in":3600}`),
			kind: domain.BadResponse, status: 200, err: tokenservice.ErrNoAccessToken},
		{name: "access_token not a string", handler: answer(200, `{"access_token":42,"expires_in":3600}`),
			kind: domain.BadResponse, status: 200, err: tokenservice.ErrNoAccessToken},
		{name: "no expiry, opaque token", handler: answer(200, `{`+opaque+`}`),
			kind: domain.BadResponse, status: 200, err: tokenservice.ErrNoExpiry},
		{name: "no expiry, JWT without exp", handler: answer(200, `{"access_token":"`+jwt(`{"sub":"`+accessToken+`"}`)+`"}`),
			kind: domain.BadResponse, status: 200, err: tokenservice.ErrNoExpiry},
		{name: "JWT exp in the past", handler: answer(200, `{"access_token":"`+jwt(fmt.Sprintf(`{"exp":%d}`, now.Unix()))+`"}`),
			kind: domain.BadResponse, status: 200, err: tokenservice.ErrBadExpiry},
		{name: "expires_in zero", handler: answer(200, `{`+opaque+`,"expires_in":0}`),
			kind: domain.BadResponse, status: 200, err: tokenservice.ErrBadExpiry},
		{name: "expires_in negative string", handler: answer(200, `{`+opaque+`,"expires_in":"-5"}`),
			kind: domain.BadResponse, status: 200, err: tokenservice.ErrBadExpiry},
		{name: "expires_in not a number", handler: answer(200, `{`+opaque+`,"expires_in":"soon"}`),
			kind: domain.BadResponse, status: 200, err: tokenservice.ErrBadExpiry},
		{name: "expires_in huge", handler: answer(200, `{`+opaque+`,"expires_in":1e300}`),
			kind: domain.BadResponse, status: 200, err: tokenservice.ErrBadExpiry},
		{name: "200 body too large", handler: answer(200, `{`+opaque+`,"expires_in":3600,"pad":"`+strings.Repeat("p", 200)+`"}`), maxBody: 100,
			kind: domain.BadResponse, status: 200, err: tokenservice.ErrBodyTooLarge},
		{name: "500 body too large", handler: answer(500, `{"error":"server_error","error_description":"`+strings.Repeat("p", 200)+`"}`), maxBody: 100,
			kind: domain.BadResponse, status: 500, err: tokenservice.ErrBodyTooLarge, temporary: true},
		{name: "secret echoed in description", handler: answer(400, `{"error":"invalid_client","error_description":"secret `+secret+` or `+url.QueryEscape(secret)+` is wrong"}`),
			kind: domain.Rejected, status: 400, code: "invalid_client", desc: "secret [redacted] or [redacted] is wrong"},
		{name: "secret at the cut is redacted whole", handler: answer(400, `{"error":"invalid_client","error_description":"`+strings.Repeat("y", 195)+secret+`"}`),
			kind: domain.Rejected, status: 400, code: "invalid_client", desc: strings.Repeat("y", 195) + "[r…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, tt.handler)
			iss := newIssuer(t, srv.URL, func(o *tokenservice.Options) { o.MaxBodyBytes = tt.maxBody })
			tok, err := iss.Issue(context.Background(), service)
			if err == nil {
				t.Fatalf("Issue succeeded with %v", tok)
			}
			assertNoCredential(t, err)
			tse := tokenServiceError(t, err)
			if tse.Kind != tt.kind {
				t.Errorf("Kind = %v, want %v (%v)", tse.Kind, tt.kind, err)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("error %v does not wrap %v", err, tt.err)
			}
			if tse.HTTPStatus != tt.status {
				t.Errorf("HTTPStatus = %d, want %d", tse.HTTPStatus, tt.status)
			}
			if tse.Code != tt.code {
				t.Errorf("Code = %q, want %q", tse.Code, tt.code)
			}
			if tt.checkDescLen {
				if n := len([]rune(tse.Description)); n > 200 || n < 150 {
					t.Errorf("Description has %d runes, want at most 200", n)
				}
			} else if tse.Description != tt.desc {
				t.Errorf("Description = %q, want %q", tse.Description, tt.desc)
			}
			if strings.IndexFunc(tse.Description, unicode.IsControl) >= 0 {
				t.Errorf("Description %q holds control characters", tse.Description)
			}
			if tse.RetryAfter != tt.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", tse.RetryAfter, tt.retryAfter)
			}
			if tse.Temporary() != tt.temporary {
				t.Errorf("Temporary() = %v, want %v", tse.Temporary(), tt.temporary)
			}
		})
	}
}

// hang is a token server that never answers; it lets go when the client
// does or the test ends. arrived receives once per request.
func hang(t *testing.T) (srv *httptest.Server, arrived <-chan struct{}) {
	t.Helper()
	done := make(chan struct{})
	in := make(chan struct{}, 16)
	srv = serve(t, func(_ http.ResponseWriter, r *http.Request) {
		in <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-done:
		}
	})
	t.Cleanup(func() { close(done) }) // runs before srv.Close
	return srv, in
}

func TestIssueTimeout(t *testing.T) {
	srv, _ := hang(t)
	t.Run("Options.Timeout", func(t *testing.T) {
		iss := newIssuer(t, srv.URL, func(o *tokenservice.Options) { o.Timeout = 50 * time.Millisecond })
		_, err := iss.Issue(context.Background(), service)
		assertTimeout(t, err)
	})
	t.Run("caller deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := newIssuer(t, srv.URL).Issue(ctx, service)
		assertTimeout(t, err)
	})
	t.Run("slow body", func(t *testing.T) {
		done := make(chan struct{})
		slow := serve(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			_, _ = io.WriteString(w, `{"access_token":`)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-done:
			}
		})
		t.Cleanup(func() { close(done) })
		iss := newIssuer(t, slow.URL, func(o *tokenservice.Options) { o.Timeout = 50 * time.Millisecond })
		_, err := iss.Issue(context.Background(), service)
		assertTimeout(t, err)
	})
}

func assertTimeout(t *testing.T, err error) {
	t.Helper()
	tse := tokenServiceError(t, err)
	if tse.Kind != domain.Timeout {
		t.Errorf("Kind = %v, want Timeout (%v)", tse.Kind, err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
	if !tse.Temporary() {
		t.Error("a timeout is not Temporary")
	}
	assertNoCredential(t, err)
}

func TestIssueCallerCancel(t *testing.T) {
	srv, arrived := hang(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, err := newIssuer(t, srv.URL).Issue(ctx, service)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v does not wrap context.Canceled", err)
	}
	var tse *domain.TokenServiceError
	if errors.As(err, &tse) {
		t.Errorf("a cancelled call returned a token service error %v", err)
	}
	assertNoCredential(t, err)
}

func TestIssueUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String() + "/oauth/token"
	_ = ln.Close()

	reset := serve(t, func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	})
	tlsSrv := httptest.NewUnstartedServer(answer(200, `{"access_token":"a","expires_in":1}`))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshake is the point
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)

	// A real lookup of an unknown name may be slow or time out on a machine
	// without a reachable resolver; what matters is how a DNS error is
	// classified.
	noDNS := &http.Client{Transport: &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			return nil, &net.DNSError{Err: "no such host", Name: "auth.example.com", IsNotFound: true}
		},
	}}

	for name, tc := range map[string]struct {
		url    string
		client *http.Client
	}{
		"closed port":        {url: closedURL},
		"connection dropped": {url: reset.URL},
		"untrusted TLS":      {url: tlsSrv.URL},
		"unknown host":       {url: "http://auth.example.com/oauth/token", client: noDNS},
	} {
		t.Run(name, func(t *testing.T) {
			iss := newIssuer(t, tc.url, func(o *tokenservice.Options) { o.HTTPClient = tc.client })
			_, err := iss.Issue(context.Background(), service)
			tse := tokenServiceError(t, err)
			if tse.Kind != domain.Unreachable {
				t.Errorf("Kind = %v, want Unreachable (%v)", tse.Kind, err)
			}
			if !tse.Temporary() {
				t.Error("Unreachable is not Temporary")
			}
			assertNoCredential(t, err)
		})
	}
}

func TestNewValidates(t *testing.T) {
	base := tokenservice.Options{URL: "https://auth.example.com/oauth/token", ClientID: "id", ClientSecret: secret}
	tests := []struct {
		name string
		edit func(*tokenservice.Options)
		want string // in the error
	}{
		{"empty URL", func(o *tokenservice.Options) { o.URL = "" }, "URL is empty"},
		{"relative URL", func(o *tokenservice.Options) { o.URL = "/oauth/token" }, "absolute http or https"},
		{"ftp URL", func(o *tokenservice.Options) { o.URL = "ftp://auth.example.com/t" }, `scheme "ftp"`},
		{"no host", func(o *tokenservice.Options) { o.URL = "http:///t" }, "no host"},
		{"unparsable URL", func(o *tokenservice.Options) { o.URL = "http://a b.com/%zz" + secret }, "does not parse"},
		{"credentials in URL", func(o *tokenservice.Options) { o.URL = "https://id:" + url.QueryEscape(secret) + "@auth.example.com/t" }, "must not hold credentials"},
		{"fragment", func(o *tokenservice.Options) { o.URL = "https://auth.example.com/t#x" }, "fragment"},
		{"empty client id", func(o *tokenservice.Options) { o.ClientID = " " }, "client id is empty"},
		{"unknown auth method", func(o *tokenservice.Options) { o.AuthMethod = "client_secret_jwt" }, `"client_secret_jwt"`},
		{"negative timeout", func(o *tokenservice.Options) { o.Timeout = -time.Second }, "timeout"},
		{"negative body limit", func(o *tokenservice.Options) { o.MaxBodyBytes = -1 }, "max body bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := base
			tt.edit(&opts)
			_, err := tokenservice.New(opts)
			if err == nil {
				t.Fatal("New accepted the options")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "tokenservice: ") {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), url.QueryEscape(secret)) {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
	if _, err := tokenservice.New(base); err != nil {
		t.Errorf("New(valid options): %v", err)
	}
}

// TestTokenNeverInErrorJSON guards against a future error type that
// marshals its fields: the access token must stay out of JSON too.
func TestTokenNeverInErrorJSON(t *testing.T) {
	srv := serve(t, answer(200, `{"access_token":"`+accessToken+`","expires_in":"never"}`))
	_, err := newIssuer(t, srv.URL).Issue(context.Background(), service)
	b, _ := json.Marshal(tokenServiceError(t, err))
	if strings.Contains(string(b), accessToken) {
		t.Errorf("marshalled error %s contains the token", b)
	}
	assertNoCredential(t, err)
}
