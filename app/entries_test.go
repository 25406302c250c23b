package app

import (
	"fmt"
	"sync"
	"testing"
)

func TestEntryMapCreatesEachServiceOnceAndPublishesInBatches(t *testing.T) {
	m := newEntryMap()
	const n = 10000
	var wg sync.WaitGroup
	got := make([][]*entry, 4)
	for g := range got {
		got[g] = make([]*entry, n)
		wg.Go(func() {
			for i := range n {
				name := fmt.Sprintf("svc-%d", i)
				got[g][i] = m.getOrCreate(name, -1, func() *entry { return &entry{service: name} })
			}
		})
	}
	wg.Wait()
	for i := range n {
		for g := 1; g < len(got); g++ {
			if got[g][i] != got[0][i] {
				t.Fatalf("svc-%d has two entries", i)
			}
		}
		if e := m.get(fmt.Sprintf("svc-%d", i)); e != got[0][i] {
			t.Fatalf("get(svc-%d) = %p, want %p", i, e, got[0][i])
		}
	}
	if len(m.all()) != n {
		t.Fatalf("all() has %d entries, want %d", len(m.all()), n)
	}
	// Batches stay small relative to the published map.
	if p := int(m.npending.Load()); p > len(*m.read.Load())/8+1 {
		t.Fatalf("%d entries pending beside %d published", p, len(*m.read.Load()))
	}
	m.publish()
	if m.npending.Load() != 0 || len(*m.read.Load()) != n {
		t.Fatal("publish left entries pending")
	}
	stale := &entry{service: "svc-1"} // not the entry present: must not remove it
	m.remove([]*entry{got[0][0], stale})
	if m.get("svc-0") != nil || m.get("svc-1") != got[0][1] {
		t.Fatal("remove dropped the wrong entries")
	}
}

func TestEntryMapCreatesNoEntryBeyondItsLimit(t *testing.T) {
	m := newEntryMap()
	const limit = 100
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				name := fmt.Sprintf("svc-%d-%d", g, i)
				m.getOrCreate(name, limit, func() *entry { return &entry{service: name} })
			}
		})
	}
	wg.Wait()
	if n := m.len(); n != limit {
		t.Fatalf("%d entries after 8000 names against a limit of %d", n, limit)
	}
	// A name present is found at the limit; forgetting one makes room.
	some := m.all()[0]
	if m.getOrCreate(some.service, limit, nil) != some {
		t.Fatal("an existing entry was not returned at the limit")
	}
	if m.getOrCreate("new", limit, func() *entry { return &entry{service: "new"} }) != nil {
		t.Fatal("an entry was created beyond the limit")
	}
	m.forget(some)
	if m.get(some.service) != nil || m.len() != limit-1 {
		t.Fatal("forget left the entry")
	}
	if m.getOrCreate("new", limit, func() *entry { return &entry{service: "new"} }) == nil {
		t.Fatal("no entry created below the limit")
	}
	// Forgetting a pending entry and a published one both work, and
	// forgetting an entry that is not the present one does nothing.
	pending := m.getOrCreate("p", -1, func() *entry { return &entry{service: "p"} })
	m.forget(&entry{service: "p"})
	if m.get("p") != pending {
		t.Fatal("forget removed another entry of the same name")
	}
	m.forget(pending)
	m.publish()
	if m.get("p") != nil || m.get("new") == nil {
		t.Fatal("forget of a pending entry failed")
	}
}
