package embedded_test

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/redisstore"
	"github.com/jwtcache/jwtcache/adapters/redisstore/redistest"
	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
)

// Durations of the fleet rotation test: long enough for several renewals
// of its short tokens before and after the rotation, short for the suite.
const (
	rotationTokenLife = 2 * time.Second
	rotationBefore    = 1500 * time.Millisecond
	rotationAfter     = 2500 * time.Millisecond
)

// replicaHeader tells the test token service which replica is asking;
// seqHeader the order in which requests left their replicas. Requests of
// one replica for two services run concurrently and may arrive in either
// order, so the test orders them by departure, not by arrival.
const (
	replicaHeader = "X-Test-Replica"
	seqHeader     = "X-Test-Seq"
)

// departures numbers requests as they leave.
var departures atomic.Int64

type replicaTagger struct {
	n    int
	base http.RoundTripper
}

func (r replicaTagger) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set(replicaHeader, strconv.Itoa(r.n))
	req.Header.Set(seqHeader, strconv.FormatInt(departures.Add(1), 10))
	return r.base.RoundTrip(req)
}

// secretUse is one token request as the token service saw it.
type secretUse struct {
	replica int
	secret  string
	seq     int64
}

// TestFleetRotatesTheSecretWithoutErrors: three caches share the real
// Redis, each reading the client secret from a Kubernetes-style mounted
// secret (a ..data symlink swapped to a new directory). While callers keep
// asking every replica for tokens, and forcing refreshes, the secret is
// rotated in the mount and at the token service at the same instant, the
// token service accepting only the new one from then on. No caller sees an
// error, and no replica sends the old secret once it has sent the new one.
func TestFleetRotatesTheSecretWithoutErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a fleet against Redis for seconds")
	}
	addr := redistest.RequireShared(t)
	prefix := redistest.Prefix()

	var mu sync.Mutex
	accepted := "secret-generation-one"
	var uses []secretUse
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, sec, _ := r.BasicAuth()
		sec, _ = url.QueryUnescape(sec)
		replica, _ := strconv.Atoi(r.Header.Get(replicaHeader))
		seq, _ := strconv.ParseInt(r.Header.Get(seqHeader), 10, 64)
		mu.Lock()
		uses = append(uses, secretUse{replica, sec, seq})
		ok := sec == accepted
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		_, _ = fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":%d}`, n.Add(1), int(rotationTokenLife/time.Second))
	}))
	t.Cleanup(srv.Close)

	// The mounted secret: client-secret -> ..data/client-secret,
	// ..data -> ..<generation>.
	mount := t.TempDir()
	generation := func(name, secret string) {
		t.Helper()
		dir := filepath.Join(mount, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "client-secret"), []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(mount, "..data_tmp")
		if err := os.Symlink(name, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(mount, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	generation("..2025_03_01_12_00_00.1", "secret-generation-one")
	secretFile := filepath.Join(mount, "client-secret")
	if err := os.Symlink(filepath.Join("..data", "client-secret"), secretFile); err != nil {
		t.Fatal(err)
	}

	logger := slog.New(slog.DiscardHandler)
	var replicas []*app.Cache
	for i := range 3 {
		iss, err := tokenservice.New(tokenservice.Options{
			URL: srv.URL + "/oauth/token", ClientID: "fleet", ClientSecretFile: secretFile,
			HTTPClient: &http.Client{Transport: replicaTagger{n: i, base: http.DefaultTransport}},
			Reach:      tokenservice.Reach{Logger: logger},
		})
		if err != nil {
			t.Fatal(err)
		}
		st, err := redisstore.New(redisstore.Options{Addrs: []string{addr}, KeyPrefix: prefix, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		policy := domain.RenewalPolicy{Buffer: domain.DefaultRenewalBuffer}
		svc, err := app.New(app.Options{Issuer: iss, Store: st, Locker: st, Feed: st, Pinger: st, Policy: &policy, Logger: logger, OnClose: st.Close})
		if err != nil {
			t.Fatal(err)
		}
		replicas = append(replicas, svc)
		t.Cleanup(func() { _ = svc.Close() })
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var calls atomic.Int64
	var errsMu sync.Mutex
	var errs []string
	fail := func(replica int, op string, err error) {
		errsMu.Lock()
		defer errsMu.Unlock()
		if len(errs) < 10 {
			errs = append(errs, fmt.Sprintf("replica %d %s: %v", replica, op, err))
		}
	}
	for i, svc := range replicas {
		for _, name := range []string{"kyc", "data-processor"} {
			wg.Go(func() {
				tick := time.NewTicker(5 * time.Millisecond)
				defer tick.Stop()
				for k := 0; ; k++ {
					var err error
					if k%40 == 39 {
						_, err = svc.Refresh(ctx, name) // every replica asks the token service itself now and then
					} else {
						_, err = svc.Token(ctx, name)
					}
					if ctx.Err() != nil {
						return
					}
					calls.Add(1)
					if err != nil {
						fail(i, name, err)
					}
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
					}
				}
			})
		}
	}

	time.Sleep(rotationBefore) // callers keep serving meanwhile; nothing to wait for
	mu.Lock()
	generation("..2025_03_01_12_05_00.2", "secret-generation-two")
	accepted = "secret-generation-two"
	mu.Unlock()
	time.Sleep(rotationAfter)
	cancel()
	wg.Wait()

	errsMu.Lock()
	defer errsMu.Unlock()
	if len(errs) > 0 {
		t.Fatalf("callers saw errors during the rotation (of %d calls):\n%v", calls.Load(), errs)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.SortFunc(uses, func(a, b secretUse) int { return cmp.Compare(a.seq, b.seq) })
	sawNew := map[int]bool{}
	for _, u := range uses {
		switch u.secret {
		case "secret-generation-two":
			sawNew[u.replica] = true
		case "secret-generation-one":
			if sawNew[u.replica] {
				t.Errorf("replica %d sent the old secret after the new one", u.replica)
			}
		default:
			t.Errorf("replica %d sent an unknown secret", u.replica)
		}
	}
	for i := range replicas {
		if !sawNew[i] {
			t.Errorf("replica %d never sent the new secret", i)
		}
	}
	t.Logf("%d calls, %d token requests, none failed", calls.Load(), len(uses))
}
