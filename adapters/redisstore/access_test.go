package redisstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/adapters/redisstore/redistest"
	"github.com/jwtcache/jwtcache/ports"
)

const (
	accessPassword = "r1ght-PASSWORD-value"
	aclPassword    = "acl-PASSWORD-value"
	wrongPassword  = "wr0ng-PASSWORD-value"
)

// answersAtAll is a readiness check for a server that demands a password:
// NOAUTH is an answer.
func answersAtAll(ctx context.Context, addr string) bool {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	err := c.Ping(ctx).Err()
	return err == nil || redis.IsAuthError(err)
}

// startAuthServer starts a redis-server with requirepass, an ACL user
// "jwtcache" that may use the jwtcache:* keys and every channel, a user
// "narrow" that may only use other:* keys, and users with jwtcache's keys
// but not its change channel: "nochannels" has no channel at all (Redis
// 7's default for a new user, acl-pubsub-default resetchannels),
// "otherchannels" only other:* channels, "nopublish" and "nosubscribe"
// every channel without the one command; "readme" is the README's
// advice.
func startAuthServer(t *testing.T) *redistest.Server {
	t.Helper()
	return redistest.StartServerWith(t, answersAtAll, func(string) []string {
		return []string{
			"--requirepass", accessPassword,
			"--user", "jwtcache", "on", ">" + aclPassword, "~jwtcache:*", "&*", "+@all",
			"--user", "narrow", "on", ">" + aclPassword, "~other:*", "&*", "+@all",
			"--user", "readme", "on", ">" + aclPassword, "~jwtcache:*", "&jwtcache:*", "+@all", // the README's advice
			"--user", "nochannels", "on", ">" + aclPassword, "~jwtcache:*", "resetchannels", "+@all",
			"--user", "otherchannels", "on", ">" + aclPassword, "~jwtcache:*", "resetchannels", "&other:*", "+@all",
			"--user", "nopublish", "on", ">" + aclPassword, "~jwtcache:*", "&*", "+@all", "-publish",
			"--user", "nosubscribe", "on", ">" + aclPassword, "~jwtcache:*", "&*", "+@all", "-subscribe",
		}
	})
}

func TestCheckAccess(t *testing.T) {
	srv := startAuthServer(t)
	closed := redistest.StartServer(t)
	closed.Stop()
	tests := []struct {
		name               string
		addr               string
		username, password string
		want               error // nil: healthy
		wantText           string
		unreachable        bool
	}{
		{name: "right password", password: accessPassword},
		{name: "ACL user", username: "jwtcache", password: aclPassword},
		{name: "ACL user as the README advises", username: "readme", password: aclPassword},
		{name: "wrong password", password: wrongPassword, want: ErrAuthentication},
		{name: "no password", want: ErrAuthentication},
		{name: "ACL user, wrong password", username: "jwtcache", password: wrongPassword, want: ErrAuthentication},
		{name: "unknown user", username: "nobody", password: aclPassword, want: ErrAuthentication},
		{name: "user without rights on the keys", username: "narrow", password: aclPassword, want: ErrPermission},
		{name: "user without channels", username: "nochannels", password: aclPassword, want: ErrPermission, wantText: "jwtcache:jwt:changes"},
		{name: "user with other channels", username: "otherchannels", password: aclPassword, want: ErrPermission, wantText: "PUBLISH"},
		{name: "user without PUBLISH", username: "nopublish", password: aclPassword, want: ErrPermission, wantText: "PUBLISH"},
		{name: "user without SUBSCRIBE", username: "nosubscribe", password: aclPassword, want: ErrPermission, wantText: "SUBSCRIBE"},
		{name: "unreachable", addr: closed.Addr, password: accessPassword, unreachable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := srv.Addr
			if tt.addr != "" {
				addr = tt.addr
			}
			s, err := New(Options{Addrs: []string{addr}, Username: tt.username, Password: tt.password, DialTimeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			err = s.CheckAccess(ctx)
			switch {
			case tt.unreachable:
				if err == nil || errors.Is(err, ErrAuthentication) || errors.Is(err, ErrPermission) {
					t.Fatalf("CheckAccess = %v, want an error that is not a refusal", err)
				}
			case tt.want == nil:
				if err != nil {
					t.Fatalf("CheckAccess = %v", err)
				}
			default:
				if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.wantText) {
					t.Fatalf("CheckAccess = %v, want %v with %q", err, tt.want, tt.wantText)
				}
			}
			if err != nil {
				for _, secret := range []string{accessPassword, aclPassword, wrongPassword} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error %q shows a password", err)
					}
				}
			}
		})
	}
}

// TestCheckFeed: the feed check refuses a user without the change channel,
// and what it publishes is nothing a replica's subscription hears as a
// change.
func TestCheckFeed(t *testing.T) {
	srv := startAuthServer(t)
	open := func(user string) *Store {
		s, err := New(Options{Addrs: []string{srv.Addr}, Username: user, Password: aclPassword, DialTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := open("nochannels").CheckFeed(ctx); !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("CheckFeed without the channel = %v, want ErrPermission with Redis's NOPERM", err)
	}

	replica, checker := open("jwtcache"), open("jwtcache")
	got := make(chan ports.Change, 4)
	if err := replica.Subscribe(ctx, func(c ports.Change) { got <- c }); err != nil {
		t.Fatal(err)
	}
	if err := checker.CheckFeed(ctx); err != nil {
		t.Fatalf("CheckFeed with the channel = %v", err)
	}
	want := ports.Change{Service: "kyc", Origin: "a1"}
	if err := checker.Publish(ctx, want); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-got:
		if c != want {
			t.Fatalf("the subscriber heard %+v first, want %+v: the check's message reached it as a change", c, want)
		}
	case <-ctx.Done():
		t.Fatal("the subscriber heard nothing")
	}
}
