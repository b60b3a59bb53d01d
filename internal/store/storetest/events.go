package storetest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// EventStore is the event half of store.Store: what an event-only store
// (ClickHouse) implements, and what the embedded store implements too.
//
// DeleteBefore may keep more than asked: it must drop every event received
// before the start of t's UTC day and nothing received at or after t.
type EventStore interface {
	AppendEvents(ctx context.Context, evs []store.Event) (int, error)
	SearchEvents(ctx context.Context, q store.EventQuery) (*store.EventPage, error)
	EventHistogram(ctx context.Context, q store.HistogramQuery) (*store.Histogram, error)
	LastSeq(ctx context.Context) (int64, error)
	DeleteBefore(ctx context.Context, t time.Time) (int64, error)
}

var _ EventStore = store.Store(nil)

// RunEvents runs the event conformance and tenant-isolation suite; open
// returns a new, empty store for each subtest.
func RunEvents(t *testing.T, open func(t *testing.T) EventStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s EventStore)
	}{
		{"AppendAndReadBack", testEvAppend},
		{"DuplicatesStoredOnce", testEvDuplicates},
		{"SearchEvents", testEvSearch},
		{"Pagination", testEvPagination},
		{"EventHistogram", testEvHistogram},
		{"TenantIsolation", testEvIsolation},
		{"HostileStrings", testEvHostile},
		{"EmptyTenantList", testEvEmptyTenants},
		{"Retention", testEvRetention},
		{"WindowsPathsAndOddNames", testEvWindowsPaths},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func appendEv(t *testing.T, s EventStore, evs ...store.Event) int {
	t.Helper()
	n, err := s.AppendEvents(context.Background(), evs)
	if err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}
	return n
}

func searchEv(t *testing.T, s EventStore, q store.EventQuery) *store.EventPage {
	t.Helper()
	p, err := s.SearchEvents(context.Background(), q)
	if err != nil {
		t.Fatalf("SearchEvents(%+v): %v", q, err)
	}
	return p
}

func testEvAppend(t *testing.T, s EventStore) {
	ctx := context.Background()
	if last, err := s.LastSeq(ctx); err != nil || last != 0 {
		t.Errorf("LastSeq of an empty store = %d, %v", last, err)
	}
	a1 := ev("a1", "org-a", 0, "Computer", "ws1", "Channel", "Security", "EventID", "4688", "CommandLine", "whoami /all", "Data", "x", "Data", "y")
	a1.Time = a1.Time.Add(123 * time.Millisecond)  // milliseconds are kept
	a1.Raw = []byte{'{', 0, 0xff, 0xfe, '\n', '}'} // any bytes, not only UTF-8
	evs := []store.Event{a1, ev("a2", "org-a", time.Minute, "Computer", "ws2")}
	if n := appendEv(t, s, evs...); n != 2 {
		t.Fatalf("AppendEvents stored %d, want 2", n)
	}
	if evs[0].Seq == 0 || evs[1].Seq <= evs[0].Seq {
		t.Errorf("seqs %d, %d: want increasing, non-zero", evs[0].Seq, evs[1].Seq)
	}
	p := searchEv(t, s, store.EventQuery{Tenants: []tenant.ID{"org-a"}})
	if ids(p) != "[a2 a1]" {
		t.Fatalf("read back %s", ids(p))
	}
	g, w := p.Events[1], evs[0]
	if g.Seq != w.Seq || g.ID != w.ID || g.Tenant != w.Tenant || !g.Time.Equal(w.Time) || !g.Received.Equal(w.Received) ||
		g.Source != w.Source || g.Host != "ws1" || g.Channel != "Security" || g.EventID != "4688" || !bytes.Equal(g.Raw, w.Raw) {
		t.Errorf("read back\n %+v\nwant\n %+v", g, w)
	}
	if fmt.Sprint(g.Fields) != fmt.Sprint(w.Fields) {
		t.Errorf("fields = %v, want %v (order and repeated names kept)", g.Fields, w.Fields)
	}
	if last, err := s.LastSeq(ctx); err != nil || last != evs[1].Seq {
		t.Errorf("LastSeq = %d, %v; want %d", last, err, evs[1].Seq)
	}
	more := []store.Event{ev("a3", "org-a", -time.Hour)} // an older event appended later still gets a higher seq
	appendEv(t, s, more...)
	if more[0].Seq <= evs[1].Seq {
		t.Errorf("seq %d after %d: want increasing", more[0].Seq, evs[1].Seq)
	}
}

