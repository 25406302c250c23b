package rest

import (
	"context"
	"net/http"
	"testing"

	"github.com/jwtcache/jwtcache/app"
)

// TestStatusEndpointsDuringAStoreOutage: /status and /statistics answer
// 200 with this replica's view, marked partial with the store's error,
// and carry no such mark when the store answered.
func TestStatusEndpointsDuringAStoreOutage(t *testing.T) {
	const storeErr = "redisstore: list: context deadline exceeded"
	svc := &fakeService{
		statuses: func(context.Context) (app.Statuses, error) {
			return app.Statuses{At: testNow, StoreError: storeErr}, nil
		},
		statistics: func(context.Context) (app.Statistics, error) {
			return app.Statistics{At: testNow, StoreError: storeErr}, nil
		},
		status: func(_ context.Context, s string) (app.TokenStatus, error) {
			return app.TokenStatus{Service: s, At: testNow, StoreError: storeErr}, nil
		},
	}
	h, _ := newTestHandler(svc)
	for _, path := range []string{"/api/v1/jwt/status", "/api/v1/jwt/status/kyc", "/api/v1/jwt/statistics"} {
		rec, body := do(t, h, http.MethodGet, path)
		if rec.Code != http.StatusOK || body["partial"] != true || body["storeError"] != storeErr {
			t.Errorf("%s: %d %s; want 200, partial, the store's error", path, rec.Code, rec.Body)
		}
	}
	h, _ = newTestHandler(&fakeService{})
	for _, path := range []string{"/api/v1/jwt/status", "/api/v1/jwt/status/kyc", "/api/v1/jwt/statistics"} {
		_, body := do(t, h, http.MethodGet, path)
		if _, ok := body["partial"]; ok {
			t.Errorf("%s: partial present while the store answers", path)
		}
	}
}
