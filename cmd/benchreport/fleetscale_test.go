package main

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/redisstore/redistest"
)

// TestFleetScaleGoals runs the fleet-scale section small (10 replicas x
// 100 services, 5 s tokens) against the real Redis and holds it to the
// goals the report shows at full size: a renewal costs at most 14 Redis
// commands and 4 GETs whatever the fleet, one token-service call per
// service per renewal period, and no answer expired or inside its buffer.
func TestFleetScaleGoals(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a fleet for about 15 s")
	}
	addr := redistest.RequireShared(t)
	fc := fleetScaleConfig{
		redisAddr: addr,
		replicas:  []int{10},
		services:  100,
		lifetime:  5 * time.Second,
		buffer:    time.Second,
		periods:   2,
		idle:      3 * time.Second,
	}
	res, err := runFleetScale(t.Context(), fc)
	if err != nil {
		t.Fatal(err)
	}
	run := res.runs[0]
	t.Logf("%d renewals in %v, every %v (ideal %v); per renewal: %.2f commands (%s), %.2f GETs; %.2f calls per service per period; idle %.3g commands/s (previous version %.4g)",
		run.calls, run.window, run.interval, run.period, run.commandsPerRenewal(), perRenewalByName(run), run.getsPerRenewal(), run.callsPerServicePeriod(), run.idlePerSecond(), run.previousIdlePerSecond())
	if got := run.commandsPerRenewal(); got > goalCommandsPerRenewal {
		t.Errorf("%.2f Redis commands per renewal, want at most %d", got, goalCommandsPerRenewal)
	}
	if got := run.getsPerRenewal(); got > goalGetsPerRenewal {
		t.Errorf("%.2f GETs per renewal, want at most %d", got, goalGetsPerRenewal)
	}
	if got := run.callsPerServicePeriod(); got != 1 || run.redundant != 0 {
		t.Errorf("%.3f token-service calls per service per renewal period (%d second calls for one token), want exactly 1", got, run.redundant)
	}
	// Renewal once per cached life: the fleet renews when the ideal says,
	// not earlier.
	if got := run.interval.Seconds() / run.period.Seconds(); got < 0.85 || got > 1.15 {
		t.Errorf("tokens renewed every %v, want about the ideal %v", run.interval, run.period)
	}
	if run.failed != 0 || run.expired != 0 || run.inBuffer != 0 {
		t.Errorf("of %d requests, %d failed, %d were answered with an expired token and %d with one inside its buffer", run.served, run.failed, run.expired, run.inBuffer)
	}
	if run.idlePerSecond() >= run.previousIdlePerSecond()/10 {
		t.Errorf("idle fleet: %.3g commands/s, not a tenth of the previous version's %.4g", run.idlePerSecond(), run.previousIdlePerSecond())
	}

	var out bytes.Buffer
	r := &report{cfg: &config{}, fleetScale: res}
	m := &mdWriter{w: bufio.NewWriter(&out)}
	r.writeFleetScale(m)
	if err := m.w.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Fleet scale", "| 10 x 100 |", "commands per renewal"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the section lacks %q:\n%s", want, out.String())
		}
	}
}

func TestParseCommandCountsEveryCommandOfAStream(t *testing.T) {
	stream := []byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$7\r\npublish\r\n$2\r\nch\r\n$6\r\na\r\nb c\r\n*1\r\n$4\r\nPI")
	var names []string
	for {
		n, name := parseCommand(stream)
		if n == 0 {
			break
		}
		names = append(names, name)
		stream = stream[n:]
	}
	if strings.Join(names, ",") != "get,publish" || string(stream) != "*1\r\n$4\r\nPI" {
		t.Fatalf("parsed %q, left %q", names, stream)
	}
}
