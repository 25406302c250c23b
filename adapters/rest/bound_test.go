package rest

import (
	"context"
	"net/http"
	"testing"

	"github.com/jwtcache/jwtcache/domain"
)

// TestTokenEndpointBoundToCertificate: a certificate-bound token's answer
// says so in an extra field; every other answer stays as the guide has it
// (TestTokenEndpoint checks the exact field set).
func TestTokenEndpointBoundToCertificate(t *testing.T) {
	bound := guideToken()
	bound.BoundToCertificate = true
	h, _ := newTestHandler(&fakeService{token: func(context.Context, string) (domain.Token, error) { return bound, nil }})
	rec, body := do(t, h, http.MethodGet, "/api/v1/jwt/token/kyc")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	checkFields(t, body, with(statusFields, map[string]kind{
		"serviceName": kString, "accessToken": kString, "timestamp": kTime, "boundToCertificate": kBool,
	}))
	if body["boundToCertificate"] != true {
		t.Fatalf("boundToCertificate = %v", body["boundToCertificate"])
	}
	if err := loadOpenAPI(t).CheckResponse(http.MethodGet, "/api/v1/jwt/token/kyc", rec.Code, rec.Header().Get("Content-Type"), rec.Body.Bytes()); err != nil {
		t.Fatalf("the answer breaks the OpenAPI document: %v", err)
	}
}
