package redisstore

// keys names the Redis keys of one key prefix; the layout is described in
// the package comment.
type keys struct {
	base    string // prefix + ":jwt:"
	index   string
	channel string
}

func newKeys(prefix string) keys {
	base := prefix + ":jwt:"
	return keys{base: base, index: base + "index", channel: base + "changes"}
}

// token is the key of service's token. service must be a valid service
// name: it cannot contain '}' and so cannot break out of the hash tag.
func (k keys) token(service string) string { return k.base + "{" + service + "}:token" }

// lock is the key of service's renewal lock, in the same slot as its token.
func (k keys) lock(service string) string { return k.base + "{" + service + "}:lock" }

// floor is the key of service's floor (see floor.go), in the same slot.
func (k keys) floor(service string) string { return k.base + "{" + service + "}:floor" }
