package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"syscall"
	"time"

	"github.com/jwtcache/jwtcache/adapters/memory"
	"github.com/jwtcache/jwtcache/adapters/rest"
	"github.com/jwtcache/jwtcache/app"
)

// scaleInterval is the renewal check and cleanup period of the scale runs,
// instead of the defaults (30 s and 60 s): the idle window then holds
// several passes of each, so the idle figure is their cost, not luck.
const scaleInterval = time.Second

// scaleRun is one number of cached services.
type scaleRun struct {
	services int
	// fill is the time to fetch every service's first token (the issuer
	// answers at once in the process).
	fill time.Duration
	// heapPerToken is the live heap the cache holds per service, in bytes.
	heapPerToken float64
	// Mean times of one call.
	statuses, statistics           time.Duration
	restStatus, restStatistics     time.Duration
	restStatusBytes, restStatsByte int
	// idleCPU is the process's CPU time (user + system) over the idle window.
	idleCPU time.Duration
}

// scaleResult is the scale section.
type scaleResult struct {
	idle time.Duration
	// baseline is the same measurements of a cache holding nothing: its
	// idle CPU is the Go runtime's own share.
	baseline scaleRun
	runs     []scaleRun
}

// measureScale fills a memory-store cache with 100, 1,000 and 10,000
// services and measures, at each size, the heap per token, the status and
// statistics calls, and the CPU spent while nothing is asked.
func measureScale(ctx context.Context, cfg *config, r *report) error {
	res := &scaleResult{idle: cfg.idle}
	var err error
	if res.baseline, err = scaleOnce(ctx, cfg, 0); err != nil {
		return err
	}
	for _, n := range cfg.scale {
		run, err := scaleOnce(ctx, cfg, n)
		if err != nil {
			return err
		}
		res.runs = append(res.runs, run)
	}
	r.scale = res
	return nil
}

func scaleOnce(ctx context.Context, cfg *config, n int) (scaleRun, error) {
	run := scaleRun{services: n}
	store := memory.New(nil)
	svc, err := app.New(app.Options{
		Issuer:          &localIssuer{lifetime: time.Hour},
		Store:           store,
		Locker:          store,
		CheckInterval:   scaleInterval,
		CleanupInterval: scaleInterval,
		Logger:          discardLogger,
		// The figures are the cache's cost per service, not the limits':
		// the service cap and the token-service budget would refuse the
		// cold start of tens of thousands of names.
		MaxServices: -1,
		TokenRate:   -1,
	})
	if err != nil {
		return run, err
	}
	defer svc.Close()

	if n > 0 {
		before := liveHeap()
		start := time.Now()
		for i := range n {
			if _, err := svc.Token(ctx, fmt.Sprintf("service-%05d", i)); err != nil {
				return run, err
			}
		}
		run.fill = time.Since(start)
		run.heapPerToken = float64(liveHeap()-before) / float64(n)
	}

	if run.statuses, err = meanTime(func() error { _, err := svc.Statuses(ctx); return err }); err != nil {
		return run, err
	}
	if run.statistics, err = meanTime(func() error { _, err := svc.Statistics(ctx); return err }); err != nil {
		return run, err
	}
	srv := httptest.NewServer(rest.NewHandler(svc, rest.Options{Logger: discardLogger}))
	defer srv.Close()
	client := srv.Client()
	get := func(path string, size *int) func() error {
		return func() error {
			resp, err := client.Get(srv.URL + rest.BasePath + path)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("GET %s: %s", path, resp.Status)
			}
			*size = len(b)
			return err
		}
	}
	if run.restStatus, err = meanTime(get("/status", &run.restStatusBytes)); err != nil {
		return run, err
	}
	if run.restStatistics, err = meanTime(get("/statistics", &run.restStatsByte)); err != nil {
		return run, err
	}
	client.CloseIdleConnections()

	runtime.GC()
	cpu0 := cpuTime()
	timer := time.NewTimer(cfg.idle)
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
		return run, ctx.Err()
	}
	run.idleCPU = cpuTime() - cpu0
	return run, nil
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// meanTime runs fn at least 5 times and for at least 300ms, and returns
// the mean time of one run.
func meanTime(fn func() error) (time.Duration, error) {
	var total time.Duration
	n := 0
	for n < 5 || total < 300*time.Millisecond {
		t := time.Now()
		if err := fn(); err != nil {
			return 0, err
		}
		total += time.Since(t)
		n++
	}
	return total / time.Duration(n), nil
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
