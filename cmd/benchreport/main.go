// Command benchreport measures jwtcache and writes BENCHMARKS.md: every
// figure beside its baseline, measured in the same run on the same machine.
//
//	go run ./cmd/benchreport -out BENCHMARKS.md     (what `make bench` runs)
//	go run ./cmd/benchreport -quick                 (a shorter run, to stdout)
//
// It measures, in one process:
//
//   - REST cache hit: GET /api/v1/jwt/token/kyc through the REST API as
//     served, with the memory store and with the Redis store, against a bare
//     Gin handler writing the same bytes; requests/s, p50 and p99 latency
//     from the same load generator (package loadgen), and the Redis
//     commands one hit costs.
//   - In-process hit: app.Cache.BearerToken against x/oauth2's
//     ReuseTokenSource holding a valid token (testing.Benchmark).
//   - Token-service calls: 1, 3 and 10 replicas (separate app.Cache
//     instances, each with its own near cache and Redis client, sharing one
//     Redis) under a cold-start burst and over ten short token lifetimes,
//     against the ideal and against as many x/oauth2 token sources, each
//     with a counting development token service of its own.
//   - Scale: 100, 1,000 and 10,000 cached services: heap per token, the
//     cost of Statuses and Statistics (in process and over REST), and the
//     CPU the renewal engine spends while nothing is asked of it.
//   - Fleet scale: 10, 30 and 100 replicas x 1,000 services sharing one
//     Redis, 20 s tokens, 1 request per service per second: the Redis
//     commands, GETs and bytes a renewal costs as the fleet grows, the
//     token-service calls per service per renewal period, and the Redis
//     traffic of an idle fleet holding one-hour tokens (see fleetscale.go).
//
// With -out a file, it also draws the figures as SVG charts (package
// svgchart) into -charts (docs/bench beside the report by default), and
// the report shows them.
//
// The Redis parts use the Redis at -redis (127.0.0.1:6379 by default) under
// a key prefix of their own, removed at the end; with no Redis answering,
// the REST Redis figure says "skipped" and the replicas share a memory store.
// The whole run takes about five minutes on a 2-core machine, three of them
// the fleet-scale section; -quick cuts it to about a minute at the cost of
// precision. -sections runs some steps only ("-sections 'fleet scale'").
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// config is what the flags set.
type config struct {
	out       string
	charts    string // chart directory, relative to out's directory
	redisAddr string
	quick     bool

	// REST cache hit.
	clients  int
	duration time.Duration
	rounds   int
	warmup   time.Duration

	// Token-service calls.
	replicas  []int
	lifetime  time.Duration
	buffer    time.Duration
	lifetimes int
	burst     int

	// Scale.
	scale []int
	idle  time.Duration

	// Fleet scale.
	fleetScale    []int
	fleetServices int
	fleetIdle     time.Duration
	fleetLifetime time.Duration
	fleetBuffer   time.Duration

	// sections, when not empty, are the only steps run.
	sections map[string]bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	// The core and the adapters log through slog; a benchmark report is
	// no place for their warnings (a Redis key prefix being cleaned, ...).
	slog.SetDefault(slog.New(slog.DiscardHandler))

	progress := func(format string, a ...any) { fmt.Fprintf(stderr, "benchreport: "+format+"\n", a...) }
	r := &report{command: commandLine(args), started: time.Now(), cfg: cfg}
	r.machine = describeMachine(ctx, cfg.redisAddr)

	steps := []struct {
		name string
		fn   func(context.Context, *config, *report) error
	}{
		{"in-process hit", measureInProcess},
		{"REST cache hit", measureREST},
		{"token-service calls", measureFleet},
		{"scale", measureScale},
		{"fleet scale", measureFleetScale},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(cfg.sections) > 0 && !cfg.sections[s.name] {
			continue
		}
		progress("%s ...", s.name)
		t := time.Now()
		if err := s.fn(ctx, cfg, r); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		progress("%s done in %v", s.name, time.Since(t).Round(time.Millisecond))
	}
	r.elapsed = time.Since(r.started)

	if dir := cfg.chartsDir(); dir != "" {
		if r.chartFiles, err = r.charts(); err != nil {
			return err
		}
		if err := writeCharts(dir, r.chartFiles); err != nil {
			return err
		}
		r.chartDir = filepath.ToSlash(cfg.charts)
		progress("wrote %d charts to %s", len(r.chartFiles), dir)
	}

	w := stdout
	if cfg.out != "" && cfg.out != "-" {
		f, err := os.Create(cfg.out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if err := r.write(w); err != nil {
		return err
	}
	if cfg.out != "" && cfg.out != "-" {
		progress("wrote %s (%v)", cfg.out, r.elapsed.Round(time.Second))
	}
	return nil
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &config{}
	fs.StringVar(&cfg.out, "out", "-", "write the report to `file` (- for stdout)")
	fs.StringVar(&cfg.charts, "charts", "docs/bench", "write the SVG charts into this `directory`, relative to the report's (with -out a file; empty: none)")
	fs.StringVar(&cfg.redisAddr, "redis", "127.0.0.1:6379", "Redis `address` for the Redis figures; empty skips them")
	fs.BoolVar(&cfg.quick, "quick", false, "a shorter, less precise run (about a minute)")
	fs.IntVar(&cfg.clients, "clients", 16, "concurrent keep-alive clients of the REST load generator")
	fs.DurationVar(&cfg.duration, "duration", 6*time.Second, "measured `time` of each REST server, split over -rounds")
	fs.IntVar(&cfg.rounds, "rounds", 3, "turns the REST servers take, to even out drift")
	fs.DurationVar(&cfg.lifetime, "lifetime", 4*time.Second, "token lifetime of the token-service-calls runs (whole seconds)")
	fs.DurationVar(&cfg.buffer, "buffer", time.Second, "renewal buffer of the token-service-calls runs")
	fs.IntVar(&cfg.lifetimes, "lifetimes", 10, "token lifetimes the token-service-calls runs last")
	fs.IntVar(&cfg.burst, "burst", 100, "concurrent cold-start requests per replica")
	replicas := fs.String("replicas", "1,3,10", "replica counts of the token-service-calls runs")
	scale := fs.String("scale", "100,1000,10000", "numbers of cached services of the scale runs")
	fs.DurationVar(&cfg.idle, "idle", 5*time.Second, "idle `time` over which the renewal engine's CPU is measured")
	fleetScale := fs.String("fleetscale", "10,30,100", "replica counts of the fleet-scale runs")
	fs.IntVar(&cfg.fleetServices, "fleetservices", defaultFleetScale.services, "services of the fleet-scale runs")
	fs.DurationVar(&cfg.fleetIdle, "fleetidle", defaultFleetScale.idle, "idle `time` of the fleet-scale runs (one-hour tokens, nothing asked)")
	fs.DurationVar(&cfg.fleetLifetime, "fleetlifetime", defaultFleetScale.lifetime, "token lifetime of the fleet-scale steady runs (whole seconds)")
	fs.DurationVar(&cfg.fleetBuffer, "fleetbuffer", defaultFleetScale.buffer, "renewal buffer of the fleet-scale steady runs")
	sections := fs.String("sections", "", "comma-separated steps to run (in-process hit, REST cache hit, token-service calls, scale, fleet scale); empty runs them all")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if cfg.quick {
		// Shorter runs; flags given explicitly still win.
		for name, value := range map[string]string{"duration": "3s", "lifetimes": "4", "idle": "2s", "fleetscale": "10", "fleetservices": "200", "fleetidle": "10s"} {
			if !set[name] {
				if err := fs.Set(name, value); err != nil {
					return nil, err
				}
			}
		}
	}
	var err error
	if cfg.replicas, err = intList(*replicas); err != nil {
		return nil, fmt.Errorf("-replicas: %w", err)
	}
	if cfg.scale, err = intList(*scale); err != nil {
		return nil, fmt.Errorf("-scale: %w", err)
	}
	if cfg.fleetScale, err = intList(*fleetScale); err != nil {
		return nil, fmt.Errorf("-fleetscale: %w", err)
	}
	if *sections != "" {
		cfg.sections = map[string]bool{}
		for name := range strings.SplitSeq(*sections, ",") {
			cfg.sections[strings.TrimSpace(name)] = true
		}
	}
	switch {
	case cfg.clients < 1:
		return nil, fmt.Errorf("-clients %d: want at least 1", cfg.clients)
	case cfg.duration <= 0 || cfg.idle <= 0:
		return nil, fmt.Errorf("-duration and -idle must be more than 0")
	case cfg.lifetime < 2*time.Second || cfg.lifetime%time.Second != 0:
		return nil, fmt.Errorf("-lifetime %v: want whole seconds, at least 2s", cfg.lifetime)
	case cfg.buffer < 0 || 2*cfg.buffer >= cfg.lifetime:
		return nil, fmt.Errorf("-buffer %v: want at least 0 and less than half of -lifetime", cfg.buffer)
	case cfg.lifetimes < 1 || cfg.burst < 1 || cfg.rounds < 1:
		return nil, fmt.Errorf("-lifetimes, -burst and -rounds must be at least 1")
	case cfg.fleetServices < 1 || cfg.fleetIdle <= 0:
		return nil, fmt.Errorf("-fleetservices must be at least 1 and -fleetidle more than 0")
	case cfg.fleetLifetime < 2*time.Second || cfg.fleetLifetime%time.Second != 0 || cfg.fleetBuffer < 0 || 2*cfg.fleetBuffer >= cfg.fleetLifetime:
		return nil, fmt.Errorf("-fleetlifetime %v, -fleetbuffer %v: want whole seconds, at least 2s, and a buffer under half of it", cfg.fleetLifetime, cfg.fleetBuffer)
	case filepath.IsAbs(cfg.charts) || strings.HasPrefix(filepath.Clean(cfg.charts), ".."):
		return nil, fmt.Errorf("-charts %q: want a directory inside the report's, so that the report can show the charts", cfg.charts)
	}
	cfg.warmup = min(cfg.duration/6, time.Second)
	return cfg, nil
}

// chartsDir is where the charts go, or "" when none are written: the
// report goes to stdout, or -charts is empty.
func (c *config) chartsDir() string {
	if c.out == "" || c.out == "-" || c.charts == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(c.out), filepath.FromSlash(c.charts))
}

func intList(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// commandLine is the command that reproduces this run.
func commandLine(args []string) string {
	parts := []string{"go", "run", "./cmd/benchreport"}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
