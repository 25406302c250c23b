// Package metrics exposes jwtcache's Prometheus metrics, on a registry of
// its own (never the global default one, so an embedding program's metrics
// and ours cannot collide).
//
// Three kinds of source feed it:
//
//   - decorators around the ports the core drives (Metrics.Issuer,
//     Metrics.Store, Metrics.Locker), which time and count what passes
//     through them: token-service requests by outcome and their latency,
//     renewal-lock contention, store errors by operation;
//   - collectors that read the core's own counters and the cache's state at
//     scrape time (ObserveCache): hits, misses, renewals, per-service
//     seconds until expiry, and the REST API's refused requests
//     (ObserveAuth);
//   - the REST API's requests, counted and timed by route template, method
//     and status (ObserveRequest, which the REST adapter calls once per
//     request);
//   - the Go runtime and process collectors.
//
// The decorators sit off the hot path: a cache hit in the core touches
// neither the issuer, the store nor the locker, and on their success paths
// the decorators allocate nothing (each counter and histogram is resolved
// once, in New).
//
// Handler serves the registry in the Prometheus text format; the REST
// adapter mounts it at /metrics.
package metrics
