package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/adapters/redisstore/redistest"
	"github.com/jwtcache/jwtcache/cmd/benchreport/loadgen"
	"github.com/jwtcache/jwtcache/domain"
)

// The soak's settings. Tokens live soakLifetime with a soakBuffer renewal
// buffer; the timeouts are short so that every fault plays out within a
// token's life.
const (
	// soakEnv holds the soak's length (a Go duration); the default is the
	// short run `make test` includes, stretched to the shortest schedule
	// that holds every fault (about 50s).
	soakEnv          = "JWTCACHE_SOAK"
	soakDefault      = 45 * time.Second
	soakLifetime     = 5 * time.Second
	soakBuffer       = 2 * time.Second
	soakTokenTimeout = 1500 * time.Millisecond
	soakRedisTimeout = 500 * time.Millisecond // fleetEnv's REDIS_TIMEOUT
	soakLockTTL      = 2 * time.Second
	// soakSlow is the token service's delay in the slow phase: near, but
	// below, the token timeout.
	soakSlow = 1200 * time.Millisecond
	// soakClientTimeout is the longest any request may take: a token
	// request and a Redis command, and a margin.
	soakClientTimeout = soakTokenTimeout + soakRedisTimeout + time.Second
	soakReplicas      = 3
	// soakRate is each client's requests per second; there are
	// len(soakServices) clients per replica, one per service.
	soakRate = 10
)

var soakServices = []string{"kyc", "data-processor", "reference-data"}

// soakRenewalPeriod is the mean time from tok's issue to its renewal by a
// fleet of n replicas: the replica that fetched the token renews it, at one
// to two renewal leads before cacheExpiresAt (uniform jitter), while the
// others stand by with later timers; n does not change it.
func soakRenewalPeriod(tok domain.Token, _ int) time.Duration {
	return domain.RenewalPolicy{Buffer: soakBuffer}.MeanRenewalAfter(tok)
}

// obtainedRE is the debug line a replica logs for each token it obtains
// from the token service, with the expiry it took from the answer.
var obtainedRE = regexp.MustCompile(`time=(\S+) [^\n]*?msg="token obtained" [^\n]*?service=(\S+) expiresAt=(\S+)`)

// obtainedTokens are the tokens the replicas' logs say they obtained: when
// (as IssuedAt) and until when, as jwtcache understood them.
func obtainedTokens(logs []string) []domain.Token {
	var out []domain.Token
	for _, log := range logs {
		for _, m := range obtainedRE.FindAllStringSubmatch(log, -1) {
			at, err1 := time.Parse(time.RFC3339Nano, m[1])
			exp, err2 := time.Parse(time.RFC3339Nano, m[3])
			if err1 == nil && err2 == nil {
				out = append(out, domain.Token{IssuedAt: at, ExpiresAt: exp})
			}
		}
	}
	return out
}

// soakPhase is one stretch of the schedule.
type soakPhase struct {
	name string
	// min is the phase's shortest length; weight its share of the time
	// the run has beyond the sum of the minimums.
	min    time.Duration
	weight float64
	// fault marks a phase during which a fault is injected (the whole
	// phase, or, with event, its start).
	fault bool
	// begin and end inject and lift the fault.
	begin, end func()
	// event marks a fault that happens at the phase's start (Redis
	// restarted, a replica killed); the rest of the phase is healthy.
	event bool

	// from and to are when the phase actually ran, and faultTo when its
	// fault ended.
	from, to, faultTo time.Time
}

// soakReplica is one replica slot: the process serving it now and its
// base URL (a killed replica is replaced on another port).
type soakReplica struct {
	mu   sync.Mutex
	proc *proc
	base string
	// procs is every process that served this slot, the current one last.
	procs []*proc
	// logFrom is the length of the output already searched for the lock.
	logFrom int
	// rss are VmRSS samples (bytes) of the current process, and pid its id.
	pid int
	rss []int64
}

func (r *soakReplica) current() (*proc, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proc, r.base
}

func (r *soakReplica) replace(p *proc, base string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.proc, r.base, r.pid, r.rss, r.logFrom = p, base, p.cmd.Process.Pid, nil, p.outputLen()
	r.procs = append(r.procs, p)
}

// outputLen is the length of the process's output so far.
func (p *proc) outputLen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Len()
}

// outputFrom is the process's output from byte off on, copying only that.
func (p *proc) outputFrom(off int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.out.Bytes()
	return string(b[min(off, len(b)):])
}

