// Package app is jwtcache's core: a Cache of OAuth2 client-credentials
// tokens, one per service name, that fetches each token from the token
// service on first use, renews it in the background ahead of its expiry,
// and shares it, and the work of renewing it, with every replica using the
// same store.
//
// A Cache is built from ports (package ports) and knows no technology: the
// store, the renewal locker, the change feed and the token-service client
// are adapters passed in Options. Package embedded builds one from the
// jwtcache configuration; adapters/transport signs outgoing HTTP requests
// with it.
//
// The files follow the Cache's concepts: cache.go is the public API and the
// hit path, fetch.go the fetch-and-renew protocol across replicas,
// failure.go what a fetch without a token returns, install.go how a token
// becomes the near cache's,
// schedule.go the renewal timers and periodic tasks, feed.go the change
// notifications between replicas, lifecycle.go background work and Close,
// entries.go the near cache's entries, status.go and types.go what the
// status and health endpoints report, probe.go the token-service health
// probe, storeops.go the store commands bounded by StoreTimeout, limits.go
// the service cap, the token-service budget and the refresh floor,
// events.go the event feed of the console, and options.go the Options and
// their defaults.
package app