func testEvDuplicates(t *testing.T, s EventStore) {
	all := []tenant.ID{"org-a"}
	appendEv(t, s, ev("d1", "org-a", 0, "User", "u"))
	dup := []store.Event{ev("d1", "org-a", 0, "User", "u"), ev("d2", "org-a", time.Second), ev("d2", "org-a", time.Second)}
	if n := appendEv(t, s, dup...); n != 1 {
		t.Errorf("second append stored %d, want 1 (d1 is stored, d2 repeated in the batch)", n)
	}
	if dup[0].Seq != 0 || dup[1].Seq == 0 || dup[2].Seq != 0 {
		t.Errorf("seqs %d, %d, %d: duplicates must keep Seq 0", dup[0].Seq, dup[1].Seq, dup[2].Seq)
	}
	if n := appendEv(t, s, dup...); n != 0 {
		t.Errorf("third append stored %d, want 0", n)
	}
	if p := searchEv(t, s, store.EventQuery{Tenants: all}); ids(p) != "[d2 d1]" || p.Total != 2 {
		t.Errorf("stored %s total %d, want [d2 d1] total 2", ids(p), p.Total)
	}
	h, err := s.EventHistogram(context.Background(), store.HistogramQuery{EventQuery: store.EventQuery{Tenants: all, Since: t0, Until: t0.Add(time.Minute)}, Buckets: 1})
	if err != nil || h.Buckets[0].Count != 2 {
		t.Errorf("histogram counts %+v, %v; want 2", h, err)
	}
}

func testEvSearch(t *testing.T, s EventStore) {
	appendEv(t, s,
		ev("e1", "org-a", 0, "Computer", "WS1", "CommandLine", "powershell -enc AAA", "User", "alice", "EventID", "4688"),
		ev("e2", "org-a", time.Minute, "Computer", "ws2", "CommandLine", "notepad.exe", "User", "bob", "Channel", "Security"),
		ev("e3", "org-a", 2*time.Minute, "Computer", "ws1", "CommandLine", "cmd /c whoami", "User", "Alice"),
		ev("e4", "org-a", 3*time.Minute, "Computer", "ws3", "Data", "one", "Data", "two"),
	)
	all := []tenant.ID{"org-a"}
	for _, tc := range []struct {
		want string
		q    store.EventQuery
	}{
		{"[e4 e3 e2 e1]", store.EventQuery{Tenants: all}},
		{"[e3 e2]", store.EventQuery{Tenants: all, Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}},
		{"[e3 e1]", store.EventQuery{Tenants: all, Filters: []store.Filter{{Field: "User", Value: "ALICE"}}}},
		{"[]", store.EventQuery{Tenants: all, Filters: []store.Filter{{Field: "user", Value: "alice"}}}}, // names are exact
		{"[e3 e1]", store.EventQuery{Tenants: all, Filters: []store.Filter{{Field: "host", Value: "ws1"}}}},
		{"[e2]", store.EventQuery{Tenants: all, Filters: []store.Filter{{Field: "channel", Value: "SECURITY"}}}},
		{"[e1]", store.EventQuery{Tenants: all, Filters: []store.Filter{{Field: "event_id", Value: "4688"}}}},
		{"[e4]", store.EventQuery{Tenants: all, Filters: []store.Filter{{Field: "Data", Value: "two"}}}},
		{"[e3]", store.EventQuery{Tenants: all, Filters: []store.Filter{{Field: "User", Value: "alice"}, {Field: "Computer", Value: "WS1"}}, Since: t0.Add(time.Second)}},
		{"[e3]", store.EventQuery{Tenants: all, Text: "WHOAMI"}},
		{"[e2 e1]", store.EventQuery{Tenants: all, Text: "e", Until: t0.Add(2 * time.Minute)}},
		{"[]", store.EventQuery{Tenants: all, Text: "absent"}},
	} {
		p := searchEv(t, s, tc.q)
		if got := ids(p); got != tc.want {
			t.Errorf("query %+v = %s, want %s", tc.q, got, tc.want)
		}
		if p.Total != len(p.Events) {
			t.Errorf("query %+v: total %d, %d events", tc.q, p.Total, len(p.Events))
		}
	}
}

