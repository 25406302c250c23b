package config

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

func TestParseEncryptionKey(t *testing.T) {
	// 0xfb 0xef 0xbe is "++++" in standard base64 and 0xff... is "////":
	// the standard and URL-safe spellings differ.
	key := bytes.Repeat([]byte{0xfb, 0xef, 0xbe, 0xff, 0xff, 0xff, 0x10, 0x20}, 4)
	std := base64.StdEncoding.EncodeToString(key)
	if !strings.ContainsAny(std, "+/") || !strings.HasSuffix(std, "=") {
		t.Fatalf("test key %s does not exercise the alphabets and padding", std)
	}
	for name, s := range map[string]string{
		"standard":                    std,
		"standard without padding":    base64.RawStdEncoding.EncodeToString(key),
		"URL-safe":                    base64.URLEncoding.EncodeToString(key),
		"URL-safe without padding":    base64.RawURLEncoding.EncodeToString(key),
		"with a final newline":        std + "\n",
		"with spaces around":          "  " + base64.RawURLEncoding.EncodeToString(key) + "\t",
		"openssl rand -base64 32-ish": base64.StdEncoding.EncodeToString(key) + "\r\n",
	} {
		got, err := ParseEncryptionKey(s)
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("%s: ParseEncryptionKey = %x, %v; want the key", name, got, err)
		}
	}
	short := base64.StdEncoding.EncodeToString(key[:16])
	long := base64.StdEncoding.EncodeToString(append(bytes.Clone(key), 1))
	for name, c := range map[string]struct{ s, want string }{
		"empty":         {"", "empty"},
		"blank":         {" \n", "empty"},
		"not base64":    {"SeCrEt key, not base64!", "not base64"},
		"mixed":         {std[:10] + "-" + std[11:], "not base64"},
		"16 bytes":      {short, "16 bytes"},
		"33 bytes":      {long, "33 bytes"},
		"hex, 32 bytes": {hex.EncodeToString(key), "looks like hex"},
	} {
		_, err := ParseEncryptionKey(c.s)
		if err == nil {
			t.Errorf("%s: ParseEncryptionKey succeeded", name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not say %q", name, err, c.want)
		}
		if s := strings.TrimSpace(c.s); len(s) > 3 && strings.Contains(err.Error(), s[:4]) {
			t.Errorf("%s: error %q quotes the input", name, err)
		}
	}
}
