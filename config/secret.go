package config

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

// redacted is what a non-empty Secret shows instead of its value.
const redacted = "<redacted>"

// Secret is a credential (the client secret, the Redis password). It prints,
// marshals and logs as "<redacted>" (or "" when empty, so that "not set" stays
// visible) under every fmt verb, encoding/json, encoding.TextMarshaler users
// and log/slog. Only Reveal gives the value, for the one place that sends it.
type Secret string

// Reveal returns the secret's value. Call it only where the value is sent to
// the server that needs it, never to build a message.
func (s Secret) Reveal() string { return string(s) }

// String returns "<redacted>", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString is String quoted, for %#v.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// Format makes every fmt verb (%s, %v, %q, %x, %d, ...) print String: a
// string kind would otherwise reveal itself under %x or a bad verb.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// MarshalJSON encodes String.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText encodes String, for YAML and other text encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue logs String.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

var (
	_ fmt.Formatter  = Secret("")
	_ fmt.Stringer   = Secret("")
	_ fmt.GoStringer = Secret("")
	_ json.Marshaler = Secret("")
	_ slog.LogValuer = Secret("")
)
