package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// restGoal is the least share of the bare handler's throughput the REST
// API should keep on a cache hit.
const restGoal = 0.9

// report gathers the measurements and writes them as Markdown.
type report struct {
	command string
	started time.Time
	elapsed time.Duration
	cfg     *config
	machine machine

	inProcess *inProcessResult
	rest      *restResult
	fleet     *fleetResult
	scale     *scaleResult

	fleetScale *fleetScaleResult

	// chartDir is where the report's charts are, relative to the report
	// (slash-separated); empty when they are not written. chartFiles are
	// the charts by file name.
	chartDir   string
	chartFiles map[string][]byte
}

// mdWriter writes Markdown, remembering the first error.
type mdWriter struct {
	w   *bufio.Writer
	err error
}

func (m *mdWriter) line(format string, a ...any) {
	if m.err == nil {
		_, m.err = fmt.Fprintf(m.w, format+"\n", a...)
	}
}

func (m *mdWriter) row(cells ...string) { m.line("| %s |", strings.Join(cells, " | ")) }

func (m *mdWriter) header(cells ...string) {
	m.row(cells...)
	seps := make([]string, len(cells))
	for i := range seps {
		seps[i] = "---"
	}
	m.row(seps...)
}

func (r *report) write(w io.Writer) error {
	m := &mdWriter{w: bufio.NewWriter(w)}
	m.line("# jwtcache benchmarks")
	m.line("")
	m.line("Written by `cmd/benchreport` (`make bench`). Every figure stands beside its baseline, measured in the same run, on the same machine, by the same code; rerun it on yours. The whole run took %v.", r.elapsed.Round(time.Second))
	m.line("")
	m.line("```")
	m.line("%s", r.command)
	m.line("```")
	m.line("")
	m.header("machine", "")
	m.row("CPU", fmt.Sprintf("%s, %d cores (GOMAXPROCS %d)", r.machine.cpu, r.machine.cores, r.machine.gomaxprocs))
	m.row("OS", strings.TrimSpace(r.machine.platform+", kernel "+r.machine.kernel))
	m.row("Go", r.machine.goVersion)
	m.row("Redis", r.machine.redis)
	m.row("date", r.started.UTC().Format("2006-01-02 15:04 MST"))
	m.line("")
	m.line("Load generator, servers, Redis clients and token services all run on this machine over loopback, sharing its cores: absolute figures are a floor, the ratios are the point.")
	m.line("")
	r.writeSummary(m)
	r.writeREST(m)
	r.writeInProcess(m)
	r.writeFleet(m)
	r.writeScale(m)
	r.writeFleetScale(m)
	if m.err != nil {
		return m.err
	}
	return m.w.Flush()
}

func (r *report) writeSummary(m *mdWriter) {
	m.line("## Summary")
	m.line("")
	m.header("figure", "jwtcache", "baseline", "goal")
	if rr := r.rest; rr != nil {
		ratio := rr.mem.result.Rate() / rr.bare.result.Rate()
		m.row("REST cache hit, memory store", rate(rr.mem.result.Rate())+" ("+ratioText(ratio)+" of bare Gin)",
			"bare Gin, same bytes: "+rate(rr.bare.result.Rate()), goal(ratio >= restGoal, "≥ "+ratioText(restGoal)))
		if rr.redis.skipped != "" {
			m.row("REST cache hit, Redis store", rr.redis.skipped, "", "≥ "+ratioText(restGoal))
		} else {
			ratio := rr.redis.result.Rate() / rr.bare.result.Rate()
			m.row("REST cache hit, Redis store", rate(rr.redis.result.Rate())+" ("+ratioText(ratio)+" of bare Gin)",
				"bare Gin, same bytes: "+rate(rr.bare.result.Rate()), goal(ratio >= restGoal, "≥ "+ratioText(restGoal)))
			per := float64(rr.redisClientCmds) / float64(max(rr.redisHits, 1))
			m.row("Redis commands per REST hit", fmt.Sprintf("%.4g (%d commands for %s hits)", per, rr.redisClientCmds, count(rr.redisHits)), "", goal(rr.redisClientCmds == 0, "0"))
		}
	}
	if ip := r.inProcess; ip != nil {
		m.row("in-process hit (`BearerToken`)", nsOp(ip.jwtcache), "x/oauth2 `ReuseTokenSource`: "+nsOp(ip.oauth2), goal(ip.jwtcache.allocsPerOp == 0, "0 allocs"))
	}
	if f := r.fleet; f != nil && len(f.runs) > 0 {
		big := f.runs[len(f.runs)-1]
		total := big.jwtcacheCold + big.jwtcacheSteady
		m.row(fmt.Sprintf("token-service calls, %d replicas, cold start + %d token lifetimes", big.replicas, r.cfg.lifetimes),
			strconv.FormatInt(total, 10),
			fmt.Sprintf("ideal %.1f; %d x/oauth2 caches: %d", f.ideal(big.replicas), big.replicas, big.oauth2Cold+big.oauth2Steady),
			goal(float64(total) <= 1.1*f.ideal(big.replicas), "within 10% of ideal"))
	}
	if s := r.scale; s != nil && len(s.runs) > 0 {
		big := s.runs[len(s.runs)-1]
		m.row(fmt.Sprintf("heap per cached token (%s services)", count(big.services)), bytesText(big.heapPerToken), fmt.Sprintf("the token itself: %d bytes", tokenBytes), "")
		m.row(fmt.Sprintf("idle CPU per 1,000 tokens (%s services)", count(big.services)), cpuPer1000(s, big)+" per second",
			fmt.Sprintf("empty cache: %v per second", dur(time.Duration(float64(s.baseline.idleCPU)/s.idle.Seconds()))), "")
	}
	r.summaryFleetScale(m)
	m.line("")
}

