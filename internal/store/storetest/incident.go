package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/incident"
	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// group runs alerts through a Grouper and a Campaigns tracker and commits
// what they produce, as the pipeline does.
func group(t *testing.T, s store.Store, g *incident.Grouper, cs *incident.Campaigns, now time.Time, as ...alert.Alert) map[string]string {
	t.Helper()
	incOf := map[string]string{}
	var incs []incident.Incident
	var camps []incident.Campaign
	for _, a := range as {
		inc, _ := g.Add(a)
		if inc == nil {
			continue
		}
		incOf[a.ID] = inc.ID
		incs = append(incs, *inc)
		for _, c := range cs.Add(inc, a) {
			camps = append(camps, *c)
		}
	}
	if err := s.CommitIncidents(context.Background(), incs, camps, now); err != nil {
		t.Fatalf("CommitIncidents: %v", err)
	}
	return incOf
}

func incAlert(id string, tid tenant.ID, sector tenant.Sector, level, tactic, host, src string, at time.Duration) alert.Alert {
	a := mkAlert(id, tid, sector, level, at, "T1110")
	a.Tactics, a.Host, a.SrcIP, a.RuleID, a.User = []string{tactic}, host, src, "rule-"+id, ""
	return a
}

func testIncidents(t *testing.T, s store.Store) {
	ctx := context.Background()
	g, cs := incident.NewGrouper(0), incident.NewCampaigns(0, 0)
	incOf := group(t, s, g, cs, t0,
		incAlert("a1", "org-a", tenant.Transport, "medium", "initial-access", "WS1", "10.0.0.5", 0),
		incAlert("a2", "org-a", tenant.Transport, "high", "credential-access", "WS1", "10.0.0.5", time.Minute),
		incAlert("a3", "org-a", tenant.Transport, "high", "impact", "WS1", "", 2*time.Minute),
		incAlert("b1", "org-b", tenant.Finance, "medium", "execution", "SRV9", "", 0),
	)
	if incOf["a1"] != incOf["a3"] || incOf["a1"] == incOf["b1"] {
		t.Fatalf("grouping: %v", incOf)
	}
	page, err := s.SearchIncidents(ctx, store.IncidentQuery{Tenants: []tenant.ID{"org-a", "org-b"}})
	if err != nil || page.Total != 2 {
		t.Fatalf("SearchIncidents = %+v, %v; want 2", page, err)
	}
	inc, err := s.Incident(ctx, []tenant.ID{"org-a"}, incOf["a1"])
	if err != nil {
		t.Fatal(err)
	}
	if inc.Status != alert.StatusNew || len(inc.AlertIDs) != 3 || inc.Severity != "critical" || inc.Created.IsZero() ||
		!slices.Equal(inc.Stages, []string{"initial-access", "credential-access", "impact"}) {
		t.Errorf("incident = %+v", inc)
	}
	// Filters.
	for _, tc := range []struct {
		q    store.IncidentQuery
		want int
	}{
		{store.IncidentQuery{Severities: []string{"critical"}}, 1}, // the whole kill chain
		{store.IncidentQuery{Severities: []string{"high"}}, 0},
		{store.IncidentQuery{Sectors: []tenant.Sector{tenant.Finance}}, 1},
		{store.IncidentQuery{Text: "srv9"}, 1},
		{store.IncidentQuery{Statuses: []string{"closed"}}, 0},
	} {
		tc.q.Tenants = []tenant.ID{"org-a", "org-b"}
		p, err := s.SearchIncidents(ctx, tc.q)
		if err != nil || p.Total != tc.want {
			t.Errorf("SearchIncidents(%+v) total = %d, %v; want %d", tc.q, p.Total, err, tc.want)
		}
	}

	// Workflow: acknowledge stamps the time, closing needs a resolution.
	at := t0.Add(time.Hour)
	res, err := s.UpdateIncidents(ctx, []tenant.ID{"org-a"}, []string{inc.ID}, store.AlertChange{Status: ptr(alert.StatusAcknowledged), Assignee: ptr("ana"), User: "ana", At: at})
	if err != nil || res[0].Err != nil || len(res[0].Audit) != 2 {
		t.Fatalf("acknowledge: %+v %v", res, err)
	}
	res, _ = s.UpdateIncidents(ctx, []tenant.ID{"org-a"}, []string{inc.ID}, store.AlertChange{Status: ptr(alert.StatusClosed), User: "ana", At: at})
	if !errors.Is(res[0].Err, store.ErrInvalidChange) {
		t.Errorf("closing without resolution: err = %v", res[0].Err)
	}
	res, _ = s.UpdateIncidents(ctx, []tenant.ID{"org-a"}, []string{inc.ID}, store.AlertChange{Status: ptr(alert.StatusClosed), Resolution: ptr("true_positive"), Comment: "contained", User: "ana", At: at.Add(time.Hour)})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	inc, _ = s.Incident(ctx, []tenant.ID{"org-a"}, inc.ID)
	if !inc.Acknowledged.Equal(at) || !inc.Closed.Equal(at.Add(time.Hour)) || inc.Resolution != "true_positive" {
		t.Errorf("after close: ack %v closed %v resolution %q", inc.Acknowledged, inc.Closed, inc.Resolution)
	}
	audit, _ := s.IncidentAudit(ctx, []tenant.ID{"org-a"}, inc.ID)
	if len(audit) != 5 { // status, assignee, status, resolution, comment
		t.Errorf("audit = %+v, want 5 entries", audit)
	}
	// New activity reopens a closed incident.
	group(t, s, g, cs, t0.Add(3*time.Hour), incAlert("a4", "org-a", tenant.Transport, "high", "exfiltration", "WS1", "", 3*time.Minute))
	inc, _ = s.Incident(ctx, []tenant.ID{"org-a"}, inc.ID)
	if inc.Status != alert.StatusInProgress || inc.Resolution != "" || !inc.Closed.IsZero() || len(inc.AlertIDs) != 4 {
		t.Errorf("incident not reopened by a new alert: %+v", inc)
	}
	if inc.Assignee != "ana" || !inc.Acknowledged.Equal(at) {
		t.Errorf("grouping changed triage state: %+v", inc)
	}
	times, err := s.IncidentTimes(ctx, []tenant.ID{"org-a", "org-b"}, t0.Add(-24*time.Hour))
	if err != nil || len(times) != 2 {
		t.Errorf("IncidentTimes = %+v, %v", times, err)
	}
}