func testEvPagination(t *testing.T, s EventStore) {
	var evs []store.Event
	for i := range 25 {
		evs = append(evs, ev(fmt.Sprintf("p%02d", i), "org-a", time.Duration(i)*time.Second, "User", []string{"x", "y"}[i%2]))
	}
	appendEv(t, s, evs[:10]...)
	appendEv(t, s, evs[10:]...)
	q := store.EventQuery{Tenants: []tenant.ID{"org-a"}, Filters: []store.Filter{{Field: "User", Value: "x"}}, Limit: 5}
	var got []string
	for range 10 {
		p := searchEv(t, s, q)
		if p.Total != 13 {
			t.Errorf("page before %d: total %d, want 13", q.Before, p.Total)
		}
		for _, e := range p.Events {
			got = append(got, e.ID)
		}
		if p.Next == 0 {
			break
		}
		q.Before = p.Next
	}
	if fmt.Sprint(got) != "[p24 p22 p20 p18 p16 p14 p12 p10 p08 p06 p04 p02 p00]" {
		t.Errorf("pages = %v", got)
	}
	if p := searchEv(t, s, store.EventQuery{Tenants: []tenant.ID{"org-a"}, Limit: 5000}); len(p.Events) != 25 {
		t.Errorf("limit above 1000: %d events", len(p.Events))
	}
}

func testEvHistogram(t *testing.T, s EventStore) {
	appendEv(t, s,
		ev("h1", "org-a", 0, "User", "alice"), ev("h2", "org-a", time.Minute, "User", "bob"),
		ev("h3", "org-a", 2*time.Minute, "User", "alice"), ev("h4", "org-a", 3*time.Minute+59*time.Second, "User", "alice"),
		ev("h5", "org-a", 4*time.Minute, "User", "alice"), // at until: outside
		ev("h6", "org-b", time.Minute, "User", "alice"),
	)
	hist := func(buckets int, filters ...store.Filter) string {
		t.Helper()
		h, err := s.EventHistogram(context.Background(), store.HistogramQuery{
			EventQuery: store.EventQuery{Tenants: []tenant.ID{"org-a"}, Since: t0, Until: t0.Add(4 * time.Minute), Filters: filters}, Buckets: buckets})
		if err != nil {
			t.Fatalf("EventHistogram: %v", err)
		}
		out := fmt.Sprint(h.Interval)
		if buckets == 60 {
			return fmt.Sprintf("%s %d buckets, %d in the 3rd", out, len(h.Buckets), h.Buckets[2].Count)
		}
		for _, b := range h.Buckets {
			out += fmt.Sprintf(" %s=%d", b.T.Format("04:05"), b.Count)
		}
		return out
	}
	for _, tc := range []struct {
		buckets int
		filters []store.Filter
		want    string
	}{
		{4, nil, "1m0s 00:00=1 01:00=1 02:00=1 03:00=1"},
		{3, nil, "1m20s 00:00=2 01:20=1 02:40=1"},
		{60, nil, "4s 60 buckets, 0 in the 3rd"},
		{7, nil, "35s 00:00=1 00:35=1 01:10=0 01:45=1 02:20=0 02:55=0 03:30=1"},
		{4, []store.Filter{{Field: "User", Value: "alice"}}, "1m0s 00:00=1 01:00=0 02:00=1 03:00=1"},
	} {
		if got := hist(tc.buckets, tc.filters...); got != tc.want {
			t.Errorf("histogram(%d, %v) = %s, want %s", tc.buckets, tc.filters, got, tc.want)
		}
	}
	for _, q := range []store.HistogramQuery{
		{EventQuery: store.EventQuery{Tenants: []tenant.ID{"org-a"}, Since: t0}, Buckets: 4},
		{EventQuery: store.EventQuery{Tenants: []tenant.ID{"org-a"}, Since: t0, Until: t0.Add(time.Hour)}, Buckets: 0},
		{EventQuery: store.EventQuery{Tenants: []tenant.ID{"org-a"}, Since: t0, Until: t0.Add(time.Hour)}, Buckets: 1001},
	} {
		if _, err := s.EventHistogram(context.Background(), q); err == nil {
			t.Errorf("EventHistogram(%+v) accepted an invalid query", q)
		}
	}
}