func (r *report) writeREST(m *mdWriter) {
	rr := r.rest
	if rr == nil {
		return
	}
	m.line("## REST cache hit")
	m.line("")
	m.line("`GET %s` answered from the cache by the REST API as served (Gin, middleware, JSON encoding; the core with its near cache), in this process on a loopback port, driven by `cmd/benchreport/loadgen`: %d concurrent keep-alive clients, each sending its next request when the previous one is answered, for %v per server after a %v warm-up, the servers taking turns in %d rounds. The baseline is a bare Gin handler writing the same %d-byte body, served and driven the same way.", tokenPath, rr.clients, rr.duration, r.cfg.warmup, rr.rounds, rr.bodyBytes)
	m.line("")
	m.header("server", "requests/s", "p50", "p99", "max", "vs bare Gin")
	for _, run := range []restRun{rr.bare, rr.mem, rr.redis} {
		if run.skipped != "" {
			m.row(run.name, run.skipped, "", "", "", "")
			continue
		}
		res := run.result
		m.row(run.name, rate(res.Rate()), dur(res.Percentile(0.5)), dur(res.Percentile(0.99)), dur(res.Max()), ratioText(res.Rate()/rr.bare.result.Rate()))
	}
	m.line("")
	r.chart(m, chartREST, "REST cache hit: requests per second, jwtcache against bare Gin, memory and Redis store")
	r.chart(m, chartLatency, "REST cache hit: latency at each percentile, log-log")
	if rr.redis.skipped == "" {
		m.line("Redis commands during the Redis run's %s hits: %d sent by jwtcache's Redis client (%.4g per hit; goal 0: the near cache answers), and the server's `total_commands_processed` grew by %d (any other client of that Redis included).",
			count(rr.redisHits), rr.redisClientCmds, float64(rr.redisClientCmds)/float64(max(rr.redisHits, 1)), rr.redisServerCmds)
		m.line("")
	}
}

func (r *report) writeInProcess(m *mdWriter) {
	ip := r.inProcess
	if ip == nil {
		return
	}
	m.line("## In-process hit")
	m.line("")
	m.line("A cache hit through the Go API, `testing.Benchmark` inside the program: `app.Cache.BearerToken` (memory store, token cached) against x/oauth2's `ReuseTokenSource(...).Token()` holding a valid token, the cache most Go programs use; on one goroutine, then on every core (`RunParallel`).")
	m.line("")
	m.header("call", "ns/op", "allocs/op", "B/op")
	for _, f := range []benchFigure{ip.jwtcache, ip.oauth2, ip.jwtcacheParallel, ip.oauth2Parallel} {
		m.row(f.name, fmt.Sprintf("%.1f", f.nsPerOp), strconv.FormatInt(f.allocsPerOp, 10), strconv.FormatInt(f.bytesPerOp, 10))
	}
	m.line("")
}