func testIncidentMerge(t *testing.T, s store.Store) {
	ctx := context.Background()
	g, cs := incident.NewGrouper(0), incident.NewCampaigns(0, 0)
	incOf := group(t, s, g, cs, t0,
		incAlert("m1", "org-a", tenant.Transport, "high", "execution", "WS1", "", 0),
		incAlert("m2", "org-a", tenant.Transport, "high", "execution", "WS2", "", time.Minute),
	)
	first, second := incOf["m1"], incOf["m2"]
	if first == second {
		t.Fatal("separate hosts grouped")
	}
	if _, err := s.UpdateIncidents(ctx, []tenant.ID{"org-a"}, []string{second}, store.AlertChange{Comment: "looking", User: "bo", At: t0}); err != nil {
		t.Fatal(err)
	}
	// One alert on both hosts' user links them.
	a1 := incAlert("m3", "org-a", tenant.Transport, "high", "lateral-movement", "WS1", "", 2*time.Minute)
	a1.User = "eve"
	a2 := incAlert("m4", "org-a", tenant.Transport, "high", "lateral-movement", "WS2", "", 3*time.Minute)
	a2.User = "eve"
	group(t, s, g, cs, t0, a1, a2)
	page, _ := s.SearchIncidents(ctx, store.IncidentQuery{Tenants: []tenant.ID{"org-a"}})
	if page.Total != 1 {
		t.Fatalf("after merge %d incidents listed, want 1", page.Total)
	}
	// The absorbed incident's ID still leads to the survivor, with its trail.
	inc, err := s.Incident(ctx, []tenant.ID{"org-a"}, second)
	if err != nil || inc.ID != first || len(inc.AlertIDs) != 4 {
		t.Fatalf("Incident(%s) = %+v, %v; want the survivor %s", second, inc, err, first)
	}
	audit, _ := s.IncidentAudit(ctx, []tenant.ID{"org-a"}, first)
	var comments []string
	for _, e := range audit {
		comments = append(comments, e.Comment)
	}
	if !slices.Contains(comments, "looking") {
		t.Errorf("survivor's audit %v lacks the absorbed incident's comment", comments)
	}
}

