package app_test

import (
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/memory"
	"github.com/jwtcache/jwtcache/app"
)

// TestHealthCheckIntervalHasAFloor: probes more often than
// MinHealthCheckInterval would hammer the token service.
func TestHealthCheckIntervalHasAFloor(t *testing.T) {
	issuer := &countingIssuer{lifetime: time.Hour}
	st := memory.New(nil)
	for _, tc := range []struct {
		d  time.Duration
		ok bool
	}{
		{app.MinHealthCheckInterval - time.Nanosecond, false},
		{time.Nanosecond, false},
		{app.MinHealthCheckInterval, true},
		{0, true}, // the default
	} {
		c, err := app.New(app.Options{Issuer: issuer, Store: st, Locker: st, Logger: quiet, HealthCheckInterval: tc.d})
		if (err == nil) != tc.ok {
			t.Errorf("HealthCheckInterval %v: err %v, want ok %v", tc.d, err, tc.ok)
		}
		if c != nil {
			c.Close()
		}
	}
}
