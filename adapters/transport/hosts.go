package transport

import (
	"cmp"
	"net"
	"slices"
	"strings"

	"github.com/jwtcache/jwtcache/domain"
)

// serviceSuffix marks the hosts the guide's rule names a service after.
const serviceSuffix = "-service"

// ServiceFromHost is the guide's rule for the service behind a host: the
// host's first DNS label, lowercased, less its "-service" suffix.
// kyc-service.company.com is kyc, data-processor-service is data-processor,
// and the port, if any, is ignored.
//
// A first label that does not end in "-service" names no service, so only
// hosts deployed as <name>-service are signed by rule: a request to
// api.github.com never carries a token by accident. Other hosts are signed
// only through Transport.Hosts. IP addresses and localhost name no service.
// A name it returns always passes domain.ValidateServiceName.
func ServiceFromHost(host string) (string, bool) {
	h, _ := splitHost(host)
	if strings.IndexByte(h, ':') >= 0 {
		return "", false // an IPv6 address; an IPv4 one fails below, its first label being digits
	}
	label := h
	if i := strings.IndexByte(h, '.'); i >= 0 {
		label = h[:i]
	}
	name, ok := strings.CutSuffix(label, serviceSuffix)
	if !ok || domain.ValidateServiceName(name) != nil {
		return "", false
	}
	return name, true
}

// NoRule names no service for any host. With Transport.Rule set to NoRule
// only the hosts listed in Transport.Hosts are signed.
func NoRule(string) (string, bool) { return "", false }

// splitHost returns hostport's host, lowercased, without brackets or a
// trailing dot, and its port ("" if none). It allocates only when the host
// has upper-case letters.
func splitHost(hostport string) (host, port string) {
	host = hostport
	switch {
	case strings.HasPrefix(host, "["):
		// [v6]:port or [v6]
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return "", ""
		}
		if rest := host[end+1:]; strings.HasPrefix(rest, ":") {
			port = rest[1:]
		}
		host = host[1:end]
	case strings.Count(host, ":") == 1:
		i := strings.IndexByte(host, ':')
		host, port = host[:i], host[i+1:]
	}
	host = strings.TrimSuffix(host, ".")
	return strings.ToLower(host), port
}

// hostTable is Transport.Hosts made ready for lookups. It is built once
// and never modified.
type hostTable struct {
	// exact maps a normalised host, or host:port as net.JoinHostPort
	// writes it, to its service; "" means "never sign".
	exact map[string]string
	// withPorts is true when some key of exact has a port: only then does
	// a lookup need the request's host:port, which may cost a string.
	withPorts bool
	// wild holds the "*.suffix" entries, longest suffix first, so that the
	// most specific one wins.
	wild []wildcard
}

type wildcard struct {
	suffix  string // with its leading dot: ".company.com"
	service string
}

func newHostTable(hosts map[string]string) hostTable {
	t := hostTable{exact: make(map[string]string, len(hosts))}
	for key, service := range hosts {
		if rest, ok := strings.CutPrefix(key, "*."); ok {
			h, _ := splitHost(rest)
			if h != "" {
				t.wild = append(t.wild, wildcard{suffix: "." + h, service: service})
			}
			continue
		}
		h, port := splitHost(key)
		if h == "" {
			continue
		}
		if port != "" {
			t.exact[net.JoinHostPort(h, port)] = service
			t.withPorts = true
			continue
		}
		t.exact[h] = service
	}
	slices.SortFunc(t.wild, func(a, b wildcard) int {
		return cmp.Or(cmp.Compare(len(b.suffix), len(a.suffix)), strings.Compare(a.suffix, b.suffix))
	})
	return t
}

// lookup finds host (normalised, see splitHost) in the table: host:port
// first, then the host, then the wildcards. found is false when the table
// does not mention the host, and the rule decides.
func (t *hostTable) lookup(host, port string) (service string, found bool) {
	if t.withPorts && port != "" {
		if s, ok := t.exact[net.JoinHostPort(host, port)]; ok {
			return s, true
		}
	}
	if s, ok := t.exact[host]; ok {
		return s, true
	}
	for _, w := range t.wild {
		if len(host) > len(w.suffix) && strings.HasSuffix(host, w.suffix) {
			return w.service, true
		}
	}
	return "", false
}
