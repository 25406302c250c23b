package credfile_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/internal/credfile"
	"github.com/jwtcache/jwtcache/ports/clocktest"
)

var start = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func write(t *testing.T, path, contents string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(contents), 0o600); err != nil {
		t.Fatal(err)
	}
}

// logBuffer collects log lines for checks; safe for concurrent writers.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func openSecret(t *testing.T, path string, clock *clocktest.FakeClock, logs *logBuffer) *credfile.File[string] {
	t.Helper()
	f, err := credfile.Open([]string{path}, credfile.Secret, credfile.Options{
		Name:   "JWT_CLIENT_SECRET_FILE",
		Clock:  clock,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return f
}

func wantCurrent(t *testing.T, f *credfile.File[string], value string, gen uint64) {
	t.Helper()
	v, g := f.Current()
	if v != value || g != gen {
		t.Fatalf("Current = %q, generation %d; want %q, generation %d", v, g, value, gen)
	}
}

func TestSecretDropsOneFinalLineBreakOnly(t *testing.T) {
	for in, want := range map[string]string{
		"s3cret":      "s3cret",
		"s3cret\n":    "s3cret",
		"s3cret\r\n":  "s3cret",
		" s3cret \n":  " s3cret ",
		"s3cret\n\n":  "s3cret\n",
		"a b\tc\n":    "a b\tc",
		"x\r":         "x\r",
		"line1\nline": "line1\nline",
	} {
		got, err := credfile.Secret([][]byte{[]byte(in)})
		if err != nil || got != want {
			t.Errorf("Secret(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestInPlaceRewriteIsSeenAfterTheCheckInterval(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	write(t, path, "old-secret\n")
	clock := clocktest.NewFakeClock(start)
	logs := &logBuffer{}
	f := openSecret(t, path, clock, logs)
	wantCurrent(t, f, "old-secret", 1)

	write(t, path, "new-secret-longer\n")
	clock.Advance(credfile.DefaultCheckInterval - time.Nanosecond)
	wantCurrent(t, f, "old-secret", 1) // not looked at yet: one stat per interval at most
	clock.Advance(time.Nanosecond)
	wantCurrent(t, f, "new-secret-longer", 2)
	if f.Err() != nil {
		t.Fatalf("Err = %v", f.Err())
	}
	if !strings.Contains(logs.String(), "credential file changed") || strings.Contains(logs.String(), "secret-longer") {
		t.Fatalf("log should say the file changed, without the value:\n%s", logs)
	}
}

func TestKubernetesSymlinkSwapIsSeen(t *testing.T) {
	// The layout of a mounted Secret: secret -> ..data/secret, ..data ->
	// ..<timestamp>; rotation writes a new timestamped directory and
	// renames a new ..data symlink over the old one.
	dir := t.TempDir()
	mkGen := func(name, secret string) {
		t.Helper()
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, name, "client-secret"), secret)
	}
	swap := func(target string) {
		t.Helper()
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(target, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	mkGen("..2025_03_01_12_00_00.1", "secret-AAAA")
	swap("..2025_03_01_12_00_00.1")
	path := filepath.Join(dir, "client-secret")
	if err := os.Symlink(filepath.Join("..data", "client-secret"), path); err != nil {
		t.Fatal(err)
	}
	clock := clocktest.NewFakeClock(start)
	f := openSecret(t, path, clock, &logBuffer{})
	wantCurrent(t, f, "secret-AAAA", 1)

	// Same size; the old directory is removed as the kubelet does.
	mkGen("..2025_03_01_12_05_00.2", "secret-BBBB")
	swap("..2025_03_01_12_05_00.2")
	if err := os.RemoveAll(filepath.Join(dir, "..2025_03_01_12_00_00.1")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(credfile.DefaultCheckInterval)
	wantCurrent(t, f, "secret-BBBB", 2)
}

func TestReloadReadsWhateverTheStatSays(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	write(t, path, "secret-AAAA")
	clock := clocktest.NewFakeClock(start)
	f := openSecret(t, path, clock, &logBuffer{})
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// Same size, and the modification time put back: a stat cannot tell.
	write(t, path, "secret-BBBB")
	if err := os.Chtimes(path, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(credfile.DefaultCheckInterval)
	wantCurrent(t, f, "secret-AAAA", 1)
	if !f.Reload() {
		t.Fatal("Reload = false; want true, the contents changed")
	}
	wantCurrent(t, f, "secret-BBBB", 2)
	if f.Reload() {
		t.Fatal("second Reload = true; nothing changed")
	}
}

func TestTouchWithoutChangeIsNoNewGeneration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	write(t, path, "same")
	clock := clocktest.NewFakeClock(start)
	f := openSecret(t, path, clock, &logBuffer{})
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	clock.Advance(credfile.DefaultCheckInterval)
	wantCurrent(t, f, "same", 1)
}

func TestUnusableFileKeepsTheLastGoodValue(t *testing.T) {
	cases := map[string]func(t *testing.T, path string){
		"removed":  func(t *testing.T, path string) { _ = os.Remove(path) },
		"empty":    func(t *testing.T, path string) { write(t, path, "") },
		"blank":    func(t *testing.T, path string) { write(t, path, " \n\n") },
		"too big":  func(t *testing.T, path string) { write(t, path, strings.Repeat("x", int(credfile.MaxFileBytes)+1)) },
		"not file": func(t *testing.T, path string) { _ = os.Remove(path); _ = os.Mkdir(path, 0o700) },
	}
	for name, breakIt := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "secret")
			write(t, path, "good-secret-1234")
			clock := clocktest.NewFakeClock(start)
			logs := &logBuffer{}
			f := openSecret(t, path, clock, logs)

			breakIt(t, path)
			clock.Advance(credfile.DefaultCheckInterval)
			wantCurrent(t, f, "good-secret-1234", 1)
			err := f.Err()
			if err == nil || !strings.Contains(err.Error(), "JWT_CLIENT_SECRET_FILE") || !strings.Contains(err.Error(), path) {
				t.Fatalf("Err = %v; want a problem naming the key and the file", err)
			}
			clock.Advance(credfile.DefaultCheckInterval)
			f.Current()
			if n := strings.Count(logs.String(), "keeping the last good value"); n != 1 {
				t.Fatalf("%d warnings; want one per change of state:\n%s", n, logs)
			}
			if strings.Contains(logs.String(), "good-secret") || strings.Contains(err.Error(), "good-secret") {
				t.Fatalf("the value leaked:\n%s\n%v", logs, err)
			}

			// Fixed again (same mtime tick or not): read on the next look.
			_ = os.RemoveAll(path)
			write(t, path, "good-secret-5678")
			clock.Advance(credfile.DefaultCheckInterval)
			wantCurrent(t, f, "good-secret-5678", 2)
			if f.Err() != nil {
				t.Fatalf("Err after recovery = %v", f.Err())
			}
		})
	}
}

func TestOpenErrorsNameTheKeyAndFileNeverTheContents(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	write(t, empty, "\n")
	bad := filepath.Join(dir, "bad")
	write(t, bad, "TOP-SECRET-VALUE")
	refuse := func([][]byte) (string, error) { return "", errors.New("not a PEM block") }
	for _, tc := range []struct {
		path  string
		parse credfile.Parser[string]
		want  string
	}{
		{filepath.Join(dir, "missing"), credfile.Secret, "no such file"},
		{empty, credfile.Secret, "empty"},
		{dir, credfile.Secret, "directory"},
		{bad, refuse, "not a PEM block"},
	} {
		_, err := credfile.Open([]string{tc.path}, tc.parse, credfile.Options{Name: "JWT_CLIENT_CERT_FILE"})
		if err == nil || !strings.Contains(err.Error(), "JWT_CLIENT_CERT_FILE") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%s) = %v; want an error naming the key and saying %q", tc.path, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "TOP-SECRET") {
			t.Errorf("error quotes the contents: %v", err)
		}
	}
}

