package devissuer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"
)

// shutdownGrace is how long a server stopped by its context gets to finish
// the requests in flight.
const shutdownGrace = 5 * time.Second

// ListenAndServe listens on addr (host:port; port 0 picks a free one),
// serves Handler in the background until ctx is done or Close is called,
// and returns the token endpoint's URL. It returns once the listener is
// open, so the URL can be used at once.
//
// An unspecified listen address (":8081", "0.0.0.0:0") is reported as the
// loopback address, which is where an in-process client should connect.
func (s *Server) ListenAndServe(ctx context.Context, addr string) (string, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("devissuer: listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	// Registered under mu, so that a ctx already done cannot shut srv down
	// (and forget it) before it is recorded.
	s.mu.Lock()
	s.servers[srv] = context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		_ = s.shutdown(sctx, srv)
	})
	s.mu.Unlock()

	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("devissuer: serve", "addr", ln.Addr().String(), "error", err)
		}
	}()
	u := "http://" + loopbackIfUnspecified(ln.Addr(), addr) + TokenPath
	s.log.Info("devissuer: listening", "token_url", u, "client_id", s.clientID)
	return u, nil
}

// Close stops every server ListenAndServe started, letting requests in
// flight finish until ctx is done, and waits for them to stop.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	srvs := make([]*http.Server, 0, len(s.servers))
	for srv, stop := range s.servers {
		stop()
		srvs = append(srvs, srv)
	}
	s.mu.Unlock()
	var errs []error
	for _, srv := range srvs {
		errs = append(errs, s.shutdown(ctx, srv))
	}
	s.serving.Wait()
	return errors.Join(errs...)
}

// shutdown stops srv gracefully, forcibly once ctx is done.
func (s *Server) shutdown(ctx context.Context, srv *http.Server) error {
	s.mu.Lock()
	delete(s.servers, srv)
	s.mu.Unlock()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("devissuer: shutdown: %w", err)
	}
	return nil
}

// loopbackIfUnspecified is a's host:port with an unspecified host replaced
// by loopback: 127.0.0.1, unless the caller asked for IPv6 ("[::]:port"),
// since a host-less address listens on both families.
func loopbackIfUnspecified(a net.Addr, requested string) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	ip := "127.0.0.1"
	if host, _, err := net.SplitHostPort(requested); err == nil && host == "::" {
		ip = "::1"
	}
	return net.JoinHostPort(ip, strconv.Itoa(tcp.Port))
}
