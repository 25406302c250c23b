package transport_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"golang.org/x/oauth2"

	"github.com/jwtcache/jwtcache/adapters/devissuer"
	"github.com/jwtcache/jwtcache/adapters/memory"
	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/adapters/transport"
	"github.com/jwtcache/jwtcache/app"
)

// newTokenCache starts a development token service on loopback and a token
// cache in front of it; stop closes both.
func newTokenCache() (svc *app.Cache, stop func()) {
	quiet := slog.New(slog.DiscardHandler)
	secret := devissuer.GenerateSecret()
	dev, err := devissuer.New(devissuer.Options{ClientID: "orders", ClientSecret: secret, Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	tokenURL, err := dev.ListenAndServe(context.Background(), "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	issuer, err := tokenservice.New(tokenservice.Options{URL: tokenURL, ClientID: "orders", ClientSecret: secret})
	if err != nil {
		log.Fatal(err)
	}
	store := memory.New(nil)
	svc, err = app.New(app.Options{Issuer: issuer, Store: store, Locker: store, Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	return svc, func() { _ = svc.Close(); _ = dev.Close(context.Background()) }
}

// newEchoServer answers with what it was sent: its host and whether the
// Authorization header holds a Bearer JWT.
func newEchoServer() *httptest.Server { return httptest.NewServer(echo) }

var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	auth := "no Authorization"
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && strings.Count(tok, ".") == 2 {
		auth = "Bearer JWT"
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host // no port
	}
	fmt.Fprintf(w, "%s: %s", host, auth)
})

func get(c *http.Client, url string) {
	resp, err := c.Get(url)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(string(b))
}

func ExampleTransport() {
	svc, stop := newTokenCache()
	defer stop()
	// An https echo server, which every host name resolves to in this
	// example; its test certificate is for example.com.
	server := httptest.NewTLSServer(echo)
	defer server.Close()
	toEcho := server.Client().Transport.(*http.Transport).Clone()
	toEcho.TLSClientConfig.ServerName = "example.com"
	toEcho.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, server.Listener.Addr().String())
	}

	client := &http.Client{Transport: &transport.Transport{
		Source: svc,
		Base:   toEcho,
		// <name>-service hosts under these domains are signed by the
		// guide's rule; nowhere else.
		Domains: []string{"company.com"},
		// Other hosts are signed only when mapped.
		Hosts: map[string]string{"payments.partner.example": "payments"},
	}}
	get(client, "https://kyc-service.company.com/customers/42")
	get(client, "https://data-processor-service.eu.company.com/jobs")
	get(client, "https://payments.partner.example/charges")
	get(client, "https://kyc-service.company.com.attacker.example/steal")
	get(client, "https://api.example.com/public")
	// Output:
	// kyc-service.company.com: Bearer JWT
	// data-processor-service.eu.company.com: Bearer JWT
	// payments.partner.example: Bearer JWT
	// kyc-service.company.com.attacker.example: no Authorization
	// api.example.com: no Authorization
}

func ExampleTokenSource() {
	svc, stop := newTokenCache()
	defer stop()
	echo := newEchoServer()
	defer echo.Close()

	// x/oauth2 clients, and anything else taking an oauth2.TokenSource,
	// get their tokens from the cache.
	client := oauth2.NewClient(context.Background(), transport.TokenSource(svc, "kyc"))
	get(client, echo.URL)

	tok, err := transport.TokenSource(svc, "kyc").Token()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.Type(), tok.Valid())
	// Output:
	// 127.0.0.1: Bearer JWT
	// Bearer true
}
