package config

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependenciesPointInward: configuration is read by every composition
// root, so it links no adapter (no go-redis, no fx), the core links no
// adapter, and what an embedder or an HTTP client links has no fx. `go
// list -deps` is the honest picture of what a package pulls in.
func TestDependenciesPointInward(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH: cannot list dependencies")
	}
	const module = "github.com/jwtcache/jwtcache/"
	for _, tc := range []struct {
		pkg       string
		forbidden []string
	}{
		{"./config", []string{module + "adapters/", "github.com/redis/go-redis", "go.uber.org/fx"}},
		{"./app", []string{module + "adapters/"}},
		{"./app/embedded", []string{"go.uber.org/fx"}},
		{"./adapters/transport", []string{"go.uber.org/fx"}},
	} {
		t.Run(tc.pkg, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(goBin, "list", "-deps", tc.pkg)
			cmd.Dir = ".." // the module root
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", tc.pkg, err)
			}
			deps := strings.Fields(string(out))
			if len(deps) == 0 {
				t.Fatalf("go list -deps %s listed nothing", tc.pkg)
			}
			for _, dep := range deps {
				for _, f := range tc.forbidden {
					if strings.HasPrefix(dep, f) {
						t.Errorf("%s depends on %s", tc.pkg, dep)
					}
				}
			}
		})
	}
}
