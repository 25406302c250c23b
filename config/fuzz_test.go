package config_test

import (
	"strings"
	"testing"

	"github.com/jwtcache/jwtcache/config"
)

// fuzzSecretMark starts the value of every secret key the fuzzer sets:
// no error may show it, or any part of the value after it.
const fuzzSecretMark = "Zq8-secret-"

// fuzzKeys are the environment variables FuzzEnvValue sets: every key of
// the table except those naming files, which Load reads (a fuzzer must not
// read the machine's files).
func fuzzKeys() []config.KeyDoc {
	var keys []config.KeyDoc
	for _, k := range config.Keys() {
		if strings.Contains(k.Type, "file path") {
			continue
		}
		keys = append(keys, k)
	}
	return keys
}

// FuzzEnvValue loads a working configuration with one variable set to any
// value: Load never panics; when it fails, the error names that variable
// (whatever else it names) and never shows a secret's value.
func FuzzEnvValue(f *testing.F) {
	keys := fuzzKeys()
	for i, k := range keys {
		for _, v := range []string{
			"", " ", "0", "-1", "1", "20", "20s", "1500ms", "PT20S", "7d", "1m30s", "99999999999999999999", "1e9", "NaN",
			"true", "off", "redis", "memory", "MEMORY", "json", "debug", "localhost", "127.0.0.1:6379", "a:b,c:d",
			"http://x", "https://auth.example.com/oauth/token", "ftp://x", "://", "http://[::1", "key@kyc+data-processor",
			"k\x00y", "\xff", "${HOME}", strings.Repeat("a", 300), k.Default,
		} {
			f.Add(uint8(i), v)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, value string) {
		k := keys[int(which)%len(keys)]
		if k.Secret {
			value = fuzzSecretMark + value
		}
		environ := []string{
			"JWT_TOKEN_SERVICE_URL=https://auth.example.com/oauth/token",
			"JWT_CLIENT_ID=fuzz-client",
			"JWT_CLIENT_SECRET=" + fuzzSecretMark + "client",
			k.Env + "=" + value,
		}
		_, err := config.Load(config.LoadOptions{Environ: environ})
		if err == nil {
			return
		}
		msg := err.Error()
		if strings.Contains(msg, fuzzSecretMark) {
			t.Fatalf("%s: the error shows a secret: %v", k.Env, err)
		}
		if !strings.Contains(msg, k.Env) {
			t.Fatalf("%s=%q: the error does not name %s: %v", k.Env, value, k.Env, err)
		}
	})
}
