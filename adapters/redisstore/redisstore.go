// Package redisstore is jwtcache's shared store: tokens, renewal locks and
// the change feed kept in Redis (a single node, a Sentinel-managed master or
// a Redis Cluster), so that every replica serves and renews the same tokens.
//
// # Key layout
//
// P is Options.KeyPrefix ("jwtcache" by default) and S a service name. Every
// key contains "jwt", so `redis-cli --scan --pattern "*jwt*"` (or the guide's
// `redis-cli keys "*jwt*"`) finds them, and the keys of one service share
// the hash tag {S}, so they live in one cluster slot:
//
//	P:jwt:{S}:token  string  S's token (value format below). Expires (PX) at
//	                         the end of its cached life: with the token, or
//	                         Options.MaxTTL after its IssuedAt if sooner.
//	P:jwt:{S}:lock   string  S's renewal lock: a random owner id. Expires (PX)
//	                         after the lock's ttl.
//	P:jwt:{S}:floor  string  with encryption only: the issue time of S's latest
//	                         token, sealed; a token issued before it is not
//	                         read (see floor.go). Written with the token key in
//	                         one MULTI; expires with the token, never sooner
//	                         than its key; Delete leaves it.
//	P:jwt:index      zset    the services with a token: member S, score the
//	                         unix milliseconds at which S's token key expires
//	                         (never less: ZADD GT). List reads it instead of
//	                         scanning the key space.
//	P:jwt:changes    channel pub/sub: each message is one change, the service
//	                         name, the publisher's origin id and what changed,
//	                         separated by spaces ("kyc 9f86d081884c7d65 token
//	                         <value as stored>", "... removed"); see feed.go.
//
// No command ever spans two slots: List reads the index, then GETs the token
// keys in a pipeline, which the cluster client splits by node. Members whose
// token key has expired are removed by Prune (and List) from their scores
// alone, reading no token, once indexSkew past their score; members whose
// key is gone for another reason are removed lazily by List (only if the
// score is unchanged since List read it, so a concurrent Put is never
// undone). Put writes the token key before the index and Delete
// removes the index member before the key, so a race between them can leave
// an index member without a key (harmless, cleaned by List) but never a token
// that List cannot see.
//
// # Value format
//
// A token key holds versioned JSON. Without encryption (no
// Options.EncryptionKeys) it is version 1, readable with redis-cli:
//
//	{"v":1,"typ":"Bearer","scope":"read","iat":"2026-03-01T12:00:00.123456789Z","exp":"2026-03-01T13:00:00.123456789Z","tok":"eyJ..."}
//
// Times are RFC 3339 in UTC with nanoseconds, so tokens round-trip exactly.
//
// With encryption it is version 2, the version 1 value sealed with
// AES-256-GCM under the first of Options.EncryptionKeys:
//
//	{"v":2,"kid":"5f3a09c1","n":"<nonce, base64>","c":"<ciphertext and tag, base64>"}
//
// kid is the first 4 bytes of the key's SHA-256, in hex: it names the key
// that sealed the value, so that the store opens it with that key without
// trying the others, and tells nothing useful about the key. n is a random
// 12-byte nonce, new for every Put. c is the sealed version 1 JSON, with the
// Redis key it is written under (P:jwt:{S}:token) as additional data: a
// value copied under another service's key, or another prefix, does not
// open. Token, type, scope and both times are inside c. Still in clear:
// service names (in key names and index members), the index scores and key
// TTLs (when each token expires, to the MaxTTL cap), and which key sealed a
// value.
//
// The other keys are previous keys: a value whose kid names one of them
// opens, and the next Put of that service seals it with the first key, so
// rotating keys keeps the cache. Reads never rewrite a value. To rotate
// across replicas without a miss: first give every replica the new key as a
// previous key, then make it the first key everywhere (the old one
// previous), and drop the old key once MaxTTL has passed.
//
// A value that cannot be read is a miss: Get returns domain.ErrNotFound,
// List skips it, CorruptValues counts it, a warning names the service and
// the reason (never the value), and the next Put overwrites it. That is a
// value that is not JSON, of an unknown version, another program's data or
// a key of another type; with encryption, also a version 1 value (whoever
// can write to Redis could otherwise plant a token in clear), one sealed by
// a key not configured, or one that does not open (altered, or copied from
// another key); without encryption, any version 2 value.
//
// # Change feed
//
// Put and Delete do not publish: the core calls Publish after them, once it
// knows the change is worth announcing. Publish uses classic PUBLISH, which a
// Redis Cluster broadcasts to every node, so a subscriber connected to any
// node hears it.
package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/jwtcache/jwtcache/ports"
)

