package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/rest/restapi"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
)

// guideStatuses is the exact answer of GET /status for the fake's two
// tokens: the guide's example (with the scope every status carries), its
// fields in the guide's order, names sorted.
const guideStatuses = `{"timestamp":"2024-01-15T10:30:00Z","totalTokens":2,"tokens":{` +
	`"data-processor":{"tokenType":"Bearer","expiresIn":3600,"scope":"api.read api.write","issuedAt":"2024-01-15T10:30:00Z",` +
	`"expiresAt":"2024-01-15T11:30:00Z","cacheExpiresAt":"2024-01-15T11:29:40Z","secondsUntilExpiry":3600,` +
	`"secondsUntilCacheExpiry":3580,"isExpired":false,"isCacheExpired":false,"needsRenewal":false,"isRenewing":false},` +
	`"kyc":{"tokenType":"Bearer","expiresIn":3600,"scope":"api.read api.write","issuedAt":"2024-01-15T10:30:00Z",` +
	`"expiresAt":"2024-01-15T11:30:00Z","cacheExpiresAt":"2024-01-15T11:29:40Z","secondsUntilExpiry":3600,` +
	`"secondsUntilCacheExpiry":3580,"isExpired":false,"isCacheExpired":false,"needsRenewal":false,"isRenewing":false}}}`

// TestStatusesUnparameterisedUnchanged: without paging parameters GET
// /status is the guide's answer byte for byte; parameters the API does not
// know do not change that.
func TestStatusesUnparameterisedUnchanged(t *testing.T) {
	h, _ := newTestHandler(&fakeService{})
	for _, path := range []string{"/api/v1/jwt/status", "/api/v1/jwt/status?", "/api/v1/jwt/status?pretty=1&_=17"} {
		rec := request(h, http.MethodGet, path)
		if rec.Code != http.StatusOK || rec.Body.String() != guideStatuses {
			t.Errorf("GET %s: %d\n%s\nwant\n%s", path, rec.Code, rec.Body, guideStatuses)
		}
	}
}

// fleetStatuses is a fake whose store holds the given statuses.
func fleetStatuses(tokens ...app.TokenStatus) *fakeService {
	return &fakeService{statuses: func(context.Context) (app.Statuses, error) {
		return app.Statuses{At: testNow, Tokens: tokens}, nil
	}}
}

// inState is the guide token of service in the given console state.
func inState(service, state string) app.TokenStatus {
	st := describe(service, guideToken())
	switch state {
	case stateDue:
		st.State = domain.Due
	case stateRenewing:
		st.Renewing = true
	case stateFailing:
		st.Failures = 2
		st.Renewing = true // a failing renewal outranks a running one
		st.State = domain.Due
	case stateExpired:
		st.State = domain.Expired
		st.Renewing = true // expiry outranks a running renewal
	}
	return st
}

type statusPage struct {
	TotalTokens    int                       `json:"totalTokens"`
	MatchingTokens int                       `json:"matchingTokens"`
	Offset         int                       `json:"offset"`
	Limit          int                       `json:"limit"`
	States         map[string]int            `json:"states"`
	Tokens         map[string]map[string]any `json:"tokens"`
}

func getPage(t *testing.T, svc Cache, query string) (statusPage, []string) {
	t.Helper()
	h, _ := newTestHandler(svc)
	rec := request(h, http.MethodGet, "/api/v1/jwt/status?"+query)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /status?%s: %d %s", query, rec.Code, rec.Body)
	}
	var p statusPage
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	// The names in document order, which JSON objects do not keep.
	var order []string
	dec := json.NewDecoder(strings.NewReader(rec.Body.String()))
	depth := 0
	inTokens := false
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' {
				depth++
			} else if v == '}' {
				depth--
				if depth == 1 {
					inTokens = false
				}
			}
		case string:
			if depth == 1 && v == "tokens" {
				inTokens = true
			} else if inTokens && depth == 2 {
				order = append(order, v)
			}
		}
	}
	return p, order
}

