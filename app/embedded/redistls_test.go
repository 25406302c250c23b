package embedded

import (
	"testing"

	"github.com/jwtcache/jwtcache/adapters/redisstore"
	"github.com/jwtcache/jwtcache/config"
	"github.com/jwtcache/jwtcache/ports"
)

// TestRedisOptionsCarryTheTLSFiles: the REDIS_TLS_* keys reach the Redis
// store as they are.
func TestRedisOptionsCarryTheTLSFiles(t *testing.T) {
	cfg := config.Default()
	cfg.Redis.TLS = true
	cfg.Redis.TLSCAFile, cfg.Redis.TLSCertFile, cfg.Redis.TLSKeyFile, cfg.Redis.TLSServerName = "/ca.pem", "/cert.pem", "/key.pem", "redis.test"
	o := redisOptions(cfg, ports.SystemClock, nil)
	want := redisstore.TLSOptions{CAFile: "/ca.pem", CertFile: "/cert.pem", KeyFile: "/key.pem", ServerName: "redis.test"}
	if !o.TLS || o.TLSOptions != want {
		t.Errorf("TLS %v, TLSOptions %+v; want true, %+v", o.TLS, o.TLSOptions, want)
	}
}
