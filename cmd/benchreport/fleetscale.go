package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/adapters/devissuer"
	"github.com/jwtcache/jwtcache/adapters/redisstore"
	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

// The fleet-scale section: what a renewal costs Redis as the fleet grows.
// Replicas are app.Cache instances in this process, each with its own
// Redis client (so its own connections and pub/sub subscription), sharing
// the real Redis under one key prefix per fleet; every command they send
// and every byte they receive is counted on their connections (see
// redisTally).

// fleetScaleConfig sizes the section; the report runs it at
// defaultFleetScale, the test at a tenth of that.
type fleetScaleConfig struct {
	redisAddr string
	// replicas are the fleet sizes, each measured on its own.
	replicas []int
	// services is the number of services every fleet serves.
	services int
	// lifetime and buffer are the tokens' lifetime (whole seconds) and the
	// renewal buffer of the steady phase.
	lifetime, buffer time.Duration
	// periods is how many renewal periods the steady phase lasts.
	periods float64
	// idle is the window of the idle phase: one-hour tokens, nothing asked.
	idle time.Duration
}

// defaultFleetScale is the issue's measurement: 10, 30 and 100 replicas x
// 1,000 services with 20 s tokens and a 5 s buffer.
var defaultFleetScale = fleetScaleConfig{
	replicas: []int{10, 30, 100},
	services: 1000,
	lifetime: 20 * time.Second,
	buffer:   5 * time.Second,
	periods:  2.5,
	idle:     60 * time.Second,
}

// The goals of issue 15, per renewal, at every fleet size.
const (
	goalGetsPerRenewal     = 4
	goalCommandsPerRenewal = 14
	// goalIdleShare is the most the idle traffic may be of the previous
	// version's (a Store.List per replica per cleanup period, plus the
	// pub/sub health check every 3 s).
	goalIdleShare = 0.01
)

// previousHealthCheck is go-redis's default pub/sub health-check interval,
// which the previous version used: a PING per replica every 3 s of
// silence.
const previousHealthCheck = 3 * time.Second

// fleetScaleRun is one fleet size.
type fleetScaleRun struct {
	replicas, services int
	// lifetime is the mean lifetime of the tokens handed out (the token
	// service writes exp in whole seconds, so a little under the
	// configured one); period is the ideal renewal period from it.
	lifetime, period time.Duration
	// Steady phase.
	window time.Duration
	calls  int64 // token-service calls over the window
	// rounds counts the renewals of a token over the window: calls for a
	// service more than half a renewal period after its previous call;
	// redundant counts the others, second calls for one token.
	rounds, redundant int64
	// interval is the mean time between a service's successive rounds.
	interval time.Duration
	// callTime is the mean duration of a token-service call.
	callTime                          time.Duration
	redis                             tallySnapshot
	served, inBuffer, expired, failed int64
	// Idle phase: one-hour tokens, nothing asked.
	idleWindow time.Duration
	idle       tallySnapshot
	// list is one Store.List of every service at this size: what the
	// previous cleanup cost each replica every cleanup period.
	list tallySnapshot
}

func (r fleetScaleRun) renewals() float64 { return float64(max(r.calls, 1)) }

func (r fleetScaleRun) commandsPerRenewal() float64 { return float64(r.redis.total()) / r.renewals() }

func (r fleetScaleRun) getsPerRenewal() float64 { return float64(r.redis.cmds["get"]) / r.renewals() }

// callsPerServicePeriod is the token-service calls per service per renewal
// period over the window: 1 is the ideal.
func (r fleetScaleRun) callsPerServicePeriod() float64 {
	return float64(r.calls) / float64(max(r.rounds, 1))
}

func (r fleetScaleRun) idlePerSecond() float64 {
	return float64(r.idle.total()) / r.idleWindow.Seconds()
}

// previousIdlePerSecond is what the previous version's idle fleet sent:
// every replica a Store.List per cleanup period and a health-check PING
// every 3 s.
func (r fleetScaleRun) previousIdlePerSecond() float64 {
	return float64(r.replicas) * (float64(r.list.total())/app.DefaultCleanupInterval.Seconds() + 1/previousHealthCheck.Seconds())
}

