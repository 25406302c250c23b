package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/domain"
)

func ids(events []Event) []uint64 {
	out := make([]uint64, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

func publishN(f *EventFeed, n int) {
	for i := range n {
		f.Publish(Event{Type: EventRenewed, Service: fmt.Sprintf("svc-%d", i)})
	}
}

// TestEventFeedHistoryIsBounded: the feed keeps the latest history
// events, numbered consecutively, and forgets older ones.
func TestEventFeedHistoryIsBounded(t *testing.T) {
	f := NewEventFeed(4, 2)
	publishN(f, 3)
	if got := ids(f.Recent(0)); fmt.Sprint(got) != "[1 2 3]" {
		t.Fatalf("before the ring is full: %v", got)
	}
	publishN(f, 7)
	if got := ids(f.Recent(0)); fmt.Sprint(got) != "[7 8 9 10]" {
		t.Fatalf("after 10 events with a history of 4: %v", got)
	}
	if got := ids(f.Recent(8)); fmt.Sprint(got) != "[9 10]" {
		t.Fatalf("after ID 8: %v", got)
	}
	if got := f.Recent(10); len(got) != 0 {
		t.Fatalf("after the latest: %v", got)
	}
}

func TestEventFeedDefaults(t *testing.T) {
	f := NewEventFeed(0, -1)
	publishN(f, DefaultEventHistory+5)
	if got := f.Recent(0); len(got) != DefaultEventHistory || got[0].ID != 6 {
		t.Fatalf("kept %d events from ID %d, want %d from 6", len(got), got[0].ID, DefaultEventHistory)
	}
	s := f.Subscribe(0)
	defer s.Close()
	if cap(s.ch) != DefaultEventQueue {
		t.Fatalf("queue %d, want %d", cap(s.ch), DefaultEventQueue)
	}
}

// TestEventFeedSubscribeMissesNothing: a subscriber gets the history
// after its last seen ID, then every later event, with no gap or repeat
// between the two.
func TestEventFeedSubscribeMissesNothing(t *testing.T) {
	f := NewEventFeed(8, 8)
	publishN(f, 5)
	s := f.Subscribe(2)
	defer s.Close()
	publishN(f, 3)
	got := ids(s.Backlog())
	for range 3 {
		got = append(got, (<-s.C()).ID)
	}
	if fmt.Sprint(got) != "[3 4 5 6 7 8]" {
		t.Fatalf("backlog then live: %v", got)
	}
}

// TestEventFeedSlowSubscriberDoesNotBlock: a subscriber that never reads
// loses what its queue cannot hold; the publisher and the other
// subscribers carry on.
func TestEventFeedSlowSubscriberDoesNotBlock(t *testing.T) {
	f := NewEventFeed(4, 3)
	slow := f.Subscribe(0)
	defer slow.Close()
	fast := f.Subscribe(0)
	defer fast.Close()
	var got []uint64
	for range 10 {
		f.Publish(Event{Type: EventEvicted, Service: "kyc"}) // would hang here if it waited for slow
		got = append(got, (<-fast.C()).ID)
	}
	if fmt.Sprint(got) != "[1 2 3 4 5 6 7 8 9 10]" {
		t.Fatalf("fast subscriber got %v", got)
	}
	if slow.Dropped() != 7 || fast.Dropped() != 0 {
		t.Fatalf("dropped: slow %d (want 7), fast %d", slow.Dropped(), fast.Dropped())
	}
	var kept []uint64
	for range 3 {
		kept = append(kept, (<-slow.C()).ID)
	}
	if fmt.Sprint(kept) != "[1 2 3]" {
		t.Fatalf("slow subscriber kept %v, want the first 3", kept)
	}
}

func TestEventFeedClose(t *testing.T) {
	f := NewEventFeed(4, 4)
	s := f.Subscribe(0)
	other := f.Subscribe(0)
	s.Close()
	s.Close() // twice is fine
	if _, open := <-s.C(); open {
		t.Fatal("a closed subscription's channel is open")
	}
	if n := f.Subscribers(); n != 1 {
		t.Fatalf("%d subscribers after one closed, want 1", n)
	}
	f.Close()
	if _, open := <-other.C(); open {
		t.Fatal("closing the feed left a subscription open")
	}
	other.Close() // after the feed's Close: nothing to do
	f.Publish(Event{Type: EventEvicted})
	if got := f.Recent(0); len(got) != 0 {
		t.Fatalf("published after Close: %v", got)
	}
	late := f.Subscribe(0)
	if _, open := <-late.C(); open {
		t.Fatal("a subscription to a closed feed is open")
	}
	if f.Subscribers() != 0 {
		t.Fatal("subscribers remain after Close")
	}
}

// TestEventFeedConcurrent exercises publishers, subscribers joining and
// leaving, and Close together under the race detector.
func TestEventFeedConcurrent(t *testing.T) {
	f := NewEventFeed(16, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { publishN(f, 200) })
		wg.Go(func() {
			for range 50 {
				s := f.Subscribe(0)
				select {
				case <-s.C():
				default:
				}
				s.Close()
			}
		})
	}
	wg.Wait()
	if got := f.Recent(0); len(got) != 16 || got[15].ID != 800 {
		t.Fatalf("kept %d events, last %v", len(got), got[len(got)-1].ID)
	}
	f.Close()
}

func TestFailureOf(t *testing.T) {
	for _, tc := range []struct {
		err           error
		failure, code string
	}{
		{fmt.Errorf("wrapped: %w", &domain.TokenServiceError{Kind: domain.Rejected, Code: "invalid_client"}), "rejected", "invalid_client"},
		{&domain.TokenServiceError{Kind: domain.Unreachable, RetryAfter: time.Second}, "unreachable", ""},
		{context.DeadlineExceeded, "timeout", ""},
		{errors.New("redis: connection refused"), "error", ""},
	} {
		f, c := failureOf(tc.err)
		if f != tc.failure || c != tc.code {
			t.Errorf("failureOf(%v) = %q, %q; want %q, %q", tc.err, f, c, tc.failure, tc.code)
		}
	}
}
