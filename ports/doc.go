// Package ports declares the driven interfaces that jwtcache's core (package
// app) owns and the adapters implement: where tokens come from
// (TokenIssuer), where they are kept and shared (TokenStore, RenewalLocker,
// ChangeFeed), and what time it is (Clock).
//
// "Ports" here means exactly that: interfaces shaped by what the core needs,
// small enough that an adapter for a new technology is a short file, and
// checked by one contract suite (package storetest) so that every store
// behaves the same. The core never imports an adapter; adapters never import
// each other.
//
// Every method takes a context first and is safe for concurrent use.
package ports

//go:generate go tool mockgen -typed -destination=../mocks/ports.go -package=mocks github.com/jwtcache/jwtcache/ports TokenIssuer,TokenStore,RenewalLocker,ChangeFeed,Clock,Pinger
