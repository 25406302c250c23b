package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// binary is the jwtcache binary the process tests run, built once.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func jwtcacheBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "jwtcache-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "jwtcache")
		out, err := exec.Command("go", "build", "-race", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a jwtcache process started by a test; its stderr is kept for
// assertions (and printed if the test fails).
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer
	lines  chan string
	exited chan struct{}
	err    error
}

// start runs the binary with args and env (added to a minimal environment)
// and returns once it has started; it is killed at the end of the test.
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(jwtcacheBinary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	p := &proc{t: t, cmd: cmd, lines: make(chan string, 1024), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("output of %v:\n%s", args, p.output())
		}
	})
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitFor returns the first submatch of re in the process's output,
// waiting up to 30s for the line to appear.
func (p *proc) waitFor(re *regexp.Regexp) string {
	p.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if m := re.FindStringSubmatch(p.output()); m != nil {
			if len(m) > 1 {
				return m[1]
			}
			return m[0]
		}
		select {
		case <-p.lines:
		case <-p.exited:
			if m := re.FindStringSubmatch(p.output()); m != nil {
				return m[len(m)-1]
			}
			p.t.Fatalf("process exited (%v) before printing %v", p.err, re)
		case <-deadline:
			p.t.Fatalf("no %v in the output within 30s", re)
		}
	}
}

var servingRE = regexp.MustCompile(`msg="jwtcache serving" addr=\S*:(\d+)`)

// serve starts `jwtcache serve` with env and returns its base URL.
func serve(t *testing.T, env []string, args ...string) (*proc, string) {
	t.Helper()
	p := start(t, append([]string{"SERVER_PORT=0", "SERVER_ADDRESS=127.0.0.1"}, env...), append([]string{"serve"}, args...)...)
	port := p.waitFor(servingRE)
	return p, "http://127.0.0.1:" + port
}

// stop ends the process with SIGTERM, then SIGKILL after 10s.
func (p *proc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// kill ends the process at once, as a crash would.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// exitCode waits for the process to end by itself and returns its code.
func (p *proc) exitCode() int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.t.Fatal("process did not exit")
	}
	return p.cmd.ProcessState.ExitCode()
}

// call makes one HTTP request and decodes the JSON answer.
func call(t *testing.T, method, url string) (int, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%s %s: status %d, body not JSON: %q", method, url, resp.StatusCode, body)
	}
	return resp.StatusCode, m
}

func mustContainNone(t *testing.T, where, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Fatalf("%s contains a secret or token (%d chars)", where, len(s))
		}
	}
}
