package rest

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/jwtcache/jwtcache/adapters/rest/restapi"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
)

// Paging of GET /status with query parameters: the operator console shows
// one page of a fleet's services at a time.
const (
	// DefaultStatusLimit is the page size when a query gives no limit.
	DefaultStatusLimit = 100
	// MaxStatusLimit is the largest limit accepted.
	MaxStatusLimit = 1000
	// maxStatusQueryLen bounds q: no longer string can be part of a
	// service name.
	maxStatusQueryLen = domain.MaxServiceNameLen
)

// The query parameters of GET /status. Any of them present selects the
// paged answer; without them the answer is the guide's, byte for byte.
const (
	paramQuery  = "q"
	paramState  = "state"
	paramLimit  = "limit"
	paramOffset = "offset"
)

// The states a token row can be in, as GET /status?state= and the
// console name them; a token is in exactly one.
const (
	stateFresh    = "fresh"
	stateDue      = "due"
	stateRenewing = "renewing"
	stateFailing  = "failing"
	stateExpired  = "expired"
)

// tokenStates lists the states in the order the paged answer counts them.
var tokenStates = []string{stateFresh, stateDue, stateRenewing, stateFailing, stateExpired}

// tokenState is st's one state. Expiry outranks everything (an expired
// token is never served, whatever else is going on); a failing renewal
// outranks a running one, which outranks the plain clock-based state.
func tokenState(st app.TokenStatus) string {
	switch {
	case st.Expired():
		return stateExpired
	case st.Failures > 0:
		return stateFailing
	case st.Renewing:
		return stateRenewing
	case st.State == domain.Due:
		return stateDue
	default:
		return stateFresh
	}
}

// statusQuery is a parsed GET /status query.
type statusQuery struct {
	q      string          // lower case; "" matches every name
	states map[string]bool // nil: every state
	limit  int
	offset int
}

func (q statusQuery) matches(st app.TokenStatus, state string) bool {
	return strings.Contains(st.Service, q.q) && (q.states == nil || q.states[state])
}

// parseStatusQuery reads the paging parameters. ok is false when none is
// present (other parameters are ignored, as before there were any).
func parseStatusQuery(v url.Values) (q statusQuery, ok bool, bad *apiError) {
	q.limit = DefaultStatusLimit
	invalid := func(msg string) (statusQuery, bool, *apiError) {
		return statusQuery{}, true, &apiError{status: http.StatusBadRequest, code: restapi.CodeInvalidParameter, message: msg}
	}
	for _, name := range []string{paramQuery, paramState, paramLimit, paramOffset} {
		vals, present := v[name]
		if !present {
			continue
		}
		ok = true
		if len(vals) > 1 {
			return invalid("the query parameter " + name + " is given more than once")
		}
		val := vals[0]
		switch name {
		case paramQuery:
			if len(val) > maxStatusQueryLen {
				return invalid("q is longer than a service name can be (" + strconv.Itoa(maxStatusQueryLen) + " characters)")
			}
			q.q = strings.ToLower(val)
		case paramState:
			q.states = map[string]bool{}
			for s := range strings.SplitSeq(val, ",") {
				if !slices.Contains(tokenStates, s) {
					return invalid("state must be one or more of " + strings.Join(tokenStates, ", ") + ", separated by commas")
				}
				q.states[s] = true
			}
		case paramLimit:
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > MaxStatusLimit {
				return invalid("limit must be a whole number from 1 to " + strconv.Itoa(MaxStatusLimit))
			}
			q.limit = n
		case paramOffset:
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return invalid("offset must be a whole number from 0")
			}
			q.offset = n
		}
	}
	return q, ok, nil
}

// statusList is GET /status. Without paging parameters it is the guide's
// answer (statuses); with them, one page of the tokens matching q and
// state, sorted by service name, with the counts the console needs and
// each token's state.
func (a *api) statusList(c *gin.Context) {
	q, paged, bad := parseStatusQuery(c.Request.URL.Query())
	if bad != nil {
		a.writeError(c, "", *bad)
		return
	}
	if !paged {
		a.statuses(c)
		return
	}
	all, err := a.svc.Statuses(c.Request.Context())
	if err != nil {
		a.fail(c, "", err)
		return
	}
	counts := make(map[string]int64, len(tokenStates))
	var total int64
	var matched []app.TokenStatus
	for _, st := range all.Tokens {
		if !st.Exists {
			continue
		}
		total++
		state := tokenState(st)
		counts[state]++
		if q.matches(st, state) {
			matched = append(matched, st)
		}
	}
	slices.SortFunc(matched, func(x, y app.TokenStatus) int { return strings.Compare(x.Service, y.Service) })
	start := min(q.offset, len(matched))
	page := matched[start : start+min(q.limit, len(matched)-start)]

	w := getWriter()
	w.open()
	w.time("timestamp", a.stamp(all.At))
	w.int("totalTokens", total)
	w.int("matchingTokens", int64(len(matched)))
	w.int("offset", int64(q.offset))
	w.int("limit", int64(q.limit))
	w.object("states")
	for _, s := range tokenStates {
		w.int(s, counts[s])
	}
	w.close()
	w.object("tokens")
	for _, st := range page {
		w.entry(st.Service)
		ts := tokenStatus(st)
		writeStatusFields(w, &ts)
		writeStateFields(w, st)
		w.close()
	}
	w.close()
	writePartial(w, all.StoreError)
	w.close()
	send(c.Writer, http.StatusOK, w)
}

// writeStateFields writes what the paged status adds to each token: its
// one state, and what this replica knows of its renewal.
func writeStateFields(w *jsonWriter, st app.TokenStatus) {
	w.str("state", tokenState(st))
	if !st.RenewAt.IsZero() {
		w.time("renewAt", st.RenewAt)
	}
	if !st.LastRenewal.IsZero() {
		w.time("lastRenewedAt", st.LastRenewal)
	}
	w.int("consecutiveFailures", int64(st.Failures))
}
