package ioc

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

func openStore(t testing.TB) *Store {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "ioc.db")+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	s, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, db); err != nil {
		t.Fatalf("second Open: %v", err)
	}
	return s
}

func storeInd(source string, kind Kind, value string) Indicator {
	t0 := time.Date(2025, 5, 1, 10, 0, 0, 123456789, time.UTC)
	return Indicator{
		ID: MakeID(source, kind, value), Kind: kind, Value: value, Source: source, Confidence: 70, TLP: TLPAmber,
		ValidFrom: t0, Labels: []string{"c2", "qakbot"}, Description: "from " + source,
		Created: t0, Modified: t0, SourceRef: "ref-1", Producer: "someone",
	}
}

func TestStorePutGet(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	a := storeInd("feed-a", IP, "192.0.2.1")
	a.ValidUntil = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC) // clamped to 2262
	a.Lifetime = 7 * 24 * time.Hour
	b := storeInd("feed-a", Domain, "evil.example")
	b.ID, b.Labels, b.TLP = "", nil, ""
	added, updated, err := s.Put(ctx, []Indicator{a, b})
	if err != nil || added != 2 || updated != 0 {
		t.Fatalf("Put = %d, %d, %v; want 2, 0", added, updated, err)
	}
	got, ok, err := s.Get(ctx, a.ID)
	if err != nil || !ok {
		t.Fatalf("Get(%q) = %v, %v", a.ID, ok, err)
	}
	want := a
	want.ValidUntil = maxNano.UTC()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Get:\n got %+v\nwant %+v", got, want)
	}
	gotB, ok, _ := s.Get(ctx, MakeID("feed-a", Domain, "evil.example"))
	if !ok || gotB.Labels != nil || gotB.TLP != "" {
		t.Errorf("indicator without id, labels or TLP: %+v, %v", gotB, ok)
	}
	if _, ok, err := s.Get(ctx, "nope"); ok || err != nil {
		t.Errorf("Get(nope) = %v, %v", ok, err)
	}

	// Re-putting the same content changes nothing; a change is an update.
	if added, updated, err := s.Put(ctx, []Indicator{a}); err != nil || added != 0 || updated != 0 {
		t.Errorf("same again: Put = %d, %d, %v; want 0, 0", added, updated, err)
	}
	moved := a
	moved.ValidFrom = a.ValidFrom.Add(time.Hour)
	moved.Modified = a.Modified.Add(time.Hour)
	if added, updated, err := s.Put(ctx, []Indicator{moved}); err != nil || added != 0 || updated != 0 {
		t.Errorf("valid_from moved by an hour: Put = %d, %d, %v; want 0, 0", added, updated, err)
	}
	moved.ValidFrom = a.ValidFrom.Add(25 * time.Hour)
	moved.Created = a.Created.Add(25 * time.Hour)
	if added, updated, err := s.Put(ctx, []Indicator{moved}); err != nil || added != 0 || updated != 1 {
		t.Errorf("valid_from moved by a day: Put = %d, %d, %v; want 0, 1", added, updated, err)
	}
	changed := a
	changed.Confidence = 20
	if added, updated, err := s.Put(ctx, []Indicator{changed}); err != nil || added != 0 || updated != 1 {
		t.Errorf("confidence changed: Put = %d, %d, %v; want 0, 1", added, updated, err)
	}
	got, _, _ = s.Get(ctx, a.ID)
	if got.Confidence != 20 || !got.Created.Equal(a.Created) {
		t.Errorf("after update: confidence %d, created %v (want the first, %v)", got.Confidence, got.Created, a.Created)
	}

	// One invalid indicator fails the whole call.
	bad := storeInd("feed-a", Domain, "Evil.Example")
	ok2 := storeInd("feed-a", Domain, "fine.example")
	for _, tc := range []struct {
		ind  Indicator
		want string
	}{
		{bad, `domain "Evil.Example" is not normalized`},
		{Indicator{Kind: "email", Value: "x", Source: "s"}, `kind "email" is not a kind`},
		{Indicator{Kind: IP, Value: "1.2.3", Source: "s"}, `"1.2.3" is not an IP address`},
		{Indicator{Kind: IP, Value: "192.0.2.1"}, "source is empty"},
		{Indicator{Kind: IP, Value: "192.0.2.1", Source: "s", Confidence: 101}, "confidence 101"},
		{Indicator{Kind: IP, Value: "192.0.2.1", Source: "s", TLP: "TLP:GREEN"}, `TLP "TLP:GREEN"`},
	} {
		_, _, err := s.Put(ctx, []Indicator{ok2, tc.ind})
		if err == nil || !strings.Contains(err.Error(), "indicator 1") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Put(%+v) error = %v, want %q", tc.ind, err, tc.want)
		}
	}
	if _, ok, _ := s.Get(ctx, ok2.ID); ok {
		t.Error("a failed Put wrote its valid indicators")
	}

	n, err := s.Delete(ctx, []string{a.ID, "nope"})
	if err != nil || n != 1 {
		t.Errorf("Delete = %d, %v; want 1", n, err)
	}
	all, err := s.All(ctx)
	if err != nil || len(all) != 1 || all[0].Value != "evil.example" {
		t.Errorf("All = %v, %v", all, err)
	}
}

