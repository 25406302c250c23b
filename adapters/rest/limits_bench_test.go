package rest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

// runServerBench sends GET url from 16 concurrent keep-alive clients over
// loopback, as cmd/benchreport does, so that what the Server adds per
// request (deadlines, the connection cap) is measured with the network.
func runServerBench(b *testing.B, url string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	b.SetParallelism(8) // x GOMAXPROCS goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkServerTokenHit is BenchmarkTokenHit served by a Server with the
// default Limits.
func BenchmarkServerTokenHit(b *testing.B) {
	s := NewServer("127.0.0.1:0", tokenHitHandler(), discardLogger)
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer s.Stop(context.Background())
	runServerBench(b, "http://"+s.Addr()+"/api/v1/jwt/token/kyc")
}

// BenchmarkServerBareGin is the floor for BenchmarkServerTokenHit: a bare
// gin route writing the same bytes, on an http.Server without limits.
func BenchmarkServerBareGin(b *testing.B) {
	rec := httptest.NewRecorder()
	tokenHitHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/jwt/token/kyc", nil))
	body := rec.Body.Bytes()
	e := gin.New()
	e.GET("/api/v1/jwt/token/:serviceName", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/json; charset=utf-8", body)
	})
	srv := httptest.NewServer(e)
	defer srv.Close()
	runServerBench(b, srv.URL+"/api/v1/jwt/token/kyc")
}
