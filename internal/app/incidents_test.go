package app

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/sigma"
	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/store/local"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// TestIncidentsResumeAfterRestart: after a restart, grouping picks up where
// it was: an alert linked to an incident opened before the restart joins
// it instead of opening a new one.
func TestIncidentsResumeAfterRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	classes := func() *ruleClasses { return classify(&sigma.Set{}) }
	now := time.Now().UTC().Truncate(time.Millisecond)
	mk := func(id string, at time.Time, tactic string) alert.Alert {
		return alert.Alert{ID: id, Tenant: "health", Sector: tenant.Medical, RuleID: "r-" + id, RuleTitle: id, Level: "high",
			Tactics: []string{tactic}, Host: "WS-7.health.example", Count: 1, FirstSeen: at, LastSeen: at, Status: alert.StatusNew}
	}
	first := mk("a1", now.Add(-10*time.Minute), "execution")

	st, err := local.Open(ctx, local.Config{Dir: dir}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CommitDetections(ctx, "detect", 1, []alert.Alert{first}); err != nil {
		t.Fatal(err)
	}
	stage := newIncidentStage(st, log, classes)
	if err := stage.add(ctx, []alert.Alert{first}, now); err != nil {
		t.Fatal(err)
	}
	page, _ := st.SearchIncidents(ctx, store.IncidentQuery{Tenants: []tenant.ID{"health"}})
	if page.Total != 1 {
		t.Fatalf("%d incidents before the restart", page.Total)
	}
	before := page.Incidents[0].ID
	st.Close()

	st, err = local.Open(ctx, local.Config{Dir: dir}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stage = newIncidentStage(st, log, classes)
	if err := stage.resume(ctx, now); err != nil {
		t.Fatal(err)
	}
	second := mk("a2", now, "credential-access")
	if err := st.CommitDetections(ctx, "detect", 2, []alert.Alert{second}); err != nil {
		t.Fatal(err)
	}
	if err := stage.add(ctx, []alert.Alert{second}, now); err != nil {
		t.Fatal(err)
	}
	page, _ = st.SearchIncidents(ctx, store.IncidentQuery{Tenants: []tenant.ID{"health"}})
	if page.Total != 1 || page.Incidents[0].ID != before || len(page.Incidents[0].AlertIDs) != 2 || len(page.Incidents[0].Stages) != 2 {
		t.Fatalf("after the restart: %+v", page.Incidents)
	}
}
