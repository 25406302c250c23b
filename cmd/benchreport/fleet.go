package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/jwtcache/jwtcache/adapters/devissuer"
	"github.com/jwtcache/jwtcache/adapters/memory"
	"github.com/jwtcache/jwtcache/adapters/redisstore"
	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

const (
	fleetClientID = "bench-client"
	fleetService  = "kyc"
	// fleetCallers is the goroutines per replica asking for the token
	// during the steady phase, each every fleetCallEvery.
	fleetCallers   = 2
	fleetCallEvery = 10 * time.Millisecond
)

// fleetRun is one replica count: jwtcache replicas sharing a store, and as
// many x/oauth2 token sources, each side with a token service of its own.
type fleetRun struct {
	replicas int
	// Token-service calls for the cold-start burst and over the steady
	// window, jwtcache's and x/oauth2's.
	jwtcacheCold, jwtcacheSteady int64
	oauth2Cold, oauth2Steady     int64
	// What the callers were handed: tokens served, and how many of them
	// were inside their renewal buffer or expired, or were errors.
	jwtcacheServed, jwtcacheInBuffer, jwtcacheExpired, jwtcacheErrors int64
	oauth2Served, oauth2Expired, oauth2Errors                         int64
	// lifetime is the mean lifetime of the distinct tokens jwtcache handed
	// out, from request start to expiry: shorter than the configured one,
	// since jwtcache caps expiry at the JWT's exp, which the token service
	// writes in whole seconds.
	lifetime time.Duration
}

// fleetResult is the token-service-calls section.
type fleetResult struct {
	lifetime, buffer, window time.Duration
	// effective is the mean lifetime of the tokens handed out (see
	// fleetRun.lifetime); the ideal is computed from it.
	effective time.Duration
	policy    domain.RenewalPolicy
	backend   string
	burst     int
	runs      []fleetRun
}

// renewalPeriod is the mean time from a token's issue to its renewal by a
// fleet of n replicas (see idealRenewalPeriod).
func (f *fleetResult) renewalPeriod(n int) time.Duration {
	life := f.lifetime
	if f.effective > 0 {
		life = f.effective
	}
	return idealRenewalPeriod(f.policy, life, n)
}

// ideal is the fewest calls a fleet of n replicas can make: one for the
// cold start, then one per renewal period of the window.
func (f *fleetResult) ideal(n int) float64 {
	return 1 + f.window.Seconds()/f.renewalPeriod(n).Seconds()
}

// perProcess is what n caches of their own, each renewing as one replica
// does, would make: n times one replica's ideal.
func (f *fleetResult) perProcess(n int) float64 { return float64(n) * f.ideal(1) }