// fleetScaleResult is the section.
type fleetScaleResult struct {
	cfg     fleetScaleConfig
	policy  domain.RenewalPolicy
	skipped string
	runs    []fleetScaleRun
}

func measureFleetScale(ctx context.Context, cfg *config, r *report) error {
	fc := defaultFleetScale
	fc.redisAddr = cfg.redisAddr
	fc.replicas, fc.services, fc.idle = cfg.fleetScale, cfg.fleetServices, cfg.fleetIdle
	fc.lifetime, fc.buffer = cfg.fleetLifetime, cfg.fleetBuffer
	if !r.machine.redisUp {
		r.fleetScale = &fleetScaleResult{cfg: fc, skipped: "skipped: " + r.machine.noRedis()}
		return nil
	}
	res, err := runFleetScale(ctx, fc)
	r.fleetScale = res
	return err
}

// runFleetScale measures every fleet size of fc: the steady phases one
// after the other, then the idle phases of all sizes at once (their
// commands are counted per fleet, so they do not mix).
func runFleetScale(ctx context.Context, fc fleetScaleConfig) (*fleetScaleResult, error) {
	res := &fleetScaleResult{cfg: fc, policy: domain.RenewalPolicy{Buffer: fc.buffer}}
	for _, n := range fc.replicas {
		// The previous fleet's garbage is not this one's to collect.
		runtime.GC()
		run, err := steadyFleet(ctx, fc, res.policy, n)
		if err != nil {
			return nil, fmt.Errorf("%d replicas: %w", n, err)
		}
		res.runs = append(res.runs, run)
	}
	errs := make([]error, len(res.runs))
	var wg sync.WaitGroup
	for i := range res.runs {
		wg.Go(func() { errs[i] = idleFleet(ctx, fc, &res.runs[i]) })
	}
	wg.Wait()
	return res, errors.Join(errs...)
}

// scaleFleet is n replicas sharing one Redis key prefix and one token
// service.
type scaleFleet struct {
	fc       fleetScaleConfig
	prefix   string
	names    []string
	ts       *devissuer.Server
	issuers  *callLog
	tally    *redisTally
	replicas []*app.Cache
	closers  []func() error
}

func newScaleFleet(ctx context.Context, fc fleetScaleConfig, policy domain.RenewalPolicy, n int, lifetime time.Duration) (*scaleFleet, error) {
	f := &scaleFleet{fc: fc, prefix: uniquePrefix(fmt.Sprintf("scale%d", n)), tally: newRedisTally(), issuers: &callLog{}}
	for i := range fc.services {
		f.names = append(f.names, fmt.Sprintf("svc-%05d", i))
	}
	secret := devissuer.GenerateSecret()
	ts, err := devissuer.New(devissuer.Options{ClientID: fleetClientID, ClientSecret: secret, TokenLifetime: lifetime, Logger: discardLogger})
	if err != nil {
		return nil, err
	}
	f.ts = ts
	url, err := ts.ListenAndServe(ctx, "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	for range n {
		iss, err := tokenservice.New(tokenservice.Options{URL: url, ClientID: fleetClientID, ClientSecret: secret})
		if err != nil {
			f.close()
			return nil, err
		}
		f.closers = append(f.closers, iss.Close)
		client := redis.NewClient(&redis.Options{Addr: fc.redisAddr, Dialer: f.tally.dialer})
		f.closers = append(f.closers, client.Close)
		store := redisstore.NewWithClient(client, redisstore.Options{KeyPrefix: f.prefix, Logger: replicaLogger})
		p := policy
		c, err := app.New(scaleReplicaOptions(app.Options{
			Issuer: f.issuers.wrap(iss), Store: store, Locker: store, Feed: store,
			Policy: &p, Logger: replicaLogger, OnClose: store.Close,
		}, store))
		if err != nil {
			f.close()
			return nil, err
		}
		f.replicas = append(f.replicas, c)
	}
	return f, nil
}

