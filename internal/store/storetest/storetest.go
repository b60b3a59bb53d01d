// Package storetest is the conformance suite every store.Store
// implementation must pass, including the tenant-isolation checks.
package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// Run runs the suite; open returns a new, empty store for each subtest.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"AppendAndReadBack", testAppend},
		{"DuplicatesStoredOnce", testDuplicates},
		{"SearchEvents", testSearchEvents},
		{"TenantIsolationEvents", testIsolationEvents},
		{"Alerts", testAlerts},
		{"TenantIsolationAlerts", testIsolationAlerts},
		{"TenantsAndRules", testTenants},
		{"Retention", testRetention},
		{"Triage", testTriage},
		{"TriageSurvivesFolding", testTriageSurvivesFolding},
		{"AlertFiltersAndSort", testAlertFiltersAndSort},
		{"RelatedAlerts", testRelated},
		{"Dashboard", testDashboard},
		{"OrgStats", testOrgStats},
		{"EventHistogram", testHistogram},
		{"RuleHits", testRuleHits},
		{"TenantIsolationTriage", testIsolationTriage},
		{"TenantIsolationAggregates", testIsolationAggregates},
		{"EmptyTenantList", testEmptyTenantList},
		{"Incidents", testIncidents},
		{"IncidentMerge", testIncidentMerge},
		{"CampaignsAndIsolation", testCampaignsAndIsolation},
		{"TelemetryAndRatings", testTelemetryAndRatings},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func ev(id string, tid tenant.ID, at time.Duration, kv ...string) store.Event {
	e := store.Event{ID: id, Tenant: tid, Time: t0.Add(at), Received: t0.Add(at + time.Second), Source: "test", Raw: []byte("raw " + id)}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Fields = append(e.Fields, store.Field{Name: kv[i], Value: kv[i+1]})
		switch kv[i] {
		case "Computer":
			e.Host = kv[i+1]
		case "Channel":
			e.Channel = kv[i+1]
		case "EventID":
			e.EventID = kv[i+1]
		}
	}
	return e
}

func mustAppend(t *testing.T, s store.Store, evs ...store.Event) int {
	t.Helper()
	n, err := s.AppendEvents(context.Background(), evs)
	if err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}
	return n
}

func testAppend(t *testing.T, s store.Store) {
	ctx := context.Background()
	evs := []store.Event{
		ev("a1", "org-a", 0, "Computer", "ws1", "CommandLine", "whoami /all", "Data", "x", "Data", "y"),
		ev("a2", "org-a", time.Minute, "Computer", "ws2"),
	}
	if n := mustAppend(t, s, evs...); n != 2 {
		t.Fatalf("AppendEvents stored %d, want 2", n)
	}
	if evs[0].Seq == 0 || evs[1].Seq <= evs[0].Seq {
		t.Errorf("seqs %d, %d: want increasing, non-zero", evs[0].Seq, evs[1].Seq)
	}
	got, err := s.EventsAfter(ctx, 0, 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("EventsAfter(0) = %d events, %v", len(got), err)
	}
	g := got[0]
	if g.ID != "a1" || g.Tenant != "org-a" || !g.Time.Equal(t0) || g.Host != "ws1" || string(g.Raw) != "raw a1" {
		t.Errorf("read back %+v", g)
	}
	if fmt.Sprint(g.Fields) != fmt.Sprint(evs[0].Fields) {
		t.Errorf("fields = %v, want %v (order and repeated names kept)", g.Fields, evs[0].Fields)
	}
	if got, _ := s.EventsAfter(ctx, evs[0].Seq, 10); len(got) != 1 || got[0].ID != "a2" {
		t.Errorf("EventsAfter(first) = %v", got)
	}
	if last, err := s.LastSeq(ctx); err != nil || last != evs[1].Seq {
		t.Errorf("LastSeq = %d, %v; want %d", last, err, evs[1].Seq)
	}
}

func testDuplicates(t *testing.T, s store.Store) {
	mustAppend(t, s, ev("d1", "org-a", 0))
	dup := []store.Event{ev("d1", "org-a", 0), ev("d2", "org-a", 0)}
	if n := mustAppend(t, s, dup...); n != 1 {
		t.Errorf("second append stored %d, want 1 (d1 is a duplicate)", n)
	}
	if dup[0].Seq != 0 || dup[1].Seq == 0 {
		t.Errorf("seqs %d, %d: the duplicate must keep Seq 0", dup[0].Seq, dup[1].Seq)
	}
	all, _ := s.EventsAfter(context.Background(), 0, 100)
	if len(all) != 2 {
		t.Errorf("%d events stored, want 2", len(all))
	}
}

