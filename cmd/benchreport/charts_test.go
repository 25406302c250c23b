package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/domain"
)

// checkSVG fails the test unless svg is well-formed XML with an svg root,
// and returns the data-series names of its lines and bars.
func checkSVG(t *testing.T, name string, svg []byte) []string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	var root string
	var series []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", name, err)
		}
		if e, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = e.Name.Local
			}
			for _, a := range e.Attr {
				if a.Name.Local == "data-series" {
					series = append(series, a.Value)
				}
			}
		}
	}
	if root != "svg" {
		t.Fatalf("%s: root element %q", name, root)
	}
	return series
}

func TestFleetChart(t *testing.T) {
	f := &fleetResult{lifetime: 4 * time.Second, buffer: time.Second, window: 40 * time.Second,
		policy: domain.RenewalPolicy{Buffer: time.Second},
		runs: []fleetRun{
			{replicas: 1, jwtcacheCold: 1, jwtcacheSteady: 19, oauth2Cold: 1, oauth2Steady: 13},
			{replicas: 10, jwtcacheCold: 1, jwtcacheSteady: 19, oauth2Cold: 10, oauth2Steady: 130},
		}}
	svg, err := fleetChart(f, 10)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(checkSVG(t, chartFleet, svg), ",")
	if got != "jwtcache,ideal,x/oauth2 caches,jwtcache,ideal,x/oauth2 caches" {
		t.Fatalf("bars %s", got)
	}
	for _, want := range []string{">1 replica<", ">10 replicas<", ">140<", ">20<"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("the chart lacks %s", want)
		}
	}
}

func TestScaleCharts(t *testing.T) {
	s := &scaleResult{idle: time.Second, runs: []scaleRun{
		{services: 100, fill: 2 * time.Millisecond, heapPerToken: 1600, statuses: 20 * time.Microsecond, statistics: 19 * time.Microsecond,
			restStatus: 190 * time.Microsecond, restStatistics: 60 * time.Microsecond, restStatusBytes: 32000},
		{services: 10000, fill: 280 * time.Millisecond, heapPerToken: 1700, statuses: 2 * time.Millisecond, statistics: 2 * time.Millisecond,
			restStatus: 18 * time.Millisecond, restStatistics: 2500 * time.Microsecond, restStatusBytes: 3 << 20},
	}}
	svg, err := scaleTimeChart(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(checkSVG(t, chartTime, svg)); got != 5 {
		t.Errorf("%d time series, want 5", got)
	}
	for _, want := range []string{">100<", ">10k<", "µs<", "ms<"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("the time chart lacks %s", want)
		}
	}
	svg, err = scaleHeapChart(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(checkSVG(t, chartHeap, svg), ","); got != "live heap of the cached tokens,GET /status body" {
		t.Errorf("heap series %s", got)
	}
	if !strings.Contains(string(svg), "MiB<") {
		t.Error("the heap chart's axis is not in bytes")
	}
}

func TestPercentileLabel(t *testing.T) {
	for x, want := range map[float64]string{1: "p0", 10: "p90", 100: "p99", 1000: "p99.9", 10000: "p99.99"} {
		if got := percentileLabel(x); got != want {
			t.Errorf("percentileLabel(%v) = %q, want %q", x, got, want)
		}
	}
}

func TestChartsDir(t *testing.T) {
	for _, tc := range []struct{ out, charts, want string }{
		{"BENCHMARKS.md", "docs/bench", "docs/bench"},
		{"/tmp/x/BENCHMARKS.md", "docs/bench", "/tmp/x/docs/bench"},
		{"-", "docs/bench", ""},
		{"BENCHMARKS.md", "", ""},
	} {
		c := config{out: tc.out, charts: tc.charts}
		if got := c.chartsDir(); got != tc.want {
			t.Errorf("out %q charts %q: %q, want %q", tc.out, tc.charts, got, tc.want)
		}
	}
}
