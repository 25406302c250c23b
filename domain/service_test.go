package domain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jwtcache/jwtcache/domain"
)

func TestValidateServiceName(t *testing.T) {
	valid := []string{"kyc", "data-processor", "reference-data", "a", "a1", "svc-2-b", strings.Repeat("a", 63)}
	for _, name := range valid {
		if err := domain.ValidateServiceName(name); err != nil {
			t.Errorf("ValidateServiceName(%q) = %v, want nil", name, err)
		}
	}
	invalid := map[string]string{
		"":                      "empty",
		strings.Repeat("a", 64): "longer than 63",
		"KYC":                   "start with a lowercase letter",
		"1kyc":                  "start with a lowercase letter",
		"-kyc":                  "start with a lowercase letter",
		"kyc-":                  "end with a hyphen",
		"kyc_svc":               "only lowercase letters",
		"kyc.svc":               "only lowercase letters",
		"kyc svc":               "only lowercase letters",
		"kYc":                   "only lowercase letters",
		"kyc/../x":              "only lowercase letters",
		"ky\u00e7":              "only lowercase letters",
	}
	for name, reason := range invalid {
		err := domain.ValidateServiceName(name)
		if !errors.Is(err, domain.ErrInvalidServiceName) {
			t.Errorf("ValidateServiceName(%q) = %v, want ErrInvalidServiceName", name, err)
			continue
		}
		if !strings.Contains(err.Error(), reason) {
			t.Errorf("ValidateServiceName(%q) = %q, want it to say %q", name, err, reason)
		}
	}
}

func TestValidateServiceNameDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = domain.ValidateServiceName("data-processor") }); n != 0 {
		t.Fatalf("ValidateServiceName allocates %v times per valid name; it runs on every cache hit", n)
	}
}

func TestTokenServiceErrorTemporary(t *testing.T) {
	tests := []struct {
		name string
		err  domain.TokenServiceError
		want bool
	}{
		{"timeout", domain.TokenServiceError{Kind: domain.Timeout}, true},
		{"unreachable", domain.TokenServiceError{Kind: domain.Unreachable}, true},
		{"invalid_client", domain.TokenServiceError{Kind: domain.Rejected, Code: "invalid_client", HTTPStatus: 401}, false},
		{"invalid_scope", domain.TokenServiceError{Kind: domain.Rejected, Code: "invalid_scope", HTTPStatus: 400}, false},
		{"temporarily_unavailable", domain.TokenServiceError{Kind: domain.Rejected, Code: "temporarily_unavailable", HTTPStatus: 503}, true},
		{"bare 503", domain.TokenServiceError{Kind: domain.BadResponse, HTTPStatus: 503}, true},
		{"bare 429", domain.TokenServiceError{Kind: domain.BadResponse, HTTPStatus: 429}, true},
		{"not json 200", domain.TokenServiceError{Kind: domain.BadResponse, HTTPStatus: 200}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Temporary(); got != tc.want {
				t.Fatalf("Temporary() = %v, want %v", got, tc.want)
			}
		})
	}
	e := &domain.TokenServiceError{Kind: domain.Rejected, Service: "kyc", Code: "invalid_client", HTTPStatus: 401, Description: "bad client"}
	if got, want := e.Error(), `token service rejected for service "kyc": HTTP 401: invalid_client (bad client)`; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}
