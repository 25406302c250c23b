package rest

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestConsoleServed(t *testing.T) {
	h, _ := newTestHandler(&fakeService{})
	for _, as := range consoleAssets {
		rec := request(h, http.MethodGet, as.path)
		hd := rec.Header()
		if rec.Code != http.StatusOK || hd.Get("Content-Type") != as.contentType || rec.Body.Len() == 0 {
			t.Fatalf("GET %s: %d %q, %d bytes", as.path, rec.Code, hd.Get("Content-Type"), rec.Body.Len())
		}
		if hd.Get("Content-Security-Policy") != consoleCSP || hd.Get("X-Content-Type-Options") != "nosniff" ||
			hd.Get("Cache-Control") != "no-cache" || hd.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("GET %s: headers %v", as.path, hd)
		}
	}
	for _, p := range []string{"/", "/ui"} {
		rec := request(h, http.MethodGet, p)
		if rec.Code != http.StatusFound || rec.Header().Get("Location") != ConsolePath || rec.Body.Len() != 0 {
			t.Errorf("GET %s: %d to %q, body %q", p, rec.Code, rec.Header().Get("Location"), rec.Body)
		}
	}
	if rec := request(h, http.MethodGet, "/ui/nope.js"); rec.Code != http.StatusNotFound {
		t.Errorf("unknown console file: %d", rec.Code)
	}
}

// TestConsoleCSP: the policy forbids everything from elsewhere and inline
// script, and allows what the page needs from its own origin.
func TestConsoleCSP(t *testing.T) {
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "connect-src 'self'", "object-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(consoleCSP, want) {
			t.Errorf("CSP %q lacks %q", consoleCSP, want)
		}
	}
	if strings.Contains(consoleCSP, "unsafe") || strings.Contains(consoleCSP, "http") || strings.Contains(consoleCSP, "*") {
		t.Errorf("CSP %q allows more than this origin", consoleCSP)
	}
}

// TestConsoleFilesSelfContained: the files load nothing from elsewhere,
// hold no inline script or style (the CSP would block them), and the page
// never asks for a token.
func TestConsoleFilesSelfContained(t *testing.T) {
	// The SVG namespace is a name, not something loaded.
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	for _, as := range consoleAssets {
		b, err := consoleFiles.ReadFile(as.file)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(b), "http://www.w3.org/2000/svg", "")
		if m := external.FindString(s); m != "" {
			t.Errorf("%s refers to another origin: %s", as.file, m)
		}
		if strings.Contains(s, "@import") || strings.Contains(s, "@font-face") {
			t.Errorf("%s imports a style sheet or font", as.file)
		}
	}
	html, _ := consoleFiles.ReadFile("console/index.html")
	for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(string(html), -1) {
		if !strings.Contains(m, `src="console.js"`) {
			t.Errorf("inline or foreign script: %s", m)
		}
	}
	if regexp.MustCompile(`\sstyle=|<style|\son[a-z]+=`).Match(html) {
		t.Error("the page has inline style or an inline event handler")
	}
	js, _ := consoleFiles.ReadFile("console/console.js")
	for _, banned := range []string{"/token/", "/bearer/", "innerHTML", "eval(", "localStorage"} {
		if strings.Contains(string(js), banned) {
			t.Errorf("console.js uses %q", banned)
		}
	}
	if !strings.Contains(string(js), "/refresh/' + encodeURIComponent(name) + '?includeToken=false'") {
		t.Error("console.js refreshes without includeToken=false")
	}
}
