package deploy

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// maxImageSize is the budget for the image.
const maxImageSize = 30_000_000

// containerEngine is the engine make image picks: docker when its daemon
// answers, else podman; the test is skipped when there is neither.
func containerEngine(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("docker"); err == nil && exec.Command("docker", "info").Run() == nil {
		return "docker"
	}
	if _, err := exec.LookPath("podman"); err == nil {
		return "podman"
	}
	t.Skip("no docker daemon answers and podman is not installed: the image is not built (.ci/run installs podman)")
	return ""
}

// imageConfig is the part of `docker/podman image inspect` checked here;
// both engines write these fields.
type imageConfig struct {
	Size   int64
	Config struct {
		User       string
		Entrypoint []string
		Cmd        []string
		Labels     map[string]string
	}
}

// TestImage builds the image with make image, takes the binary back out of
// it (create + export: running containers is not possible everywhere the
// tests run), and checks that it is static, runs, and reports the version
// make stamped; and that the image is small, has no shell and runs as a
// numeric non-root user.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image")
	}
	engine := containerEngine(t)
	root := repoRoot(t)
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	image := "jwtcache-test:" + hex.EncodeToString(suffix)
	want := "devel"
	if _, err := exec.LookPath("git"); err == nil {
		if out, err := exec.Command("git", "-C", root, "describe", "--tags", "--always", "--dirty").Output(); err == nil {
			want = strings.TrimSpace(string(out))
		}
	}

	out := runTool(t, root, "make", "image", "CONTAINER_ENGINE="+engine, "IMAGE="+image, "IMAGE_CTX="+t.TempDir())
	t.Cleanup(func() { _ = exec.Command(engine, "rmi", "-f", image).Run() })
	t.Logf("make image with %s:\n%s", engine, lastLines(out, 3))

	var inspected []imageConfig
	if err := json.Unmarshal([]byte(runTool(t, root, engine, "image", "inspect", image)), &inspected); err != nil || len(inspected) != 1 {
		t.Fatalf("image inspect: %v (%d images)", err, len(inspected))
	}
	cfg := inspected[0]
	t.Logf("image %s: %d bytes, user %q, entrypoint %q", image, cfg.Size, cfg.Config.User, cfg.Config.Entrypoint)
	if cfg.Size <= 0 || cfg.Size >= maxImageSize {
		t.Errorf("image size %d bytes, want under %d", cfg.Size, maxImageSize)
	}
	uid, _, _ := strings.Cut(cfg.Config.User, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %q: want a numeric non-root user", cfg.Config.User)
	}
	if len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/jwtcache" {
		t.Errorf("ENTRYPOINT %q, want [/jwtcache]", cfg.Config.Entrypoint)
	}
	if v := cfg.Config.Labels["org.opencontainers.image.version"]; v != want {
		t.Errorf("version label %q, want %q", v, want)
	}

	files := exportImage(t, engine, image)
	for _, name := range []string{"jwtcache", "etc/ssl/certs/ca-certificates.crt"} {
		if len(files[name]) == 0 {
			t.Fatalf("the image has no %s (files: %v)", name, keys(files))
		}
	}
	for name := range files {
		if base := filepath.Base(name); base == "sh" || base == "bash" || base == "busybox" {
			t.Errorf("the image has a shell: %s", name)
		}
	}
	if !bytes.Contains(files["etc/ssl/certs/ca-certificates.crt"], []byte("-----BEGIN CERTIFICATE-----")) {
		t.Error("the CA bundle holds no certificate")
	}

	bin := filepath.Join(t.TempDir(), "jwtcache")
	if err := os.WriteFile(bin, files["jwtcache"], 0o755); err != nil {
		t.Fatal(err)
	}
	checkStatic(t, bin)
	if got := strings.TrimSpace(runTool(t, root, bin, "--version")); got != "jwtcache "+want {
		t.Errorf("the image's binary says %q, want %q", got, "jwtcache "+want)
	}
	if help := runTool(t, root, bin, "--help"); !strings.Contains(help, "dev-issuer") {
		t.Errorf("the image's binary --help:\n%s", help)
	}
}

// exportImage returns the regular files of image's file system by path
// (without the leading slash), from a created, never started, container.
func exportImage(t *testing.T, engine, image string) map[string][]byte {
	t.Helper()
	id := strings.TrimSpace(runTool(t, "", engine, "create", image))
	t.Cleanup(func() { _ = exec.Command(engine, "rm", "-f", id).Run() })
	cmd := exec.Command(engine, "export", id)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(stdout)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s export: %v", engine, err)
		}
		name := strings.TrimPrefix(filepath.Clean("/"+h.Name), "/")
		switch h.Typeflag {
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[name] = b
		case tar.TypeSymlink, tar.TypeLink:
			files[name] = []byte("-> " + h.Linkname)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s export: %v\n%s", engine, err, stderr.String())
	}
	return files
}

// checkStatic fails unless bin is a statically linked ELF executable (no
// program interpreter, no dynamic section) built without cgo and with
// -trimpath.
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("not an ELF binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is dynamically linked: it has a %v program header", p.Type)
		}
	}
	if s := f.Section(".dynamic"); s != nil {
		t.Error("the binary has a .dynamic section")
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs %v", libs)
	}
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatalf("no Go build information: %v", err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
		t.Errorf("built with CGO_ENABLED=%q -trimpath=%q, want 0 and true", settings["CGO_ENABLED"], settings["-trimpath"])
	}
}

func keys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
