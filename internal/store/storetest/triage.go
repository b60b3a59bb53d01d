package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

func ptr[T any](v T) *T { return &v }

var commitSeq atomic.Int64

func mustCommit(t *testing.T, s store.Store, as ...alert.Alert) {
	t.Helper()
	// Each commit at a new cursor position, as detection makes them (a
	// replica takes a commit at a position already logged for a retry).
	if err := s.CommitDetections(context.Background(), "detect", commitSeq.Add(1), as); err != nil {
		t.Fatalf("CommitDetections: %v", err)
	}
}

// update applies c to one alert of the named tenants and returns its result.
func update(t *testing.T, s store.Store, tenants []tenant.ID, id string, c store.AlertChange) store.UpdateResult {
	t.Helper()
	res, err := s.UpdateAlerts(context.Background(), tenants, []string{id}, c)
	if err != nil || len(res) != 1 {
		t.Fatalf("UpdateAlerts(%s): %v, %d results", id, err, len(res))
	}
	return res[0]
}

func getAlert(t *testing.T, s store.Store, tenants []tenant.ID, id string) *store.Alert {
	t.Helper()
	a, err := s.Alert(context.Background(), tenants, id)
	if err != nil {
		t.Fatalf("Alert(%s): %v", id, err)
	}
	return a
}

