package rest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/redisstore/redistest"
	"github.com/jwtcache/jwtcache/adapters/rest/restapi"
	"github.com/jwtcache/jwtcache/app"
)

// sseClient reads one event stream.
type sseClient struct {
	t      *testing.T
	resp   *http.Response
	r      *bufio.Reader
	cancel context.CancelFunc
}

// openStream opens GET /events at base; headers are name, value pairs.
func openStream(t *testing.T, base string, headers ...string) (*sseClient, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+BasePath+EventsPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := noReuse.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c := &sseClient{t: t, resp: resp, r: bufio.NewReader(resp.Body), cancel: cancel}
	t.Cleanup(c.close)
	return c, resp
}

func (c *sseClient) close() {
	c.cancel()
	_ = c.resp.Body.Close()
}

// next returns the next block of the stream (the lines up to a blank
// one), failing the test after timeout.
func (c *sseClient) next(timeout time.Duration) ([]string, error) {
	type result struct {
		lines []string
		err   error
	}
	done := make(chan result, 1)
	go func() {
		var lines []string
		for {
			line, err := c.r.ReadString('\n')
			if err != nil {
				done <- result{lines, err}
				return
			}
			line = strings.TrimSuffix(line, "\n")
			if line == "" {
				done <- result{lines, nil}
				return
			}
			lines = append(lines, line)
		}
	}()
	select {
	case r := <-done:
		return r.lines, r.err
	case <-time.After(timeout):
		c.t.Fatalf("no event within %v", timeout)
		return nil, nil
	}
}

// nextEvent skips comments and the retry line and decodes the next event.
func (c *sseClient) nextEvent(timeout time.Duration) (id string, data map[string]any) {
	c.t.Helper()
	for {
		lines, err := c.next(timeout)
		if err != nil {
			c.t.Fatalf("stream ended: %v (%q)", err, lines)
		}
		for _, l := range lines {
			switch {
			case strings.HasPrefix(l, "id: "):
				id = strings.TrimPrefix(l, "id: ")
			case strings.HasPrefix(l, "data: "):
				if err := json.Unmarshal([]byte(strings.TrimPrefix(l, "data: ")), &data); err != nil {
					c.t.Fatalf("data is not JSON: %q", l)
				}
			}
		}
		if data != nil {
			return id, data
		}
	}
}

func eventServer(t *testing.T, svc *fakeService, opts Options) *httptest.Server {
	t.Helper()
	opts.Logger = discardLogger
	srv := httptest.NewServer(NewHandler(svc, opts))
	t.Cleanup(srv.Close)
	return srv
}

func TestEventStream(t *testing.T) {
	feed := app.NewEventFeed(8, 8)
	exp := testNow.Add(time.Hour)
	feed.Publish(app.Event{Type: app.EventObtained, Service: "kyc", At: testNow, ExpiresAt: exp})
	feed.Publish(app.Event{Type: app.EventRenewalFailed, Service: "kyc", At: testNow, Failure: "rejected",
		TokenServiceError: "invalid_client", Failures: 2})
	srv := eventServer(t, &fakeService{feed: feed}, Options{})

	c, resp := openStream(t, srv.URL)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" ||
		resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("answer: %d %v", resp.StatusCode, resp.Header)
	}
	first, err := c.next(time.Second)
	if err != nil || len(first) != 1 || first[0] != "retry: 3000" {
		t.Fatalf("first block %q %v, want the retry delay", first, err)
	}
	id, e := c.nextEvent(5 * time.Second)
	want := map[string]any{"id": 1.0, "type": "obtained", "serviceName": "kyc", "at": "2024-01-15T10:30:00Z", "expiresAt": "2024-01-15T11:30:00Z"}
	if id != "1" || !sameJSON(e, want) {
		t.Fatalf("event %s %v, want %v", id, e, want)
	}
	id, e = c.nextEvent(5 * time.Second)
	want = map[string]any{"id": 2.0, "type": "renewal_failed", "serviceName": "kyc", "at": "2024-01-15T10:30:00Z",
		"failure": "rejected", "tokenServiceError": "invalid_client", "consecutiveFailures": 2.0}
	if id != "2" || !sameJSON(e, want) {
		t.Fatalf("event %s %v, want %v", id, e, want)
	}
	// Live: published after the client connected.
	feed.Publish(app.Event{Type: app.EventEvicted, Service: "ledger", At: testNow})
	if id, e = c.nextEvent(5 * time.Second); id != "3" || e["type"] != "evicted" || e["serviceName"] != "ledger" {
		t.Fatalf("live event %s %v", id, e)
	}

	// Resuming after id 2 replays only what came after it.
	c2, _ := openStream(t, srv.URL, "Last-Event-ID", "2")
	if id, _ := c2.nextEvent(5 * time.Second); id != "3" {
		t.Fatalf("resumed at %s, want 3", id)
	}
}