func TestSeveralFilesAreOneValue(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "cert"), filepath.Join(dir, "key")
	write(t, a, "A1")
	write(t, b, "B1")
	join := func(c [][]byte) (string, error) { return string(c[0]) + "+" + string(c[1]), nil }
	clock := clocktest.NewFakeClock(start)
	f, err := credfile.Open([]string{a, b}, join, credfile.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	write(t, b, "B2-longer")
	clock.Advance(credfile.DefaultCheckInterval)
	if v, gen := f.Current(); v != "A1+B2-longer" || gen != 2 {
		t.Fatalf("Current = %q, %d", v, gen)
	}
}

func TestCurrentIsSafeWhileTheFileChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	write(t, path, "v0")
	f, err := credfile.Open([]string{path}, credfile.Secret, credfile.Options{CheckInterval: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			last := uint64(0)
			for range 200 {
				v, gen := f.Current()
				if gen < last || !strings.HasPrefix(v, "v") {
					t.Errorf("Current = %q, %d after generation %d", v, gen, last)
					return
				}
				last = gen
			}
		})
	}
	for i := 1; i <= 50; i++ {
		tmp := path + ".tmp"
		write(t, tmp, fmt.Sprintf("v%d", i))
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	f.Reload()
	if v, _ := f.Current(); v != "v50" {
		t.Fatalf("Current = %q after the last write, want v50", v)
	}
}