func testTriage(t *testing.T, s store.Store) {
	ctx := context.Background()
	orgA := []tenant.ID{"org-a"}
	mustCommit(t, s, mkAlert("t1", "org-a", tenant.Finance, "high", 0, "T1110"))
	if a := getAlert(t, s, orgA, "t1"); a.Assignee != "" || a.Resolution != "" || !a.Updated.Equal(t0) || a.Status != alert.StatusNew || len(a.Event) != 1 {
		t.Fatalf("new alert: %+v (want no triage, updated = first_seen, with its event)", a)
	}
	at := func(m int) time.Time { return t0.Add(time.Hour + time.Duration(m)*time.Minute) }
	steps := []struct {
		name    string
		c       store.AlertChange
		wantErr string // substring; the change must then write nothing
		want    []store.AuditEntry
	}{
		{name: "acknowledge", c: store.AlertChange{Status: ptr(alert.StatusAcknowledged), User: "alice", At: at(1)},
			want: []store.AuditEntry{{At: at(1), User: "alice", Action: store.ActionStatus, From: "new", To: "acknowledged"}}},
		{name: "take it", c: store.AlertChange{Status: ptr(alert.StatusInProgress), Assignee: ptr(" alice "), User: "alice", At: at(2)},
			want: []store.AuditEntry{
				{At: at(2), User: "alice", Action: store.ActionStatus, From: "acknowledged", To: "in_progress"},
				{At: at(2), User: "alice", Action: store.ActionAssignee, From: "", To: "alice"},
			}},
		{name: "close without resolution", c: store.AlertChange{Status: ptr(alert.StatusClosed), User: "alice", At: at(3)}, wantErr: "closing an alert needs a resolution"},
		{name: "unknown resolution", c: store.AlertChange{Status: ptr(alert.StatusClosed), Resolution: ptr("maybe"), User: "alice", At: at(3)}, wantErr: `unknown resolution "maybe"`},
		{name: "unknown status", c: store.AlertChange{Status: ptr(alert.Status("done")), User: "alice", At: at(3)}, wantErr: `unknown status "done"`},
		{name: "resolution while open", c: store.AlertChange{Resolution: ptr("benign"), User: "alice", At: at(3)}, wantErr: "only a closed alert has a resolution"},
		{name: "nothing", c: store.AlertChange{Comment: "  ", User: "alice", At: at(3)}, wantErr: "nothing to change"},
		{name: "no user", c: store.AlertChange{Status: ptr(alert.StatusNew), At: at(3)}, wantErr: "no user"},
		{name: "close", c: store.AlertChange{Status: ptr(alert.StatusClosed), Resolution: ptr(store.ResolutionTruePositive), Comment: "confirmed with the owner", User: "bob", At: at(4)},
			want: []store.AuditEntry{
				{At: at(4), User: "bob", Action: store.ActionStatus, From: "in_progress", To: "closed"},
				{At: at(4), User: "bob", Action: store.ActionResolution, From: "", To: "true_positive"},
				{At: at(4), User: "bob", Action: store.ActionComment, Comment: "confirmed with the owner"},
			}},
		{name: "re-resolve", c: store.AlertChange{Resolution: ptr(store.ResolutionBenign), User: "bob", At: at(5)},
			want: []store.AuditEntry{{At: at(5), User: "bob", Action: store.ActionResolution, From: "true_positive", To: "benign"}}},
		{name: "clear resolution of a closed alert", c: store.AlertChange{Resolution: ptr(""), User: "bob", At: at(6)}, wantErr: "closing an alert needs a resolution"},
		{name: "reopen with a resolution", c: store.AlertChange{Status: ptr(alert.StatusNew), Resolution: ptr("benign"), User: "bob", At: at(6)}, wantErr: "only a closed alert has a resolution"},
		{name: "reopen", c: store.AlertChange{Status: ptr(alert.StatusNew), User: "carol", At: at(7)},
			want: []store.AuditEntry{
				{At: at(7), User: "carol", Action: store.ActionStatus, From: "closed", To: "new"},
				{At: at(7), User: "carol", Action: store.ActionResolution, From: "benign", To: ""},
			}},
		{name: "no-op", c: store.AlertChange{Status: ptr(alert.StatusNew), Assignee: ptr("alice"), User: "carol", At: at(8)}},
		{name: "comment only", c: store.AlertChange{Comment: "watching", User: "carol", At: at(9)},
			want: []store.AuditEntry{{At: at(9), User: "carol", Action: store.ActionComment, Comment: "watching"}}},
	}
	var trail []store.AuditEntry
	for _, st := range steps {
		before := getAlert(t, s, orgA, "t1")
		r := update(t, s, orgA, "t1", st.c)
		after := getAlert(t, s, orgA, "t1")
		if st.wantErr != "" {
			if !errors.Is(r.Err, store.ErrInvalidChange) || !strings.Contains(r.Err.Error(), st.wantErr) {
				t.Errorf("%s: error %v, want ErrInvalidChange with %q", st.name, r.Err, st.wantErr)
			}
			if !reflect.DeepEqual(before, after) {
				t.Errorf("%s: a refused change altered the alert:\n%+v\n%+v", st.name, before, after)
			}
			continue
		}
		if r.Err != nil {
			t.Fatalf("%s: %v", st.name, r.Err)
		}
		if !reflect.DeepEqual(r.Audit, st.want) {
			t.Errorf("%s: audit\n got %+v\nwant %+v", st.name, r.Audit, st.want)
		}
		if !reflect.DeepEqual(r.Alert, after) {
			t.Errorf("%s: UpdateAlerts returned\n%+v\nbut Alert reads\n%+v", st.name, r.Alert, after)
		}
		if len(st.want) == 0 && !reflect.DeepEqual(before, after) {
			t.Errorf("%s: a no-op changed the alert", st.name)
		}
		trail = append(trail, st.want...)
	}
	a := getAlert(t, s, orgA, "t1")
	if a.Status != alert.StatusNew || a.Assignee != "alice" || a.Resolution != "" || !a.Updated.Equal(at(9)) || a.Count != 1 {
		t.Errorf("after triage: %+v", a)
	}
	got, err := s.AlertAudit(ctx, orgA, "t1")
	if err != nil || !reflect.DeepEqual(got, trail) {
		t.Errorf("AlertAudit = %v\n got %+v\nwant %+v", err, got, trail)
	}

	// Bulk: each alert on its own, results in the order asked.
	mustCommit(t, s, mkAlert("t2", "org-a", tenant.Finance, "low", time.Minute), mkAlert("t3", "org-a", tenant.Finance, "low", 2*time.Minute))
	update(t, s, orgA, "t3", store.AlertChange{Status: ptr(alert.StatusClosed), Resolution: ptr("duplicate"), User: "bob", At: at(10)})
	res, err := s.UpdateAlerts(ctx, orgA, []string{"t2", "nope", "t3"}, store.AlertChange{Status: ptr(alert.StatusAcknowledged), Assignee: ptr("dave"), User: "dave", At: at(11)})
	if err != nil || len(res) != 3 {
		t.Fatalf("bulk: %v, %d results", err, len(res))
	}
	if res[0].ID != "t2" || res[0].Err != nil || res[0].Alert.Status != alert.StatusAcknowledged || res[0].Alert.Assignee != "dave" {
		t.Errorf("bulk t2: %+v", res[0])
	}
	if res[1].ID != "nope" || !errors.Is(res[1].Err, store.ErrNotFound) || res[2].ID != "t3" || res[2].Err != nil || res[2].Alert.Resolution != "" {
		t.Errorf("bulk results: %+v, %+v (t3 was reopened: its resolution must go)", res[1], res[2])
	}
}

