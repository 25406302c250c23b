package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// FileEnv names the YAML file to read when LoadOptions.File is empty.
const FileEnv = "JWT_CONFIG_FILE"

// LoadOptions says where Load reads from. The zero value reads the
// environment of the process and the file JWT_CONFIG_FILE names, if any.
type LoadOptions struct {
	// File is the YAML file to read (the --config flag). Optional: when
	// empty, JWT_CONFIG_FILE in Environ names it; when that is empty too,
	// no file is read.
	File string
	// Environ is the environment, as "NAME=value" strings. Optional: nil
	// means os.Environ(); tests pass their own (an empty, non-nil slice for
	// none).
	Environ []string
}

// ignoredKeys are keys of the guide's application.yaml that mean nothing
// here, so they are not reported as unknown: jwtcache never caches "no
// token" and always keeps statistics.
var ignoredKeys = map[string]bool{
	canonicalKey("spring.cache.redis.cache-null-values"): true,
	canonicalKey("spring.cache.redis.enable-statistics"): true,
}

// Load reads the configuration: the defaults, then the YAML file, then the
// environment, each overriding the one before, and validates the result.
//
// An empty value, a YAML null and a YAML value that is a ${NAME}
// placeholder whose NAME is not set all count as unset, so the guide's
// application.yaml works as it is. When anything is wrong, the error joins
// one *FieldError per problem (see Validate), and the Config is the zero
// value. A file that cannot be read or parsed is reported alone, naming it.
func Load(opts LoadOptions) (Config, error) {
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	// read records the variables looked up, ${NAME} placeholders included,
	// so that they are not warned about as unknown.
	read := map[string]bool{}
	get := envLookup(environ)
	lookup := func(name string) (string, bool) {
		read[name] = true
		return get(name)
	}
	path := opts.File
	if path == "" {
		path, _ = lookup(FileEnv)
	}

	k := koanf.New(".")
	defaults := make(map[string]any, len(table))
	for _, e := range table {
		defaults[e.YAML] = e.def
	}
	if err := k.Load(confmap.Provider(defaults, "."), nil); err != nil {
		return Config{}, fmt.Errorf("config: defaults: %w", err)
	}

	var errs []error
	var origin Origin
	var services map[string]ServiceClientConfig
	if path != "" {
		fv, err := readFile(path, lookup)
		if err != nil {
			return Config{}, err
		}
		errs = append(errs, fv.problems...)
		origin = Origin{File: path, UnknownKeys: fv.unknown}
		services = fv.services
		if err := k.Load(confmap.Provider(fv.values, "."), nil); err != nil {
			return Config{}, fmt.Errorf("config: file %q: %w", path, err)
		}
	}

	envProvider := env.Provider(".", env.Opt{
		EnvironFunc: func() []string { return environ },
		// The guide's names do not follow the YAML tree, so every variable
		// is mapped through the table rather than by a naming rule.
		TransformFunc: func(name, value string) (string, any) {
			e, ok := byEnv[name]
			if !ok || strings.TrimSpace(value) == "" {
				return "", nil
			}
			return e.YAML, value
		},
	})
	if err := k.Load(envProvider, nil); err != nil {
		return Config{}, fmt.Errorf("config: environment: %w", err)
	}

	// Start from the defaults so that a key that fails to parse keeps its
	// default and Validate does not report it a second time.
	c := Default()
	for _, e := range table {
		if p := e.set(&c, k.String(e.YAML)); p != "" {
			errs = append(errs, fieldError(e.Env, p))
		}
	}
	c.TokenService.Services = services
	c.resolve()
	c.Origin = origin
	errs = append(errs, c.problems()...)
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	c.Origin.Warnings = c.warnings(environ, read)
	return c, nil
}

// envLookup finds a variable in environ; the last "NAME=" wins, as in
// os.Getenv after duplicates.
func envLookup(environ []string) func(name string) (string, bool) {
	return func(name string) (string, bool) {
		for _, kv := range slices.Backward(environ) {
			if n, v, ok := strings.Cut(kv, "="); ok && n == name {
				return v, true
			}
		}
		return "", false
	}
}

// placeholder matches a whole value that is a Spring ${NAME} or
// ${NAME:default} placeholder.
var placeholder = regexp.MustCompile(`^\$\{([^}:]+)(:[^}]*)?\}$`)

// fileValues is what readFile found in the YAML file.
type fileValues struct {
	// values are the known table keys, by their table YAML key, flattened
	// to strings, ready to be layered over the defaults.
	values map[string]any
	// unknown are the keys jwtcache does not read.
	unknown []string
	// problems are those of single values.
	problems []error
	// services is the jwt.services mapping; nil when absent.
	services map[string]ServiceClientConfig
}