func (r *report) writeFleet(m *mdWriter) {
	f := r.fleet
	if f == nil {
		return
	}
	m.line("## Token-service calls")
	m.line("")
	m.line("Replicas are `app.Cache` instances in this process, each with its own near cache, token-service client and store client, sharing %s: they coordinate exactly as separate processes do (renewal lock and change feed in the store), without the cost of starting processes (the multi-process version is `cmd/jwtcache`'s fleet and soak tests). Tokens live %v with a %v renewal buffer (%v on average from the request's start: jwtcache caps expiry at the JWT's exp, which the token service writes in whole seconds; the ideal uses that). Each replica count first takes a cold-start burst of %d concurrent requests per replica, then %d callers per replica ask every %v for %v (%d token lifetimes).",
		f.backend, f.lifetime, f.buffer, f.effective.Round(time.Millisecond), f.burst, fleetCallers, fleetCallEvery, f.window, r.cfg.lifetimes)
	m.line("")
	m.line("**Ideal**: one call for the cold start, then one per renewal period, whatever the number of replicas. The replica that fetched a token renews it, one to two renewal leads (jittered) before the token's cacheExpiresAt, so that the renewal is over before any caller reaches the buffer; the others stand by with later timers and take the new token from its notification: %v after the token's issue on average with one replica, %v with %d. **x/oauth2**: as many `oauth2.ReuseTokenSourceWithExpiry(nil, clientcredentials.Config.TokenSource(ctx), %v)` as replicas, one per process, each with a token service of its own (counted the same way), renewing when a caller finds the token inside the same buffer: a little later than jwtcache, hence a few calls fewer per process, paid for by that caller waiting on the token service. **N × one replica's ideal** is what as many per-process caches renewing like jwtcache would make.",
		f.renewalPeriod(1).Round(time.Millisecond), f.renewalPeriod(f.runs[len(f.runs)-1].replicas).Round(time.Millisecond), f.runs[len(f.runs)-1].replicas, f.buffer)
	m.line("")
	r.chart(m, chartFleet, "Token-service calls against replica count: jwtcache, the ideal, x/oauth2 caches")
	m.header("replicas", "jwtcache: cold start", "jwtcache: over the window", "jwtcache: total", "ideal", "x/oauth2 caches: cold start", "x/oauth2: total", "N × one replica's ideal")
	for _, run := range f.runs {
		m.row(strconv.Itoa(run.replicas),
			strconv.FormatInt(run.jwtcacheCold, 10), strconv.FormatInt(run.jwtcacheSteady, 10), strconv.FormatInt(run.jwtcacheCold+run.jwtcacheSteady, 10),
			fmt.Sprintf("%.1f", f.ideal(run.replicas)),
			strconv.FormatInt(run.oauth2Cold, 10), strconv.FormatInt(run.oauth2Cold+run.oauth2Steady, 10),
			fmt.Sprintf("%.1f", f.perProcess(run.replicas)))
	}
	m.line("")
	m.line("What callers were handed (every answer checked at the instant it was asked for):")
	m.line("")
	m.header("replicas", "jwtcache: tokens served", "inside their buffer", "expired", "x/oauth2: tokens served", "expired")
	for _, run := range f.runs {
		m.row(strconv.Itoa(run.replicas), count(int(run.jwtcacheServed)), strconv.FormatInt(run.jwtcacheInBuffer, 10), strconv.FormatInt(run.jwtcacheExpired, 10),
			count(int(run.oauth2Served)), strconv.FormatInt(run.oauth2Expired, 10))
	}
	m.line("")
}