func TestStoreList(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	var inds []Indicator
	for i := range 30 {
		src := []string{"feodo", "urlhaus", "analyst"}[i%3]
		in := storeInd(src, IP, fmt.Sprintf("192.0.2.%d", i))
		if i%2 == 1 {
			in = storeInd(src, Domain, fmt.Sprintf("host%d.evil_%d.example", i, i))
		}
		in.Modified = in.Modified.Add(time.Duration(i) * time.Minute)
		inds = append(inds, in)
	}
	if _, _, err := s.Put(ctx, inds); err != nil {
		t.Fatal(err)
	}
	values := func(inds []Indicator) []string {
		var out []string
		for _, i := range inds {
			out = append(out, i.Value)
		}
		return out
	}
	tests := []struct {
		name  string
		q     Query
		total int
		first []string
	}{
		{name: "all, newest first", q: Query{Limit: 3}, total: 30, first: []string{"host29.evil_29.example", "192.0.2.28", "host27.evil_27.example"}},
		{name: "offset", q: Query{Limit: 2, Offset: 28}, total: 30, first: []string{"host1.evil_1.example", "192.0.2.0"}},
		{name: "kind", q: Query{Kind: IP, Limit: 1}, total: 15, first: []string{"192.0.2.28"}},
		{name: "source", q: Query{Source: "urlhaus", Limit: 1}, total: 10, first: []string{"192.0.2.28"}},
		{name: "text in value", q: Query{Text: "HOST1"}, total: 6},
		{name: "text: underscore is literal", q: Query{Text: "evil_2"}, total: 5},
		{name: "text: percent is literal", q: Query{Text: "%"}, total: 0},
		{name: "text in labels", q: Query{Text: "qakbot"}, total: 30},
		{name: "text in description", q: Query{Text: "from analyst"}, total: 10},
		{name: "kind and source", q: Query{Kind: Domain, Source: "feodo"}, total: 5},
	}
	for _, tc := range tests {
		got, total, err := s.List(ctx, tc.q)
		if err != nil || total != tc.total {
			t.Errorf("%s: List total = %d, %v; want %d", tc.name, total, err, tc.total)
			continue
		}
		if tc.first != nil && !reflect.DeepEqual(values(got), tc.first) {
			t.Errorf("%s: List = %q, want %q", tc.name, values(got), tc.first)
		}
		if tc.first == nil && len(got) != min(tc.total, 100) {
			t.Errorf("%s: %d rows, want %d", tc.name, len(got), tc.total)
		}
	}
	if got, _, _ := s.List(ctx, Query{Text: "192.0.2.1"}); len(got) != 5 { // .10 .12 .14 .16 .18
		t.Errorf("text 192.0.2.1: %d rows, want 5", len(got))
	}
}

