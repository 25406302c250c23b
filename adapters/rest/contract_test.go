package rest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/rest/restapi"
)

// The hand-written writers produce exactly what encoding/json makes of the
// contract's types, which is what the remote client decodes: a field added,
// renamed or reordered on one side only fails here.
func TestWritersMatchTheContract(t *testing.T) {
	at := time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC)
	status := restapi.TokenStatus{
		TokenType: "Bearer", ExpiresIn: 3600, Scope: "api.read <&> \u2028",
		IssuedAt: at, ExpiresAt: at.Add(time.Hour), CacheExpiresAt: at.Add(time.Hour - 20*time.Second),
		SecondsUntilExpiry: 3599, SecondsUntilCacheExpiry: -1,
		IsExpired: true, IsCacheExpired: true, NeedsRenewal: true, IsRenewing: true,
	}
	for name, c := range map[string]struct {
		value any
		write func(*jsonWriter)
	}{
		"token": {
			restapi.TokenResponse{ServiceName: "kyc", AccessToken: "ey\"J", TokenStatus: status, Timestamp: at},
			func(w *jsonWriter) {
				writeTokenResponse(w, &restapi.TokenResponse{ServiceName: "kyc", AccessToken: "ey\"J", TokenStatus: status, Timestamp: at})
			},
		},
		"refresh": {
			restapi.TokenResponse{ServiceName: "kyc", Message: "Token refreshed successfully", AccessToken: "eyJ", Timestamp: at},
			func(w *jsonWriter) {
				writeTokenResponse(w, &restapi.TokenResponse{ServiceName: "kyc", Message: "Token refreshed successfully", AccessToken: "eyJ", Timestamp: at})
			},
		},
		"error": {
			restapi.ErrorResponse{Error: restapi.CodeTokenServiceRejected, Message: "no", ServiceName: "kyc", TokenServiceError: "invalid_client", Timestamp: at},
			func(w *jsonWriter) {
				writeErrorResponse(w, &restapi.ErrorResponse{Error: restapi.CodeTokenServiceRejected, Message: "no", ServiceName: "kyc", TokenServiceError: "invalid_client", Timestamp: at})
			},
		},
		"error without a service": {
			restapi.ErrorResponse{Error: restapi.CodeNotFound, Message: "no such endpoint", Timestamp: at},
			func(w *jsonWriter) {
				writeErrorResponse(w, &restapi.ErrorResponse{Error: restapi.CodeNotFound, Message: "no such endpoint", Timestamp: at})
			},
		},
	} {
		want, err := json.Marshal(c.value)
		if err != nil {
			t.Fatal(err)
		}
		w := getWriter()
		c.write(w)
		if got := string(w.b); got != string(want) {
			t.Errorf("%s:\nwriter:       %s\nencoding/json: %s", name, got, want)
		}
	}
}