// testTriageSurvivesFolding: detection folding hits into an alert moves its
// count and times, never its triage state.
func testTriageSurvivesFolding(t *testing.T, s store.Store) {
	orgA := []tenant.ID{"org-a"}
	a := mkAlert("f1", "org-a", tenant.Finance, "high", 0)
	mustCommit(t, s, a)
	at := t0.Add(time.Hour)
	update(t, s, orgA, "f1", store.AlertChange{Status: ptr(alert.StatusInProgress), Assignee: ptr("alice"), User: "alice", At: at})
	a.Count, a.LastSeen = 9, t0.Add(2*time.Hour) // the folder's copy still says new and unassigned
	mustCommit(t, s, a)
	got := getAlert(t, s, orgA, "f1")
	if got.Count != 9 || !got.LastSeen.Equal(a.LastSeen) || got.Status != alert.StatusInProgress || got.Assignee != "alice" || !got.Updated.Equal(at) {
		t.Errorf("after folding: %+v", got)
	}
	if audit, _ := s.AlertAudit(context.Background(), orgA, "f1"); len(audit) != 2 {
		t.Errorf("folding touched the audit trail: %+v", audit)
	}
}

func testAlertFiltersAndSort(t *testing.T, s store.Store) {
	orgA := []tenant.ID{"org-a"}
	mk := func(id, level string, at time.Duration, count int, host, user, ip string) alert.Alert {
		a := mkAlert(id, "org-a", tenant.Finance, level, at)
		a.Count, a.Host, a.User, a.SrcIP, a.RuleTitle = count, host, user, ip, "Rule "+id
		a.LastSeen = a.FirstSeen.Add(time.Duration(count) * time.Minute)
		return a
	}
	mustCommit(t, s,
		mk("s1", "low", 0, 5, "WS-1", "alice", "198.51.100.1"),         // last 10:05
		mk("s2", "critical", time.Minute, 1, "ws-2", "bob", ""),        // last 10:02
		mk("s3", "high", 2*time.Minute, 7, "srv-9", "carol", ""),       // last 10:09
		mk("s4", "critical", 3*time.Minute, 2, "ws-3", "", "10.1.1.1"), // last 10:05
	)
	update(t, s, orgA, "s2", store.AlertChange{Assignee: ptr("Alice"), User: "x", At: t0})
	for _, tc := range []struct {
		want string
		q    store.AlertQuery
	}{
		{"[s3 s4 s1 s2]", store.AlertQuery{}},
		{"[s3 s4 s1 s2]", store.AlertQuery{Sort: "last_seen"}},
		{"[s2 s1 s4 s3]", store.AlertQuery{Sort: "-last_seen"}},
		{"[s4 s3 s2 s1]", store.AlertQuery{Sort: "first_seen"}},
		{"[s4 s2 s3 s1]", store.AlertQuery{Sort: "level"}},
		{"[s1 s3 s2 s4]", store.AlertQuery{Sort: "-level"}},
		{"[s3 s1 s4 s2]", store.AlertQuery{Sort: "count"}},
		{"[s2 s4 s1 s3]", store.AlertQuery{Sort: "-count"}},
		{"[s2]", store.AlertQuery{Assignee: "alice"}},
		{"[s3 s4 s1]", store.AlertQuery{Unassigned: true}},
		{"[s1]", store.AlertQuery{Text: "ws-1"}},     // host, any case
		{"[s3]", store.AlertQuery{Text: "CAROL"}},    // user
		{"[s4]", store.AlertQuery{Text: "10.1.1"}},   // source address
		{"[s2]", store.AlertQuery{Text: "rule s2"}},  // rule title
		{"[s4 s1 s2]", store.AlertQuery{Text: "ws"}}, // several
	} {
		tc.q.Tenants = orgA
		if got := alertIDs(searchAlerts(t, s, tc.q)); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.q, got, tc.want)
		}
	}
	// Paging through every sort yields the same order as one page.
	for _, sort := range []string{"", "-last_seen", "first_seen", "level", "-level", "count", "-count"} {
		want := alertIDs(searchAlerts(t, s, store.AlertQuery{Tenants: orgA, Sort: sort}))
		var got []string
		cursor := ""
		for i := 0; i < 5; i++ {
			p := searchAlerts(t, s, store.AlertQuery{Tenants: orgA, Sort: sort, Limit: 1, Cursor: cursor})
			for _, a := range p.Alerts {
				got = append(got, a.ID)
			}
			if cursor = p.Next; cursor == "" {
				break
			}
		}
		if fmt.Sprint(got) != want {
			t.Errorf("sort %q paged: %v, want %s", sort, got, want)
		}
	}
	p := searchAlerts(t, s, store.AlertQuery{Tenants: orgA, Sort: "level", Limit: 1})
	if _, err := s.SearchAlerts(context.Background(), store.AlertQuery{Tenants: orgA, Sort: "count", Cursor: p.Next}); err == nil {
		t.Error("a level cursor was accepted for the count sort")
	}
	if _, err := s.SearchAlerts(context.Background(), store.AlertQuery{Tenants: orgA, Sort: "severity"}); err == nil {
		t.Error("an unknown sort was accepted")
	}
}

