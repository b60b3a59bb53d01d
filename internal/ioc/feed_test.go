package ioc

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// feedServer serves feeds whose bodies and status codes tests change.
type feedServer struct {
	mu     sync.Mutex
	bodies map[string][]byte
	codes  map[string]int
	hits   map[string]int
	srv    *httptest.Server
}

func newFeedServer(t *testing.T) *feedServer {
	fs := &feedServer{bodies: map[string][]byte{}, codes: map[string]int{}, hits: map[string]int{}}
	fs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		body, code := fs.bodies[r.URL.Path], fs.codes[r.URL.Path]
		fs.hits[r.URL.Path]++
		fs.mu.Unlock()
		if r.URL.Path == "/keyed" && r.Header.Get("Auth-Key") != "secret" {
			http.Error(w, "no key", http.StatusUnauthorized)
			return
		}
		if code != 0 && code != http.StatusOK {
			http.Error(w, "upstream is down", code)
			return
		}
		etag := `"` + MakeID("", "", string(body))[5:15] + `"`
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Write(body)
	}))
	t.Cleanup(fs.srv.Close)
	return fs
}

func (fs *feedServer) set(path string, body []byte, code int) {
	fs.mu.Lock()
	fs.bodies[path], fs.codes[path] = body, code
	fs.mu.Unlock()
}

