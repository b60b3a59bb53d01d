package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/query"
	"github.com/mamori-soc/mamori/internal/rating"
	"github.com/mamori-soc/mamori/internal/simulate"
	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// TestRatingScenario plays the demo generator's strongest and weakest
// organisations through the platform: the same attacks hit both, but the
// weak one's telemetry shows its hygiene problems and its analysts answer
// late. After a simulated day the weak organisation scores measurably lower,
// its deductions say why, and resolving its incidents raises its score.
func TestRatingScenario(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	gen := simulate.New(simulate.Config{Seed: 11, BaselinePerSecond: 150, AttacksPerDay: -1})
	orgs := gen.Orgs()
	slices.SortFunc(orgs, func(a, b simulate.Org) int { return cmpFloat(b.Maturity, a.Maturity) })
	strong, weak := orgs[0], orgs[len(orgs)-1]
	if len(weak.Hygiene) == 0 || len(strong.Hygiene) != 0 {
		t.Fatalf("profiles: strong %.2f with %d findings, weak %.2f with %d", strong.Maturity, len(strong.Hygiene), weak.Maturity, len(weak.Hygiene))
	}
	tokens := map[tenant.ID]string{}
	for _, o := range []simulate.Org{strong, weak} {
		if err := ts.srv.store.PutTenant(ctx, o.Tenant); err != nil {
			t.Fatal(err)
		}
		tok, err := ts.srv.Auth().CreateToken(ctx, "ingest "+string(o.Tenant.ID), "ingest", o.Tenant.ID)
		if err != nil {
			t.Fatal(err)
		}
		tokens[o.Tenant.ID] = tok
	}
	ts.srv.refreshTenants(ctx)
	ts.srv.query.Invalidate()
	f := &feeder{url: ts.url, tokens: tokens, log: slog.New(slog.DiscardHandler), client: &http.Client{Timeout: 30 * time.Second}}
	keep := func(recs []simulate.Record) []simulate.Record {
		return slices.DeleteFunc(recs, func(r simulate.Record) bool { _, ok := tokens[r.Org]; return !ok })
	}
	// Twenty minutes of the organisations' telemetry, ending now, with the
	// same attacks on both.
	start := time.Now().Add(-20 * time.Minute)
	var recs []simulate.Record
	for i, sc := range simulate.Scenarios() {
		for _, o := range []simulate.Org{strong, weak} {
			r, err := gen.Scenario(sc.Name, o.Tenant.ID, start.Add(time.Duration(i)*time.Minute))
			if err != nil {
				t.Fatalf("scenario %s: %v", sc.Name, err)
			}
			recs = append(recs, r...)
		}
	}
	for from := start; from.Before(start.Add(19 * time.Minute)); from = from.Add(time.Minute) {
		recs = append(recs, keep(gen.Tick(from, time.Minute))...)
	}
	f.deliver(ctx, recs)
	last, _ := ts.srv.store.LastSeq(ctx)
	waitFor(t, "detection to reach the telemetry", func() bool { return ts.srv.det.Stats.Position.Load() >= last })
	time.Sleep(200 * time.Millisecond) // the last commit's incidents

	open := func(org tenant.ID) []store.Incident {
		p, err := ts.srv.query.Incidents(ctx, tenant.Only(org), query.IncidentRequest{Statuses: []string{"new", "acknowledged", "in_progress"}, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		return p.Incidents
	}
	if len(open(weak.Tenant.ID)) == 0 || len(open(strong.Tenant.ID)) == 0 {
		t.Fatalf("attacks made no incidents: weak %d, strong %d", len(open(weak.Tenant.ID)), len(open(strong.Tenant.ID)))
	}
	// A day passes: each organisation's analysts act at their own speed.
	later := time.Now().UTC().Add(24 * time.Hour)
	(&responder{q: ts.srv.query, orgs: []simulate.Org{strong, weak}, log: slog.New(slog.DiscardHandler)}).pass(ctx, later)
	r, err := ts.srv.rater.refresh(ctx, later.Add(-time.Minute)) // sources were heard a day ago, within the week
	if err != nil {
		t.Fatal(err)
	}
	byOrg := func(r *query.Ratings) map[tenant.ID]rating.Rating {
		m := map[tenant.ID]rating.Rating{}
		for _, o := range r.Orgs {
			m[o.Org] = o
		}
		return m
	}
	s, w := byOrg(r)[strong.Tenant.ID], byOrg(r)[weak.Tenant.ID]
	t.Logf("strong %s (maturity %.2f): %.1f %s %v", strong.Tenant.Name, strong.Maturity, s.Score, s.Grade, s.Deductions)
	t.Logf("weak %s (maturity %.2f): %.1f %s %v", weak.Tenant.Name, weak.Maturity, w.Score, w.Grade, w.Deductions)
	if w.Score > s.Score-15 {
		t.Errorf("weak organisation scores %.1f, strong %.1f: want at least 15 points apart", w.Score, s.Score)
	}
	factors := map[string]bool{}
	for _, d := range w.Deductions {
		factors[d.Factor] = true
	}
	for _, want := range []string{rating.FactorIncidents, rating.FactorHygiene} {
		if !factors[want] {
			t.Errorf("weak organisation's deductions %v lack %s", w.Deductions, want)
		}
	}
	if weak.AckAfter != simulate.Never && weak.AckAfter < 24*time.Hour {
		t.Logf("weak organisation acknowledges within a day (%v)", weak.AckAfter)
	} else if !factors[rating.FactorResponse] && !strings.Contains(fmt.Sprint(w.Deductions), "acknowledged") {
		t.Errorf("weak organisation never acknowledges, yet no deduction says so: %v", w.Deductions)
	}

	// The weak organisation closes its incidents: its score rises.
	var ids []string
	for _, inc := range open(weak.Tenant.ID) {
		ids = append(ids, inc.ID)
	}
	st, res := alert.StatusClosed, store.ResolutionTruePositive
	if _, err := ts.srv.query.TriageIncidents(ctx, tenant.Only(weak.Tenant.ID), "soc", ids, store.AlertChange{Status: &st, Resolution: &res}); err != nil {
		t.Fatal(err)
	}
	r2, err := ts.srv.rater.refresh(ctx, later.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	w2 := byOrg(r2)[weak.Tenant.ID]
	t.Logf("weak after resolving %d incidents: %.1f %s", len(ids), w2.Score, w2.Grade)
	if w2.Score <= w.Score {
		t.Errorf("resolving the weak organisation's incidents left its score at %.1f (was %.1f)", w2.Score, w.Score)
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