func sameJSON(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestEventStreamRefusals(t *testing.T) {
	h, _ := newTestHandler(&fakeService{}) // no feed
	rec, body := do(t, h, http.MethodGet, BasePath+EventsPath)
	if rec.Code != http.StatusNotFound || body["error"] != restapi.CodeNotFound {
		t.Fatalf("without a feed: %d %s", rec.Code, rec.Body)
	}
	h, _ = newTestHandler(&fakeService{feed: app.NewEventFeed(1, 1)})
	req := httptest.NewRequest(http.MethodGet, BasePath+EventsPath, nil)
	req.Header.Set("Last-Event-ID", "seven")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"error":"invalid_parameter"`) {
		t.Fatalf("bad Last-Event-ID: %d %s", rec.Code, rec.Body)
	}
}

// TestEventStreamLimit: streams beyond MaxStreams are refused with 503
// and Retry-After, and a closed stream frees its place.
func TestEventStreamLimit(t *testing.T) {
	feed := app.NewEventFeed(4, 4)
	srv := eventServer(t, &fakeService{feed: feed}, Options{EventStream: EventStreamOptions{MaxStreams: 2}})
	a, _ := openStream(t, srv.URL)
	b, _ := openStream(t, srv.URL)
	for _, c := range []*sseClient{a, b} {
		if _, err := c.next(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	_, resp := openStream(t, srv.URL)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "3" ||
		!strings.Contains(string(body), `"error":"too_many_streams"`) {
		t.Fatalf("third stream: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	a.close()
	redistest.WaitFor(t, 5*time.Second, "the closed stream to unsubscribe", func(context.Context) bool {
		return feed.Subscribers() == 1
	})
	if _, resp := openStream(t, srv.URL); resp.StatusCode != http.StatusOK {
		t.Fatalf("after one closed: %d", resp.StatusCode)
	}
}

func TestEventStreamDefaults(t *testing.T) {
	o := EventStreamOptions{}.withDefaults()
	if o.MaxStreams != DefaultMaxEventStreams || o.KeepAlive != DefaultEventKeepAlive || o.WriteTimeout != DefaultEventWriteTimeout {
		t.Fatalf("defaults: %+v", o)
	}
}

// TestEventStreamOutlivesWriteTimeout: a server write timeout shorter
// than the stream's life does not cut it, since every write extends the
// deadline; idle, it sends keep-alive comments.
func TestEventStreamOutlivesWriteTimeout(t *testing.T) {
	const writeTimeout = 300 * time.Millisecond
	feed := app.NewEventFeed(4, 4)
	srv := httptest.NewUnstartedServer(NewHandler(&fakeService{feed: feed}, Options{Logger: discardLogger,
		EventStream: EventStreamOptions{KeepAlive: writeTimeout / 3, WriteTimeout: time.Second}}))
	srv.Config.WriteTimeout = writeTimeout
	srv.Start()
	t.Cleanup(srv.Close) // after the client's cleanup: Close waits for open streams
	c, _ := openStream(t, srv.URL)
	start := time.Now()
	keepAlives := 0
	for time.Since(start) < 4*writeTimeout {
		lines, err := c.next(5 * time.Second)
		if err != nil {
			t.Fatalf("stream cut after %v: %v", time.Since(start), err)
		}
		if len(lines) == 1 && lines[0] == ": keep-alive" {
			keepAlives++
		}
	}
	feed.Publish(app.Event{Type: app.EventRenewed, Service: "kyc", At: testNow})
	if _, e := c.nextEvent(5 * time.Second); e["type"] != "renewed" {
		t.Fatalf("after %v: %v", time.Since(start), e)
	}
	if keepAlives < 3 {
		t.Fatalf("%d keep-alives in %v", keepAlives, time.Since(start))
	}
}

// TestEventStreamEndsOnShutdown: stopping the server ends open streams
// at once instead of waiting for them until the stop deadline.
func TestEventStreamEndsOnShutdown(t *testing.T) {
	ready := &Readiness{}
	s := NewServer("127.0.0.1:0", NewHandler(&fakeService{feed: app.NewEventFeed(4, 4)},
		Options{Logger: discardLogger, Readiness: ready}), discardLogger)
	s.DrainFirst(ready, 0)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	c, _ := openStream(t, "http://"+s.Addr())
	if _, err := c.next(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Stop took %v with a stream open", d)
	}
	if _, err := c.next(5 * time.Second); !errors.Is(err, io.EOF) {
		t.Fatalf("stream after Stop: %v, want its end", err)
	}
}

// TestEventStreamEndsWhenFeedCloses: closing the cache's feed ends the
// streams.
func TestEventStreamEndsWhenFeedCloses(t *testing.T) {
	feed := app.NewEventFeed(4, 4)
	srv := eventServer(t, &fakeService{feed: feed}, Options{})
	c, _ := openStream(t, srv.URL)
	if _, err := c.next(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	feed.Close()
	if _, err := c.next(5 * time.Second); !errors.Is(err, io.EOF) {
		t.Fatalf("stream after the feed closed: %v", err)
	}
}

func TestEventStreamProtected(t *testing.T) {
	for _, protect := range []bool{false, true} {
		auth, err := NewAuth(AuthOptions{Keys: []APIKey{{Key: keyAll}}, ProtectStatus: protect, Logger: discardLogger})
		if err != nil {
			t.Fatal(err)
		}
		srv := eventServer(t, &fakeService{feed: app.NewEventFeed(4, 4)}, Options{Auth: auth})
		_, resp := openStream(t, srv.URL)
		if want := map[bool]int{false: 200, true: 401}[protect]; resp.StatusCode != want {
			t.Errorf("protectStatus=%v, no key: %d, want %d", protect, resp.StatusCode, want)
		}
		if _, resp := openStream(t, srv.URL, "X-API-Key", keyAll); resp.StatusCode != http.StatusOK {
			t.Errorf("protectStatus=%v, with a key: %d", protect, resp.StatusCode)
		}
	}
}