// scaleReplicaOptions completes a replica's options as app/embedded does
// (the store prunes itself), without the per-client token-service budget:
// the warm-up fetches every service at once, which the budget would
// rightly spread over minutes.
func scaleReplicaOptions(o app.Options, store *redisstore.Store) app.Options {
	o.Pruner = store
	o.TokenRate = -1
	return o
}

func (f *scaleFleet) close() {
	for _, c := range f.replicas {
		_ = c.Close()
	}
	for _, c := range slices.Backward(f.closers) {
		_ = c()
	}
	if f.ts != nil {
		_ = f.ts.Close(context.Background())
	}
	dropPrefixAt(f.fc.redisAddr, f.prefix)
}

// warm makes every replica hold every service, as a fleet serving them
// for a while does: the first replica fetches them, the others read them
// from the store. It returns the mean lifetime of the tokens fetched.
func (f *scaleFleet) warm(ctx context.Context) (time.Duration, error) {
	const workers = 32
	var sum atomic.Int64
	fetch := func(c *app.Cache, names []string, record bool) error {
		var g sync.WaitGroup
		errs := make([]error, workers)
		for w := range workers {
			g.Go(func() {
				for i := w; i < len(names); i += workers {
					tok, err := c.Token(ctx, names[i])
					if err != nil {
						errs[w] = err
						return
					}
					if record {
						sum.Add(int64(tok.Lifetime()))
					}
				}
			})
		}
		g.Wait()
		return errors.Join(errs...)
	}
	if err := fetch(f.replicas[0], f.names, true); err != nil {
		return 0, err
	}
	errs := make([]error, len(f.replicas))
	var g sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, c := range f.replicas[1:] {
		g.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = fetch(c, f.names, false)
		})
	}
	g.Wait()
	return time.Duration(sum.Load() / int64(len(f.names))), errors.Join(errs...)
}

// steadyFleet runs n replicas under 1 request per service per second,
// each sent to a replica picked at random, for fc.periods renewal periods.
func steadyFleet(ctx context.Context, fc fleetScaleConfig, policy domain.RenewalPolicy, n int) (fleetScaleRun, error) {
	run := fleetScaleRun{replicas: n, services: fc.services}
	f, err := newScaleFleet(ctx, fc, policy, n, fc.lifetime)
	if err != nil {
		return run, err
	}
	defer f.close()
	if run.lifetime, err = f.warm(ctx); err != nil {
		return run, err
	}
	run.period = idealRenewalPeriod(policy, run.lifetime, n)
	run.window = time.Duration(fc.periods * float64(run.period))

	before, calls0, spent0 := f.tally.snapshot(), f.issuers.count(), f.issuers.spent.Load()
	start := time.Now()
	end := start.Add(run.window)
	var wg sync.WaitGroup
	tick := time.NewTicker(5 * time.Millisecond)
	issued := 0
	for now := range tick.C {
		if !now.Before(end) || ctx.Err() != nil {
			break
		}
		due := int(now.Sub(start).Seconds() * float64(fc.services))
		for ; issued < due; issued++ {
			c := f.replicas[rand.IntN(n)]
			service := f.names[issued%fc.services]
			wg.Go(func() { run.ask(ctx, policy, c, service) })
		}
	}
	tick.Stop()
	wg.Wait()
	run.window = time.Since(start)
	run.redis = f.tally.snapshot().since(before)
	run.calls = f.issuers.count() - calls0
	run.callTime = time.Duration((f.issuers.spent.Load() - spent0) / max(run.calls, 1))
	run.rounds, run.redundant, run.interval = f.issuers.rounds(start, run.period/2)
	// Failed requests are reported, not fatal: a fleet that cannot keep up
	// is a result too.
	return run, ctx.Err()
}

// ask asks c for service's token and checks the answer at the instants
// the request began and ended.
func (r *fleetScaleRun) ask(ctx context.Context, policy domain.RenewalPolicy, c *app.Cache, service string) {
	before := time.Now()
	tok, err := c.Token(ctx, service)
	after := time.Now()
	atomic.AddInt64(&r.served, 1)
	switch {
	case err != nil:
		atomic.AddInt64(&r.failed, 1)
	case tok.Expired(after):
		atomic.AddInt64(&r.expired, 1)
	case policy.State(tok, before) != domain.Fresh:
		atomic.AddInt64(&r.inBuffer, 1)
	}
}

