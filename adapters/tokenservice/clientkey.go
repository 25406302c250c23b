package tokenservice

import "github.com/jwtcache/jwtcache/ports"

var _ ports.ClientKeyer = (*Issuer)(nil)

// ClientKey is the identity of the client that asks for service's tokens,
// as the token service sees it: its token endpoint (or, with discovery,
// its issuer) and its client id. Services sharing a client share a key,
// so the core gives them one budget of token-service calls. ok is false
// when Issue would refuse service without a request (a strict Issuer and
// a service it has no client for). The key holds no secret.
func (i *Issuer) ClientKey(service string) (key string, ok bool) {
	c, err := i.clientFor(service)
	if err != nil {
		return "", false
	}
	where := c.endpoint
	if c.cr != nil && c.cr.disc != nil {
		where = c.cr.disc.issuer
	}
	return where + " " + c.id, true
}