func testRelated(t *testing.T, s store.Store) {
	both := []tenant.ID{"org-a", "org-b"}
	mk := func(id string, tid tenant.ID, at time.Duration, host, user, ip string) alert.Alert {
		a := mkAlert(id, tid, tenant.Finance, "high", at)
		a.Host, a.User, a.SrcIP = host, user, ip
		return a
	}
	day := 24 * time.Hour
	mustCommit(t, s,
		mk("r0", "org-a", 0, "ws-1", "alice", "203.0.113.9"),
		mk("r1", "org-a", time.Hour, "WS-1", "bob", ""),              // same host, any case
		mk("r2", "org-a", 2*time.Hour, "ws-2", "ALICE", ""),          // same user
		mk("r3", "org-a", 3*time.Hour, "ws-3", "", "203.0.113.9"),    // same source
		mk("r4", "org-a", 4*time.Hour, "ws-4", "eve", "203.0.113.8"), // nothing shared
		mk("r5", "org-a", 8*day, "ws-1", "alice", ""),                // too late
		mk("r6", "org-a", -8*day, "ws-1", "alice", ""),               // too early
		mk("r7", "org-a", 6*day, "ws-1", "", ""),                     // within 7 days
		mk("r8", "org-b", time.Hour, "ws-1", "alice", "203.0.113.9"), // another organisation
	)
	got, err := s.RelatedAlerts(context.Background(), both, "r0", 7*day, 20)
	if err != nil {
		t.Fatal(err)
	}
	if ids := alertIDs(&store.AlertPage{Alerts: got}); ids != "[r7 r3 r2 r1]" {
		t.Errorf("related to r0: %s, want [r7 r3 r2 r1]", ids)
	}
	if got, _ := s.RelatedAlerts(context.Background(), both, "r0", 7*day, 2); len(got) != 2 {
		t.Errorf("limit 2: %d related", len(got))
	}
	if _, err := s.RelatedAlerts(context.Background(), both, "missing", 7*day, 20); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("related to a missing alert: %v, want ErrNotFound", err)
	}
}

