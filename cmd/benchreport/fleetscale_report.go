package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
)

// The extrapolation of the fleet-scale section: the fleet the product
// exists for.
const (
	bigFleetReplicas = 1000
	bigFleetServices = 10000
	bigFleetLifetime = time.Hour
)

func (r *report) summaryFleetScale(m *mdWriter) {
	f := r.fleetScale
	if f == nil || len(f.runs) == 0 {
		return
	}
	for _, run := range f.runs {
		m.row(fmt.Sprintf("Redis commands / GETs per renewal, %d replicas x %s services", run.replicas, count(run.services)),
			fmt.Sprintf("%.1f / %.2f", run.commandsPerRenewal(), run.getsPerRenewal()), "",
			goal(run.commandsPerRenewal() <= goalCommandsPerRenewal && run.getsPerRenewal() <= goalGetsPerRenewal,
				fmt.Sprintf("≤ %d / ≤ %d", goalCommandsPerRenewal, goalGetsPerRenewal)))
	}
	big := f.runs[len(f.runs)-1]
	share := big.idlePerSecond() / big.previousIdlePerSecond()
	m.row(fmt.Sprintf("idle Redis commands/s, %d replicas x %s one-hour tokens", big.replicas, count(big.services)),
		fmt.Sprintf("%.3g", big.idlePerSecond()), fmt.Sprintf("previous version: %.4g", big.previousIdlePerSecond()),
		goal(share < goalIdleShare, fmt.Sprintf("< %.0f%% (%.2f%%)", 100*goalIdleShare, 100*share)))
}

func (r *report) writeFleetScale(m *mdWriter) {
	f := r.fleetScale
	if f == nil {
		return
	}
	m.line("## Fleet scale")
	m.line("")
	if f.skipped != "" {
		m.line("%s", f.skipped)
		m.line("")
		return
	}
	c := f.cfg
	m.line("What a renewal costs Redis as the fleet grows. Replicas are `app.Cache` instances in this process, each with its own Redis client (its own connections and pub/sub subscription), its own token-service client, and the default check and cleanup intervals (%v, %v) (the per-client token-service budget is off: the warm-up asks for every service at once), sharing the Redis at %s under a key prefix per fleet: they coordinate exactly as separate processes do. Every command a replica sends is counted by name on its connections, and every byte it receives (Redis's output to it), so other users of that Redis do not count.",
		app.DefaultCheckInterval, app.DefaultCleanupInterval, c.redisAddr)
	m.line("")
	m.line("**Steady**: %s services, tokens of %v with a %v buffer; every replica first holds every service (a fleet that has served them a while), then the fleet takes 1 request per service per second, each sent to a replica picked at random, for %.1f renewal periods. A renewal is a token-service call; per-renewal figures divide everything the fleet sent over the window (renewals, lock, notifications, cleanup, health checks) by the renewals made. Every answer is checked at the instants its request began and ended.",
		count(c.services), c.lifetime, c.buffer, c.periods)
	m.line("")
	m.header("replicas x services", "Redis commands/s", "commands per renewal", "GETs per renewal", "Redis output", "token-service calls per service per renewal period", "renewed every (ideal)", "answers: served / failed / inside buffer / expired")
	for _, run := range f.runs {
		m.row(fmt.Sprintf("%d x %s", run.replicas, count(run.services)),
			fmt.Sprintf("%.4g", float64(run.redis.total())/run.window.Seconds()),
			fmt.Sprintf("%.1f", run.commandsPerRenewal()),
			fmt.Sprintf("%.2f", run.getsPerRenewal()),
			bytesText(float64(run.redis.bytesIn)/run.window.Seconds())+"/s",
			fmt.Sprintf("%.3g (%d calls)", run.callsPerServicePeriod(), run.calls),
			fmt.Sprintf("%v (%v)", run.interval.Round(10*time.Millisecond), run.period.Round(10*time.Millisecond)),
			fmt.Sprintf("%s / %d / %d / %d", count(int(run.served)), run.failed, run.inBuffer, run.expired))
	}
	m.line("")
	m.line("Commands per renewal, by name:")
	m.line("")
	m.header("replicas", "commands per renewal")
	for _, run := range f.runs {
		m.row(fmt.Sprintf("%d", run.replicas), perRenewalByName(run))
	}
	m.line("")
	m.line("**Idle**: the same fleets holding every service with one-hour tokens (the default %v buffer), nothing asked, for %v: the check and cleanup run, nothing renews. **Previous version**: each replica read every token every cleanup period (a `Store.List`, measured here at each size) and pinged its subscription every %v of silence (go-redis's default health check).",
		domain.DefaultRenewalBuffer, f.runs[0].idleWindow.Round(time.Second), previousHealthCheck)
	m.line("")
	m.header("replicas x services", "Redis commands/s", "by name", "Redis output", "one `Store.List`", "previous version: commands/s", "share")
	for _, run := range f.runs {
		m.row(fmt.Sprintf("%d x %s", run.replicas, count(run.services)),
			fmt.Sprintf("%.3g", run.idlePerSecond()),
			byName(run.idle, 1, run.idle.total()),
			bytesText(float64(run.idle.bytesIn)/run.idleWindow.Seconds())+"/s",
			fmt.Sprintf("%d commands, %s", run.list.total(), bytesText(float64(run.list.bytesIn))),
			fmt.Sprintf("%.4g", run.previousIdlePerSecond()),
			fmt.Sprintf("%.2f%%", 100*run.idlePerSecond()/run.previousIdlePerSecond()))
	}
	m.line("")
	r.writeFleetScaleModel(m, f)
}

