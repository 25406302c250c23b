package main

import (
	"context"
	"net/http"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/rest"
)

// TestBinaryShutdownReleasesLocksWhenDrainTimesOut: a request waits for a
// token service that never answers, holding the renewal lock, when
// SIGTERM arrives. The HTTP drain gives up at SERVER_SHUTDOWN_TIMEOUT less
// the close reserve (REDIS_TIMEOUT + 5s), and the reserve is still there
// for closing the cache: the lock is released in Redis, not left to
// expire after JWT_LOCK_TTL, and the process is gone within
// SERVER_SHUTDOWN_TIMEOUT, exiting 1 since a request was cut.
func TestBinaryShutdownReleasesLocksWhenDrainTimesOut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const shutdown = 8 * time.Second // 2s of drain, 6s of close reserve
	ts := startGatedTokenService(t)
	redisEnv, rc, prefix := sharedRedisEnv(t)
	if rc == nil {
		t.Skip("needs Redis: the memory store's lock dies with the process anyway")
	}
	p, base := serve(t, opsEnv(ts, append(redisEnv,
		"JWT_TOKEN_TIMEOUT=60s", "JWT_LOCK_TTL=120s", "REDIS_TIMEOUT=1s", "SERVER_SHUTDOWN_TIMEOUT=8s")...))
	ts.hold()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+rest.BasePath+"/token/kyc", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-ts.arrived
	lockKey := prefix + ":jwt:{kyc}:lock"
	if n, _ := rc.Exists(t.Context(), lockKey).Result(); n != 1 {
		t.Fatal("the waiting request's fetch does not hold the lock")
	}

	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := p.exitCode()
	took := time.Since(start)
	if took > shutdown+2*time.Second {
		t.Errorf("the stop took %s, SERVER_SHUTDOWN_TIMEOUT is %s", took, shutdown)
	}
	if code != exitFail {
		t.Errorf("exit code %d after cutting a request, want %d:\n%s", code, exitFail, p.output())
	}
	if ttl, _ := rc.PTTL(context.Background(), lockKey).Result(); ttl > 0 {
		t.Fatalf("the renewal lock outlived the process (expires in %v):\n%s", ttl, p.output())
	}
	if !regexp.MustCompile(`msg="shutting down" timeout=8s closeReserve=6s`).MatchString(p.output()) {
		t.Errorf("the stop's bounds are not logged:\n%s", p.output())
	}
	<-done // cut with the connection
}
