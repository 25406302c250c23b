package rest

import (
	"github.com/jwtcache/jwtcache/adapters/rest/restapi"
	"github.com/jwtcache/jwtcache/app"
)

// The writers of the restapi bodies. Each writes its type field for field,
// in the type's order, exactly as encoding/json would (contract_test.go
// holds them to it), so that the hand-written hot path and the contract
// the remote client decodes cannot drift apart.

func writeTokenResponse(w *jsonWriter, r *restapi.TokenResponse) {
	w.open()
	w.str("serviceName", r.ServiceName)
	if r.Message != "" {
		w.str("message", r.Message)
	}
	w.str("accessToken", r.AccessToken)
	writeStatusFields(w, &r.TokenStatus)
	w.time("timestamp", r.Timestamp)
	w.close()
}

// writeStatusFields writes the fields of s into the object being written:
// the token, refresh, status, statuses and evict answers all share them.
func writeStatusFields(w *jsonWriter, s *restapi.TokenStatus) {
	w.str("tokenType", s.TokenType)
	w.int("expiresIn", s.ExpiresIn)
	w.str("scope", s.Scope)
	w.time("issuedAt", s.IssuedAt)
	w.time("expiresAt", s.ExpiresAt)
	w.time("cacheExpiresAt", s.CacheExpiresAt)
	w.int("secondsUntilExpiry", s.SecondsUntilExpiry)
	w.int("secondsUntilCacheExpiry", s.SecondsUntilCacheExpiry)
	w.bool("isExpired", s.IsExpired)
	w.bool("isCacheExpired", s.IsCacheExpired)
	w.bool("needsRenewal", s.NeedsRenewal)
	w.bool("isRenewing", s.IsRenewing)
	if s.BoundToCertificate {
		// Optional, beside the guide's fields: only a certificate-bound
		// token (RFC 8705) has it.
		w.bool("boundToCertificate", true)
	}
}

func writeErrorResponse(w *jsonWriter, r *restapi.ErrorResponse) {
	w.open()
	w.str("error", r.Error)
	w.str("message", r.Message)
	if r.ServiceName != "" {
		w.str("serviceName", r.ServiceName)
	}
	if r.TokenServiceError != "" {
		w.str("tokenServiceError", r.TokenServiceError)
	}
	w.time("timestamp", r.Timestamp)
	w.close()
}

// tokenStatus is the contract's view of the core's status of a token.
func tokenStatus(st app.TokenStatus) restapi.TokenStatus {
	return restapi.TokenStatus{
		TokenType:               st.TokenType,
		ExpiresIn:               seconds(st.Lifetime),
		Scope:                   st.Scope,
		IssuedAt:                st.IssuedAt,
		ExpiresAt:               st.ExpiresAt,
		CacheExpiresAt:          st.CacheExpiresAt,
		SecondsUntilExpiry:      st.SecondsUntilExpiry,
		SecondsUntilCacheExpiry: st.SecondsUntilCacheExpiry,
		IsExpired:               st.Expired(),
		IsCacheExpired:          st.CacheExpired(),
		NeedsRenewal:            st.NeedsRenewal(),
		IsRenewing:              st.Renewing,
		BoundToCertificate:      st.BoundToCertificate,
	}
}
