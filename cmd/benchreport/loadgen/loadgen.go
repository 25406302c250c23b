// Package loadgen is the HTTP load generator behind jwtcache's benchmark
// report and soak test: a fixed number of keep-alive clients, each sending
// one request after another for a fixed duration, at full speed (a closed
// loop, for throughput) or at a bounded rate (for a soak), recording the
// latency of every request.
//
// It is deliberately small: one goroutine per client, one shared
// http.Transport with a connection kept per client, nothing between the
// client and the server but loopback. The caller may look at every
// response (Options.Observe) to check what it was handed.
package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Options configures a Run. URL, Clients and Duration are required.
type Options struct {
	// URL returns the URL client (0 ≤ client < Clients) requests next; it
	// is called before every request, so a target may change during a run
	// (a replica restarted on another port). Required.
	URL func(client int) string
	// Clients is the number of concurrent clients. Required.
	Clients int
	// Duration is how long the clients send requests; a request under
	// way when it ends is finished and counted. Required.
	Duration time.Duration
	// Rate, if positive, bounds each client to that many requests a second
	// (requests are paced, not bunched); zero sends the next request as
	// soon as the previous one is answered.
	Rate float64
	// Timeout bounds one request, connection to last body byte. Optional:
	// 30s.
	Timeout time.Duration
	// Observe, if set, is called from the client's goroutine with every
	// outcome, in the order of that client's requests. Sample.Body is only
	// valid during the call.
	Observe func(Sample)
	// Transport sends the requests. Optional: a fresh http.Transport
	// keeping one idle connection per client, closed at the end of Run.
	Transport http.RoundTripper
}

// Sample is the outcome of one request.
type Sample struct {
	// Client is the client that sent it.
	Client int
	URL    string
	// Start is when the request was sent and End when its body was read
	// (or the error happened).
	Start, End time.Time
	// Status is the HTTP status; 0 with Err set when there was no answer.
	Status int
	Header http.Header
	// Body is the response body; it is reused for the client's next
	// request, so copy what must outlive Observe.
	Body []byte
	Err  error
}

// Latency is End - Start.
func (s Sample) Latency() time.Duration { return s.End.Sub(s.Start) }

// Result sums up a Run.
type Result struct {
	// Requests counts every request sent, answered or not.
	Requests int
	// Errors counts the requests that got no answer (connection refused,
	// reset, timeout).
	Errors int
	// Statuses counts the answers by HTTP status.
	Statuses map[int]int
	// Elapsed is the time from the first request to the last answer.
	Elapsed time.Duration
	// latencies holds the latency of every answered request, sorted.
	latencies []time.Duration
}

// Rate is answered requests per second over Elapsed.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests-r.Errors) / r.Elapsed.Seconds()
}

// Percentile is the latency below which a fraction p (0 < p ≤ 1) of the
// answered requests fall (nearest rank), or 0 when none was answered.
func (r Result) Percentile(p float64) time.Duration {
	n := len(r.latencies)
	if n == 0 {
		return 0
	}
	i := int(p*float64(n)+0.5) - 1
	return r.latencies[min(max(i, 0), n-1)]
}

// Max is the slowest answered request's latency.
func (r Result) Max() time.Duration { return r.Percentile(1) }

// Merge sums up several runs as one: requests, errors and statuses add up,
// elapsed times too, and the latencies are pooled. Runs of the same target
// taken in turns with runs of others (to even out drift) are merged so.
func Merge(results ...Result) Result {
	out := Result{Statuses: map[int]int{}}
	for _, r := range results {
		out.Requests += r.Requests
		out.Errors += r.Errors
		out.Elapsed += r.Elapsed
		for code, n := range r.Statuses {
			out.Statuses[code] += n
		}
		out.latencies = append(out.latencies, r.latencies...)
	}
	slices.Sort(out.latencies)
	return out
}

// Run sends requests as opts says until opts.Duration has passed or ctx
// ends, and sums them up. It returns an error only for invalid Options.
func Run(ctx context.Context, opts Options) (Result, error) {
	switch {
	case opts.URL == nil:
		return Result{}, errors.New("loadgen: Options.URL is required")
	case opts.Clients <= 0:
		return Result{}, fmt.Errorf("loadgen: Options.Clients is %d, want at least 1", opts.Clients)
	case opts.Duration <= 0:
		return Result{}, fmt.Errorf("loadgen: Options.Duration is %v, want more than 0", opts.Duration)
	case opts.Rate < 0:
		return Result{}, fmt.Errorf("loadgen: Options.Rate is %v, want 0 or more", opts.Rate)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	rt := opts.Transport
	if rt == nil {
		tr := &http.Transport{
			DialContext:         (&net.Dialer{Timeout: opts.Timeout}).DialContext,
			MaxIdleConns:        opts.Clients,
			MaxIdleConnsPerHost: opts.Clients,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		}
		defer tr.CloseIdleConnections()
		rt = tr
	}
	client := &http.Client{Transport: rt, Timeout: opts.Timeout}

	ctx, cancel := context.WithTimeout(ctx, opts.Duration)
	defer cancel()
	tallies := make([]tally, opts.Clients)
	begin := time.Now()
	var wg sync.WaitGroup
	for i := range opts.Clients {
		wg.Go(func() { tallies[i] = runClient(ctx, client, i, opts) })
	}
	wg.Wait()

	elapsed := time.Since(begin)
	parts := make([]Result, len(tallies))
	for i, t := range tallies {
		parts[i] = Result{Requests: t.requests, Errors: t.errors, Statuses: t.statuses, latencies: t.latencies}
	}
	res := Merge(parts...)
	res.Elapsed = elapsed
	return res, nil
}

// tally is one client's share of the Result.
type tally struct {
	requests, errors int
	statuses         map[int]int
	latencies        []time.Duration
}

func runClient(ctx context.Context, client *http.Client, id int, opts Options) tally {
	t := tally{statuses: map[int]int{}, latencies: make([]time.Duration, 0, 1024)}
	var buf bytes.Buffer
	var interval time.Duration
	if opts.Rate > 0 {
		interval = time.Duration(float64(time.Second) / opts.Rate)
	}
	next := time.Now()
	for ctx.Err() == nil {
		if interval > 0 {
			if !sleepUntil(ctx, next) {
				break
			}
			// A late client does not send a burst to catch up.
			next = next.Add(interval)
			if now := time.Now(); next.Before(now) {
				next = now
			}
		}
		// The request is not tied to ctx: one under way when the run ends
		// is finished, so that no answer is cut short and miscounted.
		s := do(client, id, opts.URL(id), &buf)
		t.requests++
		if s.Err != nil {
			t.errors++
		} else {
			t.statuses[s.Status]++
			t.latencies = append(t.latencies, s.Latency())
		}
		if opts.Observe != nil {
			opts.Observe(s)
		}
	}
	return t
}

func do(client *http.Client, id int, url string, buf *bytes.Buffer) Sample {
	s := Sample{Client: id, URL: url, Start: time.Now()}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		s.Err, s.End = err, time.Now()
		return s
	}
	resp, err := client.Do(req)
	if err != nil {
		s.Err, s.End = err, time.Now()
		return s
	}
	buf.Reset()
	_, err = io.Copy(buf, resp.Body)
	_ = resp.Body.Close()
	s.End = time.Now()
	if err != nil {
		s.Err = err
		return s
	}
	s.Status, s.Header, s.Body = resp.StatusCode, resp.Header, buf.Bytes()
	return s
}

// sleepUntil waits until t; false means ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
