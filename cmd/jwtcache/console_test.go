package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/jwtcache/jwtcache/adapters/devissuer"
)

// The operator console, tested in a real browser: headless Chromium driven
// over the DevTools protocol against the real binary.

// chromiumEnv names another Chromium binary than /usr/bin/chromium.
const chromiumEnv = "JWTCACHE_CHROMIUM"

// screenshotEnv, when set, is where TestConsoleInBrowser saves its
// screenshot (the README's docs/console.png); by default the test's
// temporary directory.
const screenshotEnv = "JWTCACHE_CONSOLE_SCREENSHOT"

// consoleKey is the API key of the console tests.
const consoleKey = "console-test-KEY-0123456789"

func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv(chromiumEnv)
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no Chromium at %s (apt-get install chromium, or set %s): the console's browser tests need it", p, chromiumEnv)
	}
	return p
}

// issuedTokens is a development token service that remembers every access
// token it hands out, for the test to look for them where none may be.
type issuedTokens struct {
	*devissuer.Server
	URL    string
	mu     sync.Mutex
	tokens []string
}

func startIssuedTokens(t *testing.T, lifetime time.Duration) *issuedTokens {
	t.Helper()
	srv, err := devissuer.New(devissuer.Options{ClientID: fleetClientID, ClientSecret: fleetSecret, TokenLifetime: lifetime})
	if err != nil {
		t.Fatal(err)
	}
	it := &issuedTokens{Server: srv}
	h := srv.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		var body struct {
			AccessToken string `json:"access_token"`
		}
		if json.Unmarshal(rec.Body.Bytes(), &body) == nil && body.AccessToken != "" {
			it.mu.Lock()
			it.tokens = append(it.tokens, body.AccessToken)
			it.mu.Unlock()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(hs.Close)
	it.URL = hs.URL + devissuer.TokenPath
	return it
}

func (it *issuedTokens) all() []string {
	it.mu.Lock()
	defer it.mu.Unlock()
	return slices.Clone(it.tokens)
}

// browser is one headless Chromium tab with everything it fetched and
// every problem it reported recorded.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu        sync.Mutex
	requested []string                     // every URL the page asked for
	urls      map[network.RequestID]string // by request
	bodies    map[network.RequestID][]byte // every response body, streams included
	problems  []string                     // console errors, exceptions, error log entries
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 960),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start Chromium: %v", err)
	}
	b := &browser{t: t, ctx: ctx, urls: map[network.RequestID]string{}, bodies: map[network.RequestID][]byte{}}
	b.record()
	return b
}

// record follows the tab's network, console and log events until the test
// ends. The subscriptions buffer events, so none is lost to the goroutines
// starting late.
func (b *browser) record() {
	ctx := b.ctx
	sent := chromedp.Events(ctx, network.RequestWillBeSent)
	responses := chromedp.Events(ctx, network.ResponseReceived)
	data := chromedp.Events(ctx, network.DataReceived)
	finished := chromedp.Events(ctx, network.LoadingFinished)
	calls := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	entries := chromedp.Events(ctx, cdplog.EntryAdded)
	go func() {
		for ev, err := range sent {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.requested = append(b.requested, ev.Request.Method+" "+ev.Request.URL)
			b.urls[ev.RequestID] = ev.Request.URL
			b.mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range responses {
			if err != nil {
				return
			}
			if strings.Contains(ev.Response.MimeType, "event-stream") {
				// A stream never finishes while the page is open: have its
				// data reported as it arrives.
				res, err := chromedp.Call(ctx, network.StreamResourceContent, network.StreamResourceContentParams{RequestID: ev.RequestID})
				if err == nil {
					b.addBody(ev.RequestID, res.BufferedData)
				}
			}
		}
	}()
	go func() {
		for ev, err := range data {
			if err != nil {
				return
			}
			b.addBody(ev.RequestID, ev.Data)
		}
	}()
	go func() {
		for ev, err := range finished {
			if err != nil {
				return
			}
			go func() {
				res, err := chromedp.Call(ctx, network.GetResponseBody, network.GetResponseBodyParams{RequestID: ev.RequestID})
				if err == nil {
					b.addBody(ev.RequestID, res.Body)
				}
			}()
		}
	}()
	go func() {
		for ev, err := range calls {
			if err != nil {
				return
			}
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				b.problem(fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
			}
		}
	}()
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			desc := d.Text
			if d.Exception != nil {
				desc += " " + d.Exception.Description
			}
			b.problem(fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, desc))
		}
	}()
	go func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			if e := ev.Entry; e.Level == cdplog.EntryLevelError || e.Level == cdplog.EntryLevelWarning {
				b.problem(fmt.Sprintf("log %s/%s: %s (%s)", e.Source, e.Level, e.Text, e.URL))
			}
		}
	}()
}

