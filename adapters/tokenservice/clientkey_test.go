package tokenservice_test

import (
	"strings"
	"testing"

	"github.com/jwtcache/jwtcache/adapters/tokenservice"
)

func TestClientKeyTellsClientsApart(t *testing.T) {
	iss, err := tokenservice.New(tokenservice.Options{
		URL: "https://auth.example.com/token", ClientID: "jwtcache", ClientSecret: "s3cret",
		Services: map[string]tokenservice.ClientOptions{
			// Same client as the default, other scope: same budget.
			"reports": {Scope: "reports.read"},
			// Its own client id at the same endpoint: its own budget.
			"billing": {ClientID: "billing-client", ClientSecret: "other-s3cret"},
			// Its own token service.
			"partner": {URL: "https://partner.example.com/token", ClientID: "jwtcache", ClientSecret: "partner-s3cret"},
		},
		Strict: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	key := func(service string) string {
		k, ok := iss.ClientKey(service)
		if !ok {
			t.Fatalf("ClientKey(%s) has no client", service)
		}
		for _, secret := range []string{"s3cret", "other-s3cret", "partner-s3cret"} {
			if strings.Contains(k, secret) {
				t.Fatalf("ClientKey(%s) = %q holds a secret", service, k)
			}
		}
		return k
	}
	if key("reports") != "https://auth.example.com/token jwtcache" {
		t.Fatalf("reports: %q", key("reports"))
	}
	if key("billing") == key("reports") || key("partner") == key("reports") || key("partner") == key("billing") {
		t.Fatalf("distinct clients share a key: %q %q %q", key("reports"), key("billing"), key("partner"))
	}
	if k, ok := iss.ClientKey("unlisted"); ok || k != "" {
		t.Fatalf("a strict issuer's unknown service has a client: %q, %v", k, ok)
	}
}
