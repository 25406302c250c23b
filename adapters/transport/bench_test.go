package transport_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/jwtcache/jwtcache/adapters/transport"
	"github.com/jwtcache/jwtcache/ports/clocktest"
)

// BenchmarkHit compares a cache hit with x/oauth2's cache of one token:
// the core's BearerToken against oauth2.ReuseTokenSource holding a valid
// token, and a Remote's kept token.
func BenchmarkHit(b *testing.B) {
	st := newStack(b)
	ctx := context.Background()
	if _, err := st.svc.BearerToken(ctx, "kyc"); err != nil {
		b.Fatal(err)
	}
	reuse := oauth2.ReuseTokenSource(nil, oauth2.StaticTokenSource(&oauth2.Token{
		AccessToken: "token", TokenType: "Bearer", Expiry: time.Now().Add(time.Hour),
	}))
	if _, err := reuse.Token(); err != nil {
		b.Fatal(err)
	}
	remote := newBenchRemote(b)
	if _, err := remote.BearerToken(ctx, "kyc"); err != nil {
		b.Fatal(err)
	}

	jwtcache := func() {
		if _, err := st.svc.BearerToken(ctx, "kyc"); err != nil {
			b.Fatal(err)
		}
	}
	oauth := func() {
		if _, err := reuse.Token(); err != nil {
			b.Fatal(err)
		}
	}
	kept := func() {
		if _, err := remote.BearerToken(ctx, "kyc"); err != nil {
			b.Fatal(err)
		}
	}
	for _, bm := range []struct {
		name string
		fn   func()
	}{
		{"jwtcache-BearerToken", jwtcache},
		{"oauth2-ReuseTokenSource", oauth},
		{"jwtcache-Remote-BearerToken", kept},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bm.fn()
			}
		})
		b.Run(bm.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					bm.fn()
				}
			})
		})
	}
}

func newBenchRemote(b *testing.B) *transport.Remote {
	b.Helper()
	clock := clocktest.NewFakeClock(time.Now())
	f := &fakeREST{clock: clock}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	b.Cleanup(f.Close)
	f.Start()
	// The Remote tells time by the system clock, as in production.
	r, err := transport.NewRemote(f.URL, transport.RemoteOptions{Logger: discard})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkRoundTrip is the cost of signing: a request to a loopback
// server through http.Transport alone, and through a Transport over the
// same http.Transport.
func BenchmarkRoundTrip(b *testing.B) {
	st := newStack(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	b.Cleanup(srv.Close)
	base := &http.Transport{MaxIdleConnsPerHost: 64}
	b.Cleanup(base.CloseIdleConnections)

	for _, bm := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"plain", base},
		{"jwtcache", &transport.Transport{Source: st.svc, Base: base, Hosts: loopback, Logger: discard}},
	} {
		c := &http.Client{Transport: bm.rt}
		get := func() {
			resp, err := c.Get(srv.URL)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatal(resp.Status)
			}
		}
		get() // the token is cached and a connection open before timing
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				get()
			}
		})
	}
}

func TestBearerTokenHitDoesNotAllocate(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	if _, err := st.svc.BearerToken(ctx, "kyc"); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = st.svc.BearerToken(ctx, "kyc") }); n != 0 {
		t.Fatalf("a BearerToken hit allocates %v times, want 0", n)
	}
}
