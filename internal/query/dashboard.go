package query

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// DashboardRequest is a dashboard as the API receives it.
type DashboardRequest struct {
	Orgs    []string
	Sectors []tenant.Sector
	Range   time.Duration // 0 means 24 h
	Now     time.Time     // zero means now
}

// Dashboard summarises the alerts of the scope.
func (q *Querier) Dashboard(ctx context.Context, scope tenant.Scope, req DashboardRequest) (*store.Dashboard, error) {
	ids, err := q.resolve(ctx, scope, req.Orgs, req.Sectors)
	if err != nil {
		return nil, err
	}
	if req.Range <= 0 {
		req.Range = 24 * time.Hour
	}
	return q.st.Dashboard(ctx, store.DashboardQuery{Tenants: ids, Now: now(req.Now), Window: req.Range})
}

func now(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now().UTC()
	}
	return t
}

// SilentAfter is how long an organisation may send nothing before it is silent.
const SilentAfter = time.Hour

// OrgStatus is one organisation's activity and freshness.
type OrgStatus struct {
	tenant.Tenant
	store.OrgStats
	Silent bool // nothing received for more than SilentAfter (or never)
}

// OrgStats describes the organisations of the scope, ordered by name.
func (q *Querier) OrgStats(ctx context.Context, scope tenant.Scope, orgs []string, sectors []tenant.Sector, at time.Time) ([]OrgStatus, error) {
	ids, err := q.resolve(ctx, scope, orgs, sectors)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	at = now(at)
	stats, err := q.st.OrgStats(ctx, store.OrgStatsQuery{Tenants: ids, Now: at})
	if err != nil {
		return nil, err
	}
	by := make(map[tenant.ID]store.OrgStats, len(stats))
	for _, s := range stats {
		by[s.Tenant] = s
	}
	all, err := q.allTenants(ctx) // ordered by name
	if err != nil {
		return nil, err
	}
	out := make([]OrgStatus, 0, len(ids))
	for _, t := range all {
		s, ok := by[t.ID]
		if !ok {
			continue
		}
		out = append(out, OrgStatus{Tenant: t, OrgStats: s, Silent: s.LastEvent.IsZero() || at.Sub(s.LastEvent) > SilentAfter})
	}
	return out, nil
}

// HistogramRequest is an event histogram as the API receives it.
type HistogramRequest struct {
	EventRequest           // Limit and Before are ignored
	Buckets      int       // 0 means 60
	Now          time.Time // zero means now; Until defaults to it, Since to 24 h before Until
}

// ErrBadRange is wrapped by the errors of invalid histogram ranges.
var ErrBadRange = errors.New("bad range")

// EventHistogram counts the events of the scope over time.
func (q *Querier) EventHistogram(ctx context.Context, scope tenant.Scope, req HistogramRequest) (*store.Histogram, error) {
	if req.Buckets == 0 {
		req.Buckets = 60
	}
	if req.Buckets < 1 || req.Buckets > 1000 {
		return nil, fmt.Errorf("%w: buckets must be 1-1000, got %d", ErrBadRange, req.Buckets)
	}
	if req.Until.IsZero() {
		req.Until = now(req.Now)
	}
	if req.Since.IsZero() {
		req.Since = req.Until.Add(-24 * time.Hour)
	}
	if !req.Until.After(req.Since) {
		return nil, fmt.Errorf("%w: since must be before until", ErrBadRange)
	}
	ids, err := q.resolve(ctx, scope, req.Orgs, nil)
	if err != nil {
		return nil, err
	}
	return q.st.EventHistogram(ctx, store.HistogramQuery{
		EventQuery: store.EventQuery{Tenants: ids, Since: req.Since, Until: req.Until, Filters: req.Filters, Text: req.Text},
		Buckets:    req.Buckets,
	})
}

// RuleHits counts the hits per rule of the scope's alerts: Recent over the
// last 24 hours (by first_seen), Total over what is kept.
func (q *Querier) RuleHits(ctx context.Context, scope tenant.Scope, orgs []string, at time.Time) (map[string]store.RuleHits, error) {
	ids, err := q.resolve(ctx, scope, orgs, nil)
	if err != nil {
		return nil, err
	}
	return q.st.RuleHits(ctx, store.RuleHitsQuery{Tenants: ids, Since: now(at).Add(-24 * time.Hour)})
}

// Org returns the organisation named by id or name if the scope may see
// it, or store.ErrNotFound.
func (q *Querier) Org(ctx context.Context, scope tenant.Scope, org string) (tenant.Tenant, error) {
	ids, err := q.resolve(ctx, scope, []string{org}, nil)
	if err != nil {
		return tenant.Tenant{}, err
	}
	if len(ids) != 1 {
		return tenant.Tenant{}, store.ErrNotFound
	}
	all, err := q.allTenants(ctx)
	if err != nil {
		return tenant.Tenant{}, err
	}
	for _, t := range all {
		if t.ID == ids[0] {
			return t, nil
		}
	}
	return tenant.Tenant{}, store.ErrNotFound
}

// DisabledRules returns the rules disabled for one organisation of the scope.
func (q *Querier) DisabledRules(ctx context.Context, scope tenant.Scope, org tenant.ID) (map[string]bool, error) {
	if !scope.Contains(org) {
		return nil, store.ErrNotFound
	}
	d, err := q.st.DisabledRules(ctx)
	if err != nil {
		return nil, err
	}
	return d[org], nil
}
