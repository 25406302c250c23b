package rest

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fileKeys is a FileKeys source the test changes, as a reloaded file does.
type fileKeys struct {
	mu   sync.Mutex
	keys []APIKey
	gen  uint64
}

func (f *fileKeys) set(keys ...APIKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys, f.gen = keys, f.gen+1
}

func (f *fileKeys) current() ([]APIKey, uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keys, f.gen
}

// TestAuthSeesRotatedFileKeys: a key added to the file works on the next
// request, a removed one stops working, the static keys stay, and an
// unacceptable file keeps the previous keys.
func TestAuthSeesRotatedFileKeys(t *testing.T) {
	const (
		static = "static-key-0123456789"
		old    = "file-key-old-0123456789"
		rotd   = "file-key-new-0123456789"
	)
	src := &fileKeys{}
	src.set(APIKey{Key: old})
	logs := &strings.Builder{}
	auth, err := NewAuth(AuthOptions{Keys: []APIKey{{Key: static}}, FileKeys: src.current, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(&fakeService{}, Options{Logger: discardLogger, Auth: auth})
	status := func(key string) int {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, "/api/v1/jwt/token/kyc", nil)
		req.Header.Set(APIKeyHeader, key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if status(old) != 200 || status(static) != 200 || status(rotd) != 401 {
		t.Fatal("before the rotation: want the old file key and the static key only")
	}
	src.set(APIKey{Key: rotd})
	if status(rotd) != 200 || status(old) != 401 || status(static) != 200 {
		t.Fatal("after the rotation: want the new file key and the static key only")
	}
	src.set(APIKey{Key: "short"})
	if status(rotd) != 200 {
		t.Fatal("an unacceptable file must keep the previous keys")
	}
	for _, k := range []string{static, old, rotd} {
		if strings.Contains(logs.String(), k) {
			t.Fatalf("the log shows a key:\n%s", logs)
		}
	}
}
