package intel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/ioc"
)

func TestClientDiscoveryAndCollections(t *testing.T) {
	e := newTestEnv(t, nil)
	c := NewClient(ClientConfig{Token: "tok-a", Timeout: 5 * time.Second})
	ctx := context.Background()
	d, err := c.Discover(ctx, e.http.URL+"/taxii2")
	if err != nil || d.Default != e.root {
		t.Fatalf("Discover = %+v, %v", d, err)
	}
	a, err := c.APIRoot(ctx, d.Default)
	if err != nil || a.MaxContentLength == 0 {
		t.Fatalf("APIRoot = %+v, %v", a, err)
	}
	for _, ref := range []string{"sector-finance", CollectionID("sector-finance"), "MAMORI FINANCE SECTOR FEED"} {
		col, err := c.FindCollection(ctx, d.Default, ref)
		if err != nil || col.Alias != "sector-finance" || !col.CanWrite {
			t.Errorf("FindCollection(%q) = %+v, %v", ref, col, err)
		}
	}
	if _, err := c.FindCollection(ctx, d.Default, "sector-water"); err == nil {
		t.Error("org-a found another sector's feed")
	}
	// Error resources come back as *Error.
	_, err = c.Objects(ctx, d.Default, "sector-water", ObjectsQuery{})
	var te *Error
	if !errors.As(err, &te) || te.HTTPStatus != "403" || te.Title == "" {
		t.Errorf("Objects of a forbidden collection: %v", err)
	}
	_, err = NewClient(ClientConfig{}).Collections(ctx, d.Default)
	if !errors.As(err, &te) || te.HTTPStatus != "401" {
		t.Errorf("unauthenticated: %v", err)
	}
	// Add and status through the client.
	o, _ := IndicatorObject(ioc.Indicator{ID: "x", Kind: ioc.Domain, Value: "shared.example", TLP: ioc.TLPGreen, Created: time.Now()})
	st, err := c.AddObjects(ctx, d.Default, "sector-finance", []json.RawMessage{mustJSON(t, o)})
	if err != nil || st.SuccessCount != 1 {
		t.Fatalf("AddObjects = %+v, %v", st, err)
	}
	st2, err := c.Status(ctx, d.Default, st.ID)
	if err != nil || st2.ID != st.ID {
		t.Errorf("Status = %+v, %v", st2, err)
	}
}

