package rest

import (
	"log/slog"
	"net"
	"net/http"
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
	// ReadHeaderTimeout bounds reading the request line and headers alone,
	// for a listener whose clients send them at once: a slow-header
	// client is then cut sooner than ReadTimeout. Default: ReadTimeout
	// (net/http's rule).
	ReadHeaderTimeout time.Duration
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
	// ShedIdle changes what happens at MaxConnections: instead of waiting
	// in the kernel's queue, a new connection is accepted and the one that
	// has waited longest without a request in progress (still sending its
	// headers, or idle between keep-alive requests) is closed to make
	// room. Connections whose request is being answered are never closed;
	// when every slot has one, the new connection waits for a slot. Meant
	// for listeners whose clients send their request at once and reconnect
	// freely (probes, scrapers): a pile of stalled connections then cannot
	// keep them out. Default: false.
	ShedIdle bool
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

// The management listener's own limits.
const (
	// DefaultManagementMaxConnections is the management listener's default
	// connection cap: room for the probes and scrapes of a whole fleet many
	// times over, at a few MB of buffers at most.
	DefaultManagementMaxConnections = 256
	// ManagementReadHeaderTimeout bounds a management request's headers:
	// the kubelet and Prometheus send theirs at once, so a client that has
	// not in 2 s is holding a slot, not probing.
	ManagementReadHeaderTimeout = 2 * time.Second
)

// ManagementLimits are the management listener's limits (see
// ServerConfig.ManagementAddr): headers read within
// ManagementReadHeaderTimeout, a write timeout long enough for a large
// /metrics, and connections that shed the longest-waiting idle or stalled
// one when full (ShedIdle), so that clients holding connections open
// cannot keep probes out, however many they hold.
var ManagementLimits = Limits{
	ReadTimeout:       5 * time.Second,
	ReadHeaderTimeout: ManagementReadHeaderTimeout,
	WriteTimeout:      30 * time.Second,
	IdleTimeout:       DefaultIdleTimeout,
	MaxHeaderBytes:    16 << 10,
	MaxConnections:    DefaultManagementMaxConnections,
	ShedIdle:          true,
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

// limitListener accepts at most max connections at once. By default
// Accept waits for one of them to close before taking the next from the
// kernel's queue; with shedding it takes the next at once and closes the
// open connection that has waited longest without a request in progress.
type limitListener struct {
	net.Listener
	slots  chan struct{} // a value per open connection
	logger *slog.Logger
	done   chan struct{} // closed by Close, to end a waiting Accept
	once   sync.Once
	shed   bool
	// sheddable wakes an Accept waiting for a slot when a connection's
	// request ends, so that it can be shed; nil without shedding.
	sheddable chan struct{}

	mu         sync.Mutex
	lastWarned time.Time // guarded by mu
	// open holds the open connections when shedding; guarded by mu.
	open map[*limitConn]struct{}
	// seq orders the connections by when they last began to wait without
	// a request in progress; guarded by mu.
	seq uint64
}

func newLimitListener(ln net.Listener, max int, shed bool, logger *slog.Logger) *limitListener {
	l := &limitListener{Listener: ln, slots: make(chan struct{}, max), logger: logger, done: make(chan struct{}), shed: shed}
	if shed {
		l.sheddable = make(chan struct{}, 1)
		l.open = make(map[*limitConn]struct{})
	}
	return l
}

func (l *limitListener) Accept() (net.Conn, error) {
	if l.shed {
		return l.acceptShedding()
	}
	if !l.takeSlot() {
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

// acceptShedding accepts the next connection, then makes room for it by
// shedding. While it waits for a slot, it holds one connection beyond the
// cap: Serve does not call Accept again until it returns.
func (l *limitListener) acceptShedding() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if !l.takeSlot() {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	lc := &limitConn{Conn: c}
	lc.release = func() {
		l.mu.Lock()
		delete(l.open, lc)
		l.mu.Unlock()
		<-l.slots
	}
	l.mu.Lock()
	l.seq++
	lc.waitingSince = l.seq // sending its first request's headers
	l.open[lc] = struct{}{}
	l.mu.Unlock()
	return lc, nil
}

// takeSlot takes a slot, waiting for one when all are taken (and shedding
// to free one, when the listener sheds); false once the listener is
// closed.
func (l *limitListener) takeSlot() bool {
	if l.trySlot() {
		return true
	}
	l.warnFull()
	for {
		// A slot freed meanwhile is taken before anything is shed, and a
		// connection is shed only when none is free, so each new
		// connection costs at most one other.
		if l.shed {
			l.shedOldest()
			if l.trySlot() {
				return true
			}
		}
		select {
		case l.slots <- struct{}{}:
			return true
		case <-l.done:
			return false
		case <-l.sheddable: // nil without shedding: never ready
			if l.trySlot() {
				return true
			}
		}
	}
}

func (l *limitListener) trySlot() bool {
	select {
	case l.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// shedOldest closes the open connection that has waited longest without
// a request in progress, if any. Its slot is free when Close returns.
func (l *limitListener) shedOldest() {
	l.mu.Lock()
	var oldest *limitConn
	for c := range l.open {
		if c.waitingSince != 0 && (oldest == nil || c.waitingSince < oldest.waitingSince) {
			oldest = c
		}
	}
	l.mu.Unlock()
	if oldest != nil {
		_ = oldest.Close()
	}
}

// connState follows net/http's view of each connection (http.Server's
// ConnState hook) for shedding: StateActive from the end of a request's
// headers until its answer is written, StateIdle between requests.
func (l *limitListener) connState(c net.Conn, st http.ConnState) {
	lc, ok := c.(*limitConn)
	if !ok {
		return
	}
	switch st {
	case http.StateActive:
		l.mu.Lock()
		lc.waitingSince = 0
		l.mu.Unlock()
	case http.StateIdle:
		l.mu.Lock()
		l.seq++
		lc.waitingSince = l.seq
		l.mu.Unlock()
		select {
		case l.sheddable <- struct{}{}:
		default:
		}
	}
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
	if !warn {
		return
	}
	msg := "rest: connection limit reached; new connections wait until others close"
	if l.shed {
		msg = "rest: connection limit reached; each new connection closes the one waiting longest without a request"
	}
	l.logger.Warn(msg, "addr", l.Addr().String(), "maxConnections", cap(l.slots))
}

// limitConn frees its slot when closed, once.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
	// waitingSince is, when its listener sheds, the listener's seq when
	// the connection last began to wait without a request in progress
	// (accepted, or its answer written); 0 while a request is in
	// progress. Guarded by the listener's mu.
	waitingSince uint64
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
