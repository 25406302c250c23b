package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/cmd/benchreport/svgchart"
)

// soakChartEnv, when set, is where TestSoak writes the timeline chart of
// its run; by default the test's temporary directory (never the repository).
const soakChartEnv = "JWTCACHE_SOAK_CHART"

// soakSeries are the per-second counts of a soak run.
type soakSeries struct {
	ok, failed, calls, expired []svgchart.Point
}

// soakTimeline counts, per second since in.begin, the 200 answers, the
// other answers (and requests without one), the token-service calls and
// the expired tokens served (expired by the API's flag, its expiresAt or
// the JWT's exp, as the checks judge them).
func soakTimeline(in soakInput) soakSeries {
	var end time.Time
	for _, r := range in.records {
		if r.end.After(end) {
			end = r.end
		}
	}
	n := int(math.Ceil(end.Sub(in.begin).Seconds()))
	n = max(n, 1)
	ok, failed, calls, expired := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	bucket := func(t time.Time) int { return min(max(int(t.Sub(in.begin)/time.Second), 0), n-1) }
	for _, r := range in.records {
		i := bucket(r.end)
		if r.status != 200 {
			failed[i]++
			continue
		}
		ok[i]++
		if r.isExpired || !r.expiresAt.After(r.end) || (!r.jwtExp.IsZero() && !r.jwtExp.After(r.end)) {
			expired[i]++
		}
	}
	for _, c := range in.calls {
		if !c.Before(in.begin) {
			calls[bucket(c)]++
		}
	}
	points := func(v []float64) []svgchart.Point {
		p := make([]svgchart.Point, len(v))
		for i := range v {
			p[i] = svgchart.Point{X: float64(i), Y: v[i]}
		}
		return p
	}
	return soakSeries{ok: points(ok), failed: points(failed), calls: points(calls), expired: points(expired)}
}

// soakChart draws the run: answers, failures, token-service calls and
// expired tokens served per second, the fault phases shaded.
func soakChart(in soakInput, total time.Duration) ([]byte, error) {
	s := soakTimeline(in)
	zero := 0.0
	c := svgchart.LineChart{
		Title: fmt.Sprintf("Soak: %d replicas, %d req/s, tokens living %v, faults on a schedule", soakReplicas, soakReplicas*len(soakServices)*soakRate, soakLifetime),
		Subtitle: fmt.Sprintf("%v run; per second: answers, failed requests, token-service calls, expired tokens served (must stay at 0)",
			total.Round(time.Second)),
		XLabel: "seconds since the start", YLabel: "per second",
		YMin:  &zero,
		Width: 960, Height: 400,
		Series: []svgchart.Series{
			{Name: "200 answers", Points: s.ok},
			{Name: "failed requests", Points: s.failed},
			{Name: "token-service calls", Points: s.calls},
			{Name: "expired tokens served", Points: s.expired, Dashed: true},
		},
	}
	for _, ph := range in.phases {
		if !ph.fault {
			continue
		}
		to := ph.faultTo
		if ph.event || to.Sub(ph.from) < time.Second {
			to = ph.from.Add(time.Second)
		}
		label := ph.name
		if i := strings.IndexAny(label, ",("); i > 0 {
			label = strings.TrimSpace(label[:i])
		}
		c.Bands = append(c.Bands, svgchart.Band{From: ph.from.Sub(in.begin).Seconds(), To: to.Sub(in.begin).Seconds(), Label: label})
	}
	return c.SVG()
}

// writeSoakChart writes the chart where soakChartEnv says, or into the
// test's temporary directory.
func writeSoakChart(t *testing.T, in soakInput, total time.Duration) {
	t.Helper()
	svg, err := soakChart(in, total)
	if err != nil {
		t.Errorf("soak chart: %v", err)
		return
	}
	path := os.Getenv(soakChartEnv)
	if path == "" {
		path = filepath.Join(t.TempDir(), "soak.svg")
	}
	if err := os.WriteFile(path, svg, 0o644); err != nil {
		t.Errorf("soak chart: %v", err)
		return
	}
	t.Logf("soak: timeline chart %s", path)
}

// TestSoakChart draws a made-up run: per-second counts in the right
// buckets, one band per fault, well-formed SVG.
func TestSoakChart(t *testing.T) {
	begin := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s float64) time.Time { return begin.Add(time.Duration(s * float64(time.Second))) }
	in := soakInput{begin: begin, calls: []time.Time{at(0.1), at(4.2), at(4.9)}}
	for i := range 30 {
		r := soakRecord{end: at(float64(i) / 6), status: 200, expiresAt: at(60)}
		if i == 7 {
			r.status = 503
		}
		if i == 8 {
			r.isExpired = true
		}
		in.records = append(in.records, r)
	}
	in.phases = []*soakPhase{
		{name: "healthy"},
		{name: "token service slow (1.2s)", fault: true, from: at(2), to: at(3), faultTo: at(3)},
		{name: "Redis restarted, then healthy", fault: true, event: true, from: at(4), to: at(5), faultTo: at(4)},
	}
	s := soakTimeline(in)
	count := func(p []svgchart.Point) string {
		var parts []string
		for _, v := range p {
			parts = append(parts, fmt.Sprint(v.Y))
		}
		return strings.Join(parts, " ")
	}
	if got := count(s.ok); got != "6 5 6 6 6" {
		t.Errorf("200 answers per second: %s", got)
	}
	if got := count(s.failed) + " / " + count(s.expired) + " / " + count(s.calls); got != "0 1 0 0 0 / 0 1 0 0 0 / 1 0 0 0 2" {
		t.Errorf("failed / expired / calls per second: %s", got)
	}
	svg, err := soakChart(in, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(svg)
	for _, want := range []string{"200 answers", "token-service calls", "expired tokens served", ">token service slow<", ">Redis restarted<"} {
		if !strings.Contains(doc, want) {
			t.Errorf("the chart lacks %q", want)
		}
	}
	if n := strings.Count(doc, `class="band"`); n != 2 {
		t.Errorf("%d fault bands, want 2", n)
	}
}