// measureFleet counts token-service calls of fleets of 1, 3 and 10
// replicas. The replicas are app.Cache instances in this process, each
// with its own near cache, token-service client and Redis client, sharing
// one Redis under one key prefix: the same coordination as separate
// processes (the renewal lock and the change feed go through Redis), at a
// fraction of the start-up cost. Every replica count runs at the same time,
// so that the whole section lasts one window.
func measureFleet(ctx context.Context, cfg *config, r *report) error {
	policy := domain.RenewalPolicy{Buffer: cfg.buffer}
	res := &fleetResult{
		lifetime: cfg.lifetime,
		buffer:   cfg.buffer,
		window:   time.Duration(cfg.lifetimes) * cfg.lifetime,
		policy:   policy,
		backend:  "one Redis (" + cfg.redisAddr + "), a client per replica",
		burst:    cfg.burst,
	}
	if !r.machine.redisUp {
		res.backend = "one memory store in the process (" + r.machine.noRedis() + ")"
	}
	runs := make([]fleetRun, len(cfg.replicas))
	errs := make([]error, len(cfg.replicas))
	var wg sync.WaitGroup
	for i, n := range cfg.replicas {
		wg.Go(func() { runs[i], errs[i] = fleetOf(ctx, cfg, r.machine.redisUp, policy, n, res.window) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	res.runs = runs
	var sum time.Duration
	for _, run := range runs {
		sum += run.lifetime
	}
	res.effective = sum / time.Duration(len(runs))
	r.fleet = res
	return nil
}

// fleetOf runs n jwtcache replicas and n x/oauth2 token sources side by
// side: a cold-start burst, then window of steady demand.
func fleetOf(ctx context.Context, cfg *config, useRedis bool, policy domain.RenewalPolicy, n int, window time.Duration) (fleetRun, error) {
	run := fleetRun{replicas: n}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	secret := devissuer.GenerateSecret()
	newTokenService := func() (*devissuer.Server, string, error) {
		srv, err := devissuer.New(devissuer.Options{ClientID: fleetClientID, ClientSecret: secret, TokenLifetime: cfg.lifetime, Logger: discardLogger})
		if err != nil {
			return nil, "", err
		}
		url, err := srv.ListenAndServe(ctx, "127.0.0.1:0")
		return srv, url, err
	}
	jwtTS, jwtURL, err := newTokenService()
	if err != nil {
		return run, err
	}
	oaTS, oaURL, err := newTokenService()
	if err != nil {
		return run, err
	}

	replicas, closeAll, err := newReplicas(cfg, useRedis, policy, n, jwtURL, secret)
	if err != nil {
		return run, err
	}
	defer closeAll()
	sources := make([]oauth2.TokenSource, n)
	for i := range sources {
		cc := &clientcredentials.Config{ClientID: fleetClientID, ClientSecret: secret, TokenURL: oaURL, AuthStyle: oauth2.AuthStyleInHeader}
		// The same early expiry as jwtcache's buffer: a per-process cache
		// renewing at the same point of the token's life.
		sources[i] = oauth2.ReuseTokenSourceWithExpiry(nil, cc.TokenSource(ctx), cfg.buffer)
	}

	var lifetimes sync.Map // access token -> its lifetime
	jwtcacheCall := func(i int) {
		before := time.Now()
		tok, err := replicas[i].Token(ctx, fleetService)
		after := time.Now()
		if err == nil {
			lifetimes.LoadOrStore(tok.AccessToken, tok.Lifetime())
		}
		switch {
		case err != nil:
			atomic.AddInt64(&run.jwtcacheErrors, 1)
		case tok.Expired(after):
			atomic.AddInt64(&run.jwtcacheExpired, 1)
		case policy.State(tok, before) != domain.Fresh:
			atomic.AddInt64(&run.jwtcacheInBuffer, 1)
		}
		atomic.AddInt64(&run.jwtcacheServed, 1)
	}
	oauth2Call := func(i int) {
		tok, err := sources[i].Token()
		switch {
		case err != nil:
			atomic.AddInt64(&run.oauth2Errors, 1)
		case !time.Now().Before(tok.Expiry):
			atomic.AddInt64(&run.oauth2Expired, 1)
		}
		atomic.AddInt64(&run.oauth2Served, 1)
	}

	// Cold start: burst concurrent first requests on every replica at once.
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		for range cfg.burst {
			wg.Go(func() { <-gate; jwtcacheCall(i) })
			wg.Go(func() { <-gate; oauth2Call(i) })
		}
	}
	close(gate)
	wg.Wait()
	run.jwtcacheCold, run.oauth2Cold = jwtTS.Requests(), oaTS.Requests()

	// Steady demand over the window.
	steady, stop := context.WithTimeout(ctx, window)
	defer stop()
	for i := range n {
		for range fleetCallers {
			wg.Go(func() { every(steady, fleetCallEvery, func() { jwtcacheCall(i) }) })
			wg.Go(func() { every(steady, fleetCallEvery, func() { oauth2Call(i) }) })
		}
	}
	wg.Wait()
	run.jwtcacheSteady = jwtTS.Requests() - run.jwtcacheCold
	var sum time.Duration
	var count int
	lifetimes.Range(func(_, v any) bool {
		sum += v.(time.Duration)
		count++
		return true
	})
	if count > 0 {
		run.lifetime = sum / time.Duration(count)
	}
	run.oauth2Steady = oaTS.Requests() - run.oauth2Cold
	if run.jwtcacheErrors > 0 || run.oauth2Errors > 0 {
		return run, fmt.Errorf("%d replicas: %d jwtcache and %d x/oauth2 calls failed against a healthy token service", n, run.jwtcacheErrors, run.oauth2Errors)
	}
	return run, nil
}

// newReplicas builds n app.Cache replicas sharing one store, and what
// closes them all.
func newReplicas(cfg *config, useRedis bool, policy domain.RenewalPolicy, n int, tokenURL, secret string) ([]*app.Cache, func(), error) {
	prefix := uniquePrefix(fmt.Sprintf("fleet%d", n))
	var shared *memory.Store
	if !useRedis {
		shared = memory.New(nil)
	}
	var replicas []*app.Cache
	closeAll := func() {
		for _, s := range replicas {
			_ = s.Close()
		}
		if useRedis {
			dropPrefixAt(cfg.redisAddr, prefix)
		}
	}
	for range n {
		issuer, err := tokenservice.New(tokenservice.Options{URL: tokenURL, ClientID: fleetClientID, ClientSecret: secret})
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		var store interface {
			ports.TokenStore
			ports.RenewalLocker
			ports.ChangeFeed
		} = shared
		var onClose func() error
		if useRedis {
			rs, err := redisstore.New(redisstore.Options{Addrs: []string{cfg.redisAddr}, KeyPrefix: prefix, Logger: discardLogger})
			if err != nil {
				closeAll()
				return nil, nil, err
			}
			store, onClose = rs, rs.Close
		}
		p := policy
		svc, err := app.New(app.Options{Issuer: issuer, Store: store, Locker: store, Feed: store, Policy: &p, Logger: discardLogger, OnClose: onClose})
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		replicas = append(replicas, svc)
	}
	return replicas, closeAll, nil
}

// every calls fn each period until ctx ends.
func every(ctx context.Context, period time.Duration, fn func()) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		fn()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