func search(t *testing.T, s store.Store, q store.EventQuery) *store.EventPage {
	t.Helper()
	p, err := s.SearchEvents(context.Background(), q)
	if err != nil {
		t.Fatalf("SearchEvents(%+v): %v", q, err)
	}
	return p
}

func ids(p *store.EventPage) string {
	var out []string
	for _, e := range p.Events {
		out = append(out, e.ID)
	}
	return fmt.Sprint(out)
}

func testSearchEvents(t *testing.T, s store.Store) {
	mustAppend(t, s,
		ev("e1", "org-a", 0, "Computer", "WS1", "CommandLine", "powershell -enc AAA", "User", "alice"),
		ev("e2", "org-a", time.Minute, "Computer", "ws2", "CommandLine", "notepad.exe", "User", "bob"),
		ev("e3", "org-a", 2*time.Minute, "Computer", "ws1", "CommandLine", "cmd /c whoami", "User", "Alice"),
		ev("e4", "org-a", 3*time.Minute, "Computer", "ws3", "Data", "one", "Data", "two"),
	)
	all := []tenant.ID{"org-a"}
	if p := search(t, s, store.EventQuery{Tenants: all}); ids(p) != "[e4 e3 e2 e1]" || p.Total != 4 {
		t.Errorf("all: %s total %d", ids(p), p.Total)
	}
	if p := search(t, s, store.EventQuery{Tenants: all, Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}); ids(p) != "[e3 e2]" {
		t.Errorf("time range: %s", ids(p))
	}
	if p := search(t, s, store.EventQuery{Tenants: all, Filters: []store.Filter{{Field: "User", Value: "ALICE"}}}); ids(p) != "[e3 e1]" {
		t.Errorf("field filter: %s", ids(p))
	}
	if p := search(t, s, store.EventQuery{Tenants: all, Filters: []store.Filter{{Field: "host", Value: "ws1"}}}); ids(p) != "[e3 e1]" {
		t.Errorf("host filter: %s", ids(p))
	}
	if p := search(t, s, store.EventQuery{Tenants: all, Filters: []store.Filter{{Field: "Data", Value: "two"}}}); ids(p) != "[e4]" {
		t.Errorf("multi-valued filter: %s", ids(p))
	}
	if p := search(t, s, store.EventQuery{Tenants: all, Text: "WHOAMI"}); ids(p) != "[e3]" {
		t.Errorf("free text: %s", ids(p))
	}
	p := search(t, s, store.EventQuery{Tenants: all, Limit: 3})
	if ids(p) != "[e4 e3 e2]" || p.Next == 0 || p.Total != 4 {
		t.Fatalf("page 1: %s next %d total %d", ids(p), p.Next, p.Total)
	}
	if p2 := search(t, s, store.EventQuery{Tenants: all, Limit: 3, Before: p.Next}); ids(p2) != "[e1]" || p2.Next != 0 {
		t.Errorf("page 2: %s next %d", ids(p2), p2.Next)
	}
}

func testIsolationEvents(t *testing.T, s store.Store) {
	mustAppend(t, s, ev("a", "org-a", 0, "User", "x", "CommandLine", "secret-a"), ev("b", "org-b", 0, "User", "x", "CommandLine", "secret-b"))
	if p := search(t, s, store.EventQuery{}); len(p.Events) != 0 || p.Total != 0 {
		t.Errorf("a query naming no tenant returned %s", ids(p))
	}
	if p := search(t, s, store.EventQuery{Tenants: []tenant.ID{"org-a"}, Text: "secret"}); ids(p) != "[a]" {
		t.Errorf("org-a sees %s", ids(p))
	}
	if p := search(t, s, store.EventQuery{Tenants: []tenant.ID{"org-a"}, Filters: []store.Filter{{Field: "CommandLine", Value: "secret-b"}}}); len(p.Events) != 0 || p.Total != 0 {
		t.Errorf("org-a reached org-b's event by filter: %s", ids(p))
	}
	// An injection attempt in a filter name or value must not widen the query.
	for _, f := range []store.Filter{{Field: `x" OR 1=1 --`, Value: "x"}, {Field: "User", Value: "x' OR '1'='1"}} {
		if p := search(t, s, store.EventQuery{Tenants: []tenant.ID{"org-a"}, Filters: []store.Filter{f}}); len(p.Events) > 1 {
			t.Errorf("filter %+v returned %s", f, ids(p))
		}
	}
	if p := search(t, s, store.EventQuery{Tenants: []tenant.ID{"org-c"}}); len(p.Events) != 0 {
		t.Errorf("unknown tenant sees %s", ids(p))
	}
}

