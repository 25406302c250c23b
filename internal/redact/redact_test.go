package redact_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/jwtcache/jwtcache/internal/redact"
)

func TestURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"https://login.example.com/oauth/token?code=QUERYSECRET", "https://login.example.com/oauth/token"},
		{"https://login.example.com:8443/t/oauth2/token?code=QUERYSECRET&x=1#frag", "https://login.example.com:8443/t/oauth2/token"},
		{"https://user:PASSWORD@login.example.com/token", "https://login.example.com/token"},
		{"http://[::1]:8080", "http://[::1]:8080"},
		{"https://login.example.com/a%2Fb/token?code=QUERYSECRET", "https://login.example.com/a%2Fb/token"},
		{"https://login.example.com/?QUERYSECRET", "https://login.example.com/"},
		{"localhost:8080/token?code=QUERYSECRET", "localhost:8080/token"},
		{"token.example.com/oauth?code=QUERYSECRET#QUERYSECRET", "token.example.com/oauth"},
		{"http://host/%zz?QUERYSECRET", redact.Unparseable},
		{"", ""},
	} {
		if got := redact.URL(tt.in); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestURLError(t *testing.T) {
	t.Parallel()
	const raw = "https://login.example.com/oauth/token?code=QUERYSECRET"
	timeout := &net.OpError{Op: "dial", Net: "tcp", Err: context.DeadlineExceeded}
	for name, err := range map[string]error{
		"direct":  &url.Error{Op: "Post", URL: raw, Err: timeout},
		"wrapped": fmt.Errorf("calling %s: %w", raw, &url.Error{Op: "Post", URL: raw, Err: timeout}),
	} {
		got := redact.URLError(err)
		if strings.Contains(got.Error(), "QUERYSECRET") {
			t.Errorf("%s: %q holds the query", name, got)
		}
		if !strings.Contains(got.Error(), "https://login.example.com/oauth/token") || !strings.HasPrefix(got.Error(), "Post ") {
			t.Errorf("%s: %q lost the operation or the address", name, got)
		}
		var ne net.Error
		if !errors.Is(got, context.DeadlineExceeded) || !errors.As(got, &ne) || !ne.Timeout() {
			t.Errorf("%s: %q is no longer a timeout", name, got)
		}
	}
	plain := errors.New("no URL here")
	if got := redact.URLError(plain); got != plain {
		t.Errorf("URLError(%v) = %v, want it unchanged", plain, got)
	}
}
