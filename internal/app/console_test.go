package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/mamori-soc/mamori/internal/auth"
	"github.com/mamori-soc/mamori/internal/tenant"
	"github.com/mamori-soc/mamori/internal/web"
)

// The analyst console, end to end in Debian's Chromium against a running demo:
//
//	go test ./internal/app -run TestConsole -v
//	go test ./internal/app -run TestConsole -artifacts -outputdir /tmp/shots   # keep the screenshots
//	go test ./internal/app -run TestConsole -update-screenshots               # refresh docs/screenshots
//
// Chromium is a test dependency (scripts/install-test-deps.sh installs it);
// MAMORI_CHROMIUM overrides its path. Timings are never asserted: every wait
// is a poll with a generous deadline.

var updateScreenshots = flag.Bool("update-screenshots", false, "write the console screenshots for the README to docs/screenshots")

// readmeShots are the screenshots copied to docs/screenshots with -update-screenshots.
var readmeShots = []string{"dashboard", "queue", "alert-closed", "search-pivot"}

// consoleEnv is a demo with the console in front of it and one shared Chromium.
type consoleEnv struct {
	demo    *demo
	url     string // where /ui/ and the API answer
	browser context.Context
}

func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("MAMORI_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the console tests need Chromium at %s (%v): run `apt-get install -y chromium` "+
			"(scripts/install-test-deps.sh does it), or set MAMORI_CHROMIUM to a Chromium binary", p, err)
	}
	return p
}

func startConsole(t *testing.T) *consoleEnv {
	t.Helper()
	exe := chromiumPath(t)
	t.Setenv("MAMORI_RULES", "")
	ctx, cancel := context.WithCancel(context.Background())
	d, err := startDemo(ctx, demoConfig{dir: t.TempDir(), listen: "127.0.0.1:0", seed: 7, rate: 300, attacks: 600}, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := d.wait(); err != nil {
			t.Errorf("demo: %v", err)
		}
	})
	env := &consoleEnv{demo: d, url: d.info.URL}
	// Until the server mounts the console itself, serve it in front of the
	// server's own handler, on the same origin as the API.
	if resp, err := http.Get(d.info.URL + web.Prefix); err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		if err == nil {
			resp.Body.Close()
		}
		mux := http.NewServeMux()
		mux.Handle(web.Prefix, web.Handler())
		mux.Handle("/", d.srv.http.Handler)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go hs.Serve(ln)
		t.Cleanup(func() { hs.Close() })
		env.url = "http://" + ln.Addr().String()
	} else {
		resp.Body.Close()
	}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1600, 1000))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		bcancel()
		acancel()
		t.Fatalf("start %s: %v", exe, err)
	}
	t.Cleanup(func() { bcancel(); acancel() })
	env.browser = bctx
	return env
}

// tab is one browser tab with its own cookies (a new browser context), so
// that each user logs in separately.
type tab struct {
	t    *testing.T
	env  *consoleEnv
	ctx  context.Context
	mu   sync.Mutex
	errs []string // uncaught exceptions of the page
}

func (env *consoleEnv) newTab(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(env.browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{t: t, env: env, ctx: ctx}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() {
				tb.mu.Lock()
				tb.errs = append(tb.errs, fmt.Sprintf("%s (%s:%d)", m.Text, m.URL, m.Line))
				tb.mu.Unlock()
			}
		}
	}()
	tb.use(t)
	tb.do("viewport", chromedp.EmulateViewport(1440, 900))
	return tb
}

// use makes t the test that the tab's failures and page errors go to.
func (tb *tab) use(t *testing.T) {
	tb.t = t
	t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, e := range tb.errs {
			t.Errorf("uncaught exception in the console: %s", e)
		}
		tb.errs = nil
	})
}

// do runs steps, failing the test with what it was doing.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		tb.t.Fatalf("%s: %v (page %s)", what, err, tb.location())
	}
}

