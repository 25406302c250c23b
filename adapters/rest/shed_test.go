package rest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// stallHeaders opens a connection and sends half a request's headers, as
// a slowloris client does, so that it holds a slot without a request in
// progress.
func stallHeaders(t *testing.T, addr string) net.Conn {
	t.Helper()
	c := dial(t, addr)
	if _, err := io.WriteString(c, "GET /livez HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	return c
}

// stillOpen reports whether the server has kept c open for d more.
func stillOpen(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// TestShedIdleServesProbesWhenFull: with ShedIdle, connections that hold
// their slots without a request in progress (half-sent headers, idle
// keep-alive) cannot keep a new client out: each new connection closes
// the one that has waited longest.
func TestShedIdleServesProbesWhenFull(t *testing.T) {
	s := startLimited(t, Limits{MaxConnections: 2, ShedIdle: true})
	oldest := stallHeaders(t, s.Addr())
	if !stillOpen(oldest, 100*time.Millisecond) { // accepted before the next
		t.Fatal("a stalled connection under the cap was closed")
	}
	newer := stallHeaders(t, s.Addr())

	probe := dial(t, s.Addr())
	if resp, _, err := roundTrip(probe, bufio.NewReader(probe), getLivez, 2*time.Second); err != nil || resp.StatusCode != 200 {
		t.Fatalf("a probe with the cap held by stalled clients: %v %v", resp, err)
	}
	closedWithin(t, oldest, 2*time.Second)
	if !stillOpen(newer, 200*time.Millisecond) {
		t.Fatal("the newer stalled connection was closed before the oldest had to be")
	}

	// The probe's connection, idle now, came after the newer stalled one:
	// the next client closes the stalled one, not the probe's.
	next := dial(t, s.Addr())
	if resp, _, err := roundTrip(next, bufio.NewReader(next), getLivez, 2*time.Second); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the next probe: %v %v", resp, err)
	}
	closedWithin(t, newer, 2*time.Second)
	if resp, _, err := roundTrip(probe, bufio.NewReader(probe), getLivez, 2*time.Second); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the first probe's keep-alive connection: %v %v", resp, err)
	}
}

// TestShedIdleNeverCutsARequestInProgress: a connection whose request is
// being answered is not closed to make room; the new one waits for it.
func TestShedIdleNeverCutsARequestInProgress(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		_, _ = io.WriteString(w, "ok")
	})
	s := NewServer("127.0.0.1:0", h, discardLogger)
	s.SetLimits(Limits{MaxConnections: 1, ShedIdle: true})
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })

	busy := dial(t, s.Addr())
	busyR := bufio.NewReader(busy)
	if _, err := io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	<-entered
	waiting := dial(t, s.Addr())
	waitingR := bufio.NewReader(waiting)
	if resp, _, err := roundTrip(waiting, waitingR, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n", 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a connection over the cap was served while the only slot answered a request: %v %v", resp, err)
	}
	close(release)
	_ = busy.SetDeadline(time.Now().Add(5 * time.Second))
	if resp, err := http.ReadResponse(busyR, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the request in progress: %v %v", resp, err)
	}
	// Its connection is idle now: the waiting one takes its place.
	_ = waiting.SetDeadline(time.Now().Add(5 * time.Second))
	if resp, err := http.ReadResponse(waitingR, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the waiting connection once the other went idle: %v %v", resp, err)
	}
}

// TestServerReadHeaderTimeout: a client that drips its headers is cut at
// ReadHeaderTimeout, long before ReadTimeout.
func TestServerReadHeaderTimeout(t *testing.T) {
	const headerTimeout = 300 * time.Millisecond
	s := startLimited(t, Limits{ReadTimeout: time.Minute, ReadHeaderTimeout: headerTimeout})
	if s.srv.ReadHeaderTimeout != headerTimeout || s.srv.ReadTimeout != time.Minute {
		t.Fatalf("read header timeout %s, read timeout %s", s.srv.ReadHeaderTimeout, s.srv.ReadTimeout)
	}
	slow := stallHeaders(t, s.Addr())
	go func() {
		for range 100 {
			if _, err := slow.Write([]byte("X")); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	if d := closedWithin(t, slow, headerTimeout+2*time.Second); d < headerTimeout/2 {
		t.Fatalf("closed after %s, before the timeout", d)
	}
}

// TestManagementLimits: the management listener sheds idle connections,
// cuts slow headers sooner than a request's whole read, and has room for
// many probes and scrapes.
func TestManagementLimits(t *testing.T) {
	l := ManagementLimits
	if !l.ShedIdle {
		t.Error("the management listener does not shed idle connections")
	}
	if l.ReadHeaderTimeout != ManagementReadHeaderTimeout || l.ReadHeaderTimeout <= 0 || l.ReadHeaderTimeout >= l.ReadTimeout {
		t.Errorf("read header timeout %s, read timeout %s", l.ReadHeaderTimeout, l.ReadTimeout)
	}
	if l.MaxConnections != DefaultManagementMaxConnections {
		t.Errorf("max connections %d, want %d", l.MaxConnections, DefaultManagementMaxConnections)
	}
}
