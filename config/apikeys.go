package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/internal/credfile"
)

// API key rules. A key is sent in an HTTP header, so it is visible ASCII;
// ',' separates the entries of JWT_API_KEYS and '@' starts an entry's
// service list, so neither may be part of a key. That keeps the syntax
// unambiguous: a typo in a service name can never turn a limited key into
// an unlimited one.
const (
	// MinAPIKeyLen is the shortest API key accepted.
	MinAPIKeyLen = 16
	// MaxAPIKeyLen is the longest API key accepted.
	MaxAPIKeyLen = 512
)

// parseAPIKey reads one entry, KEY or KEY@service1+service2. Its problem
// never repeats any part of the entry: the part after an '@' may be a
// pasted secret too.
func parseAPIKey(entry string) (APIKey, string) {
	entry = strings.TrimSpace(entry)
	k := APIKey{Key: Secret(entry)}
	if i := strings.LastIndexByte(entry, '@'); i >= 0 {
		k.Key = Secret(entry[:i])
		k.Services = strings.Split(entry[i+1:], "+")
	}
	if p := checkAPIKey(k); p != "" {
		return APIKey{}, p
	}
	return k, ""
}

// checkAPIKey is the problem with k, or "".
func checkAPIKey(k APIKey) string {
	key := k.Key.Reveal()
	switch {
	case len(key) < MinAPIKeyLen:
		return fmt.Sprintf("the key is shorter than %d characters", MinAPIKeyLen)
	case len(key) > MaxAPIKeyLen:
		return fmt.Sprintf("the key is longer than %d characters", MaxAPIKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if b := key[i]; b <= ' ' || b > '~' || b == ',' || b == '@' {
			return "the key may hold only visible ASCII characters other than ',' and '@'"
		}
	}
	for i, s := range k.Services {
		if domain.ValidateServiceName(s) != nil {
			return fmt.Sprintf("service %d after '@' is not a valid service name (1 to 63 of a-z, 0-9 and '-', starting with a letter)", i+1)
		}
	}
	return ""
}

// apiKeysValue reads JWT_API_KEYS: comma-separated entries. A YAML list
// arrives joined with commas (see apiKeysFromYAML).
func apiKeysValue(field func(*Config) *[]APIKey) binding {
	return binding{
		set: func(c *Config, raw string) string {
			if strings.TrimSpace(raw) == "" {
				*field(c) = nil
				return ""
			}
			var keys []APIKey
			var problems []string
			n := 0
			for entry := range strings.SplitSeq(raw, ",") {
				if strings.TrimSpace(entry) == "" {
					continue
				}
				n++
				k, p := parseAPIKey(entry)
				if p != "" {
					problems = append(problems, fmt.Sprintf("entry %d: %s", n, p))
					continue
				}
				keys = append(keys, k)
			}
			if len(problems) > 0 {
				return strings.Join(problems, "; ")
			}
			if len(keys) == 0 {
				return "holds no key"
			}
			*field(c) = keys
			return ""
		},
		check: func(c *Config) string { return checkAPIKeys(*field(c), "entry") },
		yaml:  apiKeysFromYAML,
	}
}

func checkAPIKeys(keys []APIKey, what string) string {
	var problems []string
	for i, k := range keys {
		if p := checkAPIKey(k); p != "" {
			problems = append(problems, fmt.Sprintf("%s %d: %s", what, i+1, p))
		}
	}
	return strings.Join(problems, "; ")
}

// apiKeysFromYAML turns jwt.api.keys into JWT_API_KEYS's syntax. It takes
// a string in that syntax, or a list whose items are such strings or
// mappings {key: KEY, services: [kyc, ...]}. Placeholders are resolved in
// the strings and in key. Only the parts that the joining could corrupt
// are checked here; parseAPIKey checks the rest.
func apiKeysFromYAML(v any, lookup func(string) (string, bool)) (string, string) {
	switch v := v.(type) {
	case nil:
		return "", ""
	case string:
		s, _ := resolvePlaceholder(v, lookup)
		return s, ""
	case map[string]any:
		return "", "is a YAML mapping, want a list of keys"
	case []any:
		entries := make([]string, 0, len(v))
		for i, item := range v {
			entry, p := apiKeyItem(item, lookup)
			if p != "" {
				return "", fmt.Sprintf("entry %d: %s", i+1, p)
			}
			if entry != "" {
				entries = append(entries, entry)
			}
		}
		return strings.Join(entries, ","), ""
	default:
		return "", redacted + " must be quoted in YAML: unquoted it is read as a number or boolean and may change"
	}
}

func apiKeyItem(item any, lookup func(string) (string, bool)) (string, string) {
	switch item := item.(type) {
	case nil:
		return "", ""
	case string:
		s, _ := resolvePlaceholder(item, lookup)
		if strings.Contains(s, ",") {
			return "", "the key may hold only visible ASCII characters other than ',' and '@'"
		}
		return strings.TrimSpace(s), ""
	case map[string]any:
		var key string
		var services []string
		for name, val := range item {
			switch canonicalKey(name) {
			case "key":
				s, ok := val.(string)
				if !ok {
					return "", "key: " + redacted + " must be a quoted string"
				}
				key, _ = resolvePlaceholder(s, lookup)
			case "services":
				list, p := stringList(val)
				if p != "" {
					return "", "services: " + p
				}
				services = list
			default:
				return "", fmt.Sprintf("unknown field %s (want key and services)", echo(name))
			}
		}
		key = strings.TrimSpace(key)
		if key == "" {
			return "", "key is missing or empty"
		}
		if strings.ContainsAny(key, ",@") {
			return "", "the key may hold only visible ASCII characters other than ',' and '@'"
		}
		for i, s := range services {
			if domain.ValidateServiceName(s) != nil {
				return "", fmt.Sprintf("service %d is not a valid service name (1 to 63 of a-z, 0-9 and '-', starting with a letter)", i+1)
			}
		}
		if len(services) == 0 {
			return key, ""
		}
		return key + "@" + strings.Join(services, "+"), ""
	default:
		return "", redacted + " must be a quoted string, or a mapping with key and services"
	}
}

// stringList reads a YAML list of strings, or one string, as a list.
func stringList(v any) ([]string, string) {
	switch v := v.(type) {
	case nil:
		return nil, ""
	case string:
		return []string{strings.TrimSpace(v)}, ""
	case []any:
		out := make([]string, 0, len(v))
		for _, item := range v {
			s, ok := item.(string)
			if !ok {
				return nil, "want a list of service names"
			}
			out = append(out, strings.TrimSpace(s))
		}
		return out, ""
	default:
		return nil, "want a list of service names"
	}
}

// apiKeysFileValue reads JWT_API_KEYS_FILE, a file (a mounted Kubernetes
// secret, say) with one JWT_API_KEYS entry per line; blank lines and lines
// starting with '#' are skipped. Its keys are added to JWT_API_KEYS's.
func apiKeysFileValue(file func(*Config) *string, keys func(*Config) *[]APIKey) binding {
	return binding{
		set: func(c *Config, raw string) string {
			path := strings.TrimSpace(raw)
			if path == "" {
				*file(c), *keys(c) = "", nil
				return ""
			}
			read, p := readAPIKeysFile(path)
			if p != "" {
				return p
			}
			*file(c), *keys(c) = path, read
			return ""
		},
		check: func(c *Config) string { return checkAPIKeys(*keys(c), "key") },
	}
}

// readAPIKeysFile reads the file at start-up through the reader, and with
// the size limit, that the server reads it again with (credfile), so that
// any file the server would refuse is refused here, naming the key.
func readAPIKeysFile(path string) ([]APIKey, string) {
	f, err := credfile.Open([]string{path}, ParseAPIKeysFile, credfile.Options{Name: "file"})
	if err != nil {
		return nil, err.Error()
	}
	keys, _ := f.Current()
	return keys, ""
}

// ParseAPIKeysFile is the credfile.Parser of JWT_API_KEYS_FILE, at
// start-up and for the server that reads the file again when it changes:
// the same lines, the same rules. Its error names lines, never their
// contents.
func ParseAPIKeysFile(contents [][]byte) ([]APIKey, error) {
	keys, p := parseAPIKeysData(contents[0])
	if p != "" {
		return nil, errors.New(p)
	}
	return keys, nil
}

// parseAPIKeysData reads the lines of an API keys file.
func parseAPIKeysData(b []byte) ([]APIKey, string) {
	var keys []APIKey
	var problems []string
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, p := parseAPIKey(line)
		if p != "" {
			problems = append(problems, fmt.Sprintf("line %d: %s", i+1, p))
			continue
		}
		keys = append(keys, k)
	}
	if len(problems) > 0 {
		return nil, strings.Join(problems, "; ")
	}
	if len(keys) == 0 {
		return nil, "holds no key (want one per line; '#' starts a comment line)"
	}
	return keys, ""
}
