package query

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/incident"
	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// IncidentRequest is an incident search as the API receives it.
type IncidentRequest struct {
	Orgs       []string
	Sectors    []tenant.Sector
	Severities []string
	Statuses   []string
	Assignee   string
	Unassigned bool
	Campaign   string
	Text       string
	Sort       string
	Since      time.Time
	Until      time.Time
	Limit      int
	Offset     int
}

// Incidents searches incidents within scope.
func (q *Querier) Incidents(ctx context.Context, scope tenant.Scope, req IncidentRequest) (*store.IncidentPage, error) {
	ids, err := q.resolve(ctx, scope, req.Orgs, req.Sectors)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return &store.IncidentPage{Incidents: []store.Incident{}}, nil
	}
	return q.st.SearchIncidents(ctx, store.IncidentQuery{
		Tenants: ids, Sectors: req.Sectors, Severities: req.Severities, Statuses: req.Statuses, Assignee: req.Assignee,
		Unassigned: req.Unassigned, Campaign: req.Campaign, Text: req.Text, Sort: req.Sort, Since: req.Since, Until: req.Until,
		Limit: req.Limit, Offset: req.Offset,
	})
}

// TimelineLimit bounds the alerts an incident's timeline shows with their events.
const TimelineLimit = 200

// TimelineItem is one alert of an incident on its timeline, with the event
// that triggered it.
type TimelineItem struct {
	At      time.Time     `json:"at"`
	Alert   store.Alert   `json:"alert"`
	Stage   string        `json:"stage"` // the alert's first tactic
	Event   []alert.Field `json:"event"`
	Summary string        `json:"summary"`
}

// IncidentDetail is one incident with what an analyst needs to work it.
type IncidentDetail struct {
	Incident *store.Incident
	Audit    []store.AuditEntry
	Timeline []TimelineItem // oldest first; at most TimelineLimit alerts
	Omitted  int            // alerts beyond TimelineLimit
	Campaign *CampaignInfo  // nil when the incident is in no campaign
}

// Incident returns an incident of the scope with its audit trail, its
// timeline and, when it belongs to one, what the scope may see of its
// campaign; store.ErrNotFound for another organisation's incident.
func (q *Querier) Incident(ctx context.Context, scope tenant.Scope, id string) (*IncidentDetail, error) {
	ids, err := q.resolve(ctx, scope, nil, nil)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, store.ErrNotFound
	}
	inc, err := q.st.Incident(ctx, ids, id)
	if err != nil {
		return nil, err
	}
	d := &IncidentDetail{Incident: inc}
	if d.Audit, err = q.st.IncidentAudit(ctx, ids, inc.ID); err != nil {
		return nil, err
	}
	alertIDs := inc.AlertIDs
	if len(alertIDs) > TimelineLimit {
		d.Omitted = len(alertIDs) - TimelineLimit
		alertIDs = alertIDs[len(alertIDs)-TimelineLimit:] // the latest activity matters most
	}
	for _, aid := range alertIDs {
		a, err := q.st.Alert(ctx, ids, aid)
		if err != nil {
			continue // dropped by retention
		}
		it := TimelineItem{At: a.FirstSeen, Event: a.Event, Summary: summary(a)}
		if len(a.Tactics) > 0 {
			it.Stage = a.Tactics[0]
		}
		a.Event = nil
		it.Alert = *a
		d.Timeline = append(d.Timeline, it)
	}
	slices.SortStableFunc(d.Timeline, func(x, y TimelineItem) int { return x.At.Compare(y.At) })
	if inc.CampaignID != "" {
		if c, err := q.st.Campaign(ctx, ids, inc.CampaignID); err == nil {
			info := q.campaignInfo(ctx, scope, c)
			d.Campaign = &info
		}
	}
	return d, nil
}

// summary is a one-line description of what an alert's event shows.
func summary(a *store.Alert) string {
	s := a.RuleTitle
	if a.Host != "" {
		s += " on " + a.Host
	}
	if a.User != "" {
		s += " by " + a.User
	}
	if a.SrcIP != "" {
		s += " from " + a.SrcIP
	}
	if a.Count > 1 {
		s += fmt.Sprintf(" (%d times)", a.Count)
	}
	return s
}

