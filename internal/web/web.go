package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"
)

//go:embed static
var embedded embed.FS

// Prefix is the path the console is served under. Handler expects to be
// mounted there without stripping it (mux.Handle(web.Prefix, web.Handler())),
// and also accepts requests whose prefix was stripped.
const Prefix = "/ui/"

// assetsDir is the path segment under Prefix where static files are served,
// followed by the digest of the static tree.
const assetsDir = "assets/"

// Security headers sent with every response. The console loads scripts and
// styles from its own origin only; ECharts sets inline styles on the
// elements it creates, hence 'unsafe-inline' for styles (never for scripts).
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
		"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "same-origin",
	"X-Frame-Options":        "DENY",
}

// contentTypes is fixed here rather than taken from the system's MIME table,
// which differs between machines.
var contentTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".json":  "application/json",
	".txt":   "text/plain; charset=utf-8",
	".woff2": "font/woff2",
}

// asset is one static file, ready to serve.
type asset struct {
	body  []byte
	gz    []byte // gzip-compressed body; nil when compression does not pay
	etag  string
	ctype string
}

type handler struct {
	hash   string            // digest of the static tree, part of every asset URL
	assets map[string]*asset // by path relative to static/, e.g. "js/main.js"
	index  *asset            // index.html with the asset prefix filled in
}

// Handler serves the console under Prefix: index.html for every client-side
// route, static files under Prefix+"assets/<hash>/" with long-lived cache
// headers, and POST Prefix+"logout", which clears the session cookie.
func Handler() http.Handler {
	sub, err := fs.Sub(embedded, "static")
	if err != nil {
		panic(fmt.Sprintf("BUG: web: embedded static tree: %v", err))
	}
	h, err := newHandler(sub)
	if err != nil {
		panic(fmt.Sprintf("BUG: web: embedded static tree: %v", err))
	}
	return h
}

// Register mounts Handler on mux under Prefix. Its patterns carry their
// methods (GET, which also matches HEAD, for pages and assets; POST for
// logout) so that they cannot conflict with method-specific wildcard routes
// such as "POST /{index}/_bulk"; a plain "/ui/" pattern would.
func Register(mux *http.ServeMux) {
	h := Handler()
	mux.Handle("GET "+Prefix, h)
	mux.Handle("POST "+Prefix+"logout", h)
}

// newHandler reads every file of fsys once and prepares it for serving.
func newHandler(fsys fs.FS) (*handler, error) {
	h := &handler{assets: map[string]*asset{}}
	var names []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	tree := sha256.New()
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(tree, "%s\x00%d\x00", name, len(b))
		tree.Write(b)
		if name == "index.html" {
			continue
		}
		h.assets[name] = newAsset(name, b)
	}
	h.hash = hex.EncodeToString(tree.Sum(nil))[:12]
	idx, err := fs.ReadFile(fsys, "index.html")
	if err != nil {
		return nil, fmt.Errorf("no index.html: %w", err)
	}
	idx = bytes.ReplaceAll(idx, []byte("%ASSETS%"), []byte(Prefix+assetsDir+h.hash+"/"))
	h.index = newAsset("index.html", idx)
	return h, nil
}

func newAsset(name string, b []byte) *asset {
	sum := sha256.Sum256(b)
	a := &asset{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ctype: contentTypes[path.Ext(name)]}
	if a.ctype == "" {
		a.ctype = "application/octet-stream"
	}
	if compressible(a.ctype) && len(b) > 512 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		if buf.Len() < len(b)*9/10 {
			a.gz = buf.Bytes()
		}
	}
	return a
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.HasPrefix(ctype, "application/json") || strings.HasPrefix(ctype, "image/svg")
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range securityHeaders {
		w.Header().Set(k, v)
	}
	p := strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(Prefix, "/"))
	p = strings.TrimPrefix(p, "/")
	if p == "logout" {
		h.logout(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if rest, ok := strings.CutPrefix(p, assetsDir); ok {
		hash, name, _ := strings.Cut(rest, "/")
		a := h.assets[name]
		if a == nil {
			http.NotFound(w, r)
			return
		}
		if hash == h.hash {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			// A page loaded before an upgrade asks for an older build: give it
			// today's file, but let nobody keep it under the old name.
			w.Header().Set("Cache-Control", "no-cache")
		}
		serve(w, r, a)
		return
	}
	// Client-side routes have no file extension; a missing file must not
	// answer HTML in place of a script or an image.
	if strings.Contains(path.Base("/"+p), ".") {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	serve(w, r, h.index)
}

// serve writes a with its ETag, answering 304 when the client has it and
// sending the gzip form to clients that accept it.
func serve(w http.ResponseWriter, r *http.Request, a *asset) {
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("ETag", a.etag)
	if a.gz != nil {
		hd.Add("Vary", "Accept-Encoding")
	}
	if etagMatch(r.Header.Get("If-None-Match"), a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if a.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body = a.gz
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			return strings.ReplaceAll(params, " ", "") != "q=0"
		}
	}
	return false
}

// logout clears the HttpOnly session cookie, which the page's scripts cannot
// touch. The console first asks the API to end the session itself.
func (h *handler) logout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: "mamori_session", Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}
