package redisstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jwtcache/jwtcache/domain"
)

// codec turns a token into the value stored under a Redis key and back:
// jsonV1 without encryption, sealed (which wraps jsonV1) with it. key is
// the Redis key the value is written under or read from; sealed binds the
// value to it, jsonV1 ignores it.
type codec interface {
	encode(key string, tok domain.Token) ([]byte, error)
	// decode returns an error wrapping errUnreadable for any value it cannot
	// read. Its error never quotes the value.
	decode(key string, value []byte) (domain.Token, error)
}

// errUnreadable marks a value that is not a token this version can read.
var errUnreadable = errors.New("unreadable cached value")

// jsonV1 is value format 1: JSON with RFC 3339 nanosecond UTC times.
type jsonV1 struct{}

const formatV1 = 1

type valueV1 struct {
	V     int       `json:"v"`
	Type  string    `json:"typ"`
	Scope string    `json:"scope,omitempty"`
	IAT   time.Time `json:"iat"`
	EXP   time.Time `json:"exp"`
	Tok   string    `json:"tok"`
	// Cnf is set for a certificate-bound token; absent otherwise, so that
	// older readers see the same record.
	Cnf bool `json:"cnf,omitempty"`
}

func (jsonV1) encode(_ string, tok domain.Token) ([]byte, error) {
	// JSON would silently replace invalid UTF-8, and the token read back
	// would not be the token put.
	if !utf8.ValidString(tok.AccessToken) || !utf8.ValidString(tok.TokenType) || !utf8.ValidString(tok.Scope) {
		return nil, errors.New("token holds invalid UTF-8")
	}
	// time.Time marshals as RFC 3339 with nanoseconds; UTC gives one
	// spelling per instant and a UTC time back.
	return json.Marshal(valueV1{
		V:     formatV1,
		Type:  tok.TokenType,
		Scope: tok.Scope,
		IAT:   tok.IssuedAt.UTC(),
		EXP:   tok.ExpiresAt.UTC(),
		Tok:   tok.AccessToken,
		Cnf:   tok.BoundToCertificate,
	})
}

func (jsonV1) decode(_ string, value []byte) (domain.Token, error) {
	var v valueV1
	if err := json.Unmarshal(value, &v); err != nil {
		// The JSON error may quote part of the value: keep only its kind.
		return domain.Token{}, fmt.Errorf("%w: not a JSON token record", errUnreadable)
	}
	switch {
	case v.V == formatSealed:
		return domain.Token{}, fmt.Errorf("%w: a sealed (version 2) value, and no encryption key is configured", errUnreadable)
	case v.V != formatV1:
		return domain.Token{}, fmt.Errorf("%w: unknown format version", errUnreadable)
	case v.Tok == "" || v.EXP.IsZero():
		return domain.Token{}, fmt.Errorf("%w: token or expiry missing", errUnreadable)
	}
	return domain.Token{
		AccessToken: v.Tok,
		TokenType:   v.Type,
		Scope:       v.Scope,
		IssuedAt:    v.IAT,
		ExpiresAt:   v.EXP,

		BoundToCertificate: v.Cnf,
	}, nil
}
