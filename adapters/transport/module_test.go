package transport_test

import (
	"net/http"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/jwtcache/jwtcache/adapters/transport"
)

func TestModule(t *testing.T) {
	src := &fakeSource{}
	opts := fx.Options(
		fx.NopLogger,
		fx.Provide(func() transport.Source { return src }),
		transport.Module,
	)
	if err := fx.ValidateApp(opts); err != nil {
		t.Fatal(err)
	}
	var tr *transport.Transport
	app := fxtest.New(t, opts,
		fx.Decorate(func(tr *transport.Transport) *transport.Transport {
			tr.Hosts = loopback
			return tr
		}),
		fx.Populate(&tr))
	app.RequireStart()
	defer app.RequireStop()

	d := newDownstream(t, nil)
	if resp, _ := do(t, &http.Client{Transport: tr}, http.MethodGet, d.URL, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := d.requests(); len(got) != 1 || got[0].auth != "Bearer tok-1" {
		t.Fatalf("downstream saw %+v", got)
	}
}