// dashboardData is a fixed data set around now = t0+30m (10:30 UTC).
func dashboardData(t *testing.T, s store.Store) time.Time {
	t.Helper()
	now := t0.Add(30 * time.Minute)
	ctx := context.Background()
	for _, tn := range []tenant.Tenant{{ID: "org-a", Name: "Bank A", Sector: tenant.Finance}, {ID: "org-b", Name: "Hospital B", Sector: tenant.Medical},
		{ID: "org-c", Name: "Ministry C", Sector: tenant.Government}} {
		if err := s.PutTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(id string, tid tenant.ID, sector tenant.Sector, level string, ago time.Duration, count int, ip string, status alert.Status, tech, tac []string) alert.Alert {
		a := mkAlert(id, tid, sector, level, 0)
		a.FirstSeen, a.LastSeen = now.Add(-ago), now.Add(-ago)
		a.Count, a.SrcIP, a.Status, a.Techniques, a.Tactics, a.RuleID = count, ip, status, tech, tac, "rule-"+id[:2]
		return a
	}
	day := 24 * time.Hour
	mustCommit(t, s,
		mk("d1", "org-a", tenant.Finance, "critical", time.Hour, 3, "203.0.113.5", alert.StatusNew, []string{"T1110.001"}, []string{"credential-access"}),
		mk("d2", "org-a", tenant.Finance, "high", 2*time.Hour, 2, "10.0.0.5", alert.StatusNew, []string{"T1059.001"}, []string{"execution"}),
		mk("d3", "org-b", tenant.Medical, "critical", 20*time.Minute, 1, "203.0.113.5", alert.StatusClosed, []string{"T1110.001", "T1078"}, []string{"credential-access"}),
		mk("d4", "org-b", tenant.Medical, "medium", 25*time.Hour, 4, "198.51.100.7", alert.StatusNew, []string{"T1059.001"}, []string{"execution"}),
		mk("d5", "org-c", tenant.Government, "low", 7*day+2*time.Hour, 1, "", alert.StatusNew, nil, nil),
		mk("d6", "org-c", tenant.Government, "high", 3*time.Hour, 5, "198.51.100.7", alert.StatusAcknowledged, []string{"T1059.001"}, []string{"execution"}),
		mk("d7", "org-a", tenant.Finance, "low", 30*day, 6, "192.0.2.1", alert.StatusNew, nil, nil), // older than every window
	)
	return now
}

func dashboardOf(t *testing.T, s store.Store, now time.Time, tenants ...tenant.ID) *store.Dashboard {
	t.Helper()
	d, err := s.Dashboard(context.Background(), store.DashboardQuery{Tenants: tenants, Now: now, Window: 24 * time.Hour})
	if err != nil {
		t.Fatalf("Dashboard: %v", err)
	}
	return d
}

func testDashboard(t *testing.T, s store.Store) {
	now := dashboardData(t, s)
	d := dashboardOf(t, s, now, "org-a", "org-b", "org-c")
	h := func(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 0, 0, 0, time.UTC) }
	check := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
		}
	}
	check("totals", d.Totals, store.DashboardTotals{Today: 4, Yesterday: 1, SameDayLastWeek: 1, Open: 6, CriticalOpen: 1})
	check("by level", d.ByLevel, map[string]int{"critical": 2, "high": 2, "medium": 0, "low": 0, "informational": 0})
	check("per hour", d.PerHour, []store.SectorCount{
		{T: h(23, 7), Sector: tenant.Government, Count: 5}, {T: h(23, 8), Sector: tenant.Finance, Count: 2},
		{T: h(23, 9), Sector: tenant.Finance, Count: 3}, {T: h(23, 10), Sector: tenant.Medical, Count: 1},
	})
	check("per day", d.PerDay, []store.SectorCount{
		{T: h(16, 0), Sector: tenant.Government, Count: 1}, {T: h(22, 0), Sector: tenant.Medical, Count: 4},
		{T: h(23, 0), Sector: tenant.Finance, Count: 5}, {T: h(23, 0), Sector: tenant.Government, Count: 5}, {T: h(23, 0), Sector: tenant.Medical, Count: 1},
	})
	check("top sources", d.TopSources, []store.SourceCount{
		{IP: "203.0.113.5", Count: 2, Orgs: 2, Sectors: []tenant.Sector{tenant.Finance, tenant.Medical}},
		{IP: "198.51.100.7", Count: 1, Orgs: 1, Sectors: []tenant.Sector{tenant.Government}},
	})
	check("techniques", d.Techniques, []store.TechniqueCount{
		{Technique: "T1059.001", Tactic: "execution", Count: 2}, {Technique: "T1110.001", Tactic: "credential-access", Count: 2},
		{Technique: "T1078", Tactic: "credential-access", Count: 1},
	})
	check("top orgs", d.TopOrgs, []store.OrgCount{
		{Tenant: "org-a", Name: "Bank A", Sector: tenant.Finance, Count: 2, Critical: 1, High: 1},
		{Tenant: "org-b", Name: "Hospital B", Sector: tenant.Medical, Count: 1, Critical: 1},
		{Tenant: "org-c", Name: "Ministry C", Sector: tenant.Government, Count: 1, High: 1},
	})
	check("top sectors", d.TopSectors, []store.SectorTotal{
		{Sector: tenant.Finance, Count: 2, Orgs: 1}, {Sector: tenant.Government, Count: 1, Orgs: 1}, {Sector: tenant.Medical, Count: 1, Orgs: 1},
	})
}

