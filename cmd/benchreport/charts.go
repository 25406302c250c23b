package main

import (
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jwtcache/jwtcache/cmd/benchreport/svgchart"
)

// The charts of the report, written as SVG files beside it (make bench:
// docs/bench/) and shown in it.
const (
	chartREST    = "rest-throughput.svg"
	chartLatency = "hit-latency.svg"
	chartFleet   = "token-service-calls.svg"
	chartTime    = "scale-time.svg"
	chartHeap    = "scale-heap.svg"
)

// latencyPercentiles are the points of the latency chart, as fractions.
var latencyPercentiles = []float64{0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999}

// charts draws every chart the measurements allow, by file name.
func (r *report) charts() (map[string][]byte, error) {
	out := map[string][]byte{}
	add := func(name string, svg []byte, err error) error {
		if err != nil {
			return fmt.Errorf("chart %s: %w", name, err)
		}
		out[name] = svg
		return nil
	}
	if rr := r.rest; rr != nil {
		svg, err := restChart(rr)
		if err := add(chartREST, svg, err); err != nil {
			return nil, err
		}
		svg, err = latencyChart(rr)
		if err := add(chartLatency, svg, err); err != nil {
			return nil, err
		}
	}
	if f := r.fleet; f != nil && len(f.runs) > 0 {
		svg, err := fleetChart(f, r.cfg.lifetimes)
		if err := add(chartFleet, svg, err); err != nil {
			return nil, err
		}
	}
	if s := r.scale; s != nil && len(s.runs) > 0 {
		svg, err := scaleTimeChart(s)
		if err := add(chartTime, svg, err); err != nil {
			return nil, err
		}
		svg, err = scaleHeapChart(s)
		if err := add(chartHeap, svg, err); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// writeCharts writes the charts into dir, creating it.
func writeCharts(dir string, charts map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, svg := range charts {
		if err := os.WriteFile(filepath.Join(dir, name), svg, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// chart writes the Markdown image of chart name, when the report has it.
func (r *report) chart(m *mdWriter, name, alt string) {
	if r.chartDir == "" || r.chartFiles[name] == nil {
		return
	}
	m.line("![%s](%s)", alt, path.Join(r.chartDir, name))
	m.line("")
}

func restChart(rr *restResult) ([]byte, error) {
	groups := []string{"memory store"}
	jwtcache := []float64{rr.mem.result.Rate()}
	if rr.redis.skipped == "" {
		groups = append(groups, "Redis store")
		jwtcache = append(jwtcache, rr.redis.result.Rate())
	}
	bare := make([]float64, len(groups))
	for i := range bare {
		bare[i] = rr.bare.result.Rate() // one bare run, the baseline of both
	}
	return svgchart.BarChart{
		Title:    "REST cache hit: requests per second",
		Subtitle: fmt.Sprintf("GET /api/v1/jwt/token/kyc, %d keep-alive clients on loopback; bare Gin writes the same bytes", rr.clients),
		YLabel:   "requests/s",
		Groups:   groups,
		Series:   []svgchart.BarSeries{{Name: "bare Gin handler", Values: bare}, {Name: "jwtcache REST API", Values: jwtcache}},
		Format:   func(v float64) string { return count(int(math.Round(v))) },
		Width:    640, Height: 340,
	}.SVG()
}

func latencyChart(rr *restResult) ([]byte, error) {
	var series []svgchart.Series
	for _, run := range []restRun{rr.bare, rr.mem, rr.redis} {
		if run.skipped != "" {
			continue
		}
		s := svgchart.Series{Name: run.name, Markers: true}
		for _, p := range latencyPercentiles {
			d := run.result.Percentile(p)
			if d <= 0 {
				return nil, fmt.Errorf("%s answered no request", run.name)
			}
			// Rounded: 1/(1-0.9999) is 10000.000000000002, which would open
			// another decade on the axis.
			s.Points = append(s.Points, svgchart.Point{X: math.Round(1 / (1 - p)), Y: d.Seconds()})
		}
		series = append(series, s)
	}
	return svgchart.LineChart{
		Title:    "REST cache hit: latency distribution",
		Subtitle: "latency at each percentile, both axes logarithmic; the same load for every server",
		XLabel:   "percentile", YLabel: "latency",
		XScale: svgchart.Log, YScale: svgchart.Log,
		XFormat: percentileLabel, YFormat: secondsLabel,
		Series: series,
		Width:  720, Height: 360,
	}.SVG()
}

// percentileLabel names the x of 1/(1-p) as its percentile: 10 is p90,
// 1000 is p99.9.
func percentileLabel(x float64) string {
	if x <= 1 {
		return "p0"
	}
	return "p" + strconv.FormatFloat(100*(1-1/x), 'f', -1, 64)
}

func fleetChart(f *fleetResult, lifetimes int) ([]byte, error) {
	var groups []string
	var jwtcache, ideal, oauth2 []float64
	for _, run := range f.runs {
		name := strconv.Itoa(run.replicas) + " replicas"
		if run.replicas == 1 {
			name = "1 replica"
		}
		groups = append(groups, name)
		jwtcache = append(jwtcache, float64(run.jwtcacheCold+run.jwtcacheSteady))
		ideal = append(ideal, f.ideal(run.replicas))
		oauth2 = append(oauth2, float64(run.oauth2Cold+run.oauth2Steady))
	}
	return svgchart.BarChart{
		Title:    "Token-service calls against the number of replicas",
		Subtitle: fmt.Sprintf("cold start, then %d token lifetimes; replicas share Redis, x/oauth2 caches one per replica", lifetimes),
		YLabel:   "token-service calls",
		Groups:   groups,
		Series: []svgchart.BarSeries{
			{Name: "jwtcache", Values: jwtcache},
			{Name: "ideal", Values: ideal},
			{Name: "x/oauth2 caches", Values: oauth2},
		},
		Format: oneDecimal,
		Width:  720, Height: 360,
	}.SVG()
}

func scaleTimeChart(s *scaleResult) ([]byte, error) {
	series := []struct {
		name string
		v    func(scaleRun) time.Duration
	}{
		{"first fetch of every service", func(r scaleRun) time.Duration { return r.fill }},
		{"GET /status (REST)", func(r scaleRun) time.Duration { return r.restStatus }},
		{"GET /statistics (REST)", func(r scaleRun) time.Duration { return r.restStatistics }},
		{"Statuses (in process)", func(r scaleRun) time.Duration { return r.statuses }},
		{"Statistics (in process)", func(r scaleRun) time.Duration { return r.statistics }},
	}
	c := svgchart.LineChart{
		Title:    "Scale: time against the number of services",
		Subtitle: "mean of one call (the first fetch: all of them), memory store; both axes logarithmic, a slope of 1 is linear",
		XLabel:   "cached services", YLabel: "time",
		XScale: svgchart.Log, YScale: svgchart.Log, YFormat: secondsLabel,
		Width: 720, Height: 380,
	}
	for _, sr := range series {
		line := svgchart.Series{Name: sr.name, Markers: true}
		for _, run := range s.runs {
			if d := sr.v(run); d > 0 {
				line.Points = append(line.Points, svgchart.Point{X: float64(run.services), Y: d.Seconds()})
			}
		}
		if len(line.Points) > 0 {
			c.Series = append(c.Series, line)
		}
	}
	return c.SVG()
}

func scaleHeapChart(s *scaleResult) ([]byte, error) {
	heap := svgchart.Series{Name: "live heap of the cached tokens", Markers: true}
	body := svgchart.Series{Name: "GET /status body", Markers: true}
	for _, run := range s.runs {
		n := float64(run.services)
		if run.heapPerToken > 0 {
			heap.Points = append(heap.Points, svgchart.Point{X: n, Y: run.heapPerToken * n})
		}
		if run.restStatusBytes > 0 {
			body.Points = append(body.Points, svgchart.Point{X: n, Y: float64(run.restStatusBytes)})
		}
	}
	c := svgchart.LineChart{
		Title:    "Scale: memory against the number of services",
		Subtitle: "live heap after a full GC, filled minus empty; both axes logarithmic",
		XLabel:   "cached services", YLabel: "bytes",
		XScale: svgchart.Log, YScale: svgchart.Log, YFormat: bytesLabel,
		Width: 720, Height: 360,
	}
	for _, sr := range []svgchart.Series{heap, body} {
		if len(sr.Points) > 0 {
			c.Series = append(c.Series, sr)
		}
	}
	return c.SVG()
}

// oneDecimal writes whole numbers as such and others with one decimal.
func oneDecimal(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// secondsLabel writes seconds in a fitting unit: 100 µs, 10 ms, 1 s.
func secondsLabel(v float64) string { return dur(time.Duration(v * float64(time.Second))) }

func bytesLabel(v float64) string { return bytesText(v) }