func (fs *feedServer) count(path string) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.hits[path]
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPuller(t *testing.T) {
	ctx := context.Background()
	fs := newFeedServer(t)
	store := openStore(t)
	fs.set("/drop.txt", readTestdata(t, "lists/drop.txt"), 0)
	fs.set("/bundle.json", readTestdata(t, "stix/bundle.json"), 0)
	fs.set("/event.json", readTestdata(t, "misp/event.json"), 0)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(readTestdata(t, "lists/feodo.csv"))
	zw.Close()
	fs.set("/feodo.csv.gz", gz.Bytes(), 0)
	var zb bytes.Buffer
	zz := zip.NewWriter(&zb)
	w, _ := zz.Create("csv.txt")
	w.Write(readTestdata(t, "lists/urlhaus.csv"))
	zz.Close()
	fs.set("/urlhaus.zip", zb.Bytes(), 0)
	fs.set("/keyed", []byte("evil.example\n"), 0)

	var changes atomic.Int32
	feeds := []Feed{
		{Name: "drop", URL: fs.srv.URL + "/drop.txt", Format: "list", Confidence: 90, TLP: "green"},
		{Name: "cert", URL: fs.srv.URL + "/bundle.json", Format: "stix"},
		{Name: "misp", URL: fs.srv.URL + "/event.json", Format: "misp", TLP: "amber"},
		{Name: "feodo", URL: fs.srv.URL + "/feodo.csv.gz", Format: "csv", Labels: []string{"botnet"}},
		{Name: "urlhaus", URL: fs.srv.URL + "/urlhaus.zip", Format: "csv", Lifetime: 7 * 24 * time.Hour},
		{Name: "keyed", URL: fs.srv.URL + "/keyed", Format: "list", Header: map[string]string{"Auth-Key": "secret"}},
	}
	p, err := NewPuller(store, feeds, PullerConfig{OnChange: func() { changes.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range feeds {
		if err := p.Pull(ctx, f.Name); err != nil {
			t.Errorf("Pull(%s): %v", f.Name, err)
		}
	}
	counts, _ := store.Sources(ctx)
	want := map[string]int{"drop": 2, "cert": 10, "misp": 7, "feodo": 2, "urlhaus": 3, "keyed": 1}
	for name, n := range want {
		if counts[name] != n {
			t.Errorf("%s: %d indicators stored, want %d", name, counts[name], n)
		}
	}
	if changes.Load() != int32(len(feeds)) {
		t.Errorf("OnChange called %d times, want %d", changes.Load(), len(feeds))
	}
	drop, _, _ := store.List(ctx, Query{Source: "drop"})
	if drop[0].Confidence != 90 || drop[0].TLP != TLPGreen {
		t.Errorf("drop indicator %+v: want the feed's confidence and TLP", drop[0])
	}
	cert, _, _ := store.List(ctx, Query{Source: "cert", Text: "198.51.100.7"})
	if len(cert) != 1 || cert[0].Confidence != 85 || cert[0].TLP != TLPGreen {
		t.Errorf("STIX indicator %+v: want its own confidence and TLP", cert)
	}
	feodo, _, _ := store.List(ctx, Query{Source: "feodo"})
	if len(feodo) == 0 || feodo[0].Labels[0] != "botnet" {
		t.Errorf("feodo labels: %+v", feodo)
	}
	urlhaus, _, _ := store.List(ctx, Query{Source: "urlhaus"})
	if len(urlhaus) == 0 || urlhaus[0].Lifetime != 7*24*time.Hour {
		t.Errorf("urlhaus lifetime: %+v", urlhaus)
	}
	st := statusOf(p, "cert")
	if st.LastOK.IsZero() || st.LastError != "" || st.Indicators != 10 || st.ItemErrors != 7 || len(st.FirstItemErrors) != 7 {
		t.Errorf("cert status %+v", st)
	}

	// Unchanged body: a 304, nothing rewritten.
	before := changes.Load()
	if err := p.Pull(ctx, "drop"); err != nil {
		t.Fatal(err)
	}
	if st := statusOf(p, "drop"); changes.Load() != before || st.Indicators != 2 {
		t.Errorf("304: OnChange %d → %d, status %+v", before, changes.Load(), st)
	}

	// Failures keep the last good indicators and are recorded.
	okAt := statusOf(p, "drop").LastOK
	for _, tc := range []struct {
		name, path string
		body       string
		code       int
		want       string
	}{
		{"http error", "/drop.txt", "", http.StatusBadGateway, `HTTP 502 Bad Gateway: "upstream is down"`},
		{"empty", "/drop.txt", " \n", 0, "empty body"},
		{"nothing valid", "/drop.txt", "not-an-ioc\n", 0, "no indicator, 1 errors"},
		{"not STIX", "/bundle.json", "<html>", 0, "STIX: not a bundle"},
		{"not MISP", "/event.json", `{"x":1}`, 0, `no "Event"`},
		{"bad gzip", "/feodo.csv.gz", "\x1f\x8bnope", 0, "gzip"},
		{"too big", "/drop.txt", strings.Repeat("192.0.2.1\n", 200), 0, "larger than 1000 bytes"},
	} {
		fs.set(tc.path, []byte(tc.body), tc.code)
		name := map[string]string{"/drop.txt": "drop", "/bundle.json": "cert", "/event.json": "misp", "/feodo.csv.gz": "feodo"}[tc.path]
		pp := p
		if tc.name == "too big" {
			pp, _ = NewPuller(store, feeds, PullerConfig{MaxBody: 1000})
		}
		err := pp.Pull(ctx, name)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Pull error = %v, want %q", tc.name, err, tc.want)
		}
		st := statusOf(pp, name)
		if !strings.Contains(st.LastError, tc.want) || st.LastErrorAt.IsZero() {
			t.Errorf("%s: status %+v", tc.name, st)
		}
		if counts2, _ := store.Sources(ctx); counts2[name] != want[name] {
			t.Errorf("%s: %d indicators left, want the last good %d", tc.name, counts2[name], want[name])
		}
	}
	if st := statusOf(p, "drop"); !st.LastOK.Equal(okAt) {
		t.Errorf("a failure moved LastOK: %v → %v", okAt, st.LastOK)
	}

	// Recovery with new content replaces the feed's indicators.
	fs.set("/drop.txt", []byte("203.0.113.0/24 ; SBL9\n"), 0)
	if err := p.Pull(ctx, "drop"); err != nil {
		t.Fatal(err)
	}
	st = statusOf(p, "drop")
	if st.LastError != "" || st.Indicators != 1 || st.Added != 1 || st.Removed != 2 {
		t.Errorf("after recovery: %+v", st)
	}

	if err := p.Pull(ctx, "nope"); err == nil {
		t.Error("Pull of an unknown feed succeeded")
	}
}

func statusOf(p *Puller, name string) FeedStatus {
	for _, st := range p.Status() {
		if st.Name == name {
			return st
		}
	}
	return FeedStatus{}
}

func TestPullerRun(t *testing.T) {
	fs := newFeedServer(t)
	store := openStore(t)
	fs.set("/a", []byte("a.example\n"), 0)
	fs.set("/b", []byte("b.example\n"), http.StatusInternalServerError)
	p, err := NewPuller(store, []Feed{
		{Name: "a", URL: fs.srv.URL + "/a", Format: "list"},
		{Name: "b", URL: fs.srv.URL + "/b", Format: "list"},
	}, PullerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	checkFor(t, 5*time.Second, func() bool {
		a, b := statusOf(p, "a"), statusOf(p, "b")
		return !a.LastOK.IsZero() && !a.NextPull.IsZero() && b.LastError != "" && !b.NextPull.IsZero()
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if fs.count("/a") != 1 {
		t.Errorf("feed a pulled %d times, want 1", fs.count("/a"))
	}
}

func TestNewPullerChecks(t *testing.T) {
	for _, tc := range []struct {
		feeds []Feed
		want  string
	}{
		{[]Feed{{URL: "http://x/", Format: "list"}}, "feed has no name"},
		{[]Feed{{Name: "a", URL: "file:///etc/passwd", Format: "list"}}, "not an http or https URL"},
		{[]Feed{{Name: "a", URL: "http://x/", Format: "xml"}}, `format "xml"`},
		{[]Feed{{Name: "a", URL: "http://x/", Format: "list", TLP: "purple"}}, `TLP "purple"`},
		{[]Feed{{Name: "a", URL: "http://x/", Format: "list", Confidence: 500}}, "confidence 500"},
		{[]Feed{{Name: "a", URL: "http://x/", Format: "list", Kind: "mac"}}, `kind "mac"`},
		{[]Feed{{Name: "a", URL: "http://x/", Format: "list"}, {Name: "a", URL: "http://y/", Format: "csv"}}, `two feeds are named "a"`},
	} {
		if _, err := NewPuller(nil, tc.feeds, PullerConfig{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewPuller(%+v) = %v, want %q", tc.feeds, err, tc.want)
		}
	}
}

// checkFor polls cond until it holds or d passes.
func checkFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
