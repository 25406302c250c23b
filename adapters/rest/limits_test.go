package rest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// startLimited starts a Server over the fake cache with limits.
func startLimited(t *testing.T, l Limits) *Server {
	t.Helper()
	s := NewServer("127.0.0.1:0", NewHandler(&fakeService{}, Options{Logger: discardLogger, Clock: fixedClock{testNow}}), discardLogger)
	s.SetLimits(l)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s
}

// dial opens a raw connection, closed at the end of the test.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes a raw request on c and reads the answer, within d.
func roundTrip(c net.Conn, r *bufio.Reader, raw string, d time.Duration) (*http.Response, string, error) {
	_ = c.SetDeadline(time.Now().Add(d))
	if _, err := io.WriteString(c, raw); err != nil {
		return nil, "", err
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return nil, "", err
	}
	// A server that closes a connection with unread input resets it,
	// which may cut the body short: the status line is what counts then.
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body), err
}

// closedWithin reads c until the server closes it, failing the test if
// that takes longer than d. What the server sent before is ignored.
func closedWithin(t *testing.T, c net.Conn, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(d))
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server kept the connection open for more than %s", d)
	}
	return time.Since(start)
}

const getLivez = "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n"

func TestServerDefaultLimits(t *testing.T) {
	s := startLimited(t, Limits{})
	got := s.srv
	if got.ReadTimeout != 10*time.Second || got.WriteTimeout != 60*time.Second ||
		got.IdleTimeout != 2*time.Minute || got.MaxHeaderBytes != 64<<10 {
		t.Errorf("read %s, write %s, idle %s, header bytes %d; want 10s, 1m, 2m, 65536",
			got.ReadTimeout, got.WriteTimeout, got.IdleTimeout, got.MaxHeaderBytes)
	}
	if n := cap(s.ln.(*limitListener).slots); n != DefaultMaxConnections() {
		t.Errorf("connection cap %d, want %d", n, DefaultMaxConnections())
	}
}

func TestDefaultMaxConnections(t *testing.T) {
	n := DefaultMaxConnections()
	if n < 1 || n > MaxConnectionsCeiling {
		t.Fatalf("DefaultMaxConnections() = %d, want 1..%d", n, MaxConnectionsCeiling)
	}
	if nofile, ok := openFileLimit(); ok && uint64(n) > nofile/2 && n > 1 {
		t.Errorf("DefaultMaxConnections() = %d, more than half the open-file limit %d", n, nofile)
	}
}

// TestServerClosesSlowHeaders: a client that drips its headers is cut off
// at ReadTimeout, while another client is answered meanwhile.
func TestServerClosesSlowHeaders(t *testing.T) {
	const timeout = 300 * time.Millisecond
	s := startLimited(t, Limits{ReadTimeout: timeout})
	slow := dial(t, s.Addr())
	if _, err := io.WriteString(slow, "GET /livez HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	dripped := make(chan struct{})
	go func() { // one header byte every 20ms until the server hangs up
		defer close(dripped)
		for i := 0; i < 500; i++ {
			if _, err := slow.Write([]byte("X")); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()

	normal := dial(t, s.Addr())
	resp, body, err := roundTrip(normal, bufio.NewReader(normal), getLivez, 5*time.Second)
	if err != nil || resp.StatusCode != 200 || !strings.Contains(body, `"status":"UP"`) {
		t.Fatalf("normal client meanwhile: %v %v %q", resp, err, body)
	}

	if d := closedWithin(t, slow, timeout+3*time.Second); d > timeout+3*time.Second {
		t.Fatalf("closed after %s", d)
	}
	<-dripped
}

func TestServerMaxHeaderBytes(t *testing.T) {
	s := startLimited(t, Limits{})
	c := dial(t, s.Addr())
	// net/http allows 4 KiB over MaxHeaderBytes before it answers 431.
	big := "GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", DefaultMaxHeaderBytes+8<<10) + "\r\n\r\n"
	resp, _, err := roundTrip(c, bufio.NewReader(c), big, 5*time.Second)
	if resp != nil {
		err = nil // the body may be lost to the reset (see roundTrip)
	}
	if err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("%d KiB of headers: %v %v, want 431", len(big)>>10, resp, err)
	}
	c = dial(t, s.Addr())
	fits := "GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", DefaultMaxHeaderBytes-1<<10) + "\r\n\r\n"
	if resp, _, err := roundTrip(c, bufio.NewReader(c), fits, 5*time.Second); err != nil || resp.StatusCode != 200 {
		t.Fatalf("headers under the limit: %v %v", resp, err)
	}
}

// TestServerConnectionCap: with MaxConnections open, a new connection is
// not served until one of them closes; then it is.
func TestServerConnectionCap(t *testing.T) {
	s := startLimited(t, Limits{MaxConnections: 2})
	var held []net.Conn
	for range 2 {
		c := dial(t, s.Addr())
		if resp, _, err := roundTrip(c, bufio.NewReader(c), getLivez, 5*time.Second); err != nil || resp.StatusCode != 200 {
			t.Fatalf("connection within the cap: %v %v", resp, err)
		}
		held = append(held, c) // kept alive, idle: it holds its slot
	}

	third := dial(t, s.Addr()) // the kernel completes the handshake; nobody accepts
	r := bufio.NewReader(third)
	if resp, _, err := roundTrip(third, r, getLivez, 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a connection over the cap was served: %v %v", resp, err)
	}
	held[0].Close()
	_ = third.SetDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(r, nil) // the request written above
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("once a slot was free: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestLimitListenerCloseEndsWaitingAccept: stopping a full server does not
// hang in Accept.
func TestLimitListenerCloseEndsWaitingAccept(t *testing.T) {
	s := startLimited(t, Limits{MaxConnections: 1})
	c := dial(t, s.Addr())
	if resp, _, err := roundTrip(c, bufio.NewReader(c), getLivez, 5*time.Second); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	// Serve now waits in Accept for the idle connection's slot.
	done := make(chan struct{})
	go func() { _ = s.Stop(context.Background()); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop hangs")
	}
}
