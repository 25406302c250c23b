package config

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// EncryptionKeySize is the length in bytes of every key of
// JWT_CACHE_ENCRYPTION_KEY and JWT_CACHE_ENCRYPTION_PREVIOUS_KEYS: AES-256.
const EncryptionKeySize = 32

// ParseEncryptionKey decodes one encryption key from base64, standard or
// URL-safe, padded or not, ignoring white space around it (a key file's
// final newline). It must decode to exactly EncryptionKeySize bytes:
// `openssl rand -base64 32` makes one. Its errors never quote s.
//
// The key format is configuration's business; the Redis store takes the
// decoded bytes.
func ParseEncryptionKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("encryption key is empty")
	}
	// A string valid in two of these decodes to the same bytes in both: the
	// alphabets differ only in characters such a string cannot hold.
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		key, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(key) != EncryptionKeySize {
			hint := ""
			if _, err := hex.DecodeString(s); err == nil && len(s) == 2*EncryptionKeySize {
				hint = " (it looks like hex: give the same bytes in base64)"
			}
			return nil, fmt.Errorf("encryption key decodes to %d bytes; AES-256 needs exactly %d%s", len(key), EncryptionKeySize, hint)
		}
		return key, nil
	}
	return nil, errors.New("encryption key is not base64 (standard or URL-safe, padded or not)")
}
