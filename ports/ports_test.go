package ports_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

func TestChangeValidate(t *testing.T) {
	now := time.Now()
	tok := &domain.Token{AccessToken: "eyJ", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	tests := []struct {
		name string
		c    ports.Change
		want error // nil: valid
	}{
		{"bare hint (earlier versions)", ports.Change{Service: "kyc"}, nil},
		{"hint with origin", ports.Change{Service: "kyc", Origin: "a1"}, nil},
		{"token", ports.Change{Service: "kyc", Origin: "a1", Token: tok}, nil},
		{"removal", ports.Change{Service: "kyc", Origin: "a1", Removed: true}, nil},
		{"missed notice", ports.Change{Missed: true}, nil},
		{"bad service", ports.Change{Service: "KYC", Origin: "a1"}, domain.ErrInvalidServiceName},
		{"bad origin", ports.Change{Service: "kyc", Origin: "a b"}, ports.ErrInvalidOrigin},
		{"origin too long", ports.Change{Service: "kyc", Origin: strings.Repeat("a", ports.MaxOriginLen+1)}, ports.ErrInvalidOrigin},
		{"token and removal", ports.Change{Service: "kyc", Origin: "a1", Token: tok, Removed: true}, ports.ErrInvalidChange},
		{"empty token", ports.Change{Service: "kyc", Origin: "a1", Token: &domain.Token{}}, ports.ErrInvalidChange},
		{"token without origin", ports.Change{Service: "kyc", Token: tok}, ports.ErrInvalidChange},
		{"removal without origin", ports.Change{Service: "kyc", Removed: true}, ports.ErrInvalidChange},
		{"missed with a service", ports.Change{Missed: true, Service: "kyc"}, ports.ErrInvalidChange},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Validate() = %v, want %v", err, tc.want)
			}
		})
	}
}