func mkAlert(id string, tid tenant.ID, sector tenant.Sector, level string, at time.Duration, tech ...string) alert.Alert {
	return alert.Alert{ID: id, Tenant: tid, Sector: sector, RuleID: "rule-" + level, RuleTitle: "T " + id, RuleAuthor: "Someone", Level: level,
		Techniques: tech, Tactics: []string{"execution"}, Host: "h-" + id, User: "u", SrcIP: "203.0.113.1", Count: 1,
		FirstSeen: t0.Add(at), LastSeen: t0.Add(at), Status: alert.StatusNew, EventSeq: 1,
		Event: []alert.Field{{Name: "CommandLine", Value: "x " + id}}}
}

func alertIDs(p *store.AlertPage) string {
	var out []string
	for _, a := range p.Alerts {
		out = append(out, a.ID)
	}
	return fmt.Sprint(out)
}

func searchAlerts(t *testing.T, s store.Store, q store.AlertQuery) *store.AlertPage {
	t.Helper()
	p, err := s.SearchAlerts(context.Background(), q)
	if err != nil {
		t.Fatalf("SearchAlerts(%+v): %v", q, err)
	}
	return p
}

func testAlerts(t *testing.T, s store.Store) {
	ctx := context.Background()
	if c, err := s.Cursor(ctx, "detect"); err != nil || c != 0 {
		t.Fatalf("new cursor = %d, %v", c, err)
	}
	enriched := mkAlert("x1", "org-a", tenant.Finance, "high", 0, "T1110.001")
	enriched.SrcCountry, enriched.SrcASN, enriched.SrcASOrg, enriched.SrcScope = "NL", 1136, "KPN B.V.", "public"
	as := []alert.Alert{
		enriched,
		mkAlert("x2", "org-a", tenant.Finance, "critical", time.Minute, "T1003.001"),
		mkAlert("x3", "org-b", tenant.Medical, "high", 2*time.Minute, "T1490"),
	}
	if err := s.CommitDetections(ctx, "detect", 42, as); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Cursor(ctx, "detect"); c != 42 {
		t.Errorf("cursor = %d, want 42", c)
	}
	// Folding updates the stored alert in place.
	upd := as[0]
	upd.Count, upd.LastSeen = 5, t0.Add(10*time.Minute)
	if err := s.CommitDetections(ctx, "detect", 43, []alert.Alert{upd}); err != nil {
		t.Fatal(err)
	}
	both := []tenant.ID{"org-a", "org-b"}
	p := searchAlerts(t, s, store.AlertQuery{Tenants: both, WithEvents: true})
	if alertIDs(p) != "[x1 x3 x2]" || p.Total != 3 {
		t.Fatalf("all alerts: %s total %d", alertIDs(p), p.Total)
	}
	a := p.Alerts[0]
	if a.SrcCountry != "NL" || a.SrcASN != 1136 || a.SrcASOrg != "KPN B.V." || a.SrcScope != "public" {
		t.Errorf("enrichment not kept: %q %d %q", a.SrcCountry, a.SrcASN, a.SrcASOrg)
	}
	if a.Count != 5 || !a.LastSeen.Equal(t0.Add(10*time.Minute)) || a.RuleAuthor != "Someone" || fmt.Sprint(a.Techniques) != "[T1110.001]" || len(a.Event) != 1 {
		t.Errorf("updated alert = %+v", a)
	}
	for _, tc := range []struct {
		want string
		q    store.AlertQuery
	}{
		{"[x3]", store.AlertQuery{Tenants: both, Sectors: []tenant.Sector{tenant.Medical}}},
		{"[x2]", store.AlertQuery{Tenants: both, Levels: []string{"critical"}}},
		{"[x1]", store.AlertQuery{Tenants: both, Technique: "T1110"}},
		{"[x1 x3]", store.AlertQuery{Tenants: both, Since: t0.Add(2 * time.Minute)}},
		{"[x2]", store.AlertQuery{Tenants: both, RuleID: "rule-critical"}},
	} {
		if got := alertIDs(searchAlerts(t, s, tc.q)); got != tc.want {
			t.Errorf("query %+v = %s, want %s", tc.q, got, tc.want)
		}
	}
	p1 := searchAlerts(t, s, store.AlertQuery{Tenants: both, Limit: 2})
	p2 := searchAlerts(t, s, store.AlertQuery{Tenants: both, Limit: 2, Cursor: p1.Next})
	if alertIDs(p1) != "[x1 x3]" || alertIDs(p2) != "[x2]" || p2.Next != "" {
		t.Errorf("pages %s (next %q), %s (next %q)", alertIDs(p1), p1.Next, alertIDs(p2), p2.Next)
	}
	recent, err := s.RecentAlerts(ctx, t0.Add(5*time.Minute))
	if err != nil || len(recent) != 1 || recent[0].ID != "x1" {
		t.Errorf("RecentAlerts = %v, %v", recent, err)
	}
}