// recorder wraps a handler and remembers the added_after of each objects request.
type recorder struct {
	h    http.Handler
	mu   sync.Mutex
	seen []string
	fail bool // answer 503 to everything
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	fail := r.fail
	if strings.HasSuffix(req.URL.Path, "/objects/") {
		r.seen = append(r.seen, req.URL.Query().Get("added_after"))
	}
	r.mu.Unlock()
	if fail {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	r.h.ServeHTTP(w, req)
}

func (r *recorder) afters() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

// flakySink fails Put number failAt (1-based) and every Put while broken.
type flakySink struct {
	*memIndicators
	mu     sync.Mutex
	n      int
	failAt int
	broken bool
}

func (f *flakySink) Put(ctx context.Context, inds []ioc.Indicator) error {
	f.mu.Lock()
	f.n++
	fail := f.broken || f.n == f.failAt
	f.mu.Unlock()
	if fail {
		return errors.New("store unavailable")
	}
	return f.memIndicators.Put(ctx, inds)
}

type memCursors struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (c *memCursors) Cursor(_ context.Context, p string) (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[p], nil
}

func (c *memCursors) SetCursor(_ context.Context, p string, t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[p] = t
	return nil
}

func greenIPs(from, n int) []ioc.Indicator {
	var out []ioc.Indicator
	for i := from; i < from+n; i++ {
		out = append(out, ioc.Indicator{ID: fmt.Sprintf("nat:%d", i), Kind: ioc.IP, Value: fmt.Sprintf("198.51.100.%d", i), TLP: ioc.TLPGreen, Source: "mamori", Created: time.Now()})
	}
	return out
}

// TestPollerAgainstServer runs our poller against our server over HTTP:
// first a full import across pages, then only what is new.
func TestPollerAgainstServer(t *testing.T) {
	e := newTestEnv(t, func(c *ServerConfig) { c.PageSize = 4 })
	rec := &recorder{h: e.srv}
	up := httptest.NewServer(rec)
	t.Cleanup(up.Close)
	e.put(t, greenIPs(1, 10)...)
	e.put(t, ioc.Indicator{ID: "nat:amber", Kind: ioc.IP, Value: "198.51.100.250", TLP: ioc.TLPAmber, Created: time.Now()})

	dst := &flakySink{memIndicators: newMemIndicators()}
	cursors := &memCursors{m: map[string]time.Time{}}
	p, err := NewPoller(PollerConfig{
		Partners: []Partner{
			{Name: "hub-basic", URL: up.URL + "/taxii2/", Collection: "indicators", User: "soc", Password: "s3cret"},
			{Name: "hub-partner", URL: up.URL + "/taxii2/api/", Collection: "Mamori indicators", Token: "tok-partner"},
		},
		Parse: testParse, Store: dst, Cursors: cursors, Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Poll(ctx, "hub-basic"); err != nil {
		t.Fatal(err)
	}
	st := p.Status()[0]
	if st.Imported != 11 || st.LastError != "" || st.LastSuccess.IsZero() || !st.Cursor.Equal(e.inds.all()[10].Added.Truncate(time.Microsecond)) {
		t.Fatalf("first poll status %+v", st)
	}
	if afters := rec.afters(); len(afters) != 3 || afters[0] != "" || afters[1] != "" {
		t.Errorf("first poll asked added_after %q (3 pages of 4, following next)", afters)
	}
	got, ok := dst.get("indicator--" + strings.TrimPrefix(IndicatorID(ioc.Indicator{ID: "nat:3"}), "indicator--"))
	if !ok || got.Source != "hub-basic" || got.Owner != "" || got.Value != "198.51.100.3" || got.TLP != ioc.TLPGreen {
		t.Errorf("imported %+v", got)
	}

	// Three new indicators: the second poll fetches those only, from the cursor.
	e.put(t, greenIPs(20, 3)...)
	if err := p.Poll(ctx, "hub-basic"); err != nil {
		t.Fatal(err)
	}
	st2 := p.Status()[0]
	if st2.Imported != 3 || st2.Total != 14 {
		t.Errorf("second poll status %+v", st2)
	}
	if afters := rec.afters(); afters[3] != formatDateAdded(st.Cursor) {
		t.Errorf("second poll asked added_after %q, want the cursor %s", afters[3], formatDateAdded(st.Cursor))
	}
	if err := p.Poll(ctx, "hub-basic"); err != nil || p.Status()[0].Imported != 0 {
		t.Errorf("third poll: %v, %+v", err, p.Status()[0])
	}
	if c, _ := cursors.Cursor(ctx, "hub-basic"); !c.Equal(st2.Cursor) {
		t.Errorf("saved cursor %s, status %s", c, st2.Cursor)
	}

	// The partner's credentials see green only: no amber crosses.
	if err := p.Poll(ctx, "hub-partner"); err != nil {
		t.Fatal(err)
	}
	if st := p.Status()[1]; st.Imported != 13 {
		t.Errorf("partner poll imported %d, want 13 (the amber one is not for partners)", st.Imported)
	}

	// A new poller with the same cursor store resumes where the old one stopped.
	p2, _ := NewPoller(PollerConfig{Partners: []Partner{{Name: "hub-basic", URL: up.URL + "/taxii2/", Collection: CollectionID("indicators"), User: "soc", Password: "s3cret"}},
		Parse: testParse, Store: dst, Cursors: cursors, Log: slog.New(slog.DiscardHandler)})
	if err := p2.Poll(ctx, "hub-basic"); err != nil || p2.Status()[0].Imported != 0 {
		t.Errorf("resumed poll: %v, %+v", err, p2.Status()[0])
	}
}

func TestPollerFailureKeepsCursor(t *testing.T) {
	e := newTestEnv(t, func(c *ServerConfig) { c.PageSize = 5 })
	rec := &recorder{h: e.srv}
	up := httptest.NewServer(rec)
	t.Cleanup(up.Close)
	e.put(t, greenIPs(1, 12)...)
	dst := &flakySink{memIndicators: newMemIndicators(), failAt: 2}
	p, err := NewPoller(PollerConfig{Partners: []Partner{{Name: "hub", URL: up.URL + "/taxii2/", Collection: "indicators", Token: "tok-soc", Timeout: 2 * time.Second}},
		Parse: testParse, Store: dst, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The store fails on the second page: the first page stays imported and the cursor covers it only.
	if err := p.Poll(ctx, "hub"); err == nil || !strings.Contains(err.Error(), "store unavailable") {
		t.Fatalf("poll with failing store: %v", err)
	}
	st := p.Status()[0]
	stored := e.inds.all()
	if st.Imported != 5 || !st.Cursor.Equal(stored[4].Added.Truncate(time.Microsecond)) || !strings.Contains(st.LastError, "store unavailable") || !st.LastSuccess.IsZero() {
		t.Fatalf("status after failure %+v", st)
	}
	// The partner is down: the error is recorded, the cursor kept.
	rec.mu.Lock()
	rec.fail = true
	rec.mu.Unlock()
	if err := p.Poll(ctx, "hub"); err == nil {
		t.Fatal("poll of a down partner succeeded")
	}
	if st2 := p.Status()[0]; !st2.Cursor.Equal(st.Cursor) || !strings.Contains(st2.LastError, "503") {
		t.Fatalf("status while down %+v", st2)
	}
	// Back up: the rest arrives.
	rec.mu.Lock()
	rec.fail = false
	rec.mu.Unlock()
	if err := p.Poll(ctx, "hub"); err != nil {
		t.Fatal(err)
	}
	if st3 := p.Status()[0]; st3.Imported != 7 || st3.LastError != "" || len(dst.all()) != 12 {
		t.Errorf("recovered poll %+v, %d stored", st3, len(dst.all()))
	}
}

func TestPollerRun(t *testing.T) {
	e := newTestEnv(t, nil)
	e.put(t, greenIPs(1, 2)...)
	dst := newMemIndicators()
	p, err := NewPoller(PollerConfig{Partners: []Partner{{Name: "hub", URL: e.http.URL + "/taxii2/", Collection: "indicators", Token: "tok-soc", Every: 20 * time.Millisecond}},
		Parse: testParse, Store: dst, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	checkFor(t, 5*time.Second, func() bool { return len(dst.all()) == 2 })
	e.put(t, greenIPs(10, 1)...)
	checkFor(t, 5*time.Second, func() bool { return len(dst.all()) == 3 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	for _, bad := range []PollerConfig{
		{Parse: testParse},
		{Parse: testParse, Store: dst, Partners: []Partner{{Name: "x", Collection: "c"}}},
		{Parse: testParse, Store: dst, Partners: []Partner{{Name: "x", URL: "u", Collection: "c"}, {Name: "x", URL: "u", Collection: "c"}}},
	} {
		if _, err := NewPoller(bad); err == nil {
			t.Errorf("NewPoller(%+v) accepted", bad)
		}
	}
}

// checkFor polls cond until it holds or d passes.
func checkFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("condition not met within %s", d)
}

// TestClientPaginatesWithoutNext talks to a server that says more objects
// follow but gives no next token (as some TAXII 2.0-era servers do): the
// client continues with added_after of the last page.
func TestClientPaginatesWithoutNext(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		after := r.URL.Query().Get("added_after")
		asked = append(asked, after)
		w.Header().Set("Content-Type", MediaTypeTAXII)
		page := len(asked)
		if page > 3 {
			t.Errorf("too many requests: %v", asked)
			return
		}
		last := base.Add(time.Duration(page) * time.Second)
		w.Header().Set("X-TAXII-Date-Added-First", formatDateAdded(last))
		w.Header().Set("X-TAXII-Date-Added-Last", formatDateAdded(last))
		fmt.Fprintf(w, `{"more":%v,"objects":[{"type":"x","id":"x--%d"}]}`, page < 3, page)
	}))
	t.Cleanup(srv.Close)
	var n int
	cur, err := NewClient(ClientConfig{}).Poll(context.Background(), srv.URL+"/api/", "c", time.Time{}, func(objs []json.RawMessage) error { n += len(objs); return nil })
	if err != nil || n != 3 || !cur.Equal(base.Add(3*time.Second)) {
		t.Fatalf("Poll = %s, %v after %d objects", cur, err, n)
	}
	if asked[0] != "" || asked[1] != formatDateAdded(base.Add(time.Second)) || asked[2] != formatDateAdded(base.Add(2*time.Second)) {
		t.Errorf("added_after asked %q", asked)
	}
}

// TestClientRepeatsLimitWithNext: medallion, the OASIS reference server,
// fails a next request that carries no limit, so the client repeats the page
// size the server chose.
func TestClientRepeatsLimitWithNext(t *testing.T) {
	e := newTestEnv(t, func(c *ServerConfig) { c.PageSize = 2 })
	e.put(t, greenIPs(1, 5)...)
	var bad []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query(); q.Get("next") != "" && q.Get("limit") == "" {
			bad = append(bad, r.URL.RawQuery)
		}
		e.srv.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	n := 0
	_, err := NewClient(ClientConfig{Token: "tok-soc"}).Poll(context.Background(), srv.URL+"/taxii2/api/", "indicators", time.Time{},
		func(objs []json.RawMessage) error { n += len(objs); return nil })
	if err != nil || n != 5 || len(bad) > 0 {
		t.Errorf("Poll: %d objects, %v; next without limit: %q", n, err, bad)
	}
}
