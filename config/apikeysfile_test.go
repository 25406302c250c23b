package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jwtcache/jwtcache/internal/credfile"
)

// TestAPIKeysFileIsReadLikeTheServerReadsIt: JWT_API_KEYS_FILE is read at
// start-up through the same reader, with the same size limit, as the
// server uses to read it again, so a file the server would refuse is a
// configuration error naming the key (exit code 2), not a failure later.
func TestAPIKeysFileIsReadLikeTheServerReadsIt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	line := apiKeyLong + "\n"
	write := func(name string, size int64) string {
		// Valid lines, then comment lines up to size bytes.
		b := []byte(line)
		for int64(len(b)) < size {
			b = append(b, "# padding padding padding padding padding padding padding padding\n"...)
		}
		b = b[:size]
		b[len(b)-1] = '\n'
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	atLimit := write("at-limit", credfile.MaxFileBytes)
	over := write("over-limit", credfile.MaxFileBytes+1)
	big := write("big", 1_360_000)

	if c, err := Load(LoadOptions{Environ: append(baseEnv[:len(baseEnv):len(baseEnv)], "JWT_API_KEYS_FILE="+atLimit)}); err != nil {
		t.Errorf("a file of exactly %d bytes: %v", credfile.MaxFileBytes, err)
	} else if len(c.API.FileKeys) != 1 {
		t.Errorf("FileKeys = %d keys, want 1", len(c.API.FileKeys))
	}
	for _, p := range []string{over, big} {
		_, err := Load(LoadOptions{Environ: append(baseEnv[:len(baseEnv):len(baseEnv)], "JWT_API_KEYS_FILE="+p)})
		if err == nil {
			t.Fatalf("%s: loaded a file larger than %d bytes", filepath.Base(p), credfile.MaxFileBytes)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "config: JWT_API_KEYS_FILE (jwt.api.keys-file): ") || !strings.Contains(msg, "larger than") {
			t.Errorf("%s: error %q, want one naming JWT_API_KEYS_FILE and the size limit", filepath.Base(p), msg)
		}
		assertNoSecret(t, msg)
	}
}