func (b *browser) addBody(id network.RequestID, p []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bodies[id] = append(b.bodies[id], p...)
}

func (b *browser) problem(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, s)
}

// checkNoProblems fails the test for every console error, exception or
// error log entry, except network errors whose text says one of the
// expected statuses (the refusals the test provoked).
func (b *browser) checkNoProblems(expected ...string) {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
outer:
	for _, p := range b.problems {
		if strings.HasPrefix(p, "log network/error: Failed to load resource: the server responded with a status of ") {
			for _, e := range expected {
				if strings.Contains(p, "status of "+e+" ") {
					continue outer
				}
			}
		}
		b.t.Errorf("browser console: %s", p)
	}
}

// fetched is every URL requested and everything received, as text.
func (b *browser) fetched() (urls []string, received string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var sb strings.Builder
	for id, body := range b.bodies {
		sb.WriteString(b.urls[id])
		sb.WriteString("\n")
		sb.Write(body)
		sb.WriteString("\n")
	}
	return slices.Clone(b.requested), sb.String()
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression in the page. DevTools evaluation
// is not subject to the page's Content-Security-Policy.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// waitJS waits until expr is true in the page. chromedp's Poll builds a
// function from a string, which the console's CSP (no unsafe-eval)
// refuses, so the polling is done from here.
func (b *browser) waitJS(what, expr string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if eval[bool](b, "Boolean("+expr+")") {
			return
		}
		if time.Now().After(deadline) {
			html := eval[string](b, "document.body.innerText")
			b.t.Fatalf("timed out after %v waiting for %s (%s); the page reads:\n%s", timeout, what, expr, html)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (b *browser) text(expr string) string { return eval[string](b, expr) }

// apiCall is a request to the REST API with the test's key.
func apiCall(t *testing.T, method, url string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-API-Key", consoleKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, body)
	}
	return m
}

// loadUntilEnd asks for the services' tokens, one every 50 ms in turn,
// until the test ends.
func loadUntilEnd(t *testing.T, api string, services []string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
	})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api+"/token/"+services[i%len(services)], nil)
			req.Header.Set("X-API-Key", consoleKey)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}()
}

// consoleServices are the services the console tests ask tokens for.
var consoleServices = []string{"billing", "data-processor", "kyc", "ledger", "notifications", "payments"}

