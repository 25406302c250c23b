package config

import (
	"regexp"
	"slices"
	"strings"
	"time"
)

// Warning is a start-up warning about a configuration that loads but is
// probably not what was meant. Its message never holds a variable's value.
type Warning struct {
	// Env is the variable the warning is about.
	Env string
	// Message says what looks wrong and what to do.
	Message string
}

// warnedPrefixes are the prefixes of jwtcache's variables: a variable with
// one of them that jwtcache does not read is probably a misspelt one, which
// would otherwise be silently ignored.
var warnedPrefixes = []string{"JWT_", "REDIS_", "CACHE_"}

// kubernetesLink matches the variables Kubernetes sets for a Service in
// the same namespace (a Service named redis gives REDIS_SERVICE_HOST,
// REDIS_PORT_6379_TCP, ...): not typos, and not jwtcache's business.
var kubernetesLink = regexp.MustCompile(`_SERVICE_HOST$|_SERVICE_PORT(_[A-Z0-9_]+)?$|_PORT_[0-9]+_(TCP|UDP|SCTP)(_PROTO|_PORT|_ADDR)?$`)

// shortCacheTTL is the CACHE_TTL below which a warning says that a bare
// number is milliseconds: a TTL that short makes every token be fetched
// again that often, and is most likely seconds written as a bare number.
const shortCacheTTL = time.Minute

// warnings are the warnings about c, loaded from environ; read holds the
// other variables Load read (through ${NAME} placeholders).
func (c Config) warnings(environ []string, read map[string]bool) []Warning {
	var out []Warning
	seen := map[string]bool{}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if seen[name] || read[name] || name == FileEnv || byEnv[name] != nil || kubernetesLink.MatchString(name) ||
			!slices.ContainsFunc(warnedPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		seen[name] = true
		out = append(out, Warning{Env: name, Message: name + " is set, but jwtcache reads no such variable: did you mean " + closestKey(name) + "?"})
	}
	slices.SortFunc(out, func(a, b Warning) int { return strings.Compare(a.Env, b.Env) })
	if c.Cache.TTL > 0 && c.Cache.TTL < shortCacheTTL {
		out = append(out, Warning{Env: "CACHE_TTL", Message: ref("CACHE_TTL") +
			" is less than a minute, so every token is fetched again at least that often. " +
			"A bare number is milliseconds, as in Spring: the guide's 1800000 is 30 minutes; write 30m or 1800s to be plain"})
	}
	if w, ok := c.Server.maxConnectionsWarning(); ok {
		out = append(out, w)
	}
	return out
}

// closestKey is the known variable nearest to name by edit distance, the
// first in table order on a tie.
func closestKey(name string) string {
	best, bestD := FileEnv, editDistance(name, FileEnv)
	for _, e := range table {
		if d := editDistance(name, e.Env); d < bestD {
			best, bestD = e.Env, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes (the
// names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
