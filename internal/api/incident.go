package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/auth"
	"github.com/mamori-soc/mamori/internal/query"
	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

type incidentJSON struct {
	store.Incident
	Org        string `json:"org"`
	AlertCount int    `json:"alert_count"`
}

func toIncidentJSON(inc store.Incident, names map[tenant.ID]tenant.Tenant) incidentJSON {
	j := incidentJSON{Incident: inc, Org: names[inc.Tenant].Name, AlertCount: len(inc.AlertIDs)}
	for _, p := range []*[]string{&j.Stages, &j.AlertIDs, &j.Techniques} {
		if *p == nil {
			*p = []string{}
		}
	}
	if j.Entities == nil {
		j.Entities = map[string][]string{}
	}
	j.Merged = nil // internal bookkeeping of grouping
	return j
}

var severities = []string{"low", "medium", "high", "critical"}

func (a *API) incidents(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := r.URL.Query()
	f, err := parseQueueFilters(q)
	if err == nil && !store.ValidIncidentSort(f.Sort) {
		err = fmt.Errorf("unknown sort %q (want last_seen, first_seen, severity or updated; a leading - reverses)", f.Sort)
	}
	req := query.IncidentRequest{Orgs: f.Orgs, Sectors: f.Sectors, Severities: list(q["severity"]), Statuses: f.Statuses,
		Assignee: f.Assignee, Unassigned: f.Unassigned, Campaign: strings.TrimSpace(q.Get("campaign")), Text: f.Text, Sort: f.Sort,
		Since: f.Since, Until: f.Until, Limit: f.Limit}
	for _, s := range req.Severities {
		if err == nil && !contains(severities, s) {
			err = fmt.Errorf("unknown severity %q (want low, medium, high or critical)", s)
		}
	}
	if err == nil && q.Get("offset") != "" {
		if req.Offset, err = strconv.Atoi(q.Get("offset")); err != nil || req.Offset < 0 {
			err = fmt.Errorf("offset must be a whole number of at least 0, got %q", q.Get("offset"))
		}
	}
	if err != nil {
		writeError(w, ErrBadRequest, err.Error())
		return
	}
	page, err := a.o.Query.Incidents(r.Context(), p.Scope(), req)
	if err != nil {
		a.internal(w, err)
		return
	}
	names := a.orgNames(r.Context(), p.Scope())
	out := make([]incidentJSON, 0, len(page.Incidents))
	for _, inc := range page.Incidents {
		out = append(out, toIncidentJSON(inc, names))
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": out, "total": page.Total, "next": page.Next})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type timelineJSON struct {
	query.TimelineItem
	Alert alertJSON      `json:"alert"`
	Event map[string]any `json:"event"`
}

func (a *API) incidentDetail(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	id := r.PathValue("id")
	d, err := a.o.Query.Incident(r.Context(), p.Scope(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, ErrNotFound, fmt.Sprintf("no incident %q in your scope", id))
		return
	}
	if err != nil {
		a.internal(w, err)
		return
	}
	names := a.orgNames(r.Context(), p.Scope())
	audit, comments := auditAndComments(d.Audit)
	timeline := make([]timelineJSON, 0, len(d.Timeline))
	for _, it := range d.Timeline {
		j := timelineJSON{TimelineItem: it, Alert: toAlertJSON(it.Alert, names, false),
			Event: fieldsMap(it.Event, func(f alert.Field) (string, string) { return f.Name, f.Value })}
		timeline = append(timeline, j)
	}
	out := map[string]any{"incident": toIncidentJSON(*d.Incident, names), "audit": audit, "comments": comments,
		"timeline": timeline, "omitted_alerts": d.Omitted, "campaign": d.Campaign}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) triageIncident(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var b triageBody
	if !decodeBody(w, r, &b) {
		return
	}
	id := r.PathValue("id")
	res, err := a.o.Query.TriageIncidents(r.Context(), p.Scope(), p.Name, []string{id}, b.change())
	if errors.Is(err, store.ErrInvalidChange) {
		writeError(w, ErrBadRequest, err.Error())
		return
	}
	if err != nil {
		a.internal(w, err)
		return
	}
	switch u := res[0]; {
	case errors.Is(u.Err, store.ErrNotFound):
		writeError(w, ErrNotFound, fmt.Sprintf("no incident %q in your scope", id))
	case u.Err != nil:
		writeError(w, ErrBadRequest, u.Err.Error())
	default:
		writeJSON(w, http.StatusOK, toIncidentJSON(*u.Incident, a.orgNames(r.Context(), p.Scope())))
	}
}

func (a *API) campaigns(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := r.URL.Query()
	var req query.CampaignRequest
	var err error
	if req.Since, err = parseTime(q.Get("since")); err == nil {
		req.Limit, err = limitParam(q.Get("limit"))
	}
	if err != nil {
		writeError(w, ErrBadRequest, err.Error())
		return
	}
	cs, err := a.o.Query.Campaigns(r.Context(), p.Scope(), req)
	if err != nil {
		a.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"campaigns": cs, "total": len(cs)})
}

func (a *API) campaignDetail(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	id := r.PathValue("id")
	d, err := a.o.Query.Campaign(r.Context(), p.Scope(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, ErrNotFound, fmt.Sprintf("no campaign %q in your scope", id))
		return
	}
	if err != nil {
		a.internal(w, err)
		return
	}
	names := a.orgNames(r.Context(), p.Scope())
	incs := make([]incidentJSON, 0, len(d.Incidents))
	for _, inc := range d.Incidents {
		incs = append(incs, toIncidentJSON(inc, names))
	}
	writeJSON(w, http.StatusOK, map[string]any{"campaign": d.Campaign, "incidents": incs})
}