// hostile are strings that break naive SQL quoting, JSON or line formats.
var hostile = []string{
	`x' OR '1'='1`, `x" OR 1=1 --`, `\' OR 1=1 --`, `\\'; DROP TABLE events; --`, "a\x00b", "line\nbreak\ttab\r",
	`') OR 1=1 OR ('`, "%s %d", "ünï©ødé 日本", "\\", "'", "`", "\\x27", "$1 ?", "}{][",
}

func testEvIsolation(t *testing.T, s EventStore) {
	appendEv(t, s,
		ev("a", "org-a", 0, "User", "x", "CommandLine", "secret-a"),
		ev("b", "org-b", 0, "User", "x", "CommandLine", "secret-b"),
		ev("c", "org-c", time.Minute, "User", "x", "CommandLine", "secret-c"),
	)
	if p := searchEv(t, s, store.EventQuery{Tenants: []tenant.ID{"org-a"}, Text: "secret"}); ids(p) != "[a]" || p.Total != 1 {
		t.Errorf("org-a sees %s (total %d)", ids(p), p.Total)
	}
	if p := searchEv(t, s, store.EventQuery{Tenants: []tenant.ID{"org-a", "org-c"}, Text: "secret"}); ids(p) != "[c a]" {
		t.Errorf("org-a and org-c see %s", ids(p))
	}
	if p := searchEv(t, s, store.EventQuery{Tenants: []tenant.ID{"org-a"}, Filters: []store.Filter{{Field: "CommandLine", Value: "secret-b"}}}); len(p.Events) != 0 || p.Total != 0 {
		t.Errorf("org-a reached org-b's event by filter: %s", ids(p))
	}
	if p := searchEv(t, s, store.EventQuery{Tenants: []tenant.ID{"org-z"}}); len(p.Events) != 0 {
		t.Errorf("unknown tenant sees %s", ids(p))
	}
	h, err := s.EventHistogram(context.Background(), store.HistogramQuery{EventQuery: store.EventQuery{Tenants: []tenant.ID{"org-b"}, Since: t0, Until: t0.Add(time.Hour)}, Buckets: 1})
	if err != nil || h.Buckets[0].Count != 1 {
		t.Errorf("org-b histogram = %+v, %v; want 1", h, err)
	}
	// Hostile tenant ids, filter names and values, and texts must neither
	// fail nor widen the query beyond org-a's one event.
	for _, x := range hostile {
		qs := []store.EventQuery{
			{Tenants: []tenant.ID{tenant.ID(x)}},
			{Tenants: []tenant.ID{"org-a", tenant.ID(x)}},
			{Tenants: []tenant.ID{"org-a"}, Filters: []store.Filter{{Field: x, Value: "x"}}},
			{Tenants: []tenant.ID{"org-a"}, Filters: []store.Filter{{Field: "User", Value: x}}},
			{Tenants: []tenant.ID{"org-a"}, Filters: []store.Filter{{Field: "host", Value: x}}},
			{Tenants: []tenant.ID{"org-a"}, Text: x},
		}
		for _, q := range qs {
			p, err := s.SearchEvents(context.Background(), q)
			if err != nil {
				// Refusing is safe (the embedded store refuses a NUL in a
				// field name: its JSON path cannot hold one); widening is not.
				t.Logf("query %q refused: %v", fmt.Sprintf("%+v", q), err)
				continue
			}
			if len(p.Events) > 1 || p.Total > 1 || (len(p.Events) == 1 && p.Events[0].ID != "a") {
				t.Errorf("query %+v returned %s (total %d)", q, ids(p), p.Total)
			}
			hq := store.HistogramQuery{EventQuery: q, Buckets: 1}
			hq.Since, hq.Until = t0.Add(-time.Hour), t0.Add(time.Hour)
			if h, err := s.EventHistogram(context.Background(), hq); err == nil && h.Buckets[0].Count > 1 {
				t.Errorf("histogram %+v = %+v, %v", q, h, err)
			}
		}
	}
	// Still all there: nothing was dropped or altered by the hostile queries.
	if p := searchEv(t, s, store.EventQuery{Tenants: []tenant.ID{"org-a", "org-b", "org-c"}}); p.Total != 3 {
		t.Errorf("after hostile queries: %s", ids(p))
	}
}

