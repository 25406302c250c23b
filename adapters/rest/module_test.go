package rest

import (
	"net"
	"net/http"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
)

func testModuleOptions(addr string) fx.Option {
	return fx.Options(
		fx.NopLogger,
		fx.Provide(func() Cache { return &fakeService{} }),
		fx.Supply(ServerConfig{Addr: addr}, Options{Logger: discardLogger}),
		Module,
	)
}

func TestModuleValidates(t *testing.T) {
	if err := fx.ValidateApp(testModuleOptions("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	// Options are optional.
	if err := fx.ValidateApp(
		fx.Provide(func() Cache { return &fakeService{} }),
		fx.Supply(ServerConfig{Addr: ":0"}),
		Module,
	); err != nil {
		t.Fatal(err)
	}
}

func TestModuleServesWhileRunning(t *testing.T) {
	var srv *Server
	app := fxtest.New(t, testModuleOptions("127.0.0.1:0"), fx.Populate(&srv))
	app.RequireStart()
	code, _, err := get(t, "http://"+srv.Addr()+"/api/v1/jwt/health")
	if err != nil || code != http.StatusOK {
		t.Fatalf("health: %d %v", code, err)
	}
	app.RequireStop()
	if _, _, err := get(t, "http://"+srv.Addr()+"/api/v1/jwt/health"); err == nil {
		t.Error("still serving after the application stopped")
	}
}

func TestModulePortInUseFailsStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	app := fx.New(testModuleOptions(ln.Addr().String()))
	if err := app.Start(t.Context()); err == nil {
		app.Stop(t.Context())
		t.Fatal("Start succeeded on a port in use")
	}
}
