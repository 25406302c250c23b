// Package domain holds jwtcache's pure model: the cached Token, the
// RenewalPolicy that decides when a token is fresh, due for renewal or
// expired, the rules for service names, and the errors the rest of the
// system shares.
//
// Nothing here performs I/O or reads the wall clock: every decision that
// depends on time takes the instant as a parameter, so it can be tested at
// the exact boundary instants.
package domain