// testEvHostile stores hostile strings everywhere and finds them again by
// exact filters and text.
func testEvHostile(t *testing.T, s EventStore) {
	var evs []store.Event
	for i, x := range hostile {
		e := ev(fmt.Sprintf("h%02d-%s", i, x), tenant.ID("org-"+x), time.Duration(i)*time.Second, "Computer", x, "F"+x, x)
		e.Source, e.Raw = x, []byte(x)
		evs = append(evs, e)
	}
	if n := appendEv(t, s, evs...); n != len(hostile) {
		t.Fatalf("stored %d of %d", n, len(hostile))
	}
	if n := appendEv(t, s, evs...); n != 0 {
		t.Errorf("stored %d hostile duplicates", n)
	}
	for i, x := range hostile {
		tid := []tenant.ID{tenant.ID("org-" + x)}
		want := evs[i]
		qs := []store.EventQuery{
			{Tenants: tid},
			{Tenants: tid, Filters: []store.Filter{{Field: "host", Value: x}}},
			{Tenants: tid, Filters: []store.Filter{{Field: "Computer", Value: x}}},
		}
		if jsonPlain(x) {
			// The embedded store matches field names and text in its JSON
			// rendering of the fields, where quotes, backslashes and
			// control characters are escaped: it finds these only escaped.
			qs = append(qs, store.EventQuery{Tenants: tid, Filters: []store.Filter{{Field: "F" + x, Value: x}}}, store.EventQuery{Tenants: tid, Text: x})
		}
		for _, q := range qs {
			p := searchEv(t, s, q)
			if len(p.Events) != 1 {
				t.Errorf("%q: query %+v found %s", x, q, ids(p))
				continue
			}
			g := p.Events[0]
			if g.ID != want.ID || g.Tenant != want.Tenant || g.Source != x || g.Host != x || string(g.Raw) != x || fmt.Sprint(g.Fields) != fmt.Sprint(want.Fields) {
				t.Errorf("%q: read back %+v", x, g)
			}
		}
	}
}

