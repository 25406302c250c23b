package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/adapters/memory"
	"github.com/jwtcache/jwtcache/adapters/metrics"
	"github.com/jwtcache/jwtcache/adapters/redisstore"
	"github.com/jwtcache/jwtcache/adapters/rest"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/cmd/benchreport/loadgen"
)

// tokenPath is the endpoint every REST figure measures.
const tokenPath = rest.BasePath + "/token/kyc"

var discardLogger = slog.New(slog.DiscardHandler)

// replicaLogger is what the fleet-scale replicas log to.
var replicaLogger = discardLogger

// restRun is the measurement of one server.
type restRun struct {
	name    string
	skipped string // why it did not run; empty when it did
	result  loadgen.Result
}

// restResult is the REST cache hit: the bare handler, then jwtcache with
// each store, all measured alike.
type restResult struct {
	clients          int
	duration         time.Duration
	rounds           int
	bodyBytes        int
	bare, mem, redis restRun
	// redisHits is the hits of the Redis run; redisClientCmds the commands
	// jwtcache's Redis client sent meanwhile (exact); redisServerCmds the
	// growth of the server's total_commands_processed meanwhile (with any
	// other client of that Redis).
	redisHits       int
	redisClientCmds int64
	redisServerCmds int64
}

// restTarget is a server under load, with what to do right before and
// after each of its measured runs.
type restTarget struct {
	run           *restRun
	handler       http.Handler
	before, after func() error
}

// servedOptions are the REST options of the measured servers: as jwtcache
// serves, with the request metrics counted (no tracing: no OTLP endpoint
// is configured, so the server adds no tracing middleware either).
func servedOptions() rest.Options {
	return rest.Options{Logger: discardLogger, Observer: metrics.New(metrics.Options{Logger: discardLogger})}
}

// measureREST drives GET /api/v1/jwt/token/kyc, a cache hit, with the same
// load generator against three servers in this process: a bare Gin
// handler writing the bytes the token endpoint writes (the floor), the REST
// API over the core with the memory store, and with the Redis store. The
// servers take turns, round after round, so that drift in the machine's
// speed touches them alike.
func measureREST(ctx context.Context, cfg *config, r *report) error {
	gin.SetMode(gin.ReleaseMode)
	res := &restResult{clients: cfg.clients, duration: cfg.duration, rounds: cfg.rounds}
	res.bare.name = "bare Gin handler, same bytes"
	res.mem.name = "jwtcache REST API, memory store"
	res.redis.name = "jwtcache REST API, Redis store"

	mem := memory.New(nil)
	memSvc, err := app.New(app.Options{Issuer: &localIssuer{lifetime: time.Hour}, Store: mem, Locker: mem, Logger: discardLogger})
	if err != nil {
		return err
	}
	defer memSvc.Close()
	memHandler := rest.NewHandler(memSvc, servedOptions())
	body, err := sameBytes(memHandler)
	if err != nil {
		return err
	}
	res.bodyBytes = len(body)
	bare := gin.New()
	bare.GET(rest.BasePath+"/token/:serviceName", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/json; charset=utf-8", body)
	})
	targets := []restTarget{{run: &res.bare, handler: bare}, {run: &res.mem, handler: memHandler}}

	if !r.machine.redisUp {
		res.redis.skipped = "skipped: " + r.machine.noRedis()
	} else {
		t, closeRedis, err := redisTarget(ctx, cfg, res)
		if err != nil {
			return err
		}
		defer closeRedis()
		targets = append(targets, t)
	}
	if err := runTargets(ctx, cfg, targets); err != nil {
		return err
	}
	res.redisHits = res.redis.result.Statuses[http.StatusOK]
	r.rest = res
	return nil
}

