package config

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jwtcache/jwtcache/internal/redact"
)

// binding parses one key's raw string into its Config field and checks the
// typed value. set and check return a problem ("" when fine) that never
// contains a secret: set for a malformed string, check for a well-formed
// value out of range, so that Validate also catches it in a Config built by
// hand. set("") stores the zero value: only defaults pass "", since Load
// treats an empty value as unset. yaml, when set, turns the key's YAML
// value into that raw string, for keys whose YAML form is richer than a
// single value; the default is yamlString.
type binding struct {
	set   func(c *Config, raw string) string
	check func(c *Config) string
	yaml  func(v any, lookup func(string) (string, bool)) (string, string)
}

// maxEcho bounds how much of a bad value an error repeats.
const maxEcho = 80

// echo quotes a bad value for an error message.
func echo(raw string) string {
	if len(raw) > maxEcho {
		raw = raw[:maxEcho] + "…"
	}
	return strconv.Quote(raw)
}

func stringValue(field func(*Config) *string, check func(string) string) binding {
	b := binding{set: func(c *Config, raw string) string {
		*field(c) = strings.TrimSpace(raw)
		return ""
	}}
	if check != nil {
		b.check = func(c *Config) string { return check(*field(c)) }
	}
	return b
}

// secretValue keeps the value as given, surrounding spaces included: they
// may be part of the secret.
func secretValue(field func(*Config) *Secret) binding {
	return binding{set: func(c *Config, raw string) string {
		*field(c) = Secret(raw)
		return ""
	}}
}

// encryptionKeyValue is a secret holding one base64 AES-256 key, or a
// comma-separated list of them; a problem names the entry, never the key.
func encryptionKeyValue(field func(*Config) *Secret, list bool) binding {
	b := secretValue(field)
	b.check = func(c *Config) string {
		parts := []string{field(c).Reveal()}
		if list {
			parts = splitSecretList(*field(c))
		} else if parts[0] == "" {
			return ""
		}
		for i, p := range parts {
			if _, err := ParseEncryptionKey(p); err != nil {
				if list {
					return fmt.Sprintf("entry %d: %v", i+1, err)
				}
				return err.Error()
			}
		}
		return ""
	}
	return b
}

func enumValue[T ~string](field func(*Config) *T, allowed ...T) binding {
	want := make([]string, len(allowed))
	for i, a := range allowed {
		want[i] = string(a)
	}
	wantText := strings.Join(want, " or ")
	if len(want) > 2 {
		wantText = strings.Join(want[:len(want)-1], ", ") + " or " + want[len(want)-1]
	}
	return binding{
		set: func(c *Config, raw string) string {
			v := T(strings.ToLower(strings.TrimSpace(raw)))
			if v != "" && !slices.Contains(allowed, v) {
				return fmt.Sprintf("%s is not %s", echo(raw), wantText)
			}
			*field(c) = v
			return ""
		},
		check: func(c *Config) string {
			if v := *field(c); !slices.Contains(allowed, v) {
				return fmt.Sprintf("%s is not %s", echo(string(v)), wantText)
			}
			return ""
		},
	}
}

// signingAlgValue reads RS256 or ES256, in any case; empty means the
// key's own algorithm.
func signingAlgValue(field func(*Config) *SigningAlg) binding {
	return binding{
		set: func(c *Config, raw string) string {
			v := SigningAlg(strings.ToUpper(strings.TrimSpace(raw)))
			if p := checkSigningAlg(v); p != "" {
				return p
			}
			*field(c) = v
			return ""
		},
		check: func(c *Config) string { return checkSigningAlg(*field(c)) },
	}
}

// urlValue accepts an absolute http or https URL without credentials. Bad
// values are echoed only once they are known to hold no user info.
func urlValue(field func(*Config) *string) binding {
	return binding{
		set: func(c *Config, raw string) string {
			*field(c) = strings.TrimSpace(raw)
			return ""
		},
		check: func(c *Config) string { return checkURL(*field(c)) },
	}
}

func checkURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		// url.Error repeats the whole string, which may hold credentials.
		return "is not a valid URL"
	}
	if u.User != nil {
		return "must not contain credentials; set JWT_CLIENT_ID and JWT_CLIENT_SECRET instead"
	}
	// The URL is shown without its query and fragment, which may hold a
	// secret.
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Sprintf("%s is not an http or https URL", echo(redact.URL(s)))
	}
	if u.Host == "" {
		return fmt.Sprintf("%s has no host", echo(redact.URL(s)))
	}
	if u.Fragment != "" {
		return fmt.Sprintf("%s must not have a fragment (a part after '#')", echo(redact.URL(s)))
	}
	return ""
}

// durationValue parses a duration whose bare numbers are in unit: seconds
// for the JWT_ keys (the guide's JWT_RENEWAL_BUFFER=20), milliseconds for
// Spring's keys (REDIS_TIMEOUT, CACHE_TTL=1800000).
func durationValue(field func(*Config) *time.Duration, unit time.Duration, check func(time.Duration) string) binding {
	want := "(want seconds like 20 or a Go duration like 20s)"
	if unit == time.Millisecond {
		want = "(want milliseconds like 2000 or a duration like 2000ms or 2s)"
	}
	b := binding{set: func(c *Config, raw string) string {
		if raw == "" {
			*field(c) = 0
			return ""
		}
		d, ok := parseDuration(raw, unit)
		if !ok {
			return fmt.Sprintf("%s is not a duration %s", echo(raw), want)
		}
		*field(c) = d
		return ""
	}}
	if check != nil {
		b.check = func(c *Config) string { return check(*field(c)) }
	}
	return b
}

