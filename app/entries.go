package app

import (
	"sync"
	"sync/atomic"
)

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

// getOrCreate returns the entry of service, creating it with create.
func (m *entryMap) getOrCreate(service string, create func() *entry) *entry {
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
