// Package query answers analysts' questions over the store, and is the ONE
// place where a caller's tenant.Scope becomes the list of organisations a
// read (or a triage change) may touch. Every entry point takes the scope;
// nothing below it trusts any other filter for isolation.
package query

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// Querier reads through a store.
type Querier struct {
	st store.Store

	mu         sync.Mutex
	tenants    []tenant.Tenant
	loaded     time.Time
	ratings    func() *Ratings
	decisions  Decisions
	indicators Indicators
}

// New returns a Querier.
func New(st store.Store) *Querier { return &Querier{st: st} }

// Tenants returns the organisations visible in scope.
func (q *Querier) Tenants(ctx context.Context, scope tenant.Scope) ([]tenant.Tenant, error) {
	all, err := q.allTenants(ctx)
	if err != nil {
		return nil, err
	}
	var out []tenant.Tenant
	for _, t := range all {
		if scope.Contains(t.ID) {
			out = append(out, t)
		}
	}
	return out, nil
}

// Invalidate drops the cached organisation list (after an organisation is added).
func (q *Querier) Invalidate() {
	q.mu.Lock()
	q.loaded = time.Time{}
	q.mu.Unlock()
}

func (q *Querier) allTenants(ctx context.Context) ([]tenant.Tenant, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if time.Since(q.loaded) < 5*time.Second {
		return q.tenants, nil
	}
	ts, err := q.st.Tenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("query: organisations: %w", err)
	}
	q.tenants, q.loaded = ts, time.Now()
	return ts, nil
}

// resolve turns a scope and the organisations a request names (by id or
// name; none means "all I may see") into the tenant list for the store.
// Organisations outside the scope are silently dropped, so a request for
// another organisation's data returns nothing of it.
func (q *Querier) resolve(ctx context.Context, scope tenant.Scope, orgs []string, sectors []tenant.Sector) ([]tenant.ID, error) {
	if scope.Empty() {
		return nil, nil
	}
	all, err := q.allTenants(ctx)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, o := range orgs {
		if o = strings.TrimSpace(o); o != "" {
			want[strings.ToLower(o)] = true
		}
	}
	var ids []tenant.ID
	for _, t := range all {
		if !scope.Contains(t.ID) {
			continue
		}
		if len(want) > 0 && !want[string(t.ID)] && !want[strings.ToLower(t.Name)] {
			continue
		}
		if len(sectors) > 0 && !containsSector(sectors, t.Sector) {
			continue
		}
		ids = append(ids, t.ID)
	}
	return ids, nil
}

func containsSector(ss []tenant.Sector, s tenant.Sector) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// AlertRequest is an alert search as the API receives it.
type AlertRequest struct {
	Orgs       []string
	Sectors    []tenant.Sector
	Levels     []string
	Statuses   []string
	RuleID     string
	Technique  string
	Assignee   string
	Unassigned bool
	Text       string
	Sort       string
	Since      time.Time
	Until      time.Time
	Limit      int
	Cursor     string
	WithEvents bool
}

// Alerts searches alerts within scope.
func (q *Querier) Alerts(ctx context.Context, scope tenant.Scope, req AlertRequest) (*store.AlertPage, error) {
	ids, err := q.resolve(ctx, scope, req.Orgs, req.Sectors)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return &store.AlertPage{}, nil
	}
	return q.st.SearchAlerts(ctx, store.AlertQuery{
		Tenants: ids, Sectors: req.Sectors, Levels: req.Levels, Statuses: req.Statuses, RuleID: req.RuleID, Technique: req.Technique,
		Assignee: req.Assignee, Unassigned: req.Unassigned, Text: req.Text, Sort: req.Sort,
		Since: req.Since, Until: req.Until, Limit: req.Limit, Cursor: req.Cursor, WithEvents: req.WithEvents,
	})
}

// EventRequest is an event search as the API receives it.
type EventRequest struct {
	Orgs    []string
	Since   time.Time
	Until   time.Time
	Filters []store.Filter
	Text    string
	Limit   int
	Before  int64
}

// Events searches events within scope.
func (q *Querier) Events(ctx context.Context, scope tenant.Scope, req EventRequest) (*store.EventPage, error) {
	ids, err := q.resolve(ctx, scope, req.Orgs, nil)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return &store.EventPage{}, nil
	}
	return q.st.SearchEvents(ctx, store.EventQuery{Tenants: ids, Since: req.Since, Until: req.Until, Filters: req.Filters, Text: req.Text, Limit: req.Limit, Before: req.Before})
}
