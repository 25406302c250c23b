package transport

import (
	"cmp"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

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
//
// The rule alone trusts whoever names a host: anything-service.attacker.example
// is "anything". A Transport therefore asks it only about hosts under its
// Domains.
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

// domainList is Transport.Domains made ready for lookups: each domain
// lowercased, without a leading "*." or dot or a trailing dot. It is built
// once and never modified.
type domainList []string

func newDomainList(domains []string) domainList {
	var l domainList
	for _, d := range domains {
		d = strings.TrimPrefix(strings.TrimSpace(d), "*")
		d = strings.ToLower(strings.Trim(d, "."))
		if d != "" && !slices.Contains(l, d) {
			l = append(l, d)
		}
	}
	return l
}

// contains reports whether host (normalised, see splitHost) is one of the
// domains or under one, label by label: kyc-service.company.com is under
// company.com; kyc-service.company.com.attacker.example and
// kyc-service.evilcompany.com are not. A host with bytes outside ASCII is
// under none: it could otherwise match through a look-alike letter.
func (l domainList) contains(host string) bool {
	for i := 0; i < len(host); i++ {
		if host[i] >= utf8.RuneSelf {
			return false
		}
	}
	for _, d := range l {
		if host == d || (len(host) > len(d) && host[len(host)-len(d)-1] == '.' && strings.HasSuffix(host, d)) {
			return true
		}
	}
	return false
}

// isLoopback reports whether host (normalised, see splitHost) is
// localhost or a loopback address, where plain http never leaves the
// machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// origin is u's host and port, the port filled in from the scheme, for
// telling whether a redirect leaves the host.
func origin(u *url.URL) string {
	host, port := splitHost(u.Host)
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(host, port)
}

// leftTheHost reports whether req is a redirect (http.Client sets
// req.Response on those) whose chain has left, at any hop, the host and
// port of the request that started it. A chain it cannot follow back
// counts as having left.
func leftTheHost(req *http.Request) bool {
	if req.Response == nil {
		return false
	}
	here := origin(req.URL)
	for r := req; r.Response != nil; {
		prev := r.Response.Request
		if prev == nil || prev.URL == nil || origin(prev.URL) != here {
			return true
		}
		r = prev
	}
	return false
}
