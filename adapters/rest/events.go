package rest

import (
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/jwtcache/jwtcache/adapters/rest/restapi"
	"github.com/jwtcache/jwtcache/app"
)

// EventsPath is where, under BasePath, the event feed is served as
// server-sent events (text/event-stream).
const EventsPath = "/events"

// Defaults of EventStreamOptions.
const (
	// DefaultMaxEventStreams is how many event streams may be open at
	// once; each holds a connection and a subscriber queue.
	DefaultMaxEventStreams = 32
	// DefaultEventKeepAlive is how often an idle stream sends a comment,
	// so that proxies and browsers see the connection is alive.
	DefaultEventKeepAlive = 15 * time.Second
	// DefaultEventWriteTimeout bounds each write to a stream. It replaces
	// the server's write timeout for the stream, which would otherwise cut
	// every stream at the same age.
	DefaultEventWriteTimeout = 10 * time.Second
)

// eventRetry is the reconnection delay the stream suggests to
// EventSource clients.
const eventRetry = 3 * time.Second

// EventStreamOptions bounds GET /events. Every field is optional.
type EventStreamOptions struct {
	// MaxStreams is how many streams may be open at once; more are
	// answered 503 too_many_streams. Default: DefaultMaxEventStreams.
	MaxStreams int
	// KeepAlive is the period of the keep-alive comment. Default:
	// DefaultEventKeepAlive.
	KeepAlive time.Duration
	// WriteTimeout bounds each write. Default: DefaultEventWriteTimeout.
	WriteTimeout time.Duration
}

func (o EventStreamOptions) withDefaults() EventStreamOptions {
	if o.MaxStreams <= 0 {
		o.MaxStreams = DefaultMaxEventStreams
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = DefaultEventKeepAlive
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultEventWriteTimeout
	}
	return o
}

// EventSource is implemented by a Cache that reports what happens to its
// tokens (*app.Cache does); NewHandler serves its feed at EventsPath.
type EventSource interface {
	Events() *app.EventFeed
}

// eventStreams is the state of GET /events.
type eventStreams struct {
	opts EventStreamOptions
	feed *app.EventFeed // nil when the Cache is no EventSource
	open atomic.Int64
}

func newEventStreams(svc Cache, opts EventStreamOptions) *eventStreams {
	s := &eventStreams{opts: opts.withDefaults()}
	if es, ok := svc.(EventSource); ok {
		s.feed = es.Events()
	}
	return s
}

// events is GET /events: the kept events after Last-Event-ID (all of them
// without one), then each new event as it happens, until the client goes
// away or the server starts shutting down. Each event is one "data:" line
// of JSON with its id; a gap in the ids means events were dropped for
// this client because it read too slowly.
func (a *api) events(c *gin.Context) {
	es := a.streams
	if es.feed == nil {
		a.writeError(c, "", apiError{status: http.StatusNotFound, code: restapi.CodeNotFound,
			message: "this cache reports no events"})
		return
	}
	var after uint64
	if v := c.GetHeader("Last-Event-ID"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			a.writeError(c, "", apiError{status: http.StatusBadRequest, code: restapi.CodeInvalidParameter,
				message: "Last-Event-ID must be an event id"})
			return
		}
		after = n
	}
	if es.open.Add(1) > int64(es.opts.MaxStreams) {
		es.open.Add(-1)
		c.Writer.Header().Set("Retry-After", retryAfterValue(eventRetry))
		a.writeError(c, "", apiError{status: http.StatusServiceUnavailable, code: restapi.CodeTooManyStreams,
			message: "too many event streams are open; try again later"})
		return
	}
	defer es.open.Add(-1)

	sub := es.feed.Subscribe(after)
	defer sub.Close()
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h["Cache-Control"] = noStore
	h.Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	c.Writer.WriteHeader(http.StatusOK)

	out := &sseWriter{rw: c.Writer, rc: http.NewResponseController(c.Writer), timeout: es.opts.WriteTimeout}
	out.buf = append(out.buf, "retry: "...)
	out.buf = strconv.AppendInt(out.buf, eventRetry.Milliseconds(), 10)
	out.buf = append(out.buf, "\n\n"...)
	for _, e := range sub.Backlog() {
		out.event(e)
	}
	if out.flush() != nil {
		return
	}
	var drained <-chan struct{} // nil: never
	if a.ready != nil {
		drained = a.ready.Drained()
	}
	ctx := c.Request.Context()
	keepAlive := time.NewTicker(es.opts.KeepAlive)
	defer keepAlive.Stop()
	for {
		select {
		case e, open := <-sub.C():
			if !open {
				return
			}
			out.event(e)
		case <-keepAlive.C:
			out.buf = append(out.buf, ": keep-alive\n\n"...)
		case <-ctx.Done():
			return
		case <-drained:
			return // shutting down: the client reconnects to another replica
		}
		if out.flush() != nil {
			return
		}
	}
}

// sseWriter writes server-sent events, extending the connection's write
// deadline for each write.
type sseWriter struct {
	rw      http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	buf     []byte
}

// event appends e as one event: its id and its JSON.
func (s *sseWriter) event(e app.Event) {
	s.buf = append(s.buf, "id: "...)
	s.buf = strconv.AppendUint(s.buf, e.ID, 10)
	s.buf = append(s.buf, "\ndata: "...)
	s.buf = append(s.buf, encodeEvent(e)...)
	s.buf = append(s.buf, "\n\n"...)
}

// flush writes what event appended. The deadline is real time: it
// belongs to the connection, not to the cache's clock.
func (s *sseWriter) flush() error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(s.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	_, err := s.rw.Write(s.buf)
	s.buf = s.buf[:0]
	if err != nil {
		return err
	}
	if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// encodeEvent is e as the feed's JSON object; it never holds a token.
func encodeEvent(e app.Event) []byte {
	w := getWriter()
	defer putWriter(w)
	w.open()
	w.uint("id", e.ID)
	w.str("type", string(e.Type))
	w.str("serviceName", e.Service)
	w.time("at", e.At)
	if !e.ExpiresAt.IsZero() {
		w.time("expiresAt", e.ExpiresAt)
	}
	if e.Failure != "" {
		w.str("failure", e.Failure)
	}
	if e.TokenServiceError != "" {
		w.str("tokenServiceError", restapi.Clip(e.TokenServiceError))
	}
	if e.Failures > 0 {
		w.int("consecutiveFailures", int64(e.Failures))
	}
	w.close()
	return append([]byte(nil), w.b...)
}