// wait polls a JavaScript predicate until it is true.
func (tb *tab) wait(what, predicate string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 90*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(80*time.Second))); err != nil {
		tb.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		tb.t.Fatalf("waiting for %s: %v (page %s)", what, err, tb.location())
	}
}

func evalJS[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (tb *tab) location() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	l, _ := chromedp.Run(ctx, chromedp.Location())
	return l
}

func (tb *tab) open(path string) {
	tb.t.Helper()
	tb.do("open "+path, chromedp.Navigate(tb.env.url+path))
}

// shot saves a screenshot of the viewport to the test's artifact directory
// (kept with -artifacts), and to docs/screenshots with -update-screenshots
// for the few the README shows.
func (tb *tab) shot(name string) { tb.capture(name, chromedp.CaptureScreenshot()) }

// fullShot saves a screenshot of the whole page, beyond the viewport.
func (tb *tab) fullShot(name string) { tb.capture(name, chromedp.FullScreenshot(100)) }

func (tb *tab) capture(name string, how chromedp.Action[[]byte]) {
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	// Let charts finish drawing.
	chromedp.Run(ctx, chromedp.Poll[chromedp.Void](`new Promise(r => requestAnimationFrame(() => setTimeout(() => r(true), 300)))`, chromedp.WithPollingTimeout(5*time.Second)))
	png, err := chromedp.Run(ctx, how)
	if err != nil {
		tb.t.Logf("screenshot %s: %v", name, err)
		return
	}
	dir := tb.t.ArtifactDir()
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		tb.t.Errorf("screenshot %s: %v", name, err)
	}
	if *updateScreenshots && slices.Contains(readmeShots, name) {
		small, err := chromedp.Run(ctx, docScreenshot)
		out := filepath.Join("..", "..", "docs", "screenshots")
		if err == nil {
			err = os.MkdirAll(out, 0o755)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(out, name+".png"), small, 0o644)
		}
		if err != nil {
			tb.t.Errorf("screenshot %s for docs: %v", name, err)
		}
	}
}

// docScreenshot captures the 1440×900 viewport at three quarters of its
// size, to keep the README's pictures small.
func docScreenshot(ctx context.Context, t *chromedp.Target) ([]byte, error) {
	r, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{Clip: &page.Viewport{Width: 1440, Height: 900, Scale: 0.75}})
	return r.Data, err
}

func (tb *tab) login(user, password string) {
	tb.t.Helper()
	tb.open("/ui/")
	tb.do("login form", chromedp.WaitVisible(chromedp.CSS("#login-user")))
	tb.do("log in as "+user,
		chromedp.SendKeys(chromedp.CSS("#login-user"), user),
		chromedp.SendKeys(chromedp.CSS("#login-pass"), password),
		chromedp.Click(chromedp.CSS("#login-submit")))
	tb.wait("the console after login", `document.querySelector('#logout') !== null`)
}

