package config

import (
	"fmt"
	"time"
)

// Margins of the derived shutdown bound.
const (
	// shutdownCloseMargin is what the close reserve adds to REDIS_TIMEOUT:
	// closing the store and the token-service clients, and flushing the
	// buffered trace spans (bounded by 5 s of its own).
	shutdownCloseMargin = 5 * time.Second
	// shutdownDrainMargin is what the drain gets beyond the longest wait of
	// a request for a token: writing the answer it waited for.
	shutdownDrainMargin = 3 * time.Second
)

// ShutdownCloseReserve is the part of ShutdownTimeout kept for after the
// HTTP listeners have drained: the cache's Close, which releases the
// renewal locks this replica holds (Redis commands bounded by
// REDIS_TIMEOUT), then the store, the token-service clients and the trace
// exporter. REDIS_TIMEOUT + 5s: 7s with the default REDIS_TIMEOUT.
func (c Config) ShutdownCloseReserve() time.Duration {
	return c.Redis.Timeout + shutdownCloseMargin
}

// ShutdownTimeout bounds the whole stop on SIGTERM: SERVER_SHUTDOWN_TIMEOUT,
// or when it is unset (0), the longest wait of a request for a token
// (JWT_LOCK_TTL plus the longest token request timeout, as for
// SERVER_WRITE_TIMEOUT), a margin for its answer, and the close reserve:
// 50s with the defaults. A request waiting for a token when the stop
// begins then still gets its answer, and the renewal locks are released
// after it.
func (c Config) ShutdownTimeout() time.Duration {
	if c.Server.ShutdownTimeout > 0 {
		return c.Server.ShutdownTimeout
	}
	return c.longestWait() + shutdownDrainMargin + c.ShutdownCloseReserve()
}

// shutdownProblems are the shutdown bounds that cannot work: one that
// leaves the drain no time after the close reserve.
func (c Config) shutdownProblems() []error {
	if d := c.Server.ShutdownTimeout; d > 0 && d <= c.ShutdownCloseReserve() {
		return []error{fieldError("SERVER_SHUTDOWN_TIMEOUT", fmt.Sprintf(
			"%s must be longer than %s + %s (%s), the time kept after the HTTP drain for releasing the renewal locks and closing the store",
			d, ref("REDIS_TIMEOUT"), shutdownCloseMargin, c.ShutdownCloseReserve()))}
	}
	return nil
}