var (
	_ ports.TokenStore    = (*Store)(nil)
	_ ports.RenewalLocker = (*Store)(nil)
	_ ports.ChangeFeed    = (*Store)(nil)
	_ ports.Pinger        = (*Store)(nil)
	_ ports.Pruner        = (*Store)(nil)
)

const (
	// DefaultKeyPrefix is the KeyPrefix used when Options leaves it empty.
	DefaultKeyPrefix = "jwtcache"
	// DefaultMaxTTL is the MaxTTL used when Options leaves it zero: the
	// guide's CACHE_TTL default.
	DefaultMaxTTL = 30 * time.Minute
	// defaultDialTimeout is go-redis's own default, repeated for the TLS
	// dialer that replaces go-redis's.
	defaultDialTimeout = 5 * time.Second
)

// Options configures a Store. Every field is optional except Addrs; zero
// values mean go-redis's defaults unless said otherwise.
type Options struct {
	// Addrs are host:port addresses. Required. One address is a single
	// node; several are the seed nodes of a Redis Cluster; with MasterName
	// they are Sentinel addresses.
	Addrs []string
	// MasterName is the Sentinel master name; empty means no Sentinel.
	MasterName string
	// Username and Password authenticate to Redis (ACL user, or password
	// alone for requirepass).
	Username, Password string
	// DB is the database number; it must be 0 for a cluster.
	DB int
	// TLS connects with TLS (1.2 or later), verifying the server's
	// certificate against the system roots, or TLSOptions.CAFile, for the
	// host of each address or TLSOptions.ServerName.
	TLS bool
	// TLSOptions give a private CA, a client certificate and a server name
	// to TLS; New reads their files. Used only when TLS is on.
	TLSOptions TLSOptions
	// DialTimeout, ReadTimeout and WriteTimeout bound connecting and each
	// command; the guide's REDIS_TIMEOUT sets all three.
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
	// PoolSize, MaxIdleConns and MinIdleConns size the connection pool per
	// node (REDIS_POOL_MAX_ACTIVE, _MAX_IDLE, _MIN_IDLE).
	PoolSize, MaxIdleConns, MinIdleConns int
	// PoolTimeout is how long a command waits for a free connection
	// (REDIS_POOL_MAX_WAIT). go-redis cannot wait forever, so a negative
	// value (the guide's -1ms, "no limit") means go-redis's default: the
	// read timeout plus one second. A command never waits past its
	// context's deadline either way.
	PoolTimeout time.Duration
	// KeyPrefix starts every key and the channel name; DefaultKeyPrefix if
	// empty. It must not contain '{' or '}', which would break the hash tags.
	KeyPrefix string
	// MaxTTL caps a token key's life (CACHE_TTL); DefaultMaxTTL if zero.
	MaxTTL time.Duration
	// EncryptionKeys, if not empty, seal the token values with AES-256-GCM
	// (see "Value format" in the package comment): the first key seals,
	// and the others are previous keys, still used to open values. Each is
	// exactly EncryptionKeySize bytes (config.ParseEncryptionKey reads one
	// from base64). Empty stores values in clear.
	EncryptionKeys [][]byte
	// Clock tells the store the time, to turn a token's expiry into a key
	// TTL; nil means the system clock.
	Clock ports.Clock
	// Logger receives warnings about unreadable values; nil means
	// slog.Default().
	Logger *slog.Logger
	// TracerProvider, when not nil, traces the Redis commands that run
	// inside a span (go-redis's own OpenTelemetry instrumentation, without
	// the commands' arguments). Only New uses it; nil traces nothing.
	TracerProvider trace.TracerProvider
}

// Store is a ports.TokenStore, ports.RenewalLocker, ports.ChangeFeed and
// ports.Pinger on Redis. It is safe for concurrent use.
type Store struct {
	client     redis.UniversalClient
	ownsClient bool // Close closes client only when New created it
	keys       keys
	maxTTL     time.Duration
	clock      ports.Clock
	log        *slog.Logger
	codec      codec // jsonV1, or sealed when EncryptionKeys are set

	corrupt        atomic.Uint64
	droppedChanges atomic.Uint64

	mu     sync.Mutex
	closed bool                       // guarded by mu
	subs   map[*redis.PubSub]struct{} // guarded by mu; live subscriptions, closed by Close
}