// testCampaignsAndIsolation: one attacker across three organisations in
// three sectors makes one campaign; each organisation reaches only its own
// incidents, and campaigns only through its own membership.
func testCampaignsAndIsolation(t *testing.T, s store.Store) {
	ctx := context.Background()
	g, cs := incident.NewGrouper(0), incident.NewCampaigns(0, 0)
	incOf := group(t, s, g, cs, t0,
		incAlert("c1", "org-a", tenant.Transport, "high", "initial-access", "WA", "198.51.100.23", 0),
		incAlert("c2", "org-b", tenant.Finance, "high", "initial-access", "WB", "198.51.100.23", 10*time.Minute),
		incAlert("c3", "org-c", tenant.Medical, "high", "initial-access", "WC", "198.51.100.99", 20*time.Minute),
		incAlert("d1", "org-d", tenant.Water, "medium", "execution", "WD", "", 0),
	)
	all := []tenant.ID{"org-a", "org-b", "org-c", "org-d"}
	camps, err := s.Campaigns(ctx, store.CampaignQuery{Tenants: all})
	if err != nil || len(camps) != 1 {
		t.Fatalf("Campaigns = %d, %v; want 1", len(camps), err)
	}
	c := camps[0]
	if !slices.Equal(c.Orgs, []tenant.ID{"org-a", "org-b", "org-c"}) || len(c.Sectors) != 3 || len(c.IncidentIDs) != 3 {
		t.Errorf("campaign = %+v", c)
	}
	inc, _ := s.Incident(ctx, []tenant.ID{"org-b"}, incOf["c2"])
	if inc == nil || inc.CampaignID != c.ID || !inc.InCampaign {
		t.Errorf("incident of org-b not linked to the campaign: %+v", inc)
	}
	p, _ := s.SearchIncidents(ctx, store.IncidentQuery{Tenants: all, Campaign: c.ID})
	if p.Total != 3 {
		t.Errorf("incidents of the campaign = %d, want 3", p.Total)
	}
	// org-d is in no campaign and sees none; it cannot fetch the campaign by ID.
	if got, _ := s.Campaigns(ctx, store.CampaignQuery{Tenants: []tenant.ID{"org-d"}}); len(got) != 0 {
		t.Errorf("org-d sees %d campaigns", len(got))
	}
	if _, err := s.Campaign(ctx, []tenant.ID{"org-d"}, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Campaign by org-d: %v, want ErrNotFound", err)
	}
	// Another tenant's incident is not found, not updatable, has no audit.
	if _, err := s.Incident(ctx, []tenant.ID{"org-d"}, incOf["c1"]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Incident across tenants: %v", err)
	}
	res, _ := s.UpdateIncidents(ctx, []tenant.ID{"org-d"}, []string{incOf["c1"]}, store.AlertChange{Comment: "x", User: "mallory", At: t0})
	if !errors.Is(res[0].Err, store.ErrNotFound) {
		t.Errorf("UpdateIncidents across tenants: %v", res[0].Err)
	}
	if got, _ := s.IncidentAudit(ctx, []tenant.ID{"org-a"}, incOf["c1"]); len(got) != 0 {
		t.Errorf("cross-tenant update left audit %+v", got)
	}
	if p, _ := s.SearchIncidents(ctx, store.IncidentQuery{Tenants: []tenant.ID{"org-d"}, Campaign: c.ID}); p.Total != 0 {
		t.Errorf("org-d lists %d incidents of the campaign", p.Total)
	}
	// What an organisation sees of the stored campaign: only itself.
	v := incident.View(&camps[0], func(id tenant.ID) bool { return id == "org-b" })
	if v.ID != c.ID || !slices.Equal(v.IncidentIDs, []string{incOf["c2"]}) {
		t.Errorf("org-b view = %+v", v)
	}
	for _, ind := range v.Indicators {
		if ind.Value == "198.51.100.99" {
			t.Errorf("org-b sees org-c's indicator %v", ind)
		}
	}
	if none, _ := s.Campaigns(ctx, store.CampaignQuery{}); len(none) != 0 {
		t.Error("campaign query without tenants returned campaigns")
	}
}

func testTelemetryAndRatings(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustAppend(t, s,
		ev("t1", "org-a", 0, "Channel", "Security", "Computer", "WS1"),
		ev("t2", "org-a", time.Minute, "Channel", "Security", "Computer", "WS2"),
		ev("t3", "org-b", 0, "Channel", "sshd"),
	)
	tel, err := s.Telemetry(ctx, store.TelemetryQuery{Tenants: []tenant.ID{"org-a"}, Since: t0.Add(-48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, src := range tel.Sources {
		if src.Tenant != "org-a" {
			t.Errorf("telemetry of org-a lists %+v", src)
		}
		n += src.Events
	}
	if n != 2 || tel.Hosts["org-a"] != 2 || tel.Hosts["org-b"] != 0 {
		t.Errorf("telemetry = %+v, events %d", tel, n)
	}
	pts := []store.RatingPoint{
		{Key: "org:org-a", Day: "2026-11-20", Score: 60, Grade: "D", At: t0},
		{Key: "org:org-a", Day: "2026-11-21", Score: 70, Grade: "C", At: t0},
		{Key: "org:org-b", Day: "2026-11-21", Score: 90, Grade: "A", At: t0},
	}
	if err := s.PutRatings(ctx, pts); err != nil {
		t.Fatal(err)
	}
	pts[1].Score = 72
	if err := s.PutRatings(ctx, pts[1:2]); err != nil {
		t.Fatal(err)
	}
	h, err := s.RatingHistory(ctx, []string{"org:org-a"}, "2026-11-21")
	if err != nil || len(h) != 1 || h[0].Score != 72 {
		t.Errorf("RatingHistory = %+v, %v; want one point of 72", h, err)
	}
}