// apiGet calls the API with the demo's national token.
func (env *consoleEnv) apiGet(t *testing.T, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", env.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+env.demo.info.APIToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// apiHas reports whether the server has an API route (a 404 or 405 that is
// not the API's own JSON error means it has none).
func (env *consoleEnv) apiHas(t *testing.T, method, path string) bool {
	t.Helper()
	req, _ := http.NewRequest(method, env.url+path, strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+env.demo.info.APIToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	missing := (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed) &&
		!strings.Contains(resp.Header.Get("Content-Type"), "json")
	return !missing
}

func TestConsole(t *testing.T) {
	env := startConsole(t)
	info := env.demo.info

	t.Run("handler", func(t *testing.T) {
		for _, c := range []struct{ path, ctype string }{{"/ui/", "text/html"}, {"/ui/alerts/abc", "text/html"}} {
			resp, err := http.Get(env.url + c.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) {
				t.Errorf("GET %s: %s %s", c.path, resp.Status, resp.Header.Get("Content-Type"))
			}
		}
	})

	// A national analyst logs in and the national picture fills from the generator.
	analyst := env.newTab(t)
	t.Run("login and dashboard", func(t *testing.T) {
		analyst.use(t)
		analyst.open("/ui/")
		analyst.do("login page", chromedp.WaitVisible(chromedp.CSS("#login-user")))
		analyst.shot("login")
		analyst.login(info.Username, info.Password)
		analyst.wait("national totals", `(() => { const v = document.querySelector('#kpi-today'); return v && /[1-9]/.test(v.textContent); })()`)
		analyst.wait("the live ticker", `document.querySelectorAll('#ticker li a').length > 0`)
		analyst.wait("the ATT&CK heat map", `document.querySelectorAll('#heatmap .heat-cell').length > 0`)
		analyst.wait("the most-hit organisations", `document.querySelectorAll('#top-orgs tbody tr a').length > 0`)
		analyst.wait("the charts", `document.querySelector('#chart-hour canvas') && document.querySelector('#chart-day canvas')`)
		analyst.shot("dashboard")
		analyst.fullShot("dashboard-full")
		// Live: new alerts arrive over the stream and the figures refresh,
		// without a reload and without moving any panel.
		analyst.wait("the live stream", `document.querySelector('.stream-dot.live') !== null`)
		layout := `JSON.stringify([...document.querySelectorAll('.dash > *')].map(e => { const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }))`
		before := evalJS[string](analyst, layout)
		evalJS[bool](analyst, `(window.__noReload = true, window.__updated = document.querySelector('#dash-updated').textContent, true)`)
		analyst.wait("a live alert in the ticker", `document.querySelector('#ticker li.fresh') !== null`)
		analyst.wait("refreshed figures", `document.querySelector('#dash-updated').textContent !== window.__updated`)
		if !evalJS[bool](analyst, `window.__noReload === true`) {
			t.Errorf("the page reloaded")
		}
		if after := evalJS[string](analyst, layout); after != before {
			t.Errorf("the dashboard's layout moved on a live update:\nbefore %s\nafter  %s", before, after)
		}
		// The light theme, and the wall screen.
		analyst.do("switch theme", chromedp.Click(chromedp.CSS("#theme-toggle")))
		analyst.wait("the light theme", `document.documentElement.dataset.theme === 'light'`)
		analyst.shot("dashboard-light")
		analyst.do("switch theme back", chromedp.Click(chromedp.CSS("#theme-toggle")))
		analyst.open("/ui/?wall=1")
		analyst.wait("the wall screen", `document.body.classList.contains('wall') && /[1-9]/.test((document.querySelector('#kpi-today') || {}).textContent)`)
		analyst.shot("dashboard-wall")
	})

	// Triage one alert from the queue through to closed, and find it in the audit trail.
	t.Run("triage", func(t *testing.T) {
		analyst.use(t)
		analyst.open("/ui/alerts?level=high,critical")
		analyst.wait("the alert queue", `document.querySelectorAll('table.queue tbody tr[data-id]').length > 0`)
		analyst.shot("queue")
		id := evalJS[string](analyst, `document.querySelector('table.queue tbody tr.cursor').dataset.id`)
		// New alerts are announced, not inserted under the analyst's cursor.
		analyst.wait("live arrivals announced", `!document.querySelector('#q-new').hidden`)
		if got := evalJS[string](analyst, `document.querySelector('table.queue tbody tr').dataset.id`); got != id {
			t.Errorf("a live arrival moved the queue: first row %s, was %s", got, id)
		}
		for _, r := range []struct{ method, path string }{{"PATCH", "/api/v1/alerts/" + id}, {"GET", "/api/v1/alerts/" + id}} {
			if !env.apiHas(t, r.method, r.path) {
				t.Fatalf("the API has no %s /api/v1/alerts/{id} yet: triage and the audit trail cannot be tested until the server provides it", r.method)
			}
		}
		// Keyboard: select the first alert (x) and acknowledge it (a).
		analyst.do("select and acknowledge", chromedp.KeyEvent("x"), chromedp.KeyEvent("a"))
		analyst.wait("the acknowledged status", fmt.Sprintf(`(() => { const r = document.querySelector('tr[data-id=%q]'); return r && r.querySelector('.st-acknowledged'); })()`, id))
		analyst.do("open the alert", chromedp.KeyEvent("\r"))
		analyst.wait("the alert detail", `document.querySelector('#alert-title') && document.querySelector('#rule-author')`)
		analyst.wait("the audit entry of the acknowledgement", `document.querySelector('#audit-list li[data-to=acknowledged]')`)
		analyst.do("close", chromedp.Click(chromedp.CSS("#t-close")))
		analyst.do("resolution", chromedp.WaitVisible(chromedp.CSS("#close-resolution")),
			chromedp.SetValue(chromedp.CSS("#close-resolution"), "true_positive"),
			chromedp.SendKeys(chromedp.CSS("#close-comment"), "Confirmed with the organisation; host isolated."))
		analyst.shot("alert-close-dialog")
		analyst.do("confirm close", chromedp.Click(chromedp.CSS("dialog button.primary")))
		analyst.wait("the closed status", `document.querySelector('#t-status .st-closed') !== null`)
		analyst.wait("the audit entry of the closing", `document.querySelector('#audit-list li[data-to=closed]') !== null`)
		if c := evalJS[string](analyst, `document.querySelector('#audit').textContent`); !strings.Contains(c, info.Username) || !strings.Contains(c, "host isolated") {
			t.Errorf("audit trail = %q, want the analyst and the comment", c)
		}
		if r := evalJS[string](analyst, `document.querySelector('#t-resolution').textContent`); r != "true positive" {
			t.Errorf("resolution shown = %q", r)
		}
		analyst.shot("alert-closed")
		analyst.fullShot("alert-closed-full")
		// The closed alert is in the queue of closed alerts.
		analyst.open("/ui/alerts?status=closed")
		analyst.wait("the closed alert in the queue", fmt.Sprintf(`document.querySelector('tr[data-id=%q]') !== null`, id))
	})

	// Search events, then pivot on a value.
	t.Run("investigate", func(t *testing.T) {
		analyst.use(t)
		analyst.open("/ui/search")
		analyst.do("search form", chromedp.WaitVisible(chromedp.CSS("#s-q")))
		analyst.do("free-text search", chromedp.SendKeys(chromedp.CSS("#s-q"), "vssadmin"), chromedp.Click(chromedp.CSS("#s-go")))
		analyst.wait("results", `document.querySelectorAll('#s-table tbody tr[data-i]').length > 0`)
		analyst.wait("the histogram", `document.querySelector('#s-hist canvas') !== null`)
		if u := analyst.location(); !strings.Contains(u, "q=vssadmin") {
			t.Errorf("the search is not in the URL: %s", u)
		}
		analyst.shot("search")
		// Choose a column with the field picker.
		analyst.do("open the field picker", chromedp.Click(chromedp.CSS("#s-columns")))
		analyst.wait("field names", `document.querySelectorAll('#s-picker input[value=CommandLine]').length === 1`)
		analyst.do("add the CommandLine column", chromedp.Click(chromedp.CSS("#s-picker input[value=CommandLine]")), chromedp.Click(chromedp.CSS("#s-columns")))
		analyst.wait("the CommandLine column", `[...document.querySelectorAll('#s-table thead th')].some(th => th.textContent === 'CommandLine')`)
		// Pivot on the host of the first result: every organisation's events of that host.
		host := evalJS[string](analyst, `document.querySelector('#s-table tbody tr[data-i] td:nth-child(4) a.pv').textContent`)
		analyst.do("pivot on host "+host, chromedp.Click(chromedp.CSS("#s-table tbody tr[data-i] td:nth-child(4) a.pv")))
		analyst.wait("the pivot search", `location.search.includes('field=host')`)
		analyst.wait("pivot results", `document.querySelectorAll('#s-table tbody tr[data-i]').length > 0`)
		hosts := evalJS[[]string](analyst, `[...document.querySelectorAll('#s-table tbody tr[data-i] td:nth-child(4)')].map(td => td.textContent)`)
		for _, h := range hosts {
			if !strings.EqualFold(h, host) {
				t.Errorf("pivot on host %q shows an event of host %q", host, h)
			}
		}
		if n := evalJS[int](analyst, `document.querySelectorAll('#s-filters .chip').length`); n != 1 {
			t.Errorf("pivot shows %d filter chips, want 1", n)
		}
		analyst.shot("search-pivot")
		// The other screens, for the record.
		analyst.open("/ui/orgs")
		analyst.wait("the organisations", `document.querySelectorAll('#o-list tbody tr').length >= 10`)
		analyst.shot("orgs")
		analyst.do("open an organisation", chromedp.Click(chromedp.CSS("#o-list tbody tr a")))
		analyst.wait("the organisation page", `document.querySelector('#org-name') && document.querySelector('#org-chart canvas')`)
		analyst.shot("org")
		analyst.open("/ui/rules")
		analyst.wait("the rules", `document.querySelectorAll('#r-list tbody tr').length > 0`)
		analyst.shot("rules")
		if n := evalJS[int](analyst, `document.querySelectorAll('a[href="/ui/admin"]').length`); n != 0 {
			t.Errorf("a national analyst sees the administration link")
		}
	})

	// A national analyst uploads a rule: an invalid one is refused with its
	// problem and line, a valid one is installed and listed.
	t.Run("rule upload", func(t *testing.T) {
		analyst.use(t)
		analyst.open("/ui/rules")
		analyst.wait("the rules", `document.querySelectorAll('#r-list tbody tr').length > 0`)
		analyst.do("open the upload form", chromedp.Click(chromedp.CSS("#r-upload > summary")), chromedp.WaitVisible(chromedp.CSS("#ru-yaml")))
		bad := "title: Broken upload\nid: 5b0c8e7e-0000-4000-8000-00000000bad1\nlogsource:\n  category: process_creation\n  product: windows\ndetection:\n  sel:\n    Image|nope: x.exe\n  condition: sel\n"
		analyst.do("paste an invalid rule",
			chromedp.SetValue(chromedp.CSS("#ru-name"), "broken.yml"),
			chromedp.SetValue(chromedp.CSS("#ru-yaml"), bad),
			chromedp.Click(chromedp.CSS("#ru-submit")))
		analyst.wait("the problem with its line", `[...document.querySelectorAll('#ru-problems li')].some(li => li.textContent.includes('broken.yml:8:') && li.textContent.includes('nope'))`)
		analyst.shot("rules-upload-invalid")
		id := fmt.Sprintf("5b0c8e7e-%04x-4000-8000-%012x", os.Getpid()&0xffff, time.Now().UnixNano()&0xffffffffffff)
		title := "Console upload " + id[len(id)-6:]
		good := fmt.Sprintf("title: %s\nid: %s\nstatus: experimental\nlevel: low\nlogsource:\n  category: process_creation\n  product: windows\ndetection:\n  sel:\n    Image|endswith: '\\mamori-upload-test.exe'\n  condition: sel\n", title, id)
		file := filepath.Join(t.TempDir(), "console-upload.yml")
		if err := os.WriteFile(file, []byte(good), 0o644); err != nil {
			t.Fatal(err)
		}
		analyst.do("pick a valid rule file", chromedp.SetUploadFiles(chromedp.CSS("#ru-file"), []string{file}))
		analyst.wait("the file read", fmt.Sprintf(`document.querySelector('#ru-yaml').value.includes(%q) && document.querySelector('#ru-name').value === 'console-upload.yml'`, id))
		analyst.do("upload it", chromedp.Click(chromedp.CSS("#ru-submit")))
		analyst.wait("the success", fmt.Sprintf(`document.querySelector('#ru-status.ok') !== null && document.querySelector('#ru-status').textContent.includes(%q) && document.querySelector('#ru-problems').hidden`, id))
		analyst.wait("the new rule in the list", fmt.Sprintf(`(() => { const r = document.querySelector('#r-list tr[data-rule=%q]'); return r !== null && r.textContent.includes(%q); })()`, id, title))
		analyst.shot("rules-upload")
	})

	// A national analyst switches a rule off for one organisation, then logs out.
	t.Run("rules and logout", func(t *testing.T) {
		analyst.use(t)
		var orgs struct {
			Orgs []struct{ ID string } `json:"orgs"`
		}
		env.apiGet(t, "/api/v1/orgs", &orgs)
		org := orgs.Orgs[0].ID
		analyst.open("/ui/rules?org=" + org)
		analyst.wait("the rule switches", `document.querySelectorAll('#r-list tbody tr label.switch').length > 0`)
		rule := evalJS[string](analyst, `document.querySelector('#r-list tbody tr').dataset.rule`)
		analyst.do("switch the rule off", chromedp.Click(chromedp.CSS("#r-list tbody tr:first-child .slider")))
		analyst.wait("the rule shown disabled", fmt.Sprintf(`document.querySelector('tr[data-rule=%q]').classList.contains('disabled')`, rule))
		var rules struct {
			Rules []struct {
				ID      string `json:"id"`
				Enabled *bool  `json:"enabled"`
			} `json:"rules"`
		}
		env.apiGet(t, "/api/v1/rules?org="+org, &rules)
		for _, r := range rules.Rules {
			if r.ID == rule && (r.Enabled == nil || *r.Enabled) {
				t.Errorf("rule %s is still enabled for %s after the switch", rule, org)
			}
		}
		analyst.shot("rules-switch")
		analyst.do("switch the rule on again", chromedp.Click(chromedp.CSS(fmt.Sprintf("tr[data-rule=%q] .slider", rule))))
		analyst.wait("the rule shown enabled", fmt.Sprintf(`!document.querySelector('tr[data-rule=%q]').classList.contains('disabled')`, rule))

		analyst.do("log out", chromedp.Click(chromedp.CSS("#logout")))
		analyst.wait("the login page", `document.querySelector('#login-user') !== null`)
		analyst.open("/ui/alerts")
		analyst.wait("the login page again", `document.querySelector('#login-user') !== null && location.search.includes('next=')`)
	})

	// The national admin manages users and tokens.
	t.Run("administration", func(t *testing.T) {
		admin := env.newTab(t)
		admin.login("admin", info.Password)
		admin.open("/ui/admin")
		admin.wait("users and tokens", `document.querySelectorAll('#a-users tbody tr').length >= 2 && document.querySelectorAll('#a-tokens tbody tr').length > 0`)
		admin.do("create a token", chromedp.SendKeys(chromedp.CSS("#k-name"), "console test"),
			chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#k-role'); s.value = 'national_analyst'; s.dispatchEvent(new Event('change')); })()`),
			chromedp.Click(chromedp.CSS("#k-create")))
		admin.wait("the secret shown once", `document.querySelector('#k-secret') && document.querySelector('#k-secret').textContent.startsWith('mmr_')`)
		admin.shot("admin-token")
		admin.do("dismiss", chromedp.Click(chromedp.CSS("dialog button.primary")))
		admin.shot("admin")
	})

	// An organisation's analyst sees only its organisation, and cannot reach
	// another's alert by its URL; a viewer gets no triage control.
	t.Run("isolation", func(t *testing.T) {
		var alerts alertsResp
		env.apiGet(t, "/api/v1/alerts?limit=1000&events=false", &alerts)
		orgs := map[string]int{}
		for _, a := range alerts.Alerts {
			orgs[a.OrgID]++
		}
		if len(orgs) < 2 {
			t.Fatalf("alerts of %d organisations, want 2 or more", len(orgs))
		}
		own, ownName := alerts.Alerts[0].OrgID, alerts.Alerts[0].Org
		var other string
		var otherHost string
		for _, a := range alerts.Alerts {
			if a.OrgID != own {
				other = a.ID
				otherHost = a.Host
				break
			}
		}
		ctx := context.Background()
		pw := "org-analyst-pw-0123"
		if err := env.demo.srv.Auth().AddUser(ctx, "orga", pw, auth.OrgAnalyst, tenant.ID(own)); err != nil && !errors.Is(err, auth.ErrExists) {
			t.Fatal(err)
		}
		if err := env.demo.srv.Auth().AddUser(ctx, "orgv", pw, auth.OrgViewer, tenant.ID(own)); err != nil && !errors.Is(err, auth.ErrExists) {
			t.Fatal(err)
		}
		orga := env.newTab(t)
		orga.login("orga", pw)
		orga.open("/ui/alerts?status=all")
		orga.wait("the organisation's queue", `document.querySelectorAll('table.queue tbody tr[data-id]').length > 0`)
		ids := evalJS[[]string](orga, `[...document.querySelectorAll('table.queue tbody tr[data-id]')].map(r => r.dataset.id)`)
		if slices.Contains(ids, other) {
			t.Errorf("the org analyst of %s sees alert %s of another organisation", own, other)
		}
		if n := evalJS[int](orga, `document.querySelectorAll('#f-org, #f-sector, a[href="/ui/admin"]').length`); n != 0 {
			t.Errorf("the org analyst sees %d organisation/sector filters or admin links", n)
		}
		orga.shot("isolation-queue")
		orga.open("/ui/alerts/" + other)
		orga.wait("not found", `document.querySelector('#alert-notfound') !== null`)
		if txt := evalJS[string](orga, `document.querySelector('main').textContent`); strings.Contains(txt, otherHost) && otherHost != "" {
			t.Errorf("the not-found page shows the other organisation's host %q", otherHost)
		}
		orga.shot("isolation-alert")
		orga.open("/ui/orgs")
		orga.wait("the organisation list", `document.querySelectorAll('#o-list tbody tr').length > 0`)
		if rows := evalJS[[]string](orga, `[...document.querySelectorAll('#o-list tbody tr')].map(r => r.dataset.org)`); len(rows) != 1 || rows[0] != own {
			t.Errorf("the org analyst of %s lists organisations %v", own, rows)
		}
		if otherHost != "" {
			// The other organisation's host, searched from every angle, shows only the own organisation's events.
			orga.open("/ui/search?since=all&q=" + otherHost)
			orga.wait("the search answer", `document.querySelector('#s-table') !== null`)
			for _, o := range evalJS[[]string](orga, `[...document.querySelectorAll('#s-table tbody tr[data-i] td:nth-child(3)')].map(td => td.textContent)`) {
				if o != ownName {
					t.Errorf("the org analyst of %s finds an event of %q", own, o)
				}
			}
		}
		orga.open("/ui/admin")
		orga.wait("no administration", `document.querySelector('.notfound') !== null && document.querySelector('#a-users') === null`)

		viewer := env.newTab(t)
		viewer.login("orgv", pw)
		viewer.open("/ui/alerts?status=all")
		viewer.wait("the viewer's queue", `document.querySelectorAll('table.queue tbody tr[data-id]').length > 0`)
		if n := evalJS[int](viewer, `document.querySelectorAll('#bulk, input.rowsel').length`); n != 0 {
			t.Errorf("a viewer sees %d triage controls in the queue", n)
		}
		viewer.do("open an alert", chromedp.KeyEvent("\r"))
		viewer.wait("the alert detail", `document.querySelector('#triage') !== null`)
		if n := evalJS[int](viewer, `document.querySelectorAll('#t-save, #t-close, #t-ack, #t-status-sel').length`); n != 0 {
			t.Errorf("a viewer sees %d triage controls on the alert", n)
		}
		viewer.shot("viewer-alert")
	})
}