func testEvEmptyTenants(t *testing.T, s EventStore) {
	appendEv(t, s, ev("e", "org-a", 0, "User", "x"), ev("f", "", 0, "User", "x"))
	for _, q := range []store.EventQuery{{}, {Text: "x"}, {Tenants: []tenant.ID{}}, {Filters: []store.Filter{{Field: "User", Value: "x"}}}} {
		if p := searchEv(t, s, q); len(p.Events) != 0 || p.Total != 0 || p.Next != 0 {
			t.Errorf("query %+v naming no tenant returned %s", q, ids(p))
		}
	}
	h, err := s.EventHistogram(context.Background(), store.HistogramQuery{EventQuery: store.EventQuery{Since: t0.Add(-time.Hour), Until: t0.Add(time.Hour)}, Buckets: 2})
	if err != nil || len(h.Buckets) != 2 || h.Buckets[0].Count+h.Buckets[1].Count != 0 {
		t.Errorf("EventHistogram: %+v %v", h, err)
	}
}

func testEvRetention(t *testing.T, s EventStore) {
	day := 24 * time.Hour
	rcv := func(id string, at time.Duration) store.Event {
		e := ev(id, "org-a", at)
		e.Received = t0.Add(at + time.Second)
		return e
	}
	// t0 is 10:00 UTC. Cut at t0-1d: "old" (3 days back) must go; "kept"
	// (received after the cut) and "new" must stay. The ones received
	// between the start of the cut's day and the cut may go or stay.
	appendEv(t, s, rcv("old", -3*day), rcv("old2", -2*day-9*time.Hour), rcv("kept", -day+time.Minute), rcv("new", 0))
	n, err := s.DeleteBefore(context.Background(), t0.Add(-day))
	if err != nil {
		t.Fatal(err)
	}
	if p := searchEv(t, s, store.EventQuery{Tenants: []tenant.ID{"org-a"}}); ids(p) != "[new kept]" {
		t.Errorf("events after retention: %s", ids(p))
	}
	if n != 2 {
		t.Errorf("DeleteBefore dropped %d, want 2", n)
	}
	if _, err := s.DeleteBefore(context.Background(), t0.Add(-day)); err != nil {
		t.Errorf("second DeleteBefore: %v", err)
	}
	// New events still get increasing seqs after retention.
	last, _ := s.LastSeq(context.Background())
	more := []store.Event{rcv("later", time.Minute)}
	appendEv(t, s, more...)
	if more[0].Seq <= last {
		t.Errorf("seq %d after retention, want > %d", more[0].Seq, last)
	}
}

// jsonPlain reports whether s is written as itself inside a JSON string.
func jsonPlain(s string) bool {
	for _, c := range []byte(s) {
		if c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// testEvWindowsPaths: text and filters find values with backslashes and
// quotes as analysts type them, and odd field names work as filters.
func testEvWindowsPaths(t *testing.T, s EventStore) {
	appendEv(t, s,
		ev("w1", "org-a", 0, "Image", `C:\Windows\System32\cmd.exe`, "CommandLine", `cmd /c "echo hi"`, `we"ird\name`, "v1"),
		ev("w2", "org-a", time.Minute, "Image", `C:\Program Files\app.exe`),
	)
	all := []tenant.ID{"org-a"}
	for _, tc := range []struct {
		want string
		q    store.EventQuery
	}{
		{"[w1]", store.EventQuery{Tenants: all, Text: `c:\windows\system32`}},
		{"[w1]", store.EventQuery{Tenants: all, Text: `"echo hi"`}},
		{"[w2]", store.EventQuery{Tenants: all, Filters: []store.Filter{{Field: "Image", Value: `c:\program files\APP.exe`}}}},
		{"[w1]", store.EventQuery{Tenants: all, Filters: []store.Filter{{Field: `we"ird\name`, Value: "V1"}}}},
	} {
		if got := ids(searchEv(t, s, tc.q)); got != tc.want {
			t.Errorf("search %+v = %s, want %s", tc.q, got, tc.want)
		}
	}
}