// idleFleet measures run.replicas replicas holding every service with
// one-hour tokens while nothing is asked, with the default check and
// cleanup intervals, and the cost of one Store.List at that size.
func idleFleet(ctx context.Context, fc fleetScaleConfig, run *fleetScaleRun) error {
	f, err := newScaleFleet(ctx, fc, domain.RenewalPolicy{Buffer: domain.DefaultRenewalBuffer}, run.replicas, time.Hour)
	if err != nil {
		return err
	}
	defer f.close()
	if _, err := f.warm(ctx); err != nil {
		return err
	}
	before := f.tally.snapshot()
	start := time.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(fc.idle):
	}
	run.idle = f.tally.snapshot().since(before)
	run.idleWindow = time.Since(start)

	lt := newRedisTally()
	client := redis.NewClient(&redis.Options{Addr: fc.redisAddr, Dialer: lt.dialer})
	defer client.Close()
	store := redisstore.NewWithClient(client, redisstore.Options{KeyPrefix: f.prefix, Logger: discardLogger})
	if err := client.Ping(ctx).Err(); err != nil { // connect outside the measurement
		return err
	}
	listBefore := lt.snapshot()
	entries, err := store.List(ctx)
	if err != nil {
		return err
	}
	if len(entries) != fc.services {
		return fmt.Errorf("the store's List found %d of %d services", len(entries), fc.services)
	}
	run.list = lt.snapshot().since(listBefore)
	return nil
}

// callLog records every token-service call of a fleet, per service.
type callLog struct {
	mu    sync.Mutex
	calls map[string][]time.Time // guarded by mu
	n     atomic.Int64
	spent atomic.Int64 // nanoseconds in token-service calls
}

func (l *callLog) wrap(iss ports.TokenIssuer) ports.TokenIssuer {
	return loggedIssuer{iss: iss, log: l}
}

func (l *callLog) count() int64 { return l.n.Load() }

// rounds sorts the calls made since from into rounds, per service: a call
// at least gap after the service's previous round starts a new one, any
// other is redundant. interval is the mean time between successive rounds
// (the previous round may be before from).
func (l *callLog) rounds(from time.Time, gap time.Duration) (rounds, redundant int64, interval time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var sum time.Duration
	var spans int64
	for _, times := range l.calls {
		var last time.Time
		for _, at := range times {
			switch {
			case !last.IsZero() && at.Sub(last) < gap:
				if !at.Before(from) {
					redundant++
				}
				continue
			case !at.Before(from):
				rounds++
				if !last.IsZero() {
					sum += at.Sub(last)
					spans++
				}
			}
			last = at
		}
	}
	if spans > 0 {
		interval = sum / time.Duration(spans)
	}
	return rounds, redundant, interval
}

type loggedIssuer struct {
	iss ports.TokenIssuer
	log *callLog
}

func (i loggedIssuer) Issue(ctx context.Context, service string) (domain.Token, error) {
	i.log.n.Add(1)
	i.log.mu.Lock()
	if i.log.calls == nil {
		i.log.calls = map[string][]time.Time{}
	}
	start := time.Now()
	i.log.calls[service] = append(i.log.calls[service], start)
	i.log.mu.Unlock()
	tok, err := i.iss.Issue(ctx, service)
	i.log.spent.Add(int64(time.Since(start)))
	return tok, err
}

// idealRenewalPeriod is the mean time from a token's issue to its renewal
// by a fleet of n replicas: the replica that fetched it renews it, at one
// to two renewal leads (uniform jitter) before its cacheExpiresAt, so that
// the renewal is over before any caller reaches the buffer; the others
// stand by with later timers. n does not change it.
func idealRenewalPeriod(policy domain.RenewalPolicy, life time.Duration, _ int) time.Duration {
	return policy.MeanRenewalAfter(domain.Token{IssuedAt: time.Unix(0, 0), ExpiresAt: time.Unix(0, 0).Add(life)})
}
