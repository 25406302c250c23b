package transport_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/devissuer"
	"github.com/jwtcache/jwtcache/adapters/memory"
	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/adapters/transport"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
)

// The core is a Source as it is, with the allocation-free path.
var (
	_ transport.Source       = (*app.Cache)(nil)
	_ transport.BearerSource = (*app.Cache)(nil)
)

var discard = slog.New(slog.DiscardHandler)

// fakeSource hands out "tok-1", and "tok-<n+1>" after n refreshes. It has
// no BearerToken, so the Transport goes through Token.
type fakeSource struct {
	tokenCalls, refreshCalls atomic.Int32
	gen                      atomic.Int32
	tokenErr, refreshErr     error
}

func (f *fakeSource) current() string { return "tok-" + strconv.Itoa(int(f.gen.Load())+1) }

func (f *fakeSource) tok() domain.Token {
	now := time.Now()
	return domain.Token{AccessToken: f.current(), TokenType: "bearer", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
}

func (f *fakeSource) Token(context.Context, string) (domain.Token, error) {
	f.tokenCalls.Add(1)
	if f.tokenErr != nil {
		return domain.Token{}, f.tokenErr
	}
	return f.tok(), nil
}

func (f *fakeSource) Refresh(context.Context, string) (domain.Token, error) {
	f.refreshCalls.Add(1)
	if f.refreshErr != nil {
		return domain.Token{}, f.refreshErr
	}
	f.gen.Add(1)
	return f.tok(), nil
}

// seen is one request as the downstream server received it.
type seen struct {
	auth, body string
	hasAuth    bool
}

// downstream records what it receives and answers with reply's status.
type downstream struct {
	*httptest.Server
	mu    sync.Mutex
	seen  []seen
	reply func(n int, r *http.Request) int // n counts from 1
}

func newDownstream(t *testing.T, reply func(n int, r *http.Request) int) *downstream {
	t.Helper()
	d := &downstream{reply: reply}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, has := r.Header["Authorization"]
		d.mu.Lock()
		d.seen = append(d.seen, seen{auth: r.Header.Get("Authorization"), body: string(body), hasAuth: has})
		n := len(d.seen)
		d.mu.Unlock()
		status := http.StatusOK
		if d.reply != nil {
			status = d.reply(n, r)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "answer "+strconv.Itoa(n))
	}))
	t.Cleanup(d.Close)
	return d
}

func (d *downstream) requests() []seen {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]seen(nil), d.seen...)
}

// unauthorizedUnless answers 401 unless the request carries want.
func unauthorizedUnless(want string) func(int, *http.Request) int {
	return func(_ int, r *http.Request) int {
		if r.Header.Get("Authorization") == want {
			return http.StatusOK
		}
		return http.StatusUnauthorized
	}
}

// closeRecorder is a request body that remembers being closed.
type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeRecorder) Close() error { c.closed.Store(true); return nil }

// logBuffer is a debug-level slog destination safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// stack is a real token cache: the core over the memory store, getting
// ES256 JWTs from a development token service on loopback.
type stack struct {
	svc    *app.Cache
	issuer *devissuer.Server
}

func newStack(tb testing.TB) stack {
	tb.Helper()
	secret := devissuer.GenerateSecret()
	iss, err := devissuer.New(devissuer.Options{ClientID: "jwtcache", ClientSecret: secret, Logger: discard})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	tokenURL, err := iss.ListenAndServe(ctx, "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = iss.Close(context.Background()) })
	issuer, err := tokenservice.New(tokenservice.Options{URL: tokenURL, ClientID: "jwtcache", ClientSecret: secret, Scope: "api.read"})
	if err != nil {
		tb.Fatal(err)
	}
	store := memory.New(nil)
	svc, err := app.New(app.Options{Issuer: issuer, Store: store, Locker: store, Logger: discard})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = svc.Close() })
	return stack{svc: svc, issuer: iss}
}

var errTokenService = errors.New("token service down")
