package main

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// machine describes where the figures were measured.
type machine struct {
	cpu        string
	cores      int
	gomaxprocs int
	goVersion  string
	platform   string
	kernel     string
	// redis is the Redis server's version and address, or why there is
	// none; redisUp says whether the Redis figures can be measured.
	redis   string
	redisUp bool
}

func describeMachine(ctx context.Context, redisAddr string) machine {
	m := machine{
		cpu:        cpuModel(),
		cores:      runtime.NumCPU(),
		gomaxprocs: runtime.GOMAXPROCS(0),
		goVersion:  runtime.Version(),
		platform:   runtime.GOOS + "/" + runtime.GOARCH,
		kernel:     strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")),
	}
	if redisAddr == "" {
		m.redis = "none (-redis is empty)"
		return m
	}
	version, err := redisVersion(ctx, redisAddr)
	if err != nil {
		m.redis = "none answering at " + redisAddr
		return m
	}
	m.redis, m.redisUp = "Redis "+version+" at "+redisAddr+" (loopback)", true
	return m
}

// noRedis says why the Redis figures were not measured.
func (m machine) noRedis() string {
	return "no Redis " + strings.TrimPrefix(m.redis, "none ")
}

// cpuModel is the first "model name" of /proc/cpuinfo, or the
// architecture where there is none.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

// redisVersion asks the Redis at addr for its version, giving it 500ms to
// answer.
func redisVersion(ctx context.Context, addr string) (string, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 500 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	return infoField(info, "redis_version"), nil
}

// infoField is the value of field in the text of an INFO answer.
func infoField(info, field string) string {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}
