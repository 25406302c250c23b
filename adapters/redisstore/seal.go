package redisstore

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jwtcache/jwtcache/domain"
)

// EncryptionKeySize is the length in bytes of every key in
// Options.EncryptionKeys: AES-256.
const EncryptionKeySize = 32

// formatSealed is value format 2: format 1, sealed.
const formatSealed = 2

// gcmNonceSize is the nonce length of cipher.NewGCM; Open panics on any
// other, so decode checks it first.
const gcmNonceSize = 12

// sealKey is one encryption key, ready to use. The raw key is not kept.
type sealKey struct {
	id   string // keyID of the key
	aead cipher.AEAD
}

// sealed is the codec of value format 2 (see the package comment). Its
// AEADs are immutable, so it is safe for concurrent use.
type sealed struct {
	// keys is never empty and holds no key twice: keys[0] seals, and
	// opening uses the keys whose id the value names, in order.
	keys []sealKey
}

type valueV2 struct {
	V   int    `json:"v"`
	KID string `json:"kid"`
	N   []byte `json:"n"` // base64 in JSON
	C   []byte `json:"c"`
}

// newCodec returns the codec for Options.EncryptionKeys: jsonV1 when there
// are none, sealed otherwise. Its errors name the faulty key by index and
// never show its bytes.
func newCodec(encryptionKeys [][]byte) (codec, error) {
	if len(encryptionKeys) == 0 {
		return jsonV1{}, nil
	}
	var s sealed
	for i, key := range encryptionKeys {
		if len(key) != EncryptionKeySize {
			return nil, fmt.Errorf("redisstore: EncryptionKeys[%d] is %d bytes long; AES-256 needs exactly %d", i, len(key), EncryptionKeySize)
		}
		// The current key listed again among the previous ones is a
		// harmless slip of a rotation; one copy is enough.
		if slices.ContainsFunc(encryptionKeys[:i], func(k []byte) bool { return bytes.Equal(k, key) }) {
			continue
		}
		block, err := aes.NewCipher(key)
		if err != nil { // cannot happen with 32 bytes; the error holds only the length
			return nil, fmt.Errorf("redisstore: EncryptionKeys[%d]: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("redisstore: EncryptionKeys[%d]: %w", i, err)
		}
		s.keys = append(s.keys, sealKey{id: keyID(key), aead: aead})
	}
	return s, nil
}

// keyID names key in sealed values: 4 bytes of its SHA-256, in hex. Enough
// to tell a handful of keys apart, nothing to learn the key from.
func keyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:4])
}

// isKeyID reports whether s has the shape of a keyID, so that an id read
// from Redis can be logged without carrying anything else into the logs.
func isKeyID(s string) bool {
	if len(s) != 8 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func (s sealed) encode(key string, tok domain.Token) ([]byte, error) {
	plain, err := jsonV1{}.encode(key, tok)
	if err != nil {
		return nil, err
	}
	return s.seal(key, plain)
}

func (s sealed) decode(key string, value []byte) (domain.Token, error) {
	plain, err := s.open(key, value)
	if err != nil {
		return domain.Token{}, err
	}
	return jsonV1{}.decode(key, plain)
}

// seal is value format 2 of plain, written under the Redis key key.
func (s sealed) seal(key string, plain []byte) ([]byte, error) {
	k := s.keys[0]
	// A random nonce per seal is safe for 2^32 seals under one key (NIST SP
	// 800-38D); a seal is one renewal, so no key lives that long.
	// crypto/rand.Read never fails: it crashes the program instead.
	nonce := make([]byte, gcmNonceSize)
	_, _ = rand.Read(nonce)
	return json.Marshal(valueV2{
		V:   formatSealed,
		KID: k.id,
		N:   nonce,
		// The Redis key as additional data: the value opens only where it
		// was written, not under another service's key or prefix.
		C: k.aead.Seal(nil, nonce, plain, []byte(key)),
	})
}

// open is the plain text sealed in value, a format 2 value read from the
// Redis key key, or an error wrapping errUnreadable.
func (s sealed) open(key string, value []byte) ([]byte, error) {
	var v valueV2
	if err := json.Unmarshal(value, &v); err != nil {
		// The JSON error may quote part of the value: keep only its kind.
		return nil, fmt.Errorf("%w: not a JSON token record", errUnreadable)
	}
	switch {
	case v.V == formatV1:
		// Whoever can write to Redis could plant a token of their choosing
		// in clear; with encryption on, only sealed values are ours.
		return nil, fmt.Errorf("%w: a plaintext (version 1) value, and encryption is on", errUnreadable)
	case v.V != formatSealed:
		return nil, fmt.Errorf("%w: unknown format version", errUnreadable)
	case !isKeyID(v.KID):
		return nil, fmt.Errorf("%w: sealed value with a malformed key id", errUnreadable)
	case len(v.N) != gcmNonceSize:
		return nil, fmt.Errorf("%w: sealed value with a malformed nonce", errUnreadable)
	}
	known := false
	for _, k := range s.keys {
		if k.id != v.KID {
			continue
		}
		known = true
		// Two keys may share an id (a 1 in 2^32 chance): try each.
		plain, err := k.aead.Open(nil, v.N, v.C, []byte(key))
		if err != nil {
			continue
		}
		return plain, nil
	}
	if !known {
		return nil, fmt.Errorf("%w: sealed with key id %s, which is not among the encryption keys", errUnreadable, v.KID)
	}
	return nil, fmt.Errorf("%w: sealed value does not open: altered, or written under another Redis key", errUnreadable)
}