// TestConsoleInBrowser opens the console on a real jwtcache with short-lived
// tokens: it shows the services asked for, its timelines move, a row
// changes when its token renews, refresh and evict are refused without a
// key and work with one, the filter narrows the rows, and no token ever
// reaches the page: not in the DOM, not in anything it fetched.
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and a browser")
	}
	chromiumPath(t)
	// 12 s tokens with a 4 s buffer: a renewal every 7 s or so, and a
	// failing renewal is seen failing for about 5 s before its token
	// expires, longer than a few of the page's polls even on a busy machine.
	ts := startIssuedTokens(t, 12*time.Second)
	_, base := serve(t, []string{
		"JWT_TOKEN_SERVICE_URL=" + ts.URL, "JWT_CLIENT_ID=" + fleetClientID, "JWT_CLIENT_SECRET=" + fleetSecret,
		"JWT_API_KEYS=" + consoleKey, "JWT_RENEWAL_BUFFER=4",
	})
	api := base + "/api/v1/jwt"
	for _, s := range consoleServices {
		apiCall(t, "GET", api+"/token/"+s)
	}
	// Callers keep asking (ledger aside, which the test evicts), so that
	// the hit ratio has something to show.
	loadUntilEnd(t, api, slices.DeleteFunc(slices.Clone(consoleServices), func(s string) bool { return s == "ledger" }))

	b := newBrowser(t)
	b.do(chromedp.Navigate(base + "/")) // redirected to /ui/
	if u := b.text("location.pathname"); u != "/ui/" {
		t.Fatalf("GET / led to %s, want /ui/", u)
	}
	b.waitJS("a row per service", fmt.Sprintf("document.querySelectorAll('#rows tr').length === %d", len(consoleServices)), 20*time.Second)
	rows := eval[[]string](b, "[...document.querySelectorAll('#rows tr')].map(r => r.dataset.service)")
	if !slices.Equal(rows, consoleServices) {
		t.Fatalf("rows %v, want %v", rows, consoleServices)
	}
	b.waitJS("health and readiness", "document.getElementById('h-ready').textContent === 'Replica ready' && "+
		"document.getElementById('h-store').textContent === 'Store UP'", 10*time.Second)
	b.waitJS("the event feed", "document.getElementById('feed-state').textContent === 'live' && "+
		"document.querySelectorAll('#events li[data-type=obtained]').length >= 6", 10*time.Second)
	b.waitJS("the hit ratio", "/%$/.test(document.getElementById('ratio-now').textContent)", 10*time.Second)

	// The "now" marker moves.
	nowAt := func() float64 {
		return eval[float64](b, "Number(document.querySelector('tr[data-service=kyc]').dataset.now)")
	}
	first := nowAt()
	time.Sleep(time.Second)
	if second := nowAt(); second == first {
		t.Fatalf("the now marker stayed at %v for a second", first)
	}

	// The row changes when the token renews, and the feed says so.
	issued := b.text("document.querySelector('tr[data-service=kyc]').dataset.issuedAt")
	b.waitJS("kyc's renewal", "document.querySelector('tr[data-service=kyc]').dataset.issuedAt !== '"+issued+"'", 20*time.Second)
	b.waitJS("a renewed event", "document.querySelector('#events li[data-type=renewed][data-service=kyc]') !== null", 5*time.Second)
	b.waitJS("a last renewal", "/ago$/.test(document.querySelector('tr[data-service=kyc] .last-renewal').textContent)", 5*time.Second)

	// Without a key, refresh and evict are refused, and nothing happens.
	b.do(chromedp.Click(chromedp.CSS(`tr[data-service="ledger"] button.refresh`)))
	b.waitJS("the refusal", "document.getElementById('toast').textContent.includes('API key is required')", 5*time.Second)
	b.do(chromedp.Click(chromedp.CSS(`tr[data-service="ledger"] button.evict`)),
		chromedp.Click(chromedp.CSS(`tr[data-service="ledger"] button.evict`)))
	// The button is disabled while its request is out: enabled again, the
	// refusal has been handled.
	b.waitJS("the evict refusal handled", "!document.querySelector('tr[data-service=ledger] button.evict').disabled && "+
		"!document.getElementById('keypanel').hidden", 5*time.Second)
	stats := apiCall(t, "GET", api+"/statistics")
	if stats["forcedRefreshes"] != 0.0 || stats["evictions"] != 0.0 {
		t.Fatalf("refused actions changed the cache: %v", stats)
	}

	// With the key they work.
	b.do(chromedp.SendKeys(chromedp.ID("key-input"), consoleKey), chromedp.Click(chromedp.ID("key-use")))
	b.waitJS("the key to be taken", "document.getElementById('keypanel').hidden", 5*time.Second)
	if got := b.text("sessionStorage.getItem('jwtcache.apiKey')"); got != consoleKey {
		t.Fatal("the key is not in the tab's session storage")
	}
	if got := b.text("String(localStorage.length)"); got != "0" {
		t.Fatal("the page wrote to local storage")
	}
	b.do(chromedp.Click(chromedp.CSS(`tr[data-service="kyc"] button.refresh`)))
	b.waitJS("the refresh", "document.getElementById('toast').textContent.startsWith('kyc refreshed')", 10*time.Second)
	b.waitJS("a refreshed event", "document.querySelector('#events li[data-type=refreshed][data-service=kyc]') !== null", 5*time.Second)
	b.do(chromedp.Click(chromedp.CSS(`tr[data-service="ledger"] button.evict`)),
		chromedp.Click(chromedp.CSS(`tr[data-service="ledger"] button.evict`)))
	b.waitJS("the eviction", "document.getElementById('toast').textContent === 'ledger evicted.'", 10*time.Second)
	b.waitJS("ledger's row to go", "document.querySelector('tr[data-service=ledger]') === null", 5*time.Second)
	b.waitJS("an evicted event", "document.querySelector('#events li[data-type=evicted][data-service=ledger]') !== null", 5*time.Second)
	stats = apiCall(t, "GET", api+"/statistics")
	if stats["forcedRefreshes"] != 1.0 || stats["evictions"] != 1.0 {
		t.Fatalf("after refresh and evict with a key: %v", stats)
	}

	// The filter asks the server for the matching names only.
	b.do(chromedp.SendKeys(chromedp.ID("filter"), "proc"))
	b.waitJS("the filter", "document.querySelectorAll('#rows tr').length === 1 && document.querySelector('tr[data-service=data-processor]') !== null", 5*time.Second)
	b.do(chromedp.Evaluate[chromedp.Void]("(f => { f.value = ''; f.dispatchEvent(new Event('input')); })(document.getElementById('filter'))"))
	b.waitJS("the filter cleared", fmt.Sprintf("document.querySelectorAll('#rows tr').length === %d", len(consoleServices)-1), 5*time.Second)

	// The token service fails: renewals fail with its error code, rows
	// turn failing while their still-valid tokens are served; then it
	// recovers, and so do they.
	ts.SetFailRate(1)
	b.waitJS("a failing row", "document.querySelector('#rows tr.failing') !== null", 20*time.Second)
	b.waitJS("a renewal_failed event with the token service's code", "[...document.querySelectorAll('#events li[data-type=renewal_failed] .detail')]"+
		".some(d => d.textContent.includes('temporarily_unavailable'))", 5*time.Second)
	b.waitJS("the failures counted", "[...document.querySelectorAll('#rows tr.failing .failures')].some(c => Number(c.textContent) >= 1)", 5*time.Second)
	b.waitJS("the toast gone", "document.getElementById('toast').hidden", 5*time.Second)
	screenshot(t, b)
	ts.SetFailRate(0)
	b.waitJS("recovery", "document.querySelectorAll('#rows tr.fresh').length === "+fmt.Sprint(len(consoleServices)-1), 20*time.Second)

	// No token anywhere: not in the DOM, not in any response the page got,
	// and no request to an endpoint that hands one out.
	tokens := ts.all()
	if len(tokens) < len(consoleServices)+2 {
		t.Fatalf("the token service issued %d tokens; the test expects renewals and a refresh", len(tokens))
	}
	dom := b.text("document.documentElement.outerHTML")
	urls, received := b.fetched()
	for _, tok := range tokens {
		if strings.Contains(dom, tok) {
			t.Fatal("a token is in the page's DOM")
		}
		if strings.Contains(received, tok) {
			t.Fatal("a token is in a response the page fetched")
		}
		// Its signature alone would do as much harm.
		if sig := tok[strings.LastIndex(tok, ".")+1:]; strings.Contains(dom+received, sig) {
			t.Fatal("a token's signature reached the page")
		}
	}
	if !strings.Contains(received, `"type":"renewed"`) || !strings.Contains(received, `"totalTokens"`) {
		t.Fatalf("the capture of what the page fetched is incomplete: %.300s", received)
	}
	for _, u := range urls {
		if strings.Contains(u, "/token/") || strings.Contains(u, "/bearer/") ||
			(strings.Contains(u, "/refresh/") && !strings.HasSuffix(u, "?includeToken=false")) {
			t.Errorf("the page asked for a token: %s", u)
		}
		if !strings.HasPrefix(strings.SplitN(u, " ", 2)[1], base+"/") {
			t.Errorf("the page loaded something from elsewhere: %s", u)
		}
	}
	b.checkNoProblems("401")
}