// soakRecord is what the soak keeps of one answer (never the token
// itself).
type soakRecord struct {
	replica    int
	service    string
	start, end time.Time
	status     int  // 0: no answer
	noAnswer   bool // connection refused, reset or timed out
	errText    string
	errCode    string
	// Of a 200: the token's times as the API reported them (whole
	// seconds, rounded down), its exp claim, its state flags and a short
	// fingerprint.
	issuedAt, expiresAt, jwtExp time.Time
	needsRenewal, isExpired     bool
	fingerprint                 string
}

// TestSoak runs three real replicas on a private Redis under steady load
// for JWTCACHE_SOAK and injects faults on a schedule scaled to that
// length: the token service failing 20% of its requests, then down for
// longer than a token's life, then slow; Redis restarted, then refusing
// writes (full), then hung for longer than REDIS_TIMEOUT; a replica killed
// while it holds a renewal lock. It checks every answer: no expired token,
// no token inside its buffer while the token service is healthy, no 5xx
// while a valid token exists, no request slower than the timeouts allow,
// token-service calls near the ideal while healthy, and flat memory.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes for a while")
	}
	total := soakDefault
	if v := os.Getenv(soakEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("%s=%q: want a Go duration such as 8m", soakEnv, v)
		}
		total = d
	}

	rs := redistest.StartServer(t)
	// The token service's log line per rejected request would bury the
	// soak's own output; it logs to the default logger it finds at start.
	defaultLogger := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	ts := startTokenService(t, soakLifetime)
	slog.SetDefault(defaultLogger)
	env := fleetEnv(ts, redistest.Prefix(), []string{rs.Addr},
		"JWT_RENEWAL_BUFFER="+soakBuffer.String(),
		"JWT_TOKEN_TIMEOUT="+soakTokenTimeout.String(),
		"JWT_LOCK_TTL="+soakLockTTL.String())
	replicas := make([]*soakReplica, soakReplicas)
	for i := range replicas {
		p, base := serve(t, env)
		replicas[i] = &soakReplica{}
		replicas[i].replace(p, base)
	}

	L := soakLifetime
	var killed atomic.Int32 // the replica slot killed, +1; 0 before the kill
	var deadTo atomic.Int64 // when its replacement served
	phases := []*soakPhase{
		{name: "healthy (cold start)", min: L, weight: 2},
		{name: "token service failing 20%", min: L, weight: 1, fault: true,
			begin: func() { ts.SetFailRate(0.2) }, end: func() { ts.SetFailRate(0) }},
		{name: "healthy", min: L, weight: 1},
		// Longer than a token's life: every token expires meanwhile.
		{name: "token service down (503)", min: L + L/3, weight: 0.5, fault: true,
			begin: func() { ts.SetFailRate(1) }, end: func() { ts.SetFailRate(0) }},
		{name: "healthy", min: L, weight: 1},
		{name: "token service slow (" + soakSlow.String() + ")", min: L, weight: 1, fault: true,
			begin: func() { ts.SetDelay(soakSlow) }, end: func() { ts.SetDelay(0) }},
		{name: "healthy", min: L, weight: 1},
		{name: "Redis restarted, then healthy", min: L, weight: 1, fault: true, event: true,
			begin: func() { rs.Stop(); rs.Start() }},
		// Full, with noeviction: reads answer, every write (token, lock)
		// is refused; each replica serves the token it fetched.
		{name: "Redis refusing writes (full)", min: L, weight: 1, fault: true,
			begin: func() { soakRedisConfig(t, rs.Addr, "maxmemory-policy", "noeviction", "maxmemory", "1") },
			end:   func() { soakRedisConfig(t, rs.Addr, "maxmemory", "0") }},
		{name: "healthy", min: L, weight: 1},
		// Stopped (SIGSTOP): connections stay open and nothing answers,
		// for far longer than REDIS_TIMEOUT.
		{name: "Redis hung (" + (L / 2).String() + ", REDIS_TIMEOUT " + soakRedisTimeout.String() + ")", min: L / 2, weight: 0.5, fault: true,
			begin: rs.Pause, end: rs.Resume},
		{name: "healthy", min: L, weight: 1},
		{name: "replica killed holding a lock, then healthy", min: L, weight: 1, fault: true, event: true,
			begin: func() {
				i := killLockHolder(t, ts, replicas)
				killed.Store(int32(i + 1))
				p, base := serve(t, env)
				replicas[i].replace(p, base)
				deadTo.Store(time.Now().UnixNano())
			}},
	}
	var mins time.Duration
	var weights float64
	for _, ph := range phases {
		mins += ph.min
		weights += ph.weight
	}
	extra := max(total-mins, 0)
	t.Logf("soak: %v requested, schedule %v (tokens live %v, buffer %v; %d replicas x %d clients at %d req/s)",
		total, max(total, mins), L, soakBuffer, soakReplicas, len(soakServices), soakRate)

	// The load: one client per replica and service.
	var recMu sync.Mutex
	var records []soakRecord
	loadCtx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	loadDone := make(chan loadgen.Result, 1)
	go func() {
		res, err := loadgen.Run(loadCtx, loadgen.Options{
			URL: func(c int) string {
				_, base := replicas[c/len(soakServices)].current()
				return base + "/api/v1/jwt/token/" + soakServices[c%len(soakServices)]
			},
			Clients:  soakReplicas * len(soakServices),
			Duration: 2 * (max(total, mins) + time.Minute), // ended by stopLoad
			Rate:     soakRate,
			Timeout:  2 * soakClientTimeout,
			Observe: func(s loadgen.Sample) {
				rec := soakRecordOf(s)
				recMu.Lock()
				records = append(records, rec)
				recMu.Unlock()
			},
		})
		if err != nil {
			t.Error(err)
		}
		loadDone <- res
	}()

	sampleRSS := func() {
		for _, r := range replicas {
			r.mu.Lock()
			r.rss = append(r.rss, vmRSS(r.pid))
			r.mu.Unlock()
		}
	}
	begin := time.Now()
	for i, ph := range phases {
		ph.from = time.Now()
		if ph.begin != nil {
			ph.begin()
		}
		if ph.event {
			ph.faultTo = time.Now()
		}
		length := ph.min + time.Duration(float64(extra)*ph.weight/weights)
		hold(time.Until(ph.from.Add(length)))
		if ph.end != nil {
			ph.end()
		}
		ph.to = time.Now()
		if ph.fault && !ph.event {
			ph.faultTo = ph.to
		}
		// Memory: at the end of each healthy stretch (the first one once
		// the load has warmed the replicas up).
		if !ph.fault || ph.event {
			sampleRSS()
		}
		t.Logf("soak: +%v phase %d/%d %s done", ph.to.Sub(begin).Round(time.Second), i+1, len(phases), ph.name)
	}
	stopLoad()
	res := <-loadDone

	recMu.Lock()
	defer recMu.Unlock()
	slices.SortFunc(records, func(a, b soakRecord) int { return a.end.Compare(b.end) })
	// The killed replica's clients get no answer from the start of the
	// kill phase until its replacement serves.
	deadWindow := window{phases[len(phases)-1].from, time.Unix(0, deadTo.Load())}
	var logs []string
	for _, r := range replicas {
		r.mu.Lock()
		for _, p := range r.procs {
			logs = append(logs, p.output())
		}
		r.mu.Unlock()
	}
	in := soakInput{
		records: records, phases: phases, calls: ts.calls(), logs: logs,
		killedSlot: int(killed.Load()) - 1, dead: deadWindow, begin: begin,
	}
	summary := checkSoak(t, in)
	writeSoakChart(t, in, max(total, mins))
	t.Logf("soak: %d requests, %d answered; latency p50 %v, p99 %v, max %v",
		res.Requests, res.Requests-res.Errors, res.Percentile(0.5), res.Percentile(0.99), res.Max())
	t.Log("soak summary:\n" + summary)

	// Memory: each replica that lived through the run, from the end of the
	// first healthy phase to the end of the last.
	for i, r := range replicas {
		r.mu.Lock()
		samples := slices.Clone(r.rss)
		r.mu.Unlock()
		mb := func(b int64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + " MB" }
		if len(samples) < 2 {
			t.Logf("soak: replica %d (replaced): RSS %v", i, samples)
			continue
		}
		first, last := samples[0], samples[len(samples)-1]
		t.Logf("soak: replica %d RSS %s -> %s", i, mb(first), mb(last))
		if float64(last) > 1.5*float64(first)+10<<20 {
			t.Errorf("replica %d: RSS grew from %s to %s over the healthy phases (limit x1.5 + 10 MB)", i, mb(first), mb(last))
		}
	}

	// The secret and the tokens (JWTs, all of them) never reach a log line.
	for i, r := range replicas {
		p, _ := r.current()
		out := p.output()
		mustContainNone(t, fmt.Sprintf("replica %d's log", i), out, fleetSecret)
		if jwtRE.MatchString(out) {
			t.Errorf("replica %d's log holds a JWT", i)
		}
	}
}