func testIsolationAlerts(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.CommitDetections(ctx, "detect", 1, []alert.Alert{mkAlert("a", "org-a", tenant.Finance, "high", 0), mkAlert("b", "org-b", tenant.Medical, "high", 0)}); err != nil {
		t.Fatal(err)
	}
	if p := searchAlerts(t, s, store.AlertQuery{}); len(p.Alerts) != 0 || p.Total != 0 {
		t.Errorf("no tenant named: %s", alertIDs(p))
	}
	if p := searchAlerts(t, s, store.AlertQuery{Tenants: []tenant.ID{"org-a"}, Sectors: []tenant.Sector{tenant.Medical}}); len(p.Alerts) != 0 {
		t.Errorf("org-a reached org-b's alert through its sector: %s", alertIDs(p))
	}
	if p := searchAlerts(t, s, store.AlertQuery{Tenants: []tenant.ID{"org-a"}, RuleID: "rule-high"}); alertIDs(p) != "[a]" {
		t.Errorf("org-a sees %s", alertIDs(p))
	}
}

func testTenants(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, tn := range []tenant.Tenant{{ID: "org-b", Name: "Bank B", Sector: tenant.Finance}, {ID: "org-a", Name: "Agency A", Sector: tenant.Government, Assets: 1200}} {
		if err := s.PutTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutTenant(ctx, tenant.Tenant{ID: "Bad Id", Name: "x"}); err == nil {
		t.Error("PutTenant accepted an invalid id")
	}
	ts, err := s.Tenants(ctx)
	if err != nil || len(ts) != 2 || ts[0].ID != "org-a" || ts[0].Sector != tenant.Government || ts[0].Assets != 1200 || ts[1].Assets != 0 {
		t.Errorf("Tenants = %v, %v", ts, err)
	}
	if err := s.SetRuleEnabled(ctx, "org-a", "r1", false); err != nil {
		t.Fatal(err)
	}
	s.SetRuleEnabled(ctx, "org-b", "r2", false)
	s.SetRuleEnabled(ctx, "org-b", "r2", true)
	d, err := s.DisabledRules(ctx)
	if err != nil || !d["org-a"]["r1"] || d["org-b"]["r2"] {
		t.Errorf("DisabledRules = %v, %v", d, err)
	}
}

func testRetention(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustAppend(t, s, ev("old", "org-a", 0), ev("new", "org-a", time.Hour))
	s.CommitDetections(ctx, "detect", 2, []alert.Alert{mkAlert("old", "org-a", tenant.Finance, "high", 0), mkAlert("new", "org-a", tenant.Finance, "high", time.Hour)})
	if _, err := s.DeleteBefore(ctx, t0.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if p := search(t, s, store.EventQuery{Tenants: []tenant.ID{"org-a"}}); ids(p) != "[new]" {
		t.Errorf("events after retention: %s", ids(p))
	}
	if p := searchAlerts(t, s, store.AlertQuery{Tenants: []tenant.ID{"org-a"}}); alertIDs(p) != "[new]" {
		t.Errorf("alerts after retention: %s", alertIDs(p))
	}
}
