package rest

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServerRefusesBodies: a request announcing a body is answered 413
// with the JSON error at once, without the body being read, and its
// connection is closed: a client dripping 100,000 bytes holds nothing.
func TestServerRefusesBodies(t *testing.T) {
	// A read timeout far above the test's bound: only the refusal can
	// explain a quick answer.
	s := startLimited(t, Limits{ReadTimeout: time.Minute})
	for _, head := range []string{
		"POST /api/v1/jwt/refresh/kyc HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n",
		"GET /api/v1/jwt/token/kyc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n",
	} {
		c := dial(t, s.Addr())
		start := time.Now()
		resp, body, err := roundTrip(c, bufio.NewReader(c), head+"a", 5*time.Second)
		if err != nil {
			t.Fatalf("%q: %v", head, err)
		}
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, `"error":"request_body_not_allowed"`) ||
			resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("%q: %d %q %q", head, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		closedWithin(t, c, 5*time.Second)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%q: took %s", head, d)
		}
	}
	// No body, an empty one, and a GET with Content-Length: 0 are fine.
	c := dial(t, s.Addr())
	resp, _, err := roundTrip(c, bufio.NewReader(c), "GET /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 5*time.Second)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("Content-Length: 0: %v %v", resp, err)
	}
}