// readFile reads the YAML file at path. err is set only when the file
// cannot be read or parsed.
func readFile(path string, lookup func(string) (string, bool)) (fileValues, error) {
	fk := koanf.New(".")
	if err := fk.Load(file.Provider(path), yaml.Parser()); err != nil {
		// The path is already in the message; keep only the cause.
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			return fileValues{}, fmt.Errorf("config: file %q: %w", path, pe.Err)
		}
		return fileValues{}, fmt.Errorf("config: file %q: %s", path, scrubYAMLError(err))
	}
	fv := fileValues{values: map[string]any{}}
	var mappedKeys []*entry
	for key, v := range fk.All() {
		if parts := strings.Split(key, "."); len(parts) >= 2 &&
			canonicalKey(parts[0]) == "jwt" && canonicalKey(parts[1]) == "services" {
			fv.readServiceKey(key, parts[2:], v, lookup)
			continue
		}
		ck := canonicalKey(key)
		e, ok := byKey[ck]
		if !ok {
			if parent := tableParent(ck); parent != nil {
				// koanf flattens a mapping given for a single value into
				// keys below it; left unknown, a misplaced API key list
				// would leave the API open with no more than a warning.
				if !slices.Contains(mappedKeys, parent) {
					mappedKeys = append(mappedKeys, parent)
					fv.problems = append(fv.problems, fieldError(parent.Env, "is a YAML mapping, want a single value or a list"))
				}
			} else if !ignoredKeys[ck] {
				fv.unknown = append(fv.unknown, key)
			}
			continue
		}
		var s, problem string
		if e.yaml != nil {
			s, problem = e.yaml(v, lookup)
		} else {
			var set bool
			if v, set = resolveYAMLPlaceholder(v, lookup); !set {
				continue
			}
			s, problem = yamlString(v, e.Secret)
		}
		if problem != "" {
			fv.problems = append(fv.problems, fieldError(e.Env, problem))
			continue
		}
		if strings.TrimSpace(s) == "" {
			continue
		}
		fv.values[e.YAML] = s
	}
	slices.Sort(fv.unknown)
	return fv, nil
}

// tableParent is the table entry whose YAML key is a dotted prefix of the
// canonical key ck, or nil.
func tableParent(ck string) *entry {
	for i := strings.LastIndexByte(ck, '.'); i > 0; i = strings.LastIndexByte(ck[:i], '.') {
		if e, ok := byKey[ck[:i]]; ok {
			return e
		}
	}
	return nil
}

// resolveYAMLPlaceholder resolves v when it is a string placeholder; set is
// false when it names an unset variable and has no default.
func resolveYAMLPlaceholder(v any, lookup func(string) (string, bool)) (_ any, set bool) {
	s, ok := v.(string)
	if !ok {
		return v, true
	}
	return resolvePlaceholder(s, lookup)
}

// resolvePlaceholder returns s, or, when all of s is a ${NAME} or
// ${NAME:default} placeholder, NAME's value from the environment, else the
// default. set is false when NAME is unset or empty and there is no
// default.
func resolvePlaceholder(s string, lookup func(string) (string, bool)) (_ string, set bool) {
	m := placeholder.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return s, true
	}
	if val, ok := lookup(strings.TrimSpace(m[1])); ok && strings.TrimSpace(val) != "" {
		return val, true
	}
	if m[2] != "" {
		return m[2][1:], true
	}
	return "", false
}

// yamlString turns a YAML value into the string an environment variable
// would hold. A secret must be a YAML string: an unquoted 0123 or 1e3 is read
// as a number and would not come back as written.
func yamlString(v any, secret bool) (string, string) {
	switch v := v.(type) {
	case nil:
		return "", ""
	case string:
		return v, ""
	case []any:
		if secret {
			return "", redacted + " must be a single quoted string"
		}
		parts := make([]string, 0, len(v))
		for _, item := range v {
			s, p := yamlString(item, false)
			if p != "" {
				return "", p
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), ""
	case map[string]any:
		return "", "is a YAML mapping, want a single value"
	}
	if secret {
		return "", redacted + " must be quoted in YAML: unquoted it is read as a number or boolean and may change"
	}
	switch v := v.(type) {
	case bool:
		return strconv.FormatBool(v), ""
	case int:
		return strconv.Itoa(v), ""
	case int64:
		return strconv.FormatInt(v, 10), ""
	case uint64:
		return strconv.FormatUint(v, 10), ""
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), ""
	default:
		return fmt.Sprint(v), ""
	}
}

// yamlQuoted matches the `...` quotes in which the YAML decoder repeats the
// document's text.
var yamlQuoted = regexp.MustCompile("`[^`]*`")

// scrubYAMLError drops the document text a YAML error may quote: it could
// be a secret.
func scrubYAMLError(err error) string {
	return yamlQuoted.ReplaceAllString(err.Error(), "`…`")
}