// soakRedisConfig sets Redis configuration parameters (name, value, ...)
// with a client of its own.
func soakRedisConfig(t *testing.T, addr string, nameValues ...string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for i := 0; i+1 < len(nameValues); i += 2 {
		if err := c.ConfigSet(context.Background(), nameValues[i], nameValues[i+1]).Err(); err != nil {
			t.Errorf("CONFIG SET %s: %v", nameValues[i], err)
		}
	}
}

// jwtRE matches a JWT's header and payload.
var jwtRE = regexp.MustCompile(`eyJ[\w-]{8,}\.eyJ[\w-]{8,}`)

// hold waits d: the schedule's pacing, not a wait for something to happen.
func hold(d time.Duration) {
	if d > 0 {
		<-time.After(d)
	}
}

var lockAcquiredRE = regexp.MustCompile(`msg="renewal lock acquired" [^\n]*?service=(\S+) forced=false`)

// killLockHolder makes the token service slow, so that a renewal holds its
// lock for a while, waits for the next replica to log that it took a
// renewal lock, kills it at once (holding the lock), and makes the token
// service fast again. It returns the killed replica's slot.
func killLockHolder(t *testing.T, ts *tokenService, replicas []*soakReplica) int {
	t.Helper()
	ts.SetDelay(soakTokenTimeout - 100*time.Millisecond)
	defer ts.SetDelay(0)
	for _, r := range replicas {
		p, _ := r.current()
		r.mu.Lock()
		r.logFrom = p.outputLen()
		r.mu.Unlock()
	}
	deadline := time.Now().Add(3 * soakLifetime)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		for i, r := range replicas {
			p, _ := r.current()
			r.mu.Lock()
			from := r.logFrom
			r.mu.Unlock()
			if m := lockAcquiredRE.FindStringSubmatch(p.outputFrom(from)); m != nil {
				p.kill()
				t.Logf("soak: killed replica %d while it held the renewal lock of %s", i, m[1])
				return i
			}
		}
		<-tick.C
	}
	t.Fatalf("no replica took a renewal lock within %v (is the debug line %q still logged?)", 3*soakLifetime, "renewal lock acquired")
	return -1
}