var (
	// springSimple is Spring's simple duration style, whose units Go lacks
	// ("d") or spells in another case ("2S").
	springSimple = regexp.MustCompile(`^([+-]?\d+)(ns|us|ms|s|m|h|d)$`)
	// iso8601 is the subset of ISO-8601 durations Spring users write
	// (PT30M, P1DT2H, PT0.5S).
	iso8601 = regexp.MustCompile(`^([+-]?)P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)
)

// parseDuration reads a bare integer as a count of unit, then a Go duration
// ("1m30s", "-1ms"), then Spring's "7d", then ISO-8601 ("PT30M").
func parseDuration(raw string, unit time.Duration) (time.Duration, bool) {
	s := strings.TrimSpace(raw)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return mulDuration(n, unit)
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d, true
	}
	lower := strings.ToLower(s)
	if m := springSimple.FindStringSubmatch(lower); m != nil {
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return 0, false
		}
		units := map[string]time.Duration{"ns": time.Nanosecond, "us": time.Microsecond, "ms": time.Millisecond,
			"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
		return mulDuration(n, units[m[2]])
	}
	if m := iso8601.FindStringSubmatch(strings.ToUpper(s)); m != nil {
		var total time.Duration
		for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute} {
			if m[i+2] == "" {
				continue
			}
			n, err := strconv.ParseInt(m[i+2], 10, 64)
			if err != nil {
				return 0, false
			}
			d, ok := mulDuration(n, unit)
			if !ok || total > math.MaxInt64-d {
				return 0, false
			}
			total += d
		}
		if m[5] != "" {
			f, err := strconv.ParseFloat(m[5], 64)
			if err != nil || f*float64(time.Second) > float64(math.MaxInt64-total) {
				return 0, false
			}
			total += time.Duration(f * float64(time.Second))
		}
		if m[2]+m[3]+m[4]+m[5] == "" {
			return 0, false
		}
		if m[1] == "-" {
			total = -total
		}
		return total, true
	}
	return 0, false
}

func mulDuration(n int64, unit time.Duration) (time.Duration, bool) {
	if n > math.MaxInt64/int64(unit) || n < math.MinInt64/int64(unit) {
		return 0, false
	}
	return time.Duration(n) * unit, true
}

func positive(d time.Duration) string {
	if d <= 0 {
		return fmt.Sprintf("must be more than 0, got %s", d)
	}
	return ""
}

func nonNegative(d time.Duration) string {
	if d < 0 {
		return fmt.Sprintf("must not be negative, got %s", d)
	}
	return ""
}

func intValue(field func(*Config) *int, check func(int) string) binding {
	b := binding{set: func(c *Config, raw string) string {
		if raw == "" {
			*field(c) = 0
			return ""
		}
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Sprintf("%s is not an integer", echo(raw))
		}
		*field(c) = n
		return ""
	}}
	if check != nil {
		b.check = func(c *Config) string { return check(*field(c)) }
	}
	return b
}

func intRange(lo, hi int) func(int) string {
	return func(n int) string {
		if n < lo || n > hi {
			return fmt.Sprintf("%d is out of range %d..%d", n, lo, hi)
		}
		return ""
	}
}

func intAtLeast(lo int) func(int) string {
	return func(n int) string {
		if n < lo {
			return fmt.Sprintf("%d must be at least %d", n, lo)
		}
		return ""
	}
}

// poolMaxActive is Spring's max-active: a size of at least 1, or negative
// for no limit. 0 would be a pool that can never hand out a connection.
func poolMaxActive(n int) string {
	if n == 0 {
		return "0 must be at least 1, or -1 for no limit"
	}
	return ""
}

func boolValue(field func(*Config) *bool) binding {
	return binding{set: func(c *Config, raw string) string {
		switch strings.ToLower(strings.TrimSpace(raw)) {
		case "", "false", "0", "no", "off":
			*field(c) = false
		case "true", "1", "yes", "on":
			*field(c) = true
		default:
			return fmt.Sprintf("%s is not a boolean (want true or false)", echo(raw))
		}
		return ""
	}}
}

// checkHost accepts a host name or IP address without a port. A value with
// an "@" is not echoed: it is likely a URL with a password in it.
func checkHost(s string) string {
	if s == "" {
		return ""
	}
	if strings.Contains(s, "@") {
		return "must be a host name or IP address, not a URL with credentials"
	}
	if strings.ContainsAny(s, "/ \t\r\n,") {
		return fmt.Sprintf("%s is not a host name or IP address", echo(s))
	}
	if strings.Contains(s, ":") && net.ParseIP(strings.Trim(s, "[]")) == nil {
		return fmt.Sprintf("%s must not contain a port", echo(s))
	}
	return ""
}

func hostValue(field func(*Config) *string) binding {
	return stringValue(field, checkHost)
}

// addrListValue reads a comma-separated host:port list; a YAML list arrives
// here already joined with commas.
func addrListValue(field func(*Config) *[]string) binding {
	return binding{
		set: func(c *Config, raw string) string {
			var addrs []string
			for a := range strings.SplitSeq(raw, ",") {
				if a = strings.TrimSpace(a); a != "" {
					addrs = append(addrs, a)
				}
			}
			*field(c) = addrs
			return ""
		},
		check: func(c *Config) string {
			var problems []string
			for i, a := range *field(c) {
				if p := checkAddr(a); p != "" {
					problems = append(problems, fmt.Sprintf("entry %d %s", i+1, p))
				}
			}
			return strings.Join(problems, "; ")
		},
	}
}

func checkAddr(a string) string {
	if strings.Contains(a, "@") {
		return "is a URL with credentials, want host:port (set REDIS_USERNAME and REDIS_PASSWORD)"
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil || host == "" {
		return fmt.Sprintf("%s is not host:port", echo(a))
	}
	if p := checkHost(host); p != "" {
		return fmt.Sprintf("%s is not host:port", echo(a))
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Sprintf("%s has no port in 1..65535", echo(a))
	}
	return ""
}

var keyPrefixPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

func checkKeyPrefix(s string) string {
	if !keyPrefixPattern.MatchString(s) {
		return fmt.Sprintf("%s must be 1 to 64 of A-Z a-z 0-9 _ . -", echo(s))
	}
	return ""
}
