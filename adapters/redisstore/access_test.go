package redisstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/adapters/redisstore/redistest"
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
// "jwtcache" that may use the jwtcache:* keys, and a user "narrow" that may
// only use other:* keys.
func startAuthServer(t *testing.T) *redistest.Server {
	t.Helper()
	return redistest.StartServerWith(t, answersAtAll, func(string) []string {
		return []string{
			"--requirepass", accessPassword,
			"--user", "jwtcache", "on", ">" + aclPassword, "~jwtcache:*", "&*", "+@all",
			"--user", "narrow", "on", ">" + aclPassword, "~other:*", "&*", "+@all",
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
		unreachable        bool
	}{
		{name: "right password", password: accessPassword},
		{name: "ACL user", username: "jwtcache", password: aclPassword},
		{name: "wrong password", password: wrongPassword, want: ErrAuthentication},
		{name: "no password", want: ErrAuthentication},
		{name: "ACL user, wrong password", username: "jwtcache", password: wrongPassword, want: ErrAuthentication},
		{name: "unknown user", username: "nobody", password: aclPassword, want: ErrAuthentication},
		{name: "user without rights on the keys", username: "narrow", password: aclPassword, want: ErrPermission},
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
				if !errors.Is(err, tt.want) {
					t.Fatalf("CheckAccess = %v, want %v", err, tt.want)
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
