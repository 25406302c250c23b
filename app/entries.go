package app

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jwtcache/jwtcache/domain"
)

// entry is one service's slot in the near cache.
type entry struct {
	service string
	cur     atomic.Pointer[cached] // nil when nothing is cached here
	// lastUsed is the unix-nano time of the latest Token call; it is
	// refreshed at most once a second so hits do not all write it.
	lastUsed atomic.Int64
	renewing atomic.Int32 // fetches for this service running in this process
	failures atomic.Int32 // consecutive failed renewals; >0 means renewal is failing
	// lastRenewed is the unix-nano time this process last replaced the
	// cached token with a new one (its own renewal or refresh, or another
	// replica's); 0 before the first replacement.
	lastRenewed atomic.Int64
	// failure is the token service's latest refusal when nothing valid
	// could be served; until its end, callers share it instead of each
	// asking the token service again. It outlives its end, to count the
	// failures in a row; nil after any success.
	failure atomic.Pointer[recentFailure]
	// forced is the latest successful forced refresh here, or nil; a
	// Refresh within Options.RefreshMinInterval of it answers with its
	// token while that is still the current one.
	forced atomic.Pointer[forcedRefresh]

	mu      sync.Mutex
	timer   *time.Timer   // guarded by mu: the next renewal or retry
	changed chan struct{} // guarded by mu: closed and replaced when the service's token changes
}

// recentFailure is a failed fetch shared with callers until a deadline.
type recentFailure struct {
	err   error
	n     int32 // failures in a row, this one included: the backoff step
	until time.Time
}

// cached is an immutable token with what the hot path needs precomputed.
type cached struct {
	tok            domain.Token
	bearer         string
	cacheExpiresAt time.Time
	servableUntil  time.Time // RenewalPolicy.ServableUntil: never handed out from then on
	renewAt        time.Time // when its renewal timer was set to fire
}

// newer reports whether tok may replace the entry's token: there is none,
// or tok was not issued before it. A replica never goes back in time: an
// older token can come back from a store whose write failed, or from
// someone writing an old value back into a shared store, and the one held
// here may have been replaced on purpose (a refresh of a leaked token).
// Every path that installs a token from outside this fetch asks newer.
func (e *entry) newer(tok domain.Token) bool {
	cur := e.cur.Load()
	return cur == nil || !tok.IssuedAt.Before(cur.tok.IssuedAt)
}

// touch records a use at now, writing at most once a second so that
// concurrent hits do not contend on the same cache line.
func (e *entry) touch(now time.Time) {
	n := now.UnixNano()
	if n-e.lastUsed.Load() > int64(time.Second) {
		e.lastUsed.Store(n)
	}
}

// schedule replaces the entry's pending timer with fn after d.
func (e *entry) schedule(d time.Duration, fn func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.timer != nil {
		e.timer.Stop()
	}
	e.timer = time.AfterFunc(d, fn)
}

func (e *entry) stopTimer() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
}

// notifyChanged wakes everyone waiting in waitChange.
func (e *entry) notifyChanged() {
	e.mu.Lock()
	defer e.mu.Unlock()
	close(e.changed)
	e.changed = make(chan struct{})
}

// changes returns a channel closed at the next change of the entry's
// token.
func (e *entry) changes() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changed
}

// waitChange waits for changed (from changes) to close, at most d, and
// reports whether it did.
func waitChange(ctx context.Context, changed <-chan struct{}, d time.Duration) (bool, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-changed:
		return true, nil
	case <-t.C:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// isRenewing reports whether a fetch for the entry's service runs in this
// process.
func (e *entry) isRenewing() bool { return e.renewing.Load() > 0 }

func (s *Cache) entry(service string) *entry { return s.entries.get(service) }

// entryOrCreate returns service's entry, creating it unless the Cache
// already holds Options.MaxServices entries: then it returns nil.
func (s *Cache) entryOrCreate(service string) *entry {
	return s.entries.getOrCreate(service, s.opt.MaxServices, func() *entry {
		e := &entry{service: service, changed: make(chan struct{})}
		e.lastUsed.Store(s.opt.Clock.Now().UnixNano())
		return e
	})
}

func (s *Cache) snapshot() []*entry { return s.entries.all() }

// entryMap maps service names to their entries. Hits read a published map
// that is never written again, with one atomic load and no lock. A new
// entry waits in a small pending map under the mutex and is published with
// others in a batch once the batch reaches an eighth of the published map
// (or at the next safety-net check), so that creating n services copies
// O(n) entries in all instead of O(n²).
type entryMap struct {
	read     atomic.Pointer[map[string]*entry]
	npending atomic.Int32 // len(pending), readable without mu

	mu      sync.Mutex
	pending map[string]*entry // guarded by mu; disjoint from *read
}

func newEntryMap() *entryMap {
	m := &entryMap{pending: map[string]*entry{}}
	m.read.Store(&map[string]*entry{})
	return m
}

// get returns the entry of service, or nil.
func (m *entryMap) get(service string) *entry {
	if e := (*m.read.Load())[service]; e != nil {
		return e
	}
	if m.npending.Load() == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pending[service]
}

// getOrCreate returns the entry of service, creating it with create
// unless the map holds limit entries already (limit < 0: no limit); then
// it returns nil.
func (m *entryMap) getOrCreate(service string, limit int, create func() *entry) *entry {
	if e := m.get(service); e != nil {
		return e
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	read := *m.read.Load()
	if e := read[service]; e != nil {
		return e
	}
	if e := m.pending[service]; e != nil {
		return e
	}
	if limit >= 0 && len(read)+len(m.pending) >= limit {
		return nil
	}
	e := create()
	m.pending[service] = e
	m.npending.Add(1)
	if len(m.pending) > len(read)/8 {
		m.publishLocked(nil)
	}
	return e
}

// publish moves pending entries to the published map.
func (m *entryMap) publish() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.publishLocked(nil)
}

// remove forgets the given entries (those still present) and publishes.
func (m *entryMap) remove(gone []*entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.publishLocked(gone)
}

// forget removes e, if it is still service's entry. An entry not yet
// published costs a map delete; a published one, a publish.
func (m *entryMap) forget(e *entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pending[e.service] == e {
		delete(m.pending, e.service)
		m.npending.Add(-1)
		return
	}
	if (*m.read.Load())[e.service] == e {
		m.publishLocked([]*entry{e})
	}
}

// len is the number of entries, published or pending.
func (m *entryMap) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(*m.read.Load()) + len(m.pending)
}

func (m *entryMap) publishLocked(gone []*entry) {
	if len(m.pending) == 0 && len(gone) == 0 {
		return
	}
	read := *m.read.Load()
	next := make(map[string]*entry, len(read)+len(m.pending))
	for k, e := range read {
		next[k] = e
	}
	for k, e := range m.pending {
		next[k] = e
	}
	for _, e := range gone {
		if next[e.service] == e {
			delete(next, e.service)
		}
	}
	m.read.Store(&next)
	clear(m.pending)
	m.npending.Store(0)
}

// all returns every entry, published or pending.
func (m *entryMap) all() []*entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	read := *m.read.Load()
	out := make([]*entry, 0, len(read)+len(m.pending))
	for _, e := range read {
		out = append(out, e)
	}
	for _, e := range m.pending {
		out = append(out, e)
	}
	return out
}