// soakRecordOf keeps what the checks need of a sample.
func soakRecordOf(s loadgen.Sample) soakRecord {
	rec := soakRecord{start: s.Start, end: s.End, status: s.Status}
	rec.service = s.URL[strings.LastIndexByte(s.URL, '/')+1:]
	rec.replica = s.Client / len(soakServices)
	if s.Err != nil {
		rec.noAnswer, rec.errText = true, s.Err.Error()
		return rec
	}
	var body struct {
		AccessToken  string `json:"accessToken"`
		IssuedAt     string `json:"issuedAt"`
		ExpiresAt    string `json:"expiresAt"`
		NeedsRenewal *bool  `json:"needsRenewal"`
		IsExpired    *bool  `json:"isExpired"`
		Error        string `json:"error"`
	}
	if err := json.Unmarshal(s.Body, &body); err != nil {
		rec.errText = "body is not JSON"
		return rec
	}
	rec.errCode = body.Error
	if s.Status != 200 {
		return rec
	}
	rec.issuedAt, _ = time.Parse(time.RFC3339, body.IssuedAt)
	rec.expiresAt, _ = time.Parse(time.RFC3339, body.ExpiresAt)
	rec.jwtExp = jwtExpiry(body.AccessToken)
	if body.NeedsRenewal == nil || body.IsExpired == nil || rec.expiresAt.IsZero() || body.AccessToken == "" {
		rec.errText = "a 200 without accessToken, expiresAt, needsRenewal or isExpired"
	} else {
		rec.needsRenewal, rec.isExpired = *body.NeedsRenewal, *body.IsExpired
	}
	if n := len(body.AccessToken); n > 8 {
		rec.fingerprint = "…" + body.AccessToken[n-6:] // the signature's tail: tells tokens apart, reveals nothing usable
	}
	return rec
}

// jwtExpiry is the exp claim of a JWT, or zero.
func jwtExpiry(tok string) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Exp == 0 {
		return time.Time{}
	}
	return time.Unix(claims.Exp, 0)
}

