package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReportEndToEnd runs the whole program at a tiny scale and checks
// that the report has every section and the machine description.
func TestReportEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every measurement (about 15 s)")
	}
	out := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	var stderr bytes.Buffer
	err := run(context.Background(), []string{
		"-out", out, "-duration", "300ms", "-rounds", "1", "-clients", "2",
		"-lifetime", "2s", "-buffer", "500ms", "-lifetimes", "1", "-burst", "5", "-replicas", "1,2",
		"-scale", "10,100", "-idle", "100ms",
		"-fleetscale", "2,3", "-fleetservices", "10", "-fleetlifetime", "2s", "-fleetbuffer", "500ms", "-fleetidle", "500ms",
	}, &stderr, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	report := string(b)
	for _, want := range []string{
		"# jwtcache benchmarks", "go run ./cmd/benchreport -out", "| CPU |", "| Go | go1.",
		"## Summary", "## REST cache hit", "bare Gin handler, same bytes", "jwtcache REST API, memory store",
		"jwtcache REST API, Redis store", "## In-process hit", "x/oauth2 ReuseTokenSource.Token",
		"## Token-service calls", "## Scale", "heap per token",
		"## Fleet scale", "commands per renewal", "As a function of the fleet size R", "Extrapolated to 1,000 replicas x 10,000 services",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, report)
		}
	}
	// The charts: beside the report, well-formed, and shown in it.
	for _, name := range []string{chartREST, chartLatency, chartFleet, chartTime, chartHeap} {
		svg, err := os.ReadFile(filepath.Join(filepath.Dir(out), "docs", "bench", name))
		if err != nil {
			t.Errorf("chart %s: %v", name, err)
			continue
		}
		checkSVG(t, name, svg)
		if !strings.Contains(report, "](docs/bench/"+name+")") {
			t.Errorf("the report does not show %s", name)
		}
	}
}

func TestFlagsAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{"-lifetime", "1500ms"},
		{"-buffer", "2s", "-lifetime", "4s"},
		{"-replicas", "1,x"},
		{"-scale", "0"},
		{"-clients", "0"},
		{"-fleetlifetime", "2500ms"},
		{"-fleetbuffer", "1s", "-fleetlifetime", "2s"},
		{"-fleetscale", "0"},
		{"extra"},
		{"-charts", "/tmp/charts"},
		{"-charts", "../charts"},
	} {
		var stderr bytes.Buffer
		if _, err := parseFlags(args, &stderr); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	cfg, err := parseFlags([]string{"-quick", "-duration", "1s"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.duration != time.Second || cfg.lifetimes != 4 {
		t.Errorf("-quick with -duration 1s: duration %v, lifetimes %d", cfg.duration, cfg.lifetimes)
	}
}

func TestFormatting(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4321: "-4,321"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{
		500: "500 ns", 1500: "1.5 µs", 2500 * time.Microsecond: "2.5 ms", 3 * time.Second: "3 s",
	} {
		if got := dur(d); got != want {
			t.Errorf("dur(%v) = %q, want %q", d, got, want)
		}
	}
	if got := bytesText(1664); got != "1.62 KiB" {
		t.Errorf("bytesText(1664) = %q", got)
	}
	if got := commandLine([]string{"-out", "a b.md"}); got != `go run ./cmd/benchreport -out "a b.md"` {
		t.Errorf("commandLine = %q", got)
	}
}