// TriageIncidents applies a change to incidents of the scope, as user, now.
func (q *Querier) TriageIncidents(ctx context.Context, scope tenant.Scope, user string, incidentIDs []string, c store.AlertChange) ([]store.IncidentUpdateResult, error) {
	if len(incidentIDs) > MaxBulk {
		return nil, fmt.Errorf("%w: at most %d incidents at once, got %d", store.ErrInvalidChange, MaxBulk, len(incidentIDs))
	}
	ids, err := q.resolve(ctx, scope, nil, nil)
	if err != nil {
		return nil, err
	}
	c.User, c.At = user, time.Now().UTC().Truncate(time.Millisecond)
	return q.st.UpdateIncidents(ctx, ids, incidentIDs, c)
}

// CampaignOrg is an organisation of a campaign (national view).
type CampaignOrg struct {
	ID     tenant.ID     `json:"id"`
	Name   string        `json:"name"`
	Sector tenant.Sector `json:"sector"`
}

// CampaignInfo is a campaign as a scope may see it. National roles see it
// whole; an organisation's role sees only that its own incidents belong
// to it, with the indicators that appeared in its own alerts (Partial is
// true and the organisations, sectors and techniques are absent).
type CampaignInfo struct {
	ID          string               `json:"id"`
	FirstSeen   time.Time            `json:"first_seen"`
	LastSeen    time.Time            `json:"last_seen"`
	IncidentIDs []string             `json:"incident_ids"`
	Indicators  []incident.Indicator `json:"indicators"`
	Partial     bool                 `json:"partial"`
	Orgs        []CampaignOrg        `json:"orgs,omitempty"`
	Sectors     []tenant.Sector      `json:"sectors,omitempty"`
	Techniques  []string             `json:"techniques,omitempty"`
}

func (q *Querier) campaignInfo(ctx context.Context, scope tenant.Scope, c *incident.Campaign) CampaignInfo {
	if !scope.IsAll() {
		v := incident.View(c, scope.Contains)
		return CampaignInfo{ID: v.ID, FirstSeen: v.FirstSeen, LastSeen: v.LastSeen, IncidentIDs: v.IncidentIDs, Indicators: v.Indicators, Partial: true}
	}
	info := CampaignInfo{ID: c.ID, FirstSeen: c.FirstSeen, LastSeen: c.LastSeen, IncidentIDs: c.IncidentIDs, Indicators: c.Indicators,
		Sectors: c.Sectors, Techniques: c.Techniques, Orgs: []CampaignOrg{}}
	all, _ := q.allTenants(ctx)
	for _, o := range c.Orgs {
		co := CampaignOrg{ID: o, Name: string(o)}
		for _, t := range all {
			if t.ID == o {
				co.Name, co.Sector = t.Name, t.Sector
			}
		}
		info.Orgs = append(info.Orgs, co)
	}
	return info
}

// CampaignRequest is a campaign listing as the API receives it.
type CampaignRequest struct {
	Since time.Time
	Limit int
}

// Campaigns lists the campaigns the scope takes part in, as the scope may see them.
func (q *Querier) Campaigns(ctx context.Context, scope tenant.Scope, req CampaignRequest) ([]CampaignInfo, error) {
	ids, err := q.resolve(ctx, scope, nil, nil)
	if err != nil {
		return nil, err
	}
	out := []CampaignInfo{}
	if len(ids) == 0 {
		return out, nil
	}
	cs, err := q.st.Campaigns(ctx, store.CampaignQuery{Tenants: ids, Since: req.Since, Limit: req.Limit})
	if err != nil {
		return nil, err
	}
	for i := range cs {
		out = append(out, q.campaignInfo(ctx, scope, &cs[i]))
	}
	return out, nil
}

// CampaignDetail is a campaign with the incidents of it the scope may see.
type CampaignDetail struct {
	Campaign  CampaignInfo
	Incidents []store.Incident
}

// Campaign returns one campaign the scope takes part in, or store.ErrNotFound.
func (q *Querier) Campaign(ctx context.Context, scope tenant.Scope, id string) (*CampaignDetail, error) {
	ids, err := q.resolve(ctx, scope, nil, nil)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, store.ErrNotFound
	}
	c, err := q.st.Campaign(ctx, ids, id)
	if err != nil {
		return nil, err
	}
	d := &CampaignDetail{Campaign: q.campaignInfo(ctx, scope, c)}
	page, err := q.st.SearchIncidents(ctx, store.IncidentQuery{Tenants: ids, Campaign: c.ID, Limit: 500})
	if err != nil {
		return nil, err
	}
	d.Incidents = page.Incidents
	return d, nil
}
