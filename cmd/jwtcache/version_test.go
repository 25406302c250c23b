package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/jwtcache/jwtcache/config"
)

func TestResolveVersion(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	const rev = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name    string
		stamped string
		bi      *debug.BuildInfo
		want    string
	}{
		{"stamped by make build", "v1.4.0-3-g0123456-dirty", &debug.BuildInfo{Main: debug.Module{Version: "v1.3.0"}}, "v1.4.0-3-g0123456-dirty"},
		{"tagged module", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.3.0"}, Settings: vcs(rev, "false")}, "v1.3.0"},
		{"pseudo-version, dirty", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20260101120000-0123456789ab+dirty"}, Settings: vcs(rev, "true")}, "v0.0.0-20260101120000-0123456789ab+dirty"},
		{"revision only", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "false")}, "0123456789ab"},
		{"revision only, dirty", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "true")}, "0123456789ab-dirty"},
		{"short revision", "", &debug.BuildInfo{Settings: vcs("abc", "false")}, "abc"},
		{"no VCS information", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, develVersion},
		{"no build information", "", nil, develVersion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := resolveVersion(tc.stamped, tc.bi); got != tc.want {
				t.Fatalf("resolveVersion = %q, want %q", got, tc.want)
			}
		})
	}
}

func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, nil, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestHelp: every way of asking for help exits 0 and names the commands,
// the main variables (each a real configuration key) and where the full
// table is.
func TestHelp(t *testing.T) {
	keys := map[string]bool{}
	for _, k := range config.Keys() {
		keys[k.Env] = true
	}
	for _, v := range mainVariables {
		if !keys[v.name] {
			t.Errorf("the help names %s, which is not a configuration variable", v.name)
		}
	}
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"-help"}} {
		code, out, errOut := runMain(t, args...)
		if code != exitOK || errOut != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errOut)
		}
		for _, want := range []string{"serve", "dev-issuer", "version", "JWT_TOKEN_SERVICE_URL", "JWT_CLIENT_SECRET",
			"REDIS_HOST", "JWT_CONFIG_FILE", `README.md, section
"Configuration"`} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: the help lacks %q:\n%s", args, want, out)
			}
		}
	}
	for _, args := range [][]string{{"serve", "-h"}, {"dev-issuer", "--help"}} {
		if code, _, errOut := runMain(t, args...); code != exitOK || !strings.Contains(errOut, "-config") && !strings.Contains(errOut, "-addr") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	if code, _, errOut := runMain(t, "frobnicate"); code != exitConfig || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, stderr %q", code, errOut)
	}
}

func TestVersionCommand(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		code, out, _ := runMain(t, args...)
		if code != exitOK || out != "jwtcache "+version+"\n" || version == "" {
			t.Fatalf("%v: exit %d, %q", args, code, out)
		}
	}
}

// repoRoot is the root of the git checkout holding this package, or the
// test is skipped when there is none (a source archive).
func repoRoot(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git: the version of a build from a checkout cannot be checked")
	}
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not a git checkout (%v): nothing to stamp a version from", err)
	}
	return strings.TrimSpace(string(out))
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

func binaryVersion(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", bin, args, err, out)
	}
	v, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "jwtcache ")
	if !ok {
		t.Fatalf("%s %v printed %q", bin, args, out)
	}
	return v
}

// TestBuiltBinaryVersion: `make build` stamps git describe, and a plain
// go build from the checkout reports the commit it was built from; neither
// says "dev" or "(devel)".
func TestBuiltBinaryVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary twice")
	}
	root := repoRoot(t)
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	dir := t.TempDir()

	made := filepath.Join(dir, "made")
	if out, err := exec.Command("make", "-C", root, "build", "BIN="+made).CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	describe := git(t, root, "describe", "--tags", "--always", "--dirty")
	for _, args := range [][]string{{"--version"}, {"version"}} {
		if v := binaryVersion(t, made, args...); v != describe {
			t.Errorf("make build: %v says %q, git describe says %q", args, v, describe)
		}
	}

	// The go command stamps VCS information only where .git is a
	// directory: not in a `git worktree`, whose .git is a file.
	if fi, err := os.Stat(filepath.Join(root, ".git")); err != nil || !fi.IsDir() {
		t.Skipf("%s is a git worktree, where go build records no VCS revision (make build is checked above)", root)
	}
	// A plain go build: -buildvcs=true overrides a GOFLAGS=-buildvcs=false
	// of the machine, so that what is tested is go build's own default.
	plain := filepath.Join(dir, "plain")
	cmd := exec.Command("go", "build", "-buildvcs=true", "-o", plain, "./cmd/jwtcache")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	v := binaryVersion(t, plain, "--version")
	rev := git(t, root, "rev-parse", "HEAD")[:12]
	// The go command counts untracked files as modifications too.
	dirty := git(t, root, "status", "--porcelain") != ""
	if v == "dev" || v == develVersion || !strings.Contains(v, rev) && !slices.Contains(strings.Fields(git(t, root, "tag", "--points-at", "HEAD")), v) {
		t.Errorf("go build says %q: neither HEAD's revision %s nor its tag", v, rev)
	}
	if dirty != strings.HasSuffix(v, "dirty") {
		t.Errorf("go build says %q for a tree that is dirty=%v", v, dirty)
	}
}