// TestStoreActiveAgrees checks that List's Active filter and Compile use the
// same rules as EffectiveConfidence.
func TestStoreActiveAgrees(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	r := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	kinds := []Kind{IP, CIDR, Domain, URL, SHA256}
	values := map[Kind]func(int) string{
		IP:     func(i int) string { return fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255) },
		CIDR:   func(i int) string { return fmt.Sprintf("10.%d.%d.0/24", i>>8&255, i&255) },
		Domain: func(i int) string { return fmt.Sprintf("d%d.example", i) },
		URL:    func(i int) string { return fmt.Sprintf("http://u%d.example/", i) },
		SHA256: func(i int) string { return fmt.Sprintf("%064x", i) },
	}
	pick := func() time.Time {
		if r.IntN(5) == 0 {
			return time.Time{}
		}
		return base.Add(time.Duration(r.IntN(400)-200) * day)
	}
	var inds []Indicator
	for i := range 2000 {
		k := kinds[r.IntN(len(kinds))]
		in := Indicator{Kind: k, Value: values[k](i), Source: "s", Confidence: r.IntN(3) * 50,
			ValidFrom: pick(), ValidUntil: pick(), Created: pick(), Modified: base}
		if !in.ValidUntil.IsZero() && !in.ValidFrom.IsZero() && !in.ValidUntil.After(in.ValidFrom) {
			in.ValidUntil = time.Time{}
		}
		switch r.IntN(4) {
		case 0:
			in.Lifetime = time.Duration(r.IntN(100)) * day
		case 1:
			in.Lifetime = -1
		}
		inds = append(inds, in)
	}
	if _, _, err := s.Put(ctx, inds); err != nil {
		t.Fatal(err)
	}
	stored, err := s.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{base, base.Add(45 * day), base.Add(-100 * day), base.Add(300 * day)} {
		var want []string
		for i := range stored {
			if stored[i].EffectiveConfidence(at) > 0 {
				want = append(want, stored[i].ID)
			}
		}
		got, total, err := s.List(ctx, Query{Active: true, Now: at, Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		var gotIDs []string
		for _, g := range got {
			gotIDs = append(gotIDs, g.ID)
		}
		if len(want) < len(stored)/10 || len(want) > len(stored)*9/10 {
			t.Errorf("at %v: %d of %d active: the test should mix active and inactive", at, len(want), len(stored))
		}
		sort.Strings(want)
		sort.Strings(gotIDs)
		if total != len(want) || !reflect.DeepEqual(gotIDs, want) {
			t.Errorf("at %v: List(Active) has %d (total %d), EffectiveConfidence says %d", at, len(gotIDs), total, len(want))
		}
		if n := Compile(stored, at).Len(); n != len(want) {
			t.Errorf("at %v: Compile kept %d, EffectiveConfidence says %d", at, n, len(want))
		}
	}
}

func TestStoreSync(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	other := storeInd("other", IP, "192.0.2.9")
	if _, _, err := s.Put(ctx, []Indicator{other}); err != nil {
		t.Fatal(err)
	}
	first := []Indicator{storeInd("feed", IP, "192.0.2.1"), storeInd("feed", IP, "192.0.2.2"), storeInd("feed", IP, "192.0.2.3")}
	if a, u, r, err := s.Sync(ctx, "feed", first); err != nil || a != 3 || u != 0 || r != 0 {
		t.Fatalf("first Sync = %d, %d, %d, %v", a, u, r, err)
	}
	second := []Indicator{first[0], storeInd("feed", IP, "192.0.2.4")}
	second[0].Confidence = 99
	second[1].Source = "" // takes the feed's
	if a, u, r, err := s.Sync(ctx, "feed", second); err != nil || a != 1 || u != 1 || r != 2 {
		t.Fatalf("second Sync = %d, %d, %d, %v; want 1, 1, 2", a, u, r, err)
	}
	counts, err := s.Sources(ctx)
	if err != nil || !reflect.DeepEqual(counts, map[string]int{"feed": 2, "other": 1}) {
		t.Errorf("Sources = %v, %v", counts, err)
	}
	if _, _, _, err := s.Sync(ctx, "feed", []Indicator{other}); err == nil || !strings.Contains(err.Error(), `is from source "other"`) {
		t.Errorf("Sync with another source's indicator: %v", err)
	}
}

func TestSightings(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	t0 := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for i, sg := range []Sighting{
		{IndicatorID: "a", Tenant: "org-1", At: t0, Field: "DestinationIp", Value: "192.0.2.1", AlertID: "al-1"},
		{IndicatorID: "a", Tenant: "org-1", At: t0.Add(time.Hour), Field: "DestinationIp", Value: "192.0.2.1"},
		{IndicatorID: "a", Tenant: "org-2", At: t0.Add(2 * time.Hour), Field: "query", Value: "192.0.2.1"},
		{IndicatorID: "b", Tenant: "org-2", At: t0.Add(3 * time.Hour), Field: "query", Value: "evil.example"},
	} {
		if err := s.AddSighting(ctx, sg); err != nil {
			t.Fatalf("sighting %d: %v", i, err)
		}
	}
	if err := s.AddSighting(ctx, Sighting{IndicatorID: "a"}); err == nil {
		t.Error("sighting without organisation accepted")
	}
	stats, err := s.SightingStats(ctx, SightingQuery{AllTenants: true})
	want := map[string]SightingStat{
		"a": {Count: 3, Tenants: 2, First: t0, Last: t0.Add(2 * time.Hour)},
		"b": {Count: 1, Tenants: 1, First: t0.Add(3 * time.Hour), Last: t0.Add(3 * time.Hour)},
	}
	if err != nil || !reflect.DeepEqual(stats, want) {
		t.Errorf("SightingStats(all) = %v, %v; want %v", stats, err, want)
	}
	stats, _ = s.SightingStats(ctx, SightingQuery{Tenants: []string{"org-1"}, IndicatorIDs: []string{"a", "b"}})
	if want := map[string]SightingStat{"a": {Count: 2, Tenants: 1, First: t0, Last: t0.Add(time.Hour)}}; !reflect.DeepEqual(stats, want) {
		t.Errorf("SightingStats(org-1) = %v, want %v", stats, want)
	}
	if stats, _ := s.SightingStats(ctx, SightingQuery{}); len(stats) != 0 {
		t.Errorf("SightingStats without scope = %v, want nothing", stats)
	}
	list, err := s.Sightings(ctx, SightingQuery{Tenants: []string{"org-1", "org-2"}, IndicatorIDs: []string{"a"}, Limit: 2})
	if err != nil || len(list) != 2 || list[0].Tenant != "org-2" || list[1].At != t0.Add(time.Hour) {
		t.Errorf("Sightings = %+v, %v", list, err)
	}
	if list, _ := s.Sightings(ctx, SightingQuery{Since: t0}); len(list) != 0 {
		t.Errorf("Sightings without scope = %v", list)
	}
}

// TestStoredSince: what was written or changed after a time, in order, and
// nothing that did not change.
func TestStoredSince(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	a := Indicator{Kind: IP, Value: "192.0.2.1", Source: "feed", Confidence: 60}
	b := Indicator{Kind: Domain, Value: "evil.example", Source: "feed", Confidence: 60}
	if _, _, err := s.Put(ctx, []Indicator{a, b}); err != nil {
		t.Fatal(err)
	}
	all, at, err := s.StoredSince(ctx, time.Time{})
	if err != nil || len(all) != 2 || !at[0].Before(at[1]) {
		t.Fatalf("StoredSince(zero) = %d, %v, %v", len(all), at, err)
	}
	mark := at[1]
	c := Indicator{Kind: SHA256, Value: strings.Repeat("ab", 32), Source: "feed", Confidence: 60}
	b.Confidence = 90
	if _, _, err := s.Put(ctx, []Indicator{a, b, c}); err != nil { // a unchanged
		t.Fatal(err)
	}
	got, _, err := s.StoredSince(ctx, mark)
	if err != nil || len(got) != 2 || got[0].Value != "evil.example" || got[1].Kind != SHA256 {
		t.Fatalf("StoredSince(mark) = %+v, %v; want the changed domain then the new hash", got, err)
	}
}