// New connects to Redis as opts says. It does not wait for Redis to answer:
// use Ping for that.
func New(opts Options) (*Store, error) {
	if len(opts.Addrs) == 0 {
		return nil, errors.New("redisstore: no Redis address")
	}
	if opts.DB != 0 && len(opts.Addrs) > 1 && opts.MasterName == "" {
		return nil, fmt.Errorf("redisstore: database %d requested, but a Redis Cluster has only database 0", opts.DB)
	}
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	c, err := newCodec(opts.EncryptionKeys)
	if err != nil {
		return nil, err
	}
	uo := &redis.UniversalOptions{
		Addrs:        opts.Addrs,
		MasterName:   opts.MasterName,
		Username:     opts.Username,
		Password:     opts.Password,
		DB:           opts.DB,
		DialTimeout:  opts.DialTimeout,
		ReadTimeout:  opts.ReadTimeout,
		WriteTimeout: opts.WriteTimeout,
		PoolSize:     opts.PoolSize,
		MaxIdleConns: opts.MaxIdleConns,
		MinIdleConns: opts.MinIdleConns,
		PoolTimeout:  max(opts.PoolTimeout, 0),
		// Let a caller's context deadline cut a command short.
		ContextTimeoutEnabled: true,
	}
	if opts.TLS {
		base, err := opts.TLSOptions.Config()
		if err != nil {
			return nil, fmt.Errorf("redisstore: %w", err)
		}
		uo.Dialer = tlsDialer(opts.DialTimeout, base)
	}
	client := redis.NewUniversalClient(uo)
	if opts.TracerProvider != nil {
		if err := instrument(client, opts.TracerProvider); err != nil {
			_ = client.Close()
			return nil, err
		}
	}
	s := newStore(client, opts, c)
	s.ownsClient = true
	return s, nil
}

// NewWithClient returns a Store on an existing client, which Close leaves
// open. Only opts.KeyPrefix, MaxTTL, EncryptionKeys, Clock and Logger are
// used. It panics if they are invalid, as a programming error.
func NewWithClient(client redis.UniversalClient, opts Options) *Store {
	if err := opts.normalize(); err != nil {
		panic(err)
	}
	c, err := newCodec(opts.EncryptionKeys)
	if err != nil {
		panic(err)
	}
	return newStore(client, opts, c)
}

func newStore(client redis.UniversalClient, opts Options, c codec) *Store {
	return &Store{
		client: client,
		keys:   newKeys(opts.KeyPrefix),
		maxTTL: opts.MaxTTL,
		clock:  opts.Clock,
		log:    opts.Logger,
		codec:  c,
		subs:   make(map[*redis.PubSub]struct{}),
	}
}

// normalize fills in defaults and checks the fields every Store uses.
func (o *Options) normalize() error {
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	if strings.ContainsAny(o.KeyPrefix, "{}") {
		return errors.New("redisstore: key prefix must not contain '{' or '}'")
	}
	switch {
	case o.MaxTTL == 0:
		o.MaxTTL = DefaultMaxTTL
	case o.MaxTTL < time.Millisecond:
		return fmt.Errorf("redisstore: max TTL %v is less than a millisecond", o.MaxTTL)
	}
	if o.Clock == nil {
		o.Clock = ports.SystemClock
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// tlsDialer dials TLS with base (nil: the defaults), and with the host of
// each address as the server name unless base names one: go-redis would
// otherwise need one tls.Config for every node of a cluster or every master
// Sentinel names.
func tlsDialer(timeout time.Duration, base *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if timeout <= 0 {
		timeout = defaultDialTimeout
	}
	if base == nil {
		base = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		cfg := base.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		d := &tls.Dialer{
			NetDialer: &net.Dialer{Timeout: timeout, KeepAlive: 5 * time.Minute},
			Config:    cfg,
		}
		return d.DialContext(ctx, network, addr)
	}
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisstore: ping: %w", err)
	}
	return nil
}

// CorruptValues is how many unreadable values Get and List have met since
// the Store was created.
func (s *Store) CorruptValues() uint64 { return s.corrupt.Load() }

// Close ends every subscription and, if New created the client, closes it.
// It is safe to call more than once.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	subs := s.subs
	s.subs = nil
	s.mu.Unlock()

	var errs []error
	for ps := range subs {
		errs = append(errs, ps.Close())
	}
	if s.ownsClient {
		errs = append(errs, s.client.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("redisstore: close: %w", err)
	}
	return nil
}

// String describes o without its password or encryption keys (only how
// many there are), so that a stray %v of the options cannot leak them.
func (o Options) String() string {
	redacted := o
	if redacted.Password != "" {
		redacted.Password = "[redacted]"
	}
	redacted.EncryptionKeys = nil
	// A tracer provider is an SDK's internals, not configuration.
	redacted.TracerProvider = nil
	type plain Options // drops the methods, so Sprintf does not recurse
	text := fmt.Sprintf("%+v", plain(redacted))
	if n := len(o.EncryptionKeys); n > 0 {
		text = strings.Replace(text, "EncryptionKeys:[]", fmt.Sprintf("EncryptionKeys:[%d redacted]", n), 1)
	}
	return text
}

// LogValue logs o as String does, without its secrets.
func (o Options) LogValue() slog.Value { return slog.StringValue(o.String()) }