// redisTarget is the REST API over the core with the Redis store, counting
// the Redis commands its measured runs cost.
func redisTarget(ctx context.Context, cfg *config, res *restResult) (restTarget, func(), error) {
	client := redis.NewClient(&redis.Options{Addr: cfg.redisAddr})
	counter := &commandCounter{}
	client.AddHook(counter)
	prefix := uniquePrefix("rest")
	store := redisstore.NewWithClient(client, redisstore.Options{KeyPrefix: prefix, Logger: discardLogger})
	svc, err := app.New(app.Options{Issuer: &localIssuer{lifetime: time.Hour}, Store: store, Locker: store, Feed: store, Pinger: store, Logger: discardLogger})
	if err != nil {
		_ = client.Close()
		return restTarget{}, nil, err
	}
	// A connection of its own reads the server's counter, so that reading
	// it is not counted as jwtcache's.
	info := redis.NewClient(&redis.Options{Addr: cfg.redisAddr})
	closeAll := func() {
		_ = svc.Close()
		dropPrefix(client, prefix)
		_ = client.Close()
		_ = info.Close()
	}
	serverCommands := func() (int64, error) {
		s, err := info.Info(ctx, "stats").Result()
		if err != nil {
			return 0, err
		}
		return strconv.ParseInt(infoField(s, "total_commands_processed"), 10, 64)
	}
	var clientBefore, serverBefore int64
	t := restTarget{
		run:     &res.redis,
		handler: rest.NewHandler(svc, servedOptions()),
		before: func() (err error) {
			clientBefore = counter.n.Load()
			serverBefore, err = serverCommands()
			return err
		},
		after: func() error {
			res.redisClientCmds += counter.n.Load() - clientBefore
			serverAfter, err := serverCommands()
			// The INFO that read serverBefore is counted in serverAfter.
			res.redisServerCmds += serverAfter - serverBefore - 1
			return err
		},
	}
	return t, closeAll, nil
}

// runTargets serves each target on a loopback port, warms it up, then
// measures the targets in turns for cfg.rounds rounds of
// cfg.duration/cfg.rounds each, and merges each target's rounds.
func runTargets(ctx context.Context, cfg *config, targets []restTarget) error {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: cfg.clients,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	opts := make([]loadgen.Options, len(targets))
	for i, t := range targets {
		srv := httptest.NewUnstartedServer(t.handler)
		srv.Config.ReadHeaderTimeout = 10 * time.Second
		srv.Start()
		defer srv.Close()
		url := srv.URL + tokenPath
		opts[i] = loadgen.Options{URL: func(int) string { return url }, Clients: cfg.clients, Transport: tr, Timeout: 10 * time.Second, Duration: cfg.warmup}
		if _, err := loadgen.Run(ctx, opts[i]); err != nil {
			return err
		}
		opts[i].Duration = cfg.duration / time.Duration(cfg.rounds)
	}
	rounds := make([][]loadgen.Result, len(targets))
	for range cfg.rounds {
		for i, t := range targets {
			if t.before != nil {
				if err := t.before(); err != nil {
					return err
				}
			}
			res, err := loadgen.Run(ctx, opts[i])
			if err != nil {
				return err
			}
			if t.after != nil {
				if err := t.after(); err != nil {
					return err
				}
			}
			if res.Errors > 0 || res.Statuses[http.StatusOK] != res.Requests {
				return fmt.Errorf("%s: %d requests, %d without answer, statuses %v: every request should be a 200 hit", t.run.name, res.Requests, res.Errors, res.Statuses)
			}
			rounds[i] = append(rounds[i], res)
		}
	}
	for i, t := range targets {
		t.run.result = loadgen.Merge(rounds[i]...)
	}
	return nil
}

// sameBytes is the body the token endpoint of h answers, which the bare
// handler writes.
func sameBytes(h http.Handler) ([]byte, error) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tokenPath, nil))
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d", tokenPath, rec.Code)
	}
	return io.ReadAll(rec.Body)
}

// commandCounter is a go-redis hook counting the commands a client sends,
// pipelined ones included.
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// uniquePrefix is a Redis key prefix no other run uses.
func uniquePrefix(what string) string {
	return "jwtcache-bench-" + what + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// dropPrefixAt deletes every key under prefix in the Redis at addr.
func dropPrefixAt(addr, prefix string) {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	dropPrefix(c, prefix)
}

// dropPrefix deletes every key under prefix.
func dropPrefix(c redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if len(keys) > 0 {
		_ = c.Del(ctx, keys...).Err()
	}
}