func TestStatusQuery(t *testing.T) {
	svc := fleetStatuses(
		inState("kyc", stateFresh),
		inState("kyc-eu", stateDue),
		inState("ledger", stateRenewing),
		inState("data-processor", stateExpired),
		inState("billing", stateFresh),
		inState("payments", stateFailing),
		app.TokenStatus{Service: "gone", At: testNow}, // nothing cached: not counted
	)
	allStates := map[string]int{"fresh": 2, "due": 1, "renewing": 1, "failing": 1, "expired": 1}
	for _, tc := range []struct {
		query    string
		matching int
		names    []string
		offset   int
		limit    int
	}{
		{"limit=10", 6, []string{"billing", "data-processor", "kyc", "kyc-eu", "ledger", "payments"}, 0, 10},
		{"q=kyc", 2, []string{"kyc", "kyc-eu"}, 0, DefaultStatusLimit},
		{"q=KYC-", 1, []string{"kyc-eu"}, 0, DefaultStatusLimit},
		{"q=", 6, []string{"billing", "data-processor", "kyc", "kyc-eu", "ledger", "payments"}, 0, DefaultStatusLimit},
		{"q=nothing", 0, nil, 0, DefaultStatusLimit},
		{"state=fresh", 2, []string{"billing", "kyc"}, 0, DefaultStatusLimit},
		{"state=due,renewing,expired", 3, []string{"data-processor", "kyc-eu", "ledger"}, 0, DefaultStatusLimit},
		{"state=failing", 1, []string{"payments"}, 0, DefaultStatusLimit},
		{"q=e&state=fresh,due", 1, []string{"kyc-eu"}, 0, DefaultStatusLimit},
		{"limit=2", 6, []string{"billing", "data-processor"}, 0, 2},
		{"limit=2&offset=2", 6, []string{"kyc", "kyc-eu"}, 2, 2},
		{"limit=2&offset=5", 6, []string{"payments"}, 5, 2},
		{"offset=6", 6, nil, 6, DefaultStatusLimit},
		{"offset=9223372036854775807&limit=1000", 6, nil, 9223372036854775807, 1000},
	} {
		p, order := getPage(t, svc, tc.query)
		if p.TotalTokens != 6 || p.MatchingTokens != tc.matching || p.Offset != tc.offset || p.Limit != tc.limit ||
			!slices.Equal(order, tc.names) || fmt.Sprint(p.States) != fmt.Sprint(allStates) {
			t.Errorf("?%s: total %d matching %d offset %d limit %d states %v names %v; want 6 %d %d %d %v %v",
				tc.query, p.TotalTokens, p.MatchingTokens, p.Offset, p.Limit, p.States, order,
				tc.matching, tc.offset, tc.limit, allStates, tc.names)
		}
	}

	p, _ := getPage(t, svc, "limit=10")
	for name, want := range map[string]string{"kyc": "fresh", "kyc-eu": "due", "ledger": "renewing", "data-processor": "expired", "payments": "failing"} {
		tok := p.Tokens[name]
		if tok["state"] != want {
			t.Errorf("%s: state %v, want %s", name, tok["state"], want)
		}
		for _, f := range []string{"tokenType", "expiresIn", "scope", "issuedAt", "expiresAt", "cacheExpiresAt",
			"secondsUntilExpiry", "secondsUntilCacheExpiry", "isExpired", "isCacheExpired", "needsRenewal", "isRenewing"} {
			if _, ok := tok[f]; !ok {
				t.Errorf("%s: the paged answer lacks the guide's field %s", name, f)
			}
		}
		if _, ok := tok["accessToken"]; ok {
			t.Errorf("%s: the paged answer holds a token", name)
		}
	}
}

// TestStatusQueryRenewalFields: the paged answer says what this replica
// knows of each token's renewal, and leaves out what it does not know.
func TestStatusQueryRenewalFields(t *testing.T) {
	held := inState("kyc", stateFailing)
	held.RenewAt = testNow.Add(59*time.Minute + 25*time.Second)
	held.LastRenewal = testNow.Add(-time.Minute)
	other := inState("ledger", stateFresh)
	p, _ := getPage(t, fleetStatuses(held, other), "limit=5")
	kyc, ledger := p.Tokens["kyc"], p.Tokens["ledger"]
	if kyc["renewAt"] != "2024-01-15T11:29:25Z" || kyc["lastRenewedAt"] != "2024-01-15T10:29:00Z" || kyc["consecutiveFailures"] != 2.0 {
		t.Errorf("kyc: %v", kyc)
	}
	_, hasRenewAt := ledger["renewAt"]
	_, hasLast := ledger["lastRenewedAt"]
	if hasRenewAt || hasLast || ledger["consecutiveFailures"] != 0.0 {
		t.Errorf("ledger: %v", ledger)
	}
}

