package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jwtcache/jwtcache/adapters/redisstore"
	"github.com/jwtcache/jwtcache/config"
)

// CheckStore checks at start-up that the store cfg describes lets jwtcache
// in: for Redis, that it accepts REDIS_USERNAME and REDIS_PASSWORD and lets
// that user run jwtcache's commands on its keys (see
// redisstore.Store.CheckAccess), within REDIS_TIMEOUT. A refusal is a
// misconfiguration, which waiting cannot mend: the error is then a
// *config.FieldError naming the variable, never its value. Any other
// failure, Redis unreachable above all, is returned as it is: the caller
// may start anyway, degraded, since the store recovers by itself when
// Redis comes back. The memory store always passes.
func CheckStore(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	if cfg.Cache.Type != config.CacheRedis {
		return nil
	}
	s, err := redisstore.New(redisOptions(cfg, nil, logger))
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(ctx, cfg.Redis.Timeout)
	defer cancel()
	err = s.CheckAccess(ctx)
	r := cfg.Redis
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redisstore.ErrAuthentication) && r.Password == "":
		return configError("REDIS_PASSWORD", fmt.Sprintf("is not set, and Redis requires one: %v", err))
	case errors.Is(err, redisstore.ErrAuthentication) && r.Username != "":
		return configError("REDIS_PASSWORD", fmt.Sprintf("Redis refused it with %s: %v", ref("REDIS_USERNAME"), err))
	case errors.Is(err, redisstore.ErrAuthentication):
		return configError("REDIS_PASSWORD", fmt.Sprintf("Redis refused it (for its default user; set %s for an ACL user): %v", ref("REDIS_USERNAME"), err))
	case errors.Is(err, redisstore.ErrPermission):
		return configError("REDIS_USERNAME", fmt.Sprintf(
			"the Redis user (the default user when unset) may not run a command jwtcache needs on its keys, %s:*, or its change channel: %v",
			ref("REDIS_KEY_PREFIX"), err))
	default:
		return err
	}
}

// configError is the *config.FieldError of the variable env.
func configError(env, problem string) error {
	for _, k := range config.Keys() {
		if k.Env == env {
			return &config.FieldError{Env: env, YAML: k.YAML, Problem: problem}
		}
	}
	return &config.FieldError{Env: env, Problem: problem}
}

// ref names a variable as configuration errors do: "ENV (yaml.key)".
func ref(env string) string {
	for _, k := range config.Keys() {
		if k.Env == env {
			return env + " (" + k.YAML + ")"
		}
	}
	return env
}
