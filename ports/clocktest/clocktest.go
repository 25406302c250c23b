// Package clocktest gives tests a ports.Clock that moves only when told to.
package clocktest

import (
	"sync"
	"time"
)

// FakeClock is a ports.Clock that moves only when told to: by Advance, or
// by Set. It is safe for concurrent use.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time // guarded by mu
}

// NewFakeClock returns a FakeClock reading start.
func NewFakeClock(start time.Time) *FakeClock { return &FakeClock{now: start} }

// Now returns the clock's current reading.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t, forward or back.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