func testOrgStats(t *testing.T, s store.Store) {
	now := dashboardData(t, s)
	rcv := func(id string, tid tenant.ID, ago time.Duration) store.Event {
		e := ev(id, tid, 0)
		e.Time, e.Received = now.Add(-ago-time.Second), now.Add(-ago)
		return e
	}
	mustAppend(t, s, rcv("e1", "org-a", 10*time.Minute), rcv("e2", "org-a", 2*time.Hour), rcv("e3", "org-b", 30*time.Hour))
	mustAppend(t, s, rcv("e1", "org-a", 10*time.Minute)) // a duplicate is not counted twice
	got, err := s.OrgStats(context.Background(), store.OrgStatsQuery{Tenants: []tenant.ID{"org-c", "org-b", "org-a"}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.OrgStats{
		{Tenant: "org-a", Alerts24h: 2, Critical24h: 1, Open: 3, Events24h: 2, LastEvent: now.Add(-10 * time.Minute)},
		{Tenant: "org-b", Alerts24h: 1, Critical24h: 1, Open: 1, Events24h: 0, LastEvent: now.Add(-30 * time.Hour)},
		{Tenant: "org-c", Alerts24h: 1, Critical24h: 0, Open: 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("OrgStats:\n got %+v\nwant %+v", got, want)
	}
}

func testHistogram(t *testing.T, s store.Store) {
	mustAppend(t, s,
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
		if buckets == 60 { // too many to spell out
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
		{7, nil, "35s 00:00=1 00:35=1 01:10=0 01:45=1 02:20=0 02:55=0 03:30=1"}, // 4m/7 rounds up to whole seconds: 7 buckets still cover the range
		{4, []store.Filter{{Field: "User", Value: "alice"}}, "1m0s 00:00=1 01:00=0 02:00=1 03:00=1"},
	} {
		if got := hist(tc.buckets, tc.filters...); got != tc.want {
			t.Errorf("histogram(%d, %v) = %s, want %s", tc.buckets, tc.filters, got, tc.want)
		}
	}
	if _, err := s.EventHistogram(context.Background(), store.HistogramQuery{EventQuery: store.EventQuery{Tenants: []tenant.ID{"org-a"}, Since: t0, Until: t0}, Buckets: 10}); err == nil {
		t.Error("an empty range was accepted")
	}
}

func testRuleHits(t *testing.T, s store.Store) {
	now := dashboardData(t, s)
	got, err := s.RuleHits(context.Background(), store.RuleHitsQuery{Tenants: []tenant.ID{"org-a", "org-b", "org-c"}, Since: now.Add(-24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]store.RuleHits{
		"rule-d1": {Recent: 3, Total: 3}, "rule-d2": {Recent: 2, Total: 2}, "rule-d3": {Recent: 1, Total: 1}, "rule-d4": {Recent: 0, Total: 4},
		"rule-d5": {Recent: 0, Total: 1}, "rule-d6": {Recent: 5, Total: 5}, "rule-d7": {Recent: 0, Total: 6},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RuleHits:\n got %v\nwant %v", got, want)
	}
}

// testIsolationTriage: a tenant list never reaches another tenant's alerts
// through triage, detail, audit or related reads.
func testIsolationTriage(t *testing.T, s store.Store) {
	ctx := context.Background()
	orgA, orgB := []tenant.ID{"org-a"}, []tenant.ID{"org-b"}
	mustCommit(t, s, mkAlert("a", "org-a", tenant.Finance, "high", 0), mkAlert("b", "org-b", tenant.Medical, "high", 0)) // same user and source address
	update(t, s, orgB, "b", store.AlertChange{Comment: "secret note of b", User: "bob", At: t0})
	if _, err := s.Alert(ctx, orgA, "b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("org-a reads b: %v, want ErrNotFound", err)
	}
	r := update(t, s, orgA, "b", store.AlertChange{Status: ptr(alert.StatusClosed), Resolution: ptr("benign"), Comment: "x", User: "mallory", At: t0})
	if !errors.Is(r.Err, store.ErrNotFound) || r.Alert != nil {
		t.Errorf("org-a updates b: %+v, want ErrNotFound", r)
	}
	if b := getAlert(t, s, orgB, "b"); b.Status != alert.StatusNew {
		t.Errorf("b changed through org-a: %+v", b)
	}
	if audit, err := s.AlertAudit(ctx, orgA, "b"); err != nil || len(audit) != 0 {
		t.Errorf("org-a reads b's audit: %+v, %v", audit, err)
	}
	if audit, _ := s.AlertAudit(ctx, orgB, "b"); len(audit) != 1 {
		t.Errorf("b's own audit: %+v (want only its comment)", audit)
	}
	if got, err := s.AlertsByID(ctx, orgA, []string{"a", "b"}); err != nil || len(got) != 1 || got[0].ID != "a" {
		t.Errorf("AlertsByID(org-a, a b) = %+v, %v", got, err)
	}
	if rel, err := s.RelatedAlerts(ctx, []tenant.ID{"org-a", "org-b"}, "a", 7*24*time.Hour, 20); err != nil || len(rel) != 0 {
		t.Errorf("related to a crosses into org-b: %+v, %v", rel, err)
	}
	if _, err := s.RelatedAlerts(ctx, orgA, "b", 7*24*time.Hour, 20); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("org-a asks for alerts related to b: %v, want ErrNotFound", err)
	}
	if p := searchAlerts(t, s, store.AlertQuery{Tenants: orgA, Text: "h-b"}); len(p.Alerts) != 0 {
		t.Errorf("org-a finds b by text: %s", alertIDs(p))
	}
}

// testIsolationAggregates: aggregates over one tenant count none of another's rows.
func testIsolationAggregates(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := dashboardData(t, s)
	orgA := []tenant.ID{"org-a"}
	d := dashboardOf(t, s, now, orgA...)
	if d.Totals != (store.DashboardTotals{Today: 2, Open: 3, CriticalOpen: 1}) || d.ByLevel["critical"] != 1 || d.ByLevel["high"] != 1 {
		t.Errorf("org-a dashboard totals %+v, levels %v", d.Totals, d.ByLevel)
	}
	if len(d.TopOrgs) != 1 || d.TopOrgs[0].Tenant != "org-a" || len(d.TopSectors) != 1 || d.TopSectors[0].Sector != tenant.Finance {
		t.Errorf("org-a dashboard lists others: %+v %+v", d.TopOrgs, d.TopSectors)
	}
	if len(d.TopSources) != 1 || d.TopSources[0].Orgs != 1 || fmt.Sprint(d.TopSources[0].Sectors) != "[finance]" {
		t.Errorf("org-a top sources: %+v", d.TopSources)
	}
	for _, c := range append(d.PerHour, d.PerDay...) {
		if c.Sector != tenant.Finance {
			t.Errorf("org-a series holds %+v", c)
		}
	}
	if len(d.Techniques) != 2 {
		t.Errorf("org-a techniques: %+v", d.Techniques)
	}
	mustAppend(t, s, ev("eb", "org-b", 0))
	st, err := s.OrgStats(ctx, store.OrgStatsQuery{Tenants: orgA, Now: now})
	if err != nil || len(st) != 1 || st[0].Tenant != "org-a" || st[0].Events24h != 0 || !st[0].LastEvent.IsZero() {
		t.Errorf("org-a stats: %+v, %v", st, err)
	}
	h, err := s.EventHistogram(ctx, store.HistogramQuery{EventQuery: store.EventQuery{Tenants: orgA, Since: t0.Add(-time.Hour), Until: t0.Add(time.Hour)}, Buckets: 2})
	if err != nil || h.Buckets[0].Count+h.Buckets[1].Count != 0 {
		t.Errorf("org-a histogram counts org-b's event: %+v, %v", h, err)
	}
	hits, err := s.RuleHits(ctx, store.RuleHitsQuery{Tenants: orgA, Since: now.Add(-24 * time.Hour)})
	if err != nil || len(hits) != 3 || hits["rule-d3"] != (store.RuleHits{}) {
		t.Errorf("org-a rule hits: %v, %v", hits, err)
	}
}

// testEmptyTenantList: every read naming no tenant returns nothing.
func testEmptyTenantList(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := dashboardData(t, s)
	mustAppend(t, s, ev("e", "org-a", 0))
	update(t, s, []tenant.ID{"org-a"}, "d1", store.AlertChange{Comment: "c", User: "u", At: now})
	if _, err := s.Alert(ctx, nil, "d1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Alert: %v", err)
	}
	if got, err := s.AlertsByID(ctx, nil, []string{"d1"}); err != nil || len(got) != 0 {
		t.Errorf("AlertsByID: %v %v", got, err)
	}
	if got, err := s.AlertAudit(ctx, nil, "d1"); err != nil || len(got) != 0 {
		t.Errorf("AlertAudit: %v %v", got, err)
	}
	if _, err := s.RelatedAlerts(ctx, nil, "d1", time.Hour, 10); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RelatedAlerts: %v", err)
	}
	if res, err := s.UpdateAlerts(ctx, nil, []string{"d1"}, store.AlertChange{Comment: "x", User: "u", At: now}); err != nil || !errors.Is(res[0].Err, store.ErrNotFound) {
		t.Errorf("UpdateAlerts: %+v %v", res, err)
	}
	if audit, _ := s.AlertAudit(ctx, []tenant.ID{"org-a"}, "d1"); len(audit) != 1 {
		t.Errorf("an update naming no tenant wrote: %+v", audit)
	}
	d := dashboardOf(t, s, now)
	if d.Totals != (store.DashboardTotals{}) || len(d.PerHour)+len(d.PerDay)+len(d.TopSources)+len(d.Techniques)+len(d.TopOrgs)+len(d.TopSectors) != 0 || d.ByLevel["critical"] != 0 {
		t.Errorf("Dashboard: %+v", d)
	}
	if st, err := s.OrgStats(ctx, store.OrgStatsQuery{Now: now}); err != nil || len(st) != 0 {
		t.Errorf("OrgStats: %+v %v", st, err)
	}
	h, err := s.EventHistogram(ctx, store.HistogramQuery{EventQuery: store.EventQuery{Since: t0.Add(-time.Hour), Until: t0.Add(time.Hour)}, Buckets: 2})
	if err != nil || h.Buckets[0].Count+h.Buckets[1].Count != 0 {
		t.Errorf("EventHistogram: %+v %v", h, err)
	}
	if hits, err := s.RuleHits(ctx, store.RuleHitsQuery{Since: now.Add(-time.Hour)}); err != nil || len(hits) != 0 {
		t.Errorf("RuleHits: %v %v", hits, err)
	}
}
