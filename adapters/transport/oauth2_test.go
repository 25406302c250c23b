package transport_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/jwtcache/jwtcache/adapters/transport"
)

func TestTokenSourceSignsOAuth2Clients(t *testing.T) {
	st := newStack(t)
	d := newDownstream(t, nil)
	ctx := context.Background()

	c := oauth2.NewClient(ctx, transport.TokenSource(st.svc, "kyc"))
	if resp, _ := do(t, c, http.MethodGet, d.URL, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	want, err := st.svc.Token(ctx, "kyc")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.requests(); len(got) != 1 || got[0].auth != want.AuthorizationHeader() {
		t.Fatalf("downstream saw %+v, want the cached token", got)
	}

	tok, err := transport.TokenSourceContext(ctx, st.svc, "kyc").Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != want.AccessToken || tok.Type() != "Bearer" || !tok.Expiry.Equal(want.ExpiresAt) || !tok.Valid() {
		t.Fatalf("oauth2 token = %+v", tok)
	}
	if n := st.issuer.Requests(); n != 1 {
		t.Fatalf("token service called %d times, want 1", n)
	}
}

func TestTokenSourceErrorNamesTheService(t *testing.T) {
	_, err := transport.TokenSource(&fakeSource{tokenErr: errTokenService}, "kyc").Token()
	if !errors.Is(err, errTokenService) || !strings.Contains(err.Error(), `service "kyc"`) {
		t.Fatalf("err = %v", err)
	}
}
