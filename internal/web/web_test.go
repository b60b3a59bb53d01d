package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// assetPrefix reads the asset prefix from the served index.html.
func assetPrefix(t *testing.T, h http.Handler) string {
	t.Helper()
	body := get(t, h, "GET", "/ui/", nil).Body.String()
	m := regexp.MustCompile(`src="(/ui/assets/[0-9a-f]{12}/)js/main\.js"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("index.html has no module script under /ui/assets/<hash>/:\n%s", body)
	}
	return m[1]
}

// TestRoutes: every client-side route answers the shell, assets answer
// themselves with their type, and what does not exist is a 404, not HTML.
func TestRoutes(t *testing.T) {
	h := Handler()
	prefix := assetPrefix(t, h)
	tests := []struct {
		method, path string
		code         int
		ctype        string
		cache        string
		contains     string
	}{
		{"GET", "/ui/", 200, "text/html; charset=utf-8", "no-cache", `<div id="app">`},
		{"GET", "/ui/alerts", 200, "text/html; charset=utf-8", "no-cache", `<div id="app">`},
		{"GET", "/ui/alerts/0123abcd", 200, "text/html; charset=utf-8", "no-cache", `<div id="app">`},
		{"GET", "/ui/search", 200, "text/html; charset=utf-8", "no-cache", `<div id="app">`},
		{"GET", "/ui/orgs/ministry-of-health", 200, "text/html; charset=utf-8", "no-cache", `<div id="app">`},
		{"HEAD", "/ui/rules", 200, "text/html; charset=utf-8", "no-cache", ""},
		{"GET", prefix + "js/main.js", 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", "import"},
		{"GET", prefix + "css/app.css", 200, "text/css; charset=utf-8", "public, max-age=31536000, immutable", "--bg"},
		{"GET", prefix + "img/favicon.svg", 200, "image/svg+xml", "public, max-age=31536000, immutable", "<svg"},
		{"GET", prefix + "vendor/echarts.min.js", 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", "Apache ECharts"},
		{"GET", "/ui/assets/000000000000/js/main.js", 200, "text/javascript; charset=utf-8", "no-cache", "import"}, // a page from before an upgrade
		{"GET", prefix + "js/missing.js", 404, "", "", ""},
		{"GET", prefix + "../index.html", 404, "", "", ""},
		{"GET", "/ui/main.js", 404, "", "", ""}, // a file name never gets the HTML shell
		{"GET", "/ui/favicon.ico", 404, "", "", ""},
		{"POST", "/ui/alerts", 405, "", "", ""},
		{"GET", "/ui/logout", 405, "", "", ""},
	}
	for _, tc := range tests {
		rec := get(t, h, tc.method, tc.path, nil)
		if rec.Code != tc.code {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, rec.Code, tc.code)
			continue
		}
		if tc.code != 200 {
			if strings.Contains(rec.Body.String(), `<div id="app">`) {
				t.Errorf("%s %s: %d with the HTML shell", tc.method, tc.path, rec.Code)
			}
			continue
		}
		if got := rec.Header().Get("Content-Type"); got != tc.ctype {
			t.Errorf("%s %s: Content-Type %q, want %q", tc.method, tc.path, got, tc.ctype)
		}
		if got := rec.Header().Get("Cache-Control"); got != tc.cache {
			t.Errorf("%s %s: Cache-Control %q, want %q", tc.method, tc.path, got, tc.cache)
		}
		if rec.Header().Get("ETag") == "" {
			t.Errorf("%s %s: no ETag", tc.method, tc.path)
		}
		if tc.method == "HEAD" && rec.Body.Len() != 0 {
			t.Errorf("HEAD %s: a body of %d bytes", tc.path, rec.Body.Len())
		}
		if !strings.Contains(rec.Body.String(), tc.contains) {
			t.Errorf("%s %s: body does not contain %q", tc.method, tc.path, tc.contains)
		}
	}
}

// TestSecurityHeaders: every answer forbids inline scripts, framing and
// type sniffing.
func TestSecurityHeaders(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/ui/", assetPrefix(t, h) + "js/main.js", "/ui/nope.js"} {
		rec := get(t, h, "GET", p, nil)
		csp := rec.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "script-src 'self' 'unsafe") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s: CSP %q", p, csp)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", p)
		}
	}
}

// TestEmbedded: the files the console needs are in the binary, every module
// it imports exists, and the vendored library carries its licence.
func TestEmbedded(t *testing.T) {
	sub, err := fs.Sub(embedded, "static")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"index.html", "css/app.css", "js/main.js", "img/favicon.svg",
		"vendor/echarts.min.js", "vendor/LICENSE-echarts.txt", "vendor/NOTICE-echarts.txt", "vendor/LICENSE-zrender.txt", "vendor/VERSIONS.txt"} {
		if _, err := fs.Stat(sub, name); err != nil {
			t.Errorf("%s is not embedded: %v", name, err)
		}
	}
	// Every relative import of every module resolves to an embedded file.
	imp := regexp.MustCompile(`(?m)^\s*(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'|^\s*import\s+'(\.[^']+)'`)
	err = fs.WalkDir(sub, "js", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		b, _ := fs.ReadFile(sub, p)
		for _, m := range imp.FindAllStringSubmatch(string(b), -1) {
			target := m[1] + m[2]
			dir := p[:strings.LastIndex(p, "/")]
			resolved := cleanJoin(dir, target)
			if _, err := fs.Stat(sub, resolved); err != nil {
				t.Errorf("%s imports %q: %s is not embedded", p, target, resolved)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := fs.ReadFile(sub, "vendor/echarts.min.js")
	if !bytes.HasPrefix(b, []byte("/*! Apache ECharts")) {
		t.Errorf("vendor/echarts.min.js does not start with its licence banner")
	}
}

func cleanJoin(dir, rel string) string {
	parts := strings.Split(dir, "/")
	for _, seg := range strings.Split(rel, "/") {
		switch seg {
		case ".":
		case "..":
			parts = parts[:len(parts)-1]
		default:
			parts = append(parts, seg)
		}
	}
	return strings.Join(parts, "/")
}

// TestConditionalAndGzip: ETags answer 304; text goes compressed to
// clients that accept gzip, and decompresses to the same bytes.
func TestConditionalAndGzip(t *testing.T) {
	h := Handler()
	p := assetPrefix(t, h) + "vendor/echarts.min.js"
	plain := get(t, h, "GET", p, nil)
	etag := plain.Header().Get("ETag")
	if rec := get(t, h, "GET", p, map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("If-None-Match %s: %d with %d bytes, want 304 and nothing", etag, rec.Code, rec.Body.Len())
	}
	if rec := get(t, h, "GET", "/ui/alerts", map[string]string{"If-None-Match": get(t, h, "GET", "/ui/", nil).Header().Get("ETag")}); rec.Code != http.StatusNotModified {
		t.Errorf("index.html with its ETag: %d, want 304", rec.Code)
	}
	gz := get(t, h, "GET", p, map[string]string{"Accept-Encoding": "br, gzip"})
	if gz.Header().Get("Content-Encoding") != "gzip" || !strings.Contains(gz.Header().Get("Vary"), "Accept-Encoding") {
		t.Fatalf("Accept-Encoding gzip: Content-Encoding %q, Vary %q", gz.Header().Get("Content-Encoding"), gz.Header().Get("Vary"))
	}
	if gz.Body.Len() >= plain.Body.Len()/2 {
		t.Errorf("gzip body %d bytes for %d plain", gz.Body.Len(), plain.Body.Len())
	}
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	if !bytes.Equal(got, plain.Body.Bytes()) {
		t.Errorf("gzip body does not decompress to the file")
	}
	if rec := get(t, h, "GET", p, map[string]string{"Accept-Encoding": "gzip;q=0"}); rec.Header().Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 still got gzip")
	}
}

// TestAssetHashChanges: the asset prefix is a digest of the whole tree, so
// any change to any file gives every asset a new URL.
func TestAssetHashChanges(t *testing.T) {
	files := fstest.MapFS{
		"index.html":  {Data: []byte(`<script src="%ASSETS%js/main.js"></script>`)},
		"js/main.js":  {Data: []byte(`import './lib/a.js';`)},
		"js/lib/a.js": {Data: []byte(`export const a = 1;`)},
	}
	h1, err := newHandler(files)
	if err != nil {
		t.Fatal(err)
	}
	files["js/lib/a.js"] = &fstest.MapFile{Data: []byte(`export const a = 2;`)}
	h2, err := newHandler(files)
	if err != nil {
		t.Fatal(err)
	}
	if h1.hash == h2.hash {
		t.Errorf("a changed module kept the asset hash %s", h1.hash)
	}
	if body := get(t, h2, "GET", "/ui/", nil).Body.String(); body != `<script src="/ui/assets/`+h2.hash+`/js/main.js"></script>` {
		t.Errorf("index.html = %s", body)
	}
	if _, err := newHandler(fstest.MapFS{"js/main.js": {Data: []byte("x")}}); err == nil {
		t.Errorf("a tree without index.html was accepted")
	}
}

// TestStrippedPrefix: mounted behind http.StripPrefix, the console still serves.
func TestStrippedPrefix(t *testing.T) {
	h := http.StripPrefix("/ui", Handler())
	if rec := get(t, h, "GET", "/ui/alerts", nil); rec.Code != 200 || !strings.Contains(rec.Body.String(), `<div id="app">`) {
		t.Errorf("stripped /ui/alerts: %d", rec.Code)
	}
	prefix := assetPrefix(t, Handler())
	if rec := get(t, h, "GET", prefix+"js/main.js", nil); rec.Code != 200 {
		t.Errorf("stripped %sjs/main.js: %d", prefix, rec.Code)
	}
}

// TestLogout clears the session cookie for the whole site.
func TestLogout(t *testing.T) {
	rec := get(t, Handler(), "POST", "/ui/logout", nil)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("POST /ui/logout: %d", rec.Code)
	}
	c := rec.Result().Cookies()
	if len(c) != 1 || c[0].Name != "mamori_session" || c[0].Value != "" || c[0].MaxAge >= 0 || c[0].Path != "/" || !c[0].HttpOnly {
		t.Errorf("logout cookie = %+v", c)
	}
}

// TestRegister mounts the console beside routes like the ingest API's
// "POST /{index}/_bulk" without a pattern conflict.
func TestRegister(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{index}/_bulk", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) })
	mux.HandleFunc("GET /api/v1/me", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(298) })
	Register(mux)
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/ui/", 200},
		{"HEAD", "/ui/alerts", 200},
		{"GET", "/ui", http.StatusTemporaryRedirect},
		{"POST", "/ui/logout", http.StatusNoContent},
		{"POST", "/ui/_bulk", 299}, // an index named "ui" still takes bulk requests
		{"GET", "/api/v1/me", 298},
	} {
		if rec := get(t, mux, c.method, c.path, nil); rec.Code != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, rec.Code, c.code)
		}
	}
}
