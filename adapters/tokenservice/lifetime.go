package tokenservice

import (
	"log/slog"
	"sync"
	"time"

	"github.com/jwtcache/jwtcache/domain"
)

// DefaultMinTokenLifetime is the least a new token must have left when it
// arrives. A token that leaves less is no use: by the time a caller has it
// and sends it on, and a resource server has checked it (with clocks a
// second or two apart), it has expired, and the cache would be asking the
// token service again at once. Ten seconds is half the default renewal
// buffer, more than any sane request round trip, and far less than any
// real token lifetime (minutes to hours); a token that leaves less than
// that while its expires_in promised more has been issued by a token
// service whose clock is wrong.
const DefaultMinTokenLifetime = 10 * time.Second

// lifeCheck refuses tokens that are dead on arrival and logs the first of
// each episode per service: a clock problem at the token service shows in
// the log once, not once per request.
type lifeCheck struct {
	// min is the minimal useful life; 0 refuses only expired tokens.
	min time.Duration
	log *slog.Logger
	// logged holds the services whose current run of dead tokens has been
	// logged; a good token ends the run.
	logged sync.Map // service name -> struct{}
}

// bar is the least tok must have left: min, or a quarter of what
// expires_in promised when that is shorter, so that a token service that
// issues short tokens on purpose (tests, development) is not refused.
func (l *lifeCheck) bar(promised time.Duration) time.Duration {
	if promised > 0 {
		return min(l.min, promised/4)
	}
	return l.min
}

// check returns ErrDeadToken, as a BadResponse error, when tok leaves less
// than the bar at now. promised is expires_in, 0 when absent.
func (l *lifeCheck) check(service string, tok domain.Token, promised time.Duration, now time.Time) error {
	left := tok.ExpiresAt.Sub(now)
	if left > 0 && left >= l.bar(promised) {
		l.logged.Delete(service)
		return nil
	}
	if _, seen := l.logged.LoadOrStore(service, struct{}{}); !seen {
		attrs := []any{"service", service, "left", left, "minTokenLifetime", l.bar(promised)}
		if promised > 0 {
			// How far the JWT's exp falls short of what expires_in
			// promised: roughly how far behind the token service's clock is.
			attrs = append(attrs, "expiresIn", promised, "gap", tok.IssuedAt.Add(promised).Sub(tok.ExpiresAt))
		}
		l.log.Warn("tokenservice: the token service issued a token that is expired or about to expire; "+
			"refusing it (is its clock wrong?). Logged once until it issues a good one", attrs...)
	}
	return &domain.TokenServiceError{Kind: domain.BadResponse, Service: service, HTTPStatus: 200, Err: ErrDeadToken}
}
