package rest

import (
	"log/slog"
	"net"
	"sync"
	"time"
)

// Limits bounds what clients can hold of a Server: time, header bytes and
// connections. They keep a slow or flooding client from taking the process
// down: a connection that does not finish its request in ReadTimeout is
// closed, and connections beyond MaxConnections wait in the kernel's accept
// queue until one closes, instead of using up the process's file
// descriptors (which Redis and the token service need too).
//
// A zero field takes its default.
type Limits struct {
	// ReadTimeout bounds reading one request, headers and body, from the
	// end of the previous one (or the connection's start). Default:
	// DefaultReadTimeout.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of the request headers to
	// the end of the answer, so it must exceed the longest time a request
	// may wait for a token. Default: DefaultWriteTimeout. A handler that
	// streams longer extends its own deadline (http.ResponseController).
	WriteTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request. Default: DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers; more is answered
	// 431 by net/http. Default: DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// MaxConnections bounds the connections open at once. Default:
	// DefaultMaxConnections().
	MaxConnections int
}

// The defaults of Limits.
const (
	// DefaultReadTimeout is generous for a request that carries no body
	// and short enough that a slowloris client frees its connection soon.
	DefaultReadTimeout = 10 * time.Second
	// DefaultWriteTimeout exceeds the longest wait of a request in the
	// core with its default settings (the renewal lock's 30 s plus a 10 s
	// token request).
	DefaultWriteTimeout = 60 * time.Second
	// DefaultIdleTimeout outlasts the idle timeouts of common load
	// balancers (60 s for AWS ALB, 75 s for nginx), so that they, not
	// jwtcache, close idle connections and never send on one being closed.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultMaxHeaderBytes leaves room for long API keys and tracing
	// headers; the guide's requests need a few hundred bytes.
	DefaultMaxHeaderBytes = 64 << 10
	// MaxConnectionsCeiling is DefaultMaxConnections' upper bound: about
	// 100 MB of connection buffers and goroutines at most.
	MaxConnectionsCeiling = 4096
)

// ManagementLimits are the management listener's limits (see
// ServerConfig.ManagementAddr): few connections, for probes and scrapes,
// and a write timeout long enough for a large /metrics.
var ManagementLimits = Limits{
	ReadTimeout:    5 * time.Second,
	WriteTimeout:   30 * time.Second,
	IdleTimeout:    DefaultIdleTimeout,
	MaxHeaderBytes: 16 << 10,
	MaxConnections: 64,
}

// DefaultMaxConnections is MaxConnectionsCeiling or half the process's
// open-file limit (RLIMIT_NOFILE), whichever is less, so that a full
// listener still leaves descriptors for Redis, the token service, the
// management listener and the logs. It is at least 1.
func DefaultMaxConnections() int {
	n := MaxConnectionsCeiling
	if nofile, ok := openFileLimit(); ok && nofile/2 < uint64(n) {
		n = int(nofile / 2)
	}
	return max(n, 1)
}

// withDefaults is l with every zero field set to its default.
func (l Limits) withDefaults() Limits {
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = DefaultReadTimeout
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultWriteTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxConnections <= 0 {
		l.MaxConnections = DefaultMaxConnections()
	}
	return l
}

// fullLogInterval is the least time between two "connection limit
// reached" warnings of one listener, so that an attack does not also
// flood the log.
const fullLogInterval = time.Minute

// limitListener accepts at most max connections at once: Accept waits for
// one of them to close before taking the next from the kernel's queue.
type limitListener struct {
	net.Listener
	slots  chan struct{} // a value per open connection
	logger *slog.Logger
	done   chan struct{} // closed by Close, to end a waiting Accept
	once   sync.Once

	mu         sync.Mutex
	lastWarned time.Time // guarded by mu
}

func newLimitListener(ln net.Listener, max int, logger *slog.Logger) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, max), logger: logger, done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		l.warnFull()
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

func (l *limitListener) warnFull() {
	now := time.Now()
	l.mu.Lock()
	warn := now.Sub(l.lastWarned) >= fullLogInterval
	if warn {
		l.lastWarned = now
	}
	l.mu.Unlock()
	if warn {
		l.logger.Warn("rest: connection limit reached; new connections wait until others close",
			"addr", l.Addr().String(), "maxConnections", cap(l.slots))
	}
}

// limitConn frees its slot when closed, once.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
