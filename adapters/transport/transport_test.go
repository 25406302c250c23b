package transport_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jwtcache/jwtcache/adapters/transport"
)

// loopback maps the httptest servers' host to kyc: the rule signs only
// <name>-service hosts, never an IP address.
var loopback = map[string]string{"127.0.0.1": "kyc"}

func do(t *testing.T, c *http.Client, method, url string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestSignsWithoutModifyingTheRequest(t *testing.T) {
	src := &fakeSource{}
	d := newDownstream(t, nil)
	tr := &transport.Transport{Source: src, Hosts: loopback}

	req, _ := http.NewRequest(http.MethodGet, d.URL+"/x", nil)
	req.Header.Set("X-Trace", "1")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	got := d.requests()
	if len(got) != 1 || got[0].auth != "Bearer tok-1" {
		t.Fatalf("downstream saw %+v, want one request with Bearer tok-1", got)
	}
	if _, ok := req.Header["Authorization"]; ok || len(req.Header) != 1 {
		t.Fatalf("the caller's request was modified: %v", req.Header)
	}
}

func TestKeepsTheCallersAuthorization(t *testing.T) {
	for _, value := range []string{"Basic dXNlcjpwdw==", ""} {
		src := &fakeSource{}
		d := newDownstream(t, func(int, *http.Request) int { return http.StatusUnauthorized })
		c := transport.NewClient(src, loopback)
		req, _ := http.NewRequest(http.MethodGet, d.URL, nil)
		req.Header["Authorization"] = []string{value}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := d.requests()
		if len(got) != 1 || !got[0].hasAuth || got[0].auth != value {
			t.Fatalf("Authorization %q: downstream saw %+v, want it unchanged and no retry", value, got)
		}
		if n := src.tokenCalls.Load() + src.refreshCalls.Load(); n != 0 {
			t.Fatalf("Authorization %q: Source called %d times, want 0", value, n)
		}
	}
}

func TestUnmappedHostPassesThroughUntouched(t *testing.T) {
	src := &fakeSource{}
	d := newDownstream(t, func(int, *http.Request) int { return http.StatusUnauthorized })
	// 127.0.0.1 names no service by rule, and the map does not mention it.
	c := transport.NewClient(src, map[string]string{"kyc-service.company.com": "kyc"})
	resp, _ := do(t, c, http.MethodGet, d.URL, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := d.requests(); len(got) != 1 || got[0].hasAuth {
		t.Fatalf("downstream saw %+v, want one request without Authorization", got)
	}
	if n := src.tokenCalls.Load() + src.refreshCalls.Load(); n != 0 {
		t.Fatalf("Source called %d times for an unmapped host", n)
	}
}

func TestRetriesOnceAfter401WithTheBodyIntact(t *testing.T) {
	src := &fakeSource{}
	d := newDownstream(t, unauthorizedUnless("Bearer tok-2"))
	var logs logBuffer
	c := &http.Client{Transport: &transport.Transport{Source: src, Hosts: loopback, Logger: logs.logger()}}

	payload := bytes.Repeat([]byte("payload "), 1000)
	// http.NewRequest sets GetBody for a *bytes.Reader: the body can be sent again.
	resp, body := do(t, c, http.MethodPost, d.URL, bytes.NewReader(payload))
	if resp.StatusCode != http.StatusOK || body != "answer 2" {
		t.Fatalf("got %d %q, want the retry's 200", resp.StatusCode, body)
	}
	got := d.requests()
	if len(got) != 2 || got[0].auth != "Bearer tok-1" || got[1].auth != "Bearer tok-2" {
		t.Fatalf("downstream saw %+v, want tok-1 then tok-2", got)
	}
	for i, r := range got {
		if r.body != string(payload) {
			t.Fatalf("request %d carried %d body bytes, want the %d sent", i, len(r.body), len(payload))
		}
	}
	if n := src.refreshCalls.Load(); n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
	if s := logs.String(); strings.Contains(s, "tok-") || !strings.Contains(s, "retrying") {
		t.Fatalf("log should tell of the retry without a token:\n%s", s)
	}
}

func TestDoesNotRetryABodyItCannotSendAgain(t *testing.T) {
	src := &fakeSource{}
	d := newDownstream(t, unauthorizedUnless("Bearer tok-2"))
	c := transport.NewClient(src, loopback)

	// io.NopCloser hides the reader's type: http.NewRequest sets no GetBody.
	resp, body := do(t, c, http.MethodPost, d.URL, io.NopCloser(strings.NewReader("once")))
	if resp.StatusCode != http.StatusUnauthorized || body != "answer 1" {
		t.Fatalf("got %d %q, want the first 401 with its body", resp.StatusCode, body)
	}
	if got := d.requests(); len(got) != 1 || got[0].body != "once" {
		t.Fatalf("downstream saw %+v, want one request", got)
	}
	// The token was replaced all the same, so the caller's own retry works.
	if n := src.refreshCalls.Load(); n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
	resp, _ = do(t, c, http.MethodPost, d.URL, io.NopCloser(strings.NewReader("again")))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the caller's retry got %d, want 200", resp.StatusCode)
	}
}

func TestRetriesAtMostOnce(t *testing.T) {
	src := &fakeSource{}
	d := newDownstream(t, func(int, *http.Request) int { return http.StatusUnauthorized })
	c := transport.NewClient(src, loopback)

	resp, body := do(t, c, http.MethodGet, d.URL, nil)
	if resp.StatusCode != http.StatusUnauthorized || body != "answer 2" {
		t.Fatalf("got %d %q, want the retry's 401", resp.StatusCode, body)
	}
	if got := d.requests(); len(got) != 2 || got[1].auth != "Bearer tok-2" {
		t.Fatalf("downstream saw %+v, want two requests", got)
	}
	if n := src.refreshCalls.Load(); n != 1 {
		t.Fatalf("%d refreshes, want exactly 1", n)
	}
}

func TestRefreshesAtMostOncePerInterval(t *testing.T) {
	always401 := func(int, *http.Request) int { return http.StatusUnauthorized }
	t.Run("default interval", func(t *testing.T) {
		src := &fakeSource{}
		d := newDownstream(t, always401)
		c := transport.NewClient(src, loopback)
		do(t, c, http.MethodGet, d.URL, nil)
		do(t, c, http.MethodGet, d.URL, nil)
		// The second request was sent the refreshed token and refused: a
		// server refusing every token does not cost a token-service call
		// per request.
		if n := src.refreshCalls.Load(); n != 1 {
			t.Fatalf("%d refreshes, want 1", n)
		}
		if got := d.requests(); len(got) != 3 {
			t.Fatalf("downstream saw %d requests, want 3 (the second request is not retried)", len(got))
		}
	})
	t.Run("negative interval", func(t *testing.T) {
		src := &fakeSource{}
		d := newDownstream(t, always401)
		c := &http.Client{Transport: &transport.Transport{Source: src, Hosts: loopback, MinRefreshInterval: -1}}
		do(t, c, http.MethodGet, d.URL, nil)
		do(t, c, http.MethodGet, d.URL, nil)
		if n := src.refreshCalls.Load(); n != 2 {
			t.Fatalf("%d refreshes, want 2", n)
		}
	})
}

func TestUsesATokenReplacedMeanwhileWithoutRefreshing(t *testing.T) {
	src := &fakeSource{}
	d := newDownstream(t, func(n int, r *http.Request) int {
		if n == 1 {
			src.gen.Add(1) // renewed elsewhere while the request was in flight
		}
		return unauthorizedUnless("Bearer tok-2")(n, r)
	})
	c := transport.NewClient(src, loopback)
	resp, _ := do(t, c, http.MethodGet, d.URL, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	if n := src.refreshCalls.Load(); n != 0 {
		t.Fatalf("%d refreshes, want 0: the Source already had a new token", n)
	}
}

func TestReturnsThe401WhenRefreshFails(t *testing.T) {
	src := &fakeSource{refreshErr: errTokenService}
	d := newDownstream(t, unauthorizedUnless("Bearer tok-2"))
	var logs logBuffer
	c := &http.Client{Transport: &transport.Transport{Source: src, Hosts: loopback, Logger: logs.logger()}}
	resp, body := do(t, c, http.MethodGet, d.URL, nil)
	if resp.StatusCode != http.StatusUnauthorized || body != "answer 1" {
		t.Fatalf("got %d %q, want the 401 with its body", resp.StatusCode, body)
	}
	if len(d.requests()) != 1 {
		t.Fatal("retried without a new token")
	}
	if s := logs.String(); strings.Contains(s, "tok-") || !strings.Contains(s, "token service down") {
		t.Fatalf("log should give the refresh error without a token:\n%s", s)
	}
}

func TestTokenFailureDoesNotSendTheRequest(t *testing.T) {
	src := &fakeSource{tokenErr: errTokenService}
	d := newDownstream(t, nil)
	tr := &transport.Transport{Source: src, Hosts: loopback}
	body := &closeRecorder{Reader: strings.NewReader("data")}
	req, _ := http.NewRequest(http.MethodPost, d.URL, body)
	resp, err := tr.RoundTrip(req)
	if resp != nil || err == nil {
		t.Fatalf("RoundTrip = %v, %v; want an error", resp, err)
	}
	if !errors.Is(err, errTokenService) || !strings.HasPrefix(err.Error(), `transport: token for service "kyc": `) {
		t.Fatalf("error %q does not name the service and wrap the cause", err)
	}
	if !body.closed.Load() {
		t.Fatal("the request body was not closed")
	}
	if n := len(d.requests()); n != 0 {
		t.Fatalf("downstream saw %d requests, want 0", n)
	}
}

func TestNilSourceIsAnError(t *testing.T) {
	d := newDownstream(t, nil)
	_, err := (&http.Client{Transport: &transport.Transport{Hosts: loopback}}).Get(d.URL)
	if err == nil || !strings.Contains(err.Error(), "Source is nil") {
		t.Fatalf("err = %v", err)
	}
	if len(d.requests()) != 0 {
		t.Fatal("request sent")
	}
}

func TestTokenDoesNotFollowARedirectToAnotherHost(t *testing.T) {
	src := &fakeSource{}
	other := newDownstream(t, nil)
	first := redirectingServer(t, other.URL)
	// Both servers are on 127.0.0.1; only the first one's port is kyc's.
	c := transport.NewClient(src, map[string]string{hostOf(t, first): "kyc"})
	resp, _ := do(t, c, http.MethodGet, first, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := other.requests(); len(got) != 1 || got[0].hasAuth {
		t.Fatalf("redirect target saw %+v, want no Authorization", got)
	}
}

// redirectingServer redirects requests signed with tok-1 to to.
func redirectingServer(t *testing.T, to string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-1" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, to, http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func TestConcurrentRequestsShareOneToken(t *testing.T) {
	st := newStack(t)
	var bad sync.Map
	d := newDownstream(t, func(_ int, r *http.Request) int {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if _, err := st.issuer.VerifyToken(tok); !ok || err != nil {
			bad.Store(r.Header.Get("Authorization"), err)
			return http.StatusUnauthorized
		}
		return http.StatusOK
	})
	c := transport.NewClient(st.svc, loopback)

	const goroutines, each = 50, 20
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for range goroutines {
		wg.Go(func() {
			for range each {
				resp, err := c.Post(d.URL, "text/plain", strings.NewReader("x"))
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- errors.New(resp.Status)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	bad.Range(func(k, v any) bool { t.Errorf("invalid token presented: %v", v); return true })
	if n := len(d.requests()); n != goroutines*each {
		t.Fatalf("downstream saw %d requests, want %d", n, goroutines*each)
	}
	if n := st.issuer.Requests(); n != 1 {
		t.Fatalf("token service called %d times, want 1", n)
	}
}

func TestRetryWithTheCoreAfterRevocation(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	first, err := st.svc.Token(ctx, "kyc")
	if err != nil {
		t.Fatal(err)
	}
	// The downstream has revoked the first token.
	d := newDownstream(t, func(_ int, r *http.Request) int {
		if r.Header.Get("Authorization") == first.AuthorizationHeader() {
			return http.StatusUnauthorized
		}
		return http.StatusOK
	})
	c := transport.NewClient(st.svc, loopback)
	resp, _ := do(t, c, http.MethodPut, d.URL, strings.NewReader("x"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200 after one refresh", resp.StatusCode)
	}
	if n := st.issuer.Requests(); n != 2 {
		t.Fatalf("token service called %d times, want 2", n)
	}
}
