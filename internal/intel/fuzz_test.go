package intel

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mamori-soc/mamori/internal/ioc"
)

// FuzzPatternQuoting: whatever a URL holds, its pattern reads back as the
// same value (quotes and backslashes escaped, nothing else touched).
func FuzzPatternQuoting(f *testing.F) {
	for _, s := range []string{"http://x.example/", `http://x/'`, `http://x/\`, `a\'b`, "http://x/\n'\\'", "''''", `\\\\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if !utf8.ValidString(v) {
			return
		}
		p, err := Pattern(ioc.URL, v)
		if err != nil {
			t.Fatal(err)
		}
		m := patValueRe.FindStringSubmatch(p)
		if m == nil {
			t.Fatalf("Pattern(url, %q) = %s is not one quoted literal", v, p)
		}
		inds, errs := testParse(strings.NewReader(`{"objects":[{"type":"indicator","id":"indicator--11111111-1111-4111-8111-111111111111","pattern":`+string(mustJSON(t, p))+`}]}`), "f")
		if len(errs) > 0 || len(inds) != 1 || inds[0].Value != v {
			t.Fatalf("Pattern(url, %q) = %s reads back as %+v %v", v, p, inds, errs)
		}
	})
}

// FuzzObjectsQuery: no query string makes the objects endpoint fail with
// anything but 200 or 400.
func FuzzObjectsQuery(f *testing.F) {
	for _, s := range []string{"", "limit=2", "added_after=2026-01-01T00:00:00Z&match[type]=indicator",
		"match[version]=first,last,2026-01-01T00:00:00.000Z", "match[spec_version]=2.0,2.1", "next=MTIzfDB8aWQ", "match[id]=x,,y&limit=1"} {
		f.Add(s)
	}
	inds := newMemIndicators()
	_ = inds.Put(context.Background(), greenIPs(1, 5))
	srv, err := NewServer(ServerConfig{Authenticate: testAuth, Indicators: inds, Parse: testParse, PageSize: 2, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q string) {
		req := httptest.NewRequest(http.MethodGet, "/taxii2/api/collections/indicators/objects/", nil)
		req.URL.RawQuery = q
		req.Header.Set("Authorization", "Bearer tok-soc")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Fatalf("query %q: %d %s", q, w.Code, w.Body)
		}
	})
}
