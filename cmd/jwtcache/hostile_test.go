package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawConn is a client connection that writes raw HTTP, for clients no
// http.Client would be: slow, dripping, or holding a connection open.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, base string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

// get sends GET path on the connection (kept alive) and reads the answer
// within d.
func (c *rawConn) get(path string, d time.Duration) (*http.Response, string, error) {
	_ = c.SetDeadline(time.Now().Add(d))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: jwtcache\r\n\r\n"); err != nil {
		return nil, "", err
	}
	return c.read()
}

func (c *rawConn) read() (*http.Response, string, error) {
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return nil, "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body), err
}

// drip writes one byte every interval until the server hangs up (or 30s
// of bytes), as a slowloris client does.
func (c *rawConn) drip(b byte, interval time.Duration) {
	for range int(30 * time.Second / interval) {
		if _, err := c.Write([]byte{b}); err != nil {
			return
		}
		time.Sleep(interval)
	}
}

// closedBy reads the connection until the server closes it and reports
// whether that happened before deadline; what the server sent is returned.
func (c *rawConn) closedBy(deadline time.Time) (string, bool) {
	_ = c.SetReadDeadline(deadline)
	got, err := io.ReadAll(c.r)
	return string(got), !errors.Is(err, os.ErrDeadlineExceeded)
}

// TestBinarySlowClients: clients that drip their headers, or send complete
// headers announcing a 100,000-byte body and drip it, are disconnected
// within SERVER_READ_TIMEOUT (the body ones at once, with a JSON 413),
// while a normal client is answered meanwhile.
func TestBinarySlowClients(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const readTimeout = time.Second
	ts := startGatedTokenService(t)
	_, base := serve(t, opsEnv(ts, "SERVER_READ_TIMEOUT=1s"))

	const perKind = 5
	start := time.Now()
	var wg sync.WaitGroup
	var slowHeaders, slowBodies []*rawConn
	for range perKind {
		h := dialRaw(t, base)
		if _, err := io.WriteString(h, "GET /api/v1/jwt/token/kyc HTTP/1.1\r\nHost: jwtcache\r\n"); err != nil {
			t.Fatal(err)
		}
		slowHeaders = append(slowHeaders, h)
		b := dialRaw(t, base)
		if _, err := io.WriteString(b, "POST /api/v1/jwt/refresh/kyc HTTP/1.1\r\nHost: jwtcache\r\nContent-Length: 100000\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		slowBodies = append(slowBodies, b)
		wg.Add(2)
		go func() { defer wg.Done(); h.drip('x', 50*time.Millisecond) }()
		go func() { defer wg.Done(); b.drip('x', 50*time.Millisecond) }()
	}

	if code, m := call(t, "GET", base+"/api/v1/jwt/token/kyc"); code != 200 || m["accessToken"] == nil {
		t.Fatalf("a normal client meanwhile: %d %v", code, m)
	}

	deadline := start.Add(readTimeout + 3*time.Second)
	for i, c := range slowBodies {
		got, closed := c.closedBy(deadline)
		if !closed {
			t.Errorf("slow body %d: still open after %s", i, time.Since(start))
		}
		if !strings.HasPrefix(got, "HTTP/1.1 413 ") || !strings.Contains(got, `"error":"request_body_not_allowed"`) {
			t.Errorf("slow body %d: answered %q", i, got)
		}
	}
	for i, c := range slowHeaders {
		if _, closed := c.closedBy(deadline); !closed {
			t.Errorf("slow headers %d: still open after %s", i, time.Since(start))
		}
	}
	wg.Wait()
}

var managementRE = regexp.MustCompile(`msg="jwtcache serving" .*managementAddr=\S*:(\d+)`)

// TestBinaryConnectionCapAndManagementPort: with SERVER_MAX_CONNECTIONS
// connections held open, a new one is not served until one of them closes
// (and then is), while the management port keeps answering the probes,
// health and metrics; it does not serve the token API.
func TestBinaryConnectionCapAndManagementPort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const maxConns = 3
	ts := startGatedTokenService(t)
	p, base := serve(t, opsEnv(ts, "SERVER_MAX_CONNECTIONS=3", "MANAGEMENT_PORT=0"))
	mgmt := "http://127.0.0.1:" + p.waitFor(managementRE)
	if mgmt == base {
		t.Fatalf("management on the API port %s", base)
	}

	var held []*rawConn
	for i := range maxConns {
		c := dialRaw(t, base)
		if resp, _, err := c.get("/livez", 10*time.Second); err != nil || resp.StatusCode != 200 {
			t.Fatalf("connection %d within the cap: %v %v", i, resp, err)
		}
		held = append(held, c) // idle keep-alive: holds its slot
	}
	over := dialRaw(t, base)
	if resp, _, err := over.get("/api/v1/jwt/token/kyc", 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a connection over the cap was served: %v %v", resp, err)
	}

	for _, path := range []string{"/livez", "/readyz", "/api/v1/jwt/health", "/metrics"} {
		if r := fetch(t, "GET", mgmt, path); r.status != 200 {
			t.Errorf("management %s while the API port is full: %d %s", path, r.status, r.body)
		}
	}
	if r := fetch(t, "GET", mgmt, "/api/v1/jwt/token/kyc"); r.status != 404 || !strings.Contains(string(r.body), `"error":"not_found"`) {
		t.Errorf("management port serves the token API: %d %s", r.status, r.body)
	}

	held[0].Close()
	_ = over.SetDeadline(time.Now().Add(10 * time.Second))
	resp, body, err := over.read() // the request written above
	if err != nil || resp.StatusCode != 200 || !strings.Contains(body, `"accessToken"`) {
		t.Fatalf("once a connection closed: %v %v", resp, err)
	}
}