// vmRSS is the resident set size of process pid, from /proc.
func vmRSS(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// window is a span of time [from, to).
type window struct{ from, to time.Time }

func (w window) has(t time.Time) bool { return !t.Before(w.from) && t.Before(w.to) }

// soakInput is what the checks look at.
type soakInput struct {
	records    []soakRecord // sorted by end
	phases     []*soakPhase
	calls      []time.Time // token-service requests
	logs       []string    // every replica process's output
	killedSlot int         // -1: none
	dead       window      // from the kill until the replacement served
	begin      time.Time
}

// checkSoak checks every answer against the soak's promises, reports each
// broken one with t.Errorf (a few examples each, never a token), and
// returns the summary table.
func checkSoak(t *testing.T, in soakInput) string {
	t.Helper()
	// excused: fault windows, each followed by a grace of one token life.
	var excused []window
	for _, ph := range in.phases {
		if ph.fault {
			excused = append(excused, window{ph.from, ph.faultTo.Add(soakLifetime)})
		}
	}
	isExcused := func(at time.Time) bool {
		for _, w := range excused {
			if w.has(at) {
				return true
			}
		}
		return false
	}

	type problem struct {
		what     string
		examples []string
		n        int
	}
	problems := map[string]*problem{}
	var order []string
	report := func(key, what string, rec soakRecord, detail string) {
		p := problems[key]
		if p == nil {
			p = &problem{what: what}
			problems[key] = p
			order = append(order, key)
		}
		p.n++
		if len(p.examples) < 5 {
			p.examples = append(p.examples, fmt.Sprintf("+%v replica %d %s: %s",
				rec.end.Sub(in.begin).Round(time.Millisecond), rec.replica, rec.service, detail))
		}
	}

	latestExp := map[string]time.Time{} // latest expiresAt handed out, per service
	type tally struct {
		requests, ok, fiveXX, noAnswer, inBuffer int
		maxLatency                               time.Duration
	}
	perPhase := make([]tally, len(in.phases))
	phaseOf := func(at time.Time) int {
		for i, ph := range in.phases {
			if !at.Before(ph.from) && at.Before(ph.to) {
				return i
			}
		}
		return len(in.phases) - 1
	}
	for _, rec := range in.records {
		pt := &perPhase[phaseOf(rec.start)]
		pt.requests++
		pt.maxLatency = max(pt.maxLatency, rec.end.Sub(rec.start))
		if lat := rec.end.Sub(rec.start); lat > soakClientTimeout {
			report("slow", "requests slower than JWT_TOKEN_TIMEOUT + REDIS_TIMEOUT + 1s ("+soakClientTimeout.String()+")", rec, lat.String())
		}
		switch {
		case rec.noAnswer:
			pt.noAnswer++
			if rec.replica == in.killedSlot && (in.dead.has(rec.start) || in.dead.has(rec.end)) {
				continue // the killed replica, before its replacement served
			}
			report("noanswer", "requests without an answer from a live replica", rec, rec.errText)
		case rec.status == 200:
			pt.ok++
			if rec.errText != "" {
				report("shape", "200 answers without the token fields", rec, rec.errText)
				continue
			}
			if rec.isExpired {
				report("expired", "expired tokens served (isExpired true)", rec, "isExpired true")
			}
			if !rec.expiresAt.After(rec.end) {
				report("expiresAt", "tokens served at or after their expiresAt", rec,
					fmt.Sprintf("expiresAt %s, answered at %s", rec.expiresAt.Format(time.TimeOnly), rec.end.Format("15:04:05.000")))
			}
			if !rec.jwtExp.IsZero() && !rec.jwtExp.After(rec.end) {
				report("jwtexp", "tokens served at or after their JWT exp claim", rec,
					fmt.Sprintf("token %s served %v after its exp %s (answered at %s; API issuedAt %s, expiresAt %s)", rec.fingerprint,
						rec.end.Sub(rec.jwtExp).Round(time.Millisecond), rec.jwtExp.Format(time.TimeOnly), rec.end.Format("15:04:05.000"),
						rec.issuedAt.Format(time.TimeOnly), rec.expiresAt.Format(time.TimeOnly)))
			}
			if rec.needsRenewal {
				pt.inBuffer++
				if !isExcused(rec.start) {
					report("buffer", "tokens inside their buffer served while the token service was healthy", rec, "needsRenewal true, token "+rec.fingerprint)
				}
			}
			// A token is handed out only while it has its last margin of
			// life left (domain.RenewalPolicy.ServableUntil): a 5xx in
			// that margin takes nothing valid away.
			margin := domain.RenewalPolicy{}.ServeMargin(domain.Token{IssuedAt: rec.issuedAt, ExpiresAt: rec.expiresAt})
			if until := rec.expiresAt.Add(-margin); until.After(latestExp[rec.service]) {
				latestExp[rec.service] = until
			}
		case rec.status >= 500:
			pt.fiveXX++
			if exp := latestExp[rec.service]; rec.end.Before(exp) {
				report("5xx", "5xx answers while a valid token had been handed out", rec,
					fmt.Sprintf("%d %s; a token servable until %s had been served", rec.status, rec.errCode, exp.Format("15:04:05.000")))
			}
		default:
			report("status", "unexpected statuses", rec, strconv.Itoa(rec.status)+" "+rec.errCode)
		}
	}

	// Token-service calls in the healthy stretches, past their grace,
	// against one call per service per renewal period (plus the cold
	// start in the first). The period follows from the lifetimes of the
	// tokens the replicas obtained there, as jwtcache understood them.
	var healthy []window
	for i, ph := range in.phases {
		from := ph.from
		if ph.event || i > 0 && in.phases[i-1].fault {
			prev := ph.from
			if ph.event {
				prev = ph.faultTo
			}
			from = prev.Add(soakLifetime)
		}
		if (ph.fault && !ph.event) || !from.Before(ph.to) {
			continue
		}
		healthy = append(healthy, window{from, ph.to})
	}
	var periods time.Duration
	var tokens int
	for _, tok := range obtainedTokens(in.logs) {
		for _, w := range healthy {
			if w.has(tok.IssuedAt) {
				periods += soakRenewalPeriod(tok, soakReplicas)
				tokens++
			}
		}
	}
	period := soakRenewalPeriod(domain.Token{IssuedAt: in.begin, ExpiresAt: in.begin.Add(soakLifetime)}, soakReplicas)
	if tokens > 0 {
		period = periods / time.Duration(tokens)
	}
	var calls int
	var ideal float64
	var callRows []string
	for i, w := range healthy {
		n := 0
		for _, c := range in.calls {
			if w.has(c) {
				n++
			}
		}
		want := float64(len(soakServices)) * w.to.Sub(w.from).Seconds() / period.Seconds()
		if i == 0 && w.from.Equal(in.phases[0].from) {
			want += float64(len(soakServices)) // the cold start
		}
		calls += n
		ideal += want
		callRows = append(callRows, fmt.Sprintf("+%v..+%v: %d calls, ideal %.1f",
			w.from.Sub(in.begin).Round(time.Second), w.to.Sub(in.begin).Round(time.Second), n, want))
	}
	// One call per service may fall either side of the windows' edges.
	slack := 0.1*ideal + float64(len(soakServices))
	callsOff := false
	if d := float64(calls) - ideal; d > slack || d < -slack {
		callsOff = true
		t.Errorf("%d token-service calls in the healthy stretches, ideal %.1f (one per service per %v renewal period): more than 10%% off\n  %s",
			calls, ideal, period.Round(time.Millisecond), strings.Join(callRows, "\n  "))
	}

	var b strings.Builder
	fmt.Fprintf(&b, "%-46s %16s %8s %6s %5s %9s %9s %10s %6s\n", "phase", "from..to", "requests", "200", "5xx", "no answer", "in buffer", "max lat.", "calls")
	for i, ph := range in.phases {
		pt := perPhase[i]
		n := 0
		for _, c := range in.calls {
			if !c.Before(ph.from) && c.Before(ph.to) {
				n++
			}
		}
		fmt.Fprintf(&b, "%-46s %16s %8d %6d %5d %9d %9d %10v %6d\n", ph.name,
			fmt.Sprintf("+%v..+%v", ph.from.Sub(in.begin).Round(time.Second), ph.to.Sub(in.begin).Round(time.Second)),
			pt.requests, pt.ok, pt.fiveXX, pt.noAnswer, pt.inBuffer, pt.maxLatency.Round(time.Millisecond), n)
	}
	fmt.Fprintf(&b, "token-service calls in healthy stretches past their grace: %d, ideal %.1f (renewal period %v)\n",
		calls, ideal, period.Round(time.Millisecond))
	if callsOff {
		b.WriteString("BROKEN: token-service calls more than 10% off the ideal\n")
	}
	if len(order) == 0 && !callsOff {
		b.WriteString("checks: all held\n")
	}
	for _, key := range order {
		p := problems[key]
		fmt.Fprintf(&b, "BROKEN: %d %s\n", p.n, p.what)
		t.Errorf("%d %s, e.g.\n  %s", p.n, p.what, strings.Join(p.examples, "\n  "))
	}
	return b.String()
}