func (r *report) writeScale(m *mdWriter) {
	s := r.scale
	if s == nil || len(s.runs) == 0 {
		return
	}
	m.line("## Scale")
	m.line("")
	m.line("One process, memory store, a cache of N services (tokens of %d bytes living an hour, from an issuer answering in the process); the first column, an empty cache, is the baseline. **Heap per token**: live heap after a full GC, filled minus empty, ÷ N. **Statuses / Statistics**: mean of one call, in process and over REST on loopback. **Idle CPU**: the process's user + system time (getrusage) over %v with nothing asked, the renewal check and the cleanup running every %v (the defaults are 30 s and 60 s: a default deployment spends 30-60× less); per 1,000 tokens, the empty cache's share is subtracted first, so small caches give noisy figures.", tokenBytes, s.idle, scaleInterval)
	m.line("")
	cols := append([]scaleRun{s.baseline}, s.runs...)
	cells := []string{"services"}
	for _, run := range cols {
		name := count(run.services)
		if run.services == 0 {
			name = "0 (empty)"
		}
		cells = append(cells, name)
	}
	m.header(cells...)
	// fig writes a row: value of each column, and its growth from the
	// previous non-empty column.
	fig := func(name string, v func(scaleRun) float64, format func(float64) string, growth bool) {
		cells := []string{name}
		var prev float64
		for _, run := range cols {
			if run.services == 0 && v(run) == 0 {
				cells = append(cells, "—")
				continue
			}
			x := v(run)
			cell := format(x)
			if growth && run.services > 0 && prev > 0 {
				cell += fmt.Sprintf(" (×%.1f)", x/prev)
			}
			if run.services > 0 {
				prev = x
			}
			cells = append(cells, cell)
		}
		m.row(cells...)
	}
	durf := func(x float64) string { return dur(time.Duration(x)) }
	fig("first fetch of every service", func(r scaleRun) float64 { return float64(r.fill) }, durf, true)
	fig("heap per token", func(r scaleRun) float64 { return r.heapPerToken }, bytesText, true)
	fig("`Statuses` (in process)", func(r scaleRun) float64 { return float64(r.statuses) }, durf, true)
	fig("`Statistics` (in process)", func(r scaleRun) float64 { return float64(r.statistics) }, durf, true)
	fig("`GET /status` (REST)", func(r scaleRun) float64 { return float64(r.restStatus) }, durf, true)
	fig("`GET /status` body", func(r scaleRun) float64 { return float64(r.restStatusBytes) }, bytesText, false)
	fig("`GET /statistics` (REST)", func(r scaleRun) float64 { return float64(r.restStatistics) }, durf, true)
	fig(fmt.Sprintf("idle CPU over %v", s.idle), func(r scaleRun) float64 { return float64(r.idleCPU) }, durf, true)
	cells = []string{"idle CPU per 1,000 tokens, per second"}
	for _, run := range cols {
		if run.services == 0 {
			cells = append(cells, "—")
			continue
		}
		cells = append(cells, cpuPer1000(s, run))
	}
	m.row(cells...)
	m.line("")
	m.line("(×n) is the growth from the previous column; the number of services grows ×10 each step, so ×10 is linear.")
	m.line("")
	r.chart(m, chartTime, "Scale: time against the number of services, log-log")
	r.chart(m, chartHeap, "Scale: memory against the number of services, log-log")
}

// cpuPer1000 is run's idle CPU above the empty cache's, per 1,000 tokens,
// as CPU time per second of idleness.
func cpuPer1000(s *scaleResult, run scaleRun) string {
	extra := max(run.idleCPU-s.baseline.idleCPU, 0)
	perSec := float64(extra) / s.idle.Seconds()
	per1000 := perSec / (float64(run.services) / 1000)
	return dur(time.Duration(per1000))
}

func goal(ok bool, want string) string {
	if ok {
		return want + " ✓"
	}
	return want + " ✗"
}

func nsOp(f benchFigure) string {
	return fmt.Sprintf("%.1f ns, %d allocs", f.nsPerOp, f.allocsPerOp)
}

func rate(perSec float64) string { return count(int(perSec+0.5)) + " req/s" }

func ratioText(x float64) string { return fmt.Sprintf("%.2f", x) }

// count writes n with thousands separators.
func count(n int) string {
	if n < 0 {
		return "-" + count(-n)
	}
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// dur writes d with three significant digits in a fitting unit.
func dur(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%d ns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.3g µs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.3g ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.3g s", d.Seconds())
	}
}

func bytesText(b float64) string {
	switch {
	case b < 1<<10:
		return fmt.Sprintf("%.0f B", b)
	case b < 1<<20:
		return fmt.Sprintf("%.3g KiB", b/(1<<10))
	default:
		return fmt.Sprintf("%.3g MiB", b/(1<<20))
	}
}
