package rest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server runs an http.Handler on a TCP address with a start/stop life
// cycle that fits fx hooks: Start listens synchronously, so that a port
// already in use fails start-up, and serves in the background; Stop shuts
// down gracefully.
type Server struct {
	addr   string
	srv    *http.Server
	logger *slog.Logger

	mu sync.Mutex
	// ln is the listener once Start succeeded; nil before.
	ln net.Listener
	// served is closed when Serve has returned; nil before Start.
	served chan struct{}
	// ready, when not nil, is drained at the start of Stop, which then
	// keeps serving for drainDelay.
	ready      *Readiness
	drainDelay time.Duration
	// limits are applied to srv and the listener by Start.
	limits Limits
}

// NewServer returns a Server for h on addr (host:port; port 0 picks a free
// one, see Addr), with the default Limits. A nil logger means
// slog.Default().
func NewServer(addr string, h http.Handler, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	return &Server{
		addr:   addr,
		logger: logger,
		srv: &http.Server{
			Handler: h,
			// net/http's own complaints (TLS handshakes, bad requests) go to
			// slog like everything else.
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		},
	}
}

// SetLimits replaces the default Limits; zero fields keep their defaults.
// Call it before Start.
func (s *Server) SetLimits(l Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = l
}

// Start listens on the address and serves in a new goroutine. It returns
// the listen error, if any; it is an error to start a Server twice.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.served != nil {
		return errors.New("rest: server already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("rest: listen on %s: %w", s.addr, err)
	}
	l := s.limits.withDefaults()
	// A zero ReadHeaderTimeout leaves ReadTimeout bounding the headers too.
	s.srv.ReadTimeout = l.ReadTimeout
	s.srv.ReadHeaderTimeout = l.ReadHeaderTimeout
	s.srv.WriteTimeout = l.WriteTimeout
	s.srv.IdleTimeout = l.IdleTimeout
	s.srv.MaxHeaderBytes = l.MaxHeaderBytes
	limited := newLimitListener(ln, l.MaxConnections, l.ShedIdle, s.logger)
	if l.ShedIdle {
		s.srv.ConnState = limited.connState
	}
	ln = limited
	s.ln = ln
	s.served = make(chan struct{})
	s.logger.InfoContext(ctx, "rest: serving", "addr", ln.Addr().String(),
		"readTimeout", l.ReadTimeout, "writeTimeout", l.WriteTimeout, "idleTimeout", l.IdleTimeout,
		"readHeaderTimeout", l.ReadHeaderTimeout,
		"maxHeaderBytes", l.MaxHeaderBytes, "maxConnections", l.MaxConnections, "shedIdle", l.ShedIdle)
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("rest: server stopped", "addr", ln.Addr().String(), "error", err.Error())
		}
	}()
	return nil
}

// DrainFirst makes Stop begin by draining r, so that GET /readyz answers
// 503, and keep serving for delay before it stops accepting connections:
// the time load balancers and Kubernetes need to take the replica out of
// rotation, so that no request is sent to a closed port. The delay is cut
// short when Stop's context ends. Call it before Start.
func (s *Server) DrainFirst(r *Readiness, delay time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready, s.drainDelay = r, max(delay, 0)
}

// Stop stops accepting connections and waits, until ctx ends, for the
// requests in flight; then it closes whatever connections remain. With
// DrainFirst, readiness goes to 503 before any of that. Stopping a Server
// that never started does nothing.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	served, ready, delay := s.served, s.ready, s.drainDelay
	s.mu.Unlock()
	if served == nil {
		return nil
	}
	if ready != nil {
		ready.Drain()
		s.logger.InfoContext(ctx, "rest: draining: /readyz answers 503", "delay", delay)
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		// The grace period is over: drop the stragglers rather than leak
		// them past the application's stop.
		_ = s.srv.Close() // its only error would be the listener's, already closed
		err = fmt.Errorf("rest: shutdown: %w", err)
	}
	<-served
	return err
}

// Addr is the address the Server listens on, with the actual port when it
// was started on port 0; before Start, the configured address.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.addr
}