// TestConsoleAsksForAKey: with JWT_API_PROTECT_STATUS=true the console
// shows nothing but a key prompt until it is given a valid key.
func TestConsoleAsksForAKey(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and a browser")
	}
	chromiumPath(t)
	ts := startIssuedTokens(t, time.Hour)
	_, base := serve(t, []string{
		"JWT_TOKEN_SERVICE_URL=" + ts.URL, "JWT_CLIENT_ID=" + fleetClientID, "JWT_CLIENT_SECRET=" + fleetSecret,
		"JWT_API_KEYS=" + consoleKey, "JWT_API_PROTECT_STATUS=true",
	})
	apiCall(t, "GET", base+"/api/v1/jwt/token/kyc")

	b := newBrowser(t)
	b.do(chromedp.Navigate(base + "/ui/"))
	b.waitJS("the key prompt", "!document.getElementById('keypanel').hidden", 10*time.Second)
	time.Sleep(2 * time.Second) // a poll or two: still nothing may show
	if shown := b.text("document.body.innerText"); strings.Contains(shown, "kyc") || !eval[bool](b, "document.getElementById('dash').hidden") {
		t.Fatalf("the console shows the cache without a key:\n%s", shown)
	}
	if !strings.Contains(b.text("document.getElementById('key-reason').textContent"), "requires an API key") {
		t.Fatal("the prompt does not say a key is required")
	}

	b.do(chromedp.SendKeys(chromedp.ID("key-input"), "wrong-key-but-long-enough"), chromedp.Click(chromedp.ID("key-use")))
	b.waitJS("the wrong key refused", "document.getElementById('key-reason').textContent.includes('not accepted')", 10*time.Second)
	if !eval[bool](b, "document.getElementById('dash').hidden") {
		t.Fatal("a wrong key shows the cache")
	}
	b.do(chromedp.SendKeys(chromedp.ID("key-input"), consoleKey), chromedp.Click(chromedp.ID("key-use")))
	b.waitJS("the cache shown", "document.querySelector('tr[data-service=kyc]') !== null", 10*time.Second)
	b.waitJS("the event feed", "document.getElementById('feed-state').textContent === 'live'", 10*time.Second)
	b.checkNoProblems("401")
}

// screenshot saves the console as it looks now, at screenshotEnv when set.
func screenshot(t *testing.T, b *browser) {
	t.Helper()
	path := os.Getenv(screenshotEnv)
	if path == "" {
		path = filepath.Join(t.TempDir(), "console.png")
	}
	b.do(chromedp.Evaluate[chromedp.Void]("document.activeElement && document.activeElement.blur()"))
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatal("the screenshot is not a PNG")
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}
