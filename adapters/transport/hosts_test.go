package transport

import (
	"net/http"
	"net/url"
	"testing"
)

func TestServiceFromHost(t *testing.T) {
	tests := []struct {
		host string
		want string // "" means no service
	}{
		{"kyc-service.company.com", "kyc"},
		{"data-processor-service", "data-processor"},
		{"KYC-Service.Company.com:8443", "kyc"},
		{"kyc-service.company.com.", "kyc"},
		{"kyc-service:8080", "kyc"},
		{"reference-data-service.internal.svc.cluster.local", "reference-data"},
		{"api.example.com", ""},
		{"api.github.com", ""},
		{"kyc.company.com", ""},
		{"service.company.com", ""},
		{"-service.x", ""},
		{"-service", ""},
		{"kyc--service.x", ""},    // kyc- ends with a hyphen
		{"1kyc-service.x", ""},    // must start with a letter
		{"kyc_a-service.x", ""},   // underscore
		{"kyc-service-a.x", ""},   // suffix not at the end of the label
		{"a.kyc-service.com", ""}, // only the first label counts
		{"127.0.0.1", ""},
		{"127.0.0.1:8080", ""},
		{"[::1]:8080", ""},
		{"::1", ""},
		{"[fe80::1%25kyc-service]:80", ""},
		{"localhost", ""},
		{"localhost:8080", ""},
		{"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			got, ok := ServiceFromHost(tc.host)
			if ok != (tc.want != "") || got != tc.want {
				t.Fatalf("ServiceFromHost(%q) = %q, %v; want %q, %v", tc.host, got, ok, tc.want, tc.want != "")
			}
		})
	}
}

func TestHostResolution(t *testing.T) {
	tr := &Transport{Domains: []string{"company.com"}, Hosts: map[string]string{
		"API.Example.com":         "payments",    // case-insensitive, non-rule host
		"kyc-service.company.com": "identity",    // explicit mapping wins over the rule
		"legacy-service.corp":     "",            // exempted from the rule
		"127.0.0.1":               "loopback",    // any port
		"127.0.0.1:9999":          "nine",        // this port only
		"[::1]:8443":              "six",         // IPv6 with a port
		"*.partners.example":      "partners",    // wildcard
		"*.eu.partners.example":   "eu-partners", // longer suffix wins
		"exact.partners.example":  "exact",       // exact wins over wildcard
		"*.wild-service.example":  "",            // wildcard exemption
		"*.":                      "broken",      // ignored
		"":                        "broken",      // ignored
	}}
	tr.once.Do(tr.init)
	tests := []struct {
		url  string
		want string
	}{
		{"https://api.example.com/x", "payments"},
		{"https://API.EXAMPLE.COM:443/x", "payments"},
		{"https://api.example.com./x", "payments"},
		{"https://kyc-service.company.com/x", "identity"},
		{"https://billing-service.company.com/x", "billing"}, // the rule, under Domains
		{"https://kyc-service.other.com/x", ""},              // not under Domains
		{"https://data-processor-service/x", ""},             // a single label is under no domain
		{"https://legacy-service.corp/x", ""},
		{"http://127.0.0.1:8080/x", "loopback"},
		{"http://127.0.0.1/x", "loopback"},
		{"http://127.0.0.1:9999/x", "nine"},
		{"http://[::1]:8443/x", "six"},
		{"http://[::1]:8444/x", ""},
		{"https://a.partners.example/x", "partners"},
		{"https://a.b.partners.example/x", "partners"},
		{"https://x.eu.partners.example/x", "eu-partners"},
		{"https://eu.partners.example/x", "partners"},
		{"https://partners.example/x", ""}, // a wildcard needs a label before its suffix
		{"https://xpartners.example/x", ""},
		{"https://exact.partners.example/x", "exact"},
		{"https://kyc-service.wild-service.example/x", ""},
		{"https://api.github.com/x", ""},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := tr.serviceFor(&http.Request{URL: u})
			if ok != (tc.want != "") || got != tc.want {
				t.Fatalf("service for %s = %q, %v; want %q", tc.url, got, ok, tc.want)
			}
		})
	}
}

func TestRuleCanBeReplaced(t *testing.T) {
	tr := &Transport{Rule: NoRule, Domains: []string{"company.com"}, Hosts: map[string]string{"kyc.internal": "kyc"}}
	tr.once.Do(tr.init)
	for u, want := range map[string]string{
		"https://kyc-service.company.com/": "",
		"https://kyc.internal/":            "kyc",
	} {
		url, _ := url.Parse(u)
		if got, _ := tr.serviceFor(&http.Request{URL: url}); got != want {
			t.Errorf("%s: got %q, want %q", u, got, want)
		}
	}
}

func TestServiceFromHostDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _, _ = ServiceFromHost("data-processor-service.company.com:8443") }); n != 0 {
		t.Fatalf("ServiceFromHost allocates %v times; it runs on every request", n)
	}
}
