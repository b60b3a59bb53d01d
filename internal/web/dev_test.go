package web

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"testing"
)

// TestDevServer serves the console from the files on disk (re-read on every
// request, so an edit shows on reload) in front of a running Mamori server,
// for working on the console. It runs only when asked:
//
//	MAMORI_WEB_DEV=127.0.0.1:8090 MAMORI_WEB_API=http://127.0.0.1:8080 \
//	  go test ./internal/web -run TestDevServer -timeout 0
func TestDevServer(t *testing.T) {
	addr, apiURL := os.Getenv("MAMORI_WEB_DEV"), os.Getenv("MAMORI_WEB_API")
	if addr == "" || apiURL == "" {
		t.Skip("a development server: set MAMORI_WEB_DEV (listen address) and MAMORI_WEB_API (a running server's URL) to start it")
	}
	target, err := url.Parse(apiURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.FlushInterval = -1 // the SSE stream
	mux := http.NewServeMux()
	mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		h, err := newHandler(os.DirFS("static"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		h.ServeHTTP(w, r)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && strings.Contains(r.Header.Get("Accept"), "text/html") {
			http.Redirect(w, r, Prefix, http.StatusFound)
			return
		}
		proxy.ServeHTTP(w, r)
	})
	t.Logf("console on http://%s%s, API from %s", addr, Prefix, apiURL)
	t.Fatal(http.ListenAndServe(addr, mux))
}