// TestStatusQueryPartial: with the store unreadable the page is this
// replica's view, and says so as the guide's answer does.
func TestStatusQueryPartial(t *testing.T) {
	svc := &fakeService{statuses: func(context.Context) (app.Statuses, error) {
		return app.Statuses{At: testNow, Tokens: []app.TokenStatus{inState("kyc", stateFresh)},
			StoreError: "redisstore: list: context deadline exceeded"}, nil
	}}
	h, _ := newTestHandler(svc)
	rec, body := do(t, h, http.MethodGet, "/api/v1/jwt/status?limit=5")
	if rec.Code != http.StatusOK || body["partial"] != true || body["storeError"] != "redisstore: list: context deadline exceeded" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if err := loadOpenAPI(t).CheckResponse("GET", "/api/v1/jwt/status?limit=5", rec.Code, rec.Header().Get("Content-Type"), rec.Body.Bytes()); err != nil {
		t.Fatal(err)
	}
}

// TestStatusQueryLimits: the default page and the largest one, with more
// services than either.
func TestStatusQueryLimits(t *testing.T) {
	var tokens []app.TokenStatus
	for i := range MaxStatusLimit + 50 {
		tokens = append(tokens, inState(fmt.Sprintf("svc-%05d", i), stateFresh))
	}
	svc := fleetStatuses(tokens...)
	p, order := getPage(t, svc, "q=svc")
	if len(order) != DefaultStatusLimit || order[0] != "svc-00000" || p.MatchingTokens != MaxStatusLimit+50 {
		t.Fatalf("default page: %d names from %v, %d matching", len(order), order[:1], p.MatchingTokens)
	}
	p, order = getPage(t, svc, fmt.Sprintf("limit=%d&offset=10", MaxStatusLimit))
	if len(order) != MaxStatusLimit || order[0] != "svc-00010" || p.Limit != MaxStatusLimit {
		t.Fatalf("largest page: %d names from %v", len(order), order[:1])
	}
}

func TestStatusQueryInvalid(t *testing.T) {
	h, _ := newTestHandler(&fakeService{})
	for _, q := range []string{
		"limit=0", "limit=-1", fmt.Sprintf("limit=%d", MaxStatusLimit+1), "limit=ten", "limit=1.5", "limit=",
		"offset=-1", "offset=x", "offset=99999999999999999999", "offset=",
		"state=stale", "state=", "state=fresh,", "state=FRESH",
		"q=" + strings.Repeat("a", domain.MaxServiceNameLen+1),
		"q=a&q=b", "limit=1&limit=2",
	} {
		rec, body := do(t, h, http.MethodGet, "/api/v1/jwt/status?"+q)
		if rec.Code != http.StatusBadRequest || body["error"] != restapi.CodeInvalidParameter || body["message"] == "" {
			t.Errorf("?%s: %d %s, want 400 %s", q, rec.Code, rec.Body, restapi.CodeInvalidParameter)
		}
	}
}

// TestStatusQueryProtected: the paged answer is the same endpoint, so it
// needs a key exactly when the guide's answer does.
func TestStatusQueryProtected(t *testing.T) {
	auth, err := NewAuth(AuthOptions{Keys: []APIKey{{Key: keyAll}}, ProtectStatus: true, Logger: discardLogger})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(&fakeService{}, Options{Logger: discardLogger, Clock: fixedClock{testNow}, Auth: auth})
	if rec := request(h, http.MethodGet, "/api/v1/jwt/status?limit=5"); rec.Code != http.StatusUnauthorized {
		t.Fatalf("without a key: %d", rec.Code)
	}
	if rec := request(h, http.MethodGet, "/api/v1/jwt/status?limit=5", "X-API-Key", keyAll); rec.Code != http.StatusOK {
		t.Fatalf("with a key: %d", rec.Code)
	}
}
