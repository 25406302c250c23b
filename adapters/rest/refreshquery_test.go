package rest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/jwtcache/jwtcache/adapters/rest/restapi"
)

func TestRefreshWithoutToken(t *testing.T) {
	h, _ := newTestHandler(&fakeService{})
	rec, body := do(t, h, http.MethodPost, "/api/v1/jwt/refresh/kyc?includeToken=false")
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), secretToken) || body["accessToken"] != nil {
		t.Fatalf("includeToken=false: %d %s", rec.Code, rec.Body)
	}
	contains(t, body, map[string]any{"serviceName": "kyc", "message": "Token refreshed successfully",
		"expiresAt": "2024-01-15T11:30:00Z", "timestamp": "2024-01-15T10:30:00Z"}, "refresh without token")
	checkFields(t, body, with(statusFields, map[string]kind{"serviceName": kString, "message": kString, "timestamp": kTime}))

	for _, q := range []string{"", "?includeToken=true"} {
		rec, body := do(t, h, http.MethodPost, "/api/v1/jwt/refresh/kyc"+q)
		if rec.Code != http.StatusOK || body["accessToken"] != secretToken {
			t.Errorf("refresh%s: %d %s", q, rec.Code, rec.Body)
		}
	}
	for _, q := range []string{"?includeToken=no", "?includeToken=", "?includeToken=false&includeToken=false"} {
		rec, body := do(t, h, http.MethodPost, "/api/v1/jwt/refresh/kyc"+q)
		if rec.Code != http.StatusBadRequest || body["error"] != restapi.CodeInvalidParameter {
			t.Errorf("refresh%s: %d %s", q, rec.Code, rec.Body)
		}
	}
	if rec, body := do(t, h, http.MethodPost, "/api/v1/jwt/refresh/KYC?includeToken=false"); rec.Code != http.StatusBadRequest ||
		body["error"] != restapi.CodeInvalidServiceName {
		t.Errorf("invalid name: %d %s", rec.Code, rec.Body)
	}
}

// TestRefreshWithoutTokenReused: a refresh answered with the previous
// refresh's token says so, without the token either.
func TestRefreshWithoutTokenReused(t *testing.T) {
	h, _ := newTestHandler(&fakeService{refreshReused: true})
	rec, body := do(t, h, http.MethodPost, "/api/v1/jwt/refresh/kyc?includeToken=false")
	if rec.Code != http.StatusOK || body["message"] != msgRefreshReused || strings.Contains(rec.Body.String(), secretToken) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

// TestRefreshWithoutTokenProtected: the same keys guard it as the plain
// refresh.
func TestRefreshWithoutTokenProtected(t *testing.T) {
	auth, err := NewAuth(AuthOptions{Keys: []APIKey{{Key: keyKYC, Services: []string{"kyc"}}}, Logger: discardLogger})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(&fakeService{}, Options{Logger: discardLogger, Auth: auth})
	for _, tc := range []struct {
		path    string
		headers []string
		want    int
	}{
		{"/api/v1/jwt/refresh/kyc?includeToken=false", nil, http.StatusUnauthorized},
		{"/api/v1/jwt/refresh/kyc?includeToken=false", []string{"X-API-Key", keyKYC}, http.StatusOK},
		{"/api/v1/jwt/refresh/ledger?includeToken=false", []string{"X-API-Key", keyKYC}, http.StatusForbidden},
	} {
		if rec := request(h, http.MethodPost, tc.path, tc.headers...); rec.Code != tc.want {
			t.Errorf("%s %v: %d, want %d", tc.path, tc.headers, rec.Code, tc.want)
		}
	}
}