// writeFleetScaleModel writes the commands per renewal as a function of the
// fleet size (a least-squares line through the measured sizes) and the
// extrapolation to bigFleetReplicas x bigFleetServices.
func (r *report) writeFleetScaleModel(m *mdWriter, f *fleetScaleResult) {
	if len(f.runs) < 2 {
		return
	}
	xs := make([]float64, len(f.runs))
	cmds, gets, out := make([]float64, len(f.runs)), make([]float64, len(f.runs)), make([]float64, len(f.runs))
	for i, run := range f.runs {
		xs[i] = float64(run.replicas)
		cmds[i] = run.commandsPerRenewal()
		gets[i] = run.getsPerRenewal()
		out[i] = float64(run.redis.bytesIn) / run.renewals()
	}
	ca, cb := fitLine(xs, cmds)
	ga, gb := fitLine(xs, gets)
	oa, ob := fitLine(xs, out)
	m.line("**As a function of the fleet size R** (least squares over the sizes above): commands per renewal ≈ %.2f + %.4f·R, GETs per renewal ≈ %.2f + %.4f·R, Redis output per renewal ≈ %s + %s·R. The constant is the renewer's own work (its store read, the lock, its read under the lock, the write and index update, the notification, the unlock): only the replica that fetched a token renews it. The R term is the periodic work shared out per renewal, and replicas standing by whose back-up timer fires before the renewer's notification reached them (a read and a failed lock each). The output's R term is the notification itself, which Redis sends to every replica: it carries the token, as the re-reads it replaces did.",
		ca, cb, ga, gb, bytesText(oa), bytesText(ob))
	m.line("")

	// The extrapolation. Back-ups act 0.4 leads or more after the renewer,
	// so their share per renewal shrinks as the lead grows with the token.
	small := domain.Token{IssuedAt: time.Unix(0, 0), ExpiresAt: time.Unix(0, 0).Add(f.runs[0].lifetime)}
	bigPolicy := domain.RenewalPolicy{Buffer: domain.DefaultRenewalBuffer}
	big := domain.Token{IssuedAt: time.Unix(0, 0), ExpiresAt: time.Unix(0, 0).Add(bigFleetLifetime)}
	leadRatio := f.policy.RenewalLead(small).Seconds() / bigPolicy.RenewalLead(big).Seconds()
	period := idealRenewalPeriod(bigPolicy, bigFleetLifetime, bigFleetReplicas)
	renewalsPerSec := float64(bigFleetServices) / period.Seconds()
	perRenewal := ca + cb*leadRatio*bigFleetReplicas
	largest := f.runs[len(f.runs)-1]
	idlePerReplica := largest.idlePerSecond() / float64(largest.replicas)
	idleBytesPerReplica := float64(largest.idle.bytesIn) / largest.idleWindow.Seconds() / float64(largest.replicas)
	cmdsPerSec := renewalsPerSec*perRenewal + bigFleetReplicas*idlePerReplica
	bytesPerSec := renewalsPerSec*(oa+ob*bigFleetReplicas) + bigFleetReplicas*idleBytesPerReplica
	listPerService := float64(largest.list.total()) / float64(largest.services)
	listBytesPerService := float64(largest.list.bytesIn) / float64(largest.services)
	prevCmds := bigFleetReplicas * (listPerService*bigFleetServices/app.DefaultCleanupInterval.Seconds() + 1/previousHealthCheck.Seconds())
	prevBytes := bigFleetReplicas * listBytesPerService * bigFleetServices / app.DefaultCleanupInterval.Seconds()
	m.line("**Extrapolated to %s replicas x %s services with %v tokens** (default %v buffer): a renewal every %v per service, %.3g renewals/s; the stand-by term scaled by the ratio of the renewal leads (the margin a renewer has before back-ups act grows with the lead) (%v here, %v there), the idle cost per replica as measured at %d replicas. Redis: **%.3g commands/s** (%.3g per renewal, %.3g/s of idle work) and **%s/s** out, against %.3g commands/s and %s/s for the previous version's cleanup alone (every replica reading every token every %v), which came in bursts of up to %s GETs when replicas started together.",
		count(bigFleetReplicas), count(bigFleetServices), bigFleetLifetime, domain.DefaultRenewalBuffer, period.Round(time.Second), renewalsPerSec,
		f.policy.RenewalLead(small), bigPolicy.RenewalLead(big), largest.replicas,
		cmdsPerSec, perRenewal, bigFleetReplicas*idlePerReplica, bytesText(bytesPerSec),
		prevCmds, bytesText(prevBytes), app.DefaultCleanupInterval, count(bigFleetReplicas*bigFleetServices))
	m.line("")
}

// perRenewalByName lists run's commands per renewal, most frequent first.
func perRenewalByName(run fleetScaleRun) string {
	return byName(run.redis, run.renewals(), 0)
}

// byName lists s's commands divided by per, most frequent first; with
// total > 0 as counts instead.
func byName(s tallySnapshot, per float64, total int64) string {
	type kv struct {
		name string
		n    int64
	}
	var all []kv
	for name, n := range s.cmds {
		all = append(all, kv{name, n})
	}
	slices.SortFunc(all, func(a, b kv) int { return cmp.Or(cmp.Compare(b.n, a.n), strings.Compare(a.name, b.name)) })
	parts := make([]string, 0, len(all))
	for _, e := range all {
		if total > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", e.name, e.n))
		} else {
			parts = append(parts, fmt.Sprintf("%s %.2f", e.name, float64(e.n)/per))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// fitLine is the least-squares line y = a + b·x.
func fitLine(xs, ys []float64) (a, b float64) {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return sy / n, 0
	}
	b = (n*sxy - sx*sy) / den
	a = (sy - b*sx) / n
	return a, b
}
