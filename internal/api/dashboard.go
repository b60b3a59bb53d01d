package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mamori-soc/mamori/internal/auth"
	"github.com/mamori-soc/mamori/internal/query"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// parseRange accepts a Go duration ("24h", "90m") or days ("7d"), up to 90 days.
func parseRange(s string) (time.Duration, error) {
	if s == "" {
		return 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if n, ok := strings.CutSuffix(s, "d"); ok && err != nil {
		var days int
		if days, err = strconv.Atoi(n); err == nil {
			d = time.Duration(days) * 24 * time.Hour
		}
	}
	if err != nil || d < time.Minute || d > 90*24*time.Hour {
		return 0, fmt.Errorf("bad range %q (want a duration from 1m to 90d, e.g. 24h or 7d)", s)
	}
	return d, nil
}

func sectors(vals []string) ([]tenant.Sector, error) {
	var out []tenant.Sector
	for _, s := range list(vals) {
		sec, err := tenant.ParseSector(s)
		if err != nil {
			return nil, err
		}
		out = append(out, sec)
	}
	return out, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (a *API) dashboard(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := r.URL.Query()
	rng, err := parseRange(q.Get("range"))
	var secs []tenant.Sector
	if err == nil {
		secs, err = sectors(q["sector"])
	}
	if err != nil {
		writeError(w, ErrBadRequest, err.Error())
		return
	}
	now := time.Now().UTC()
	d, err := a.o.Query.Dashboard(r.Context(), p.Scope(), query.DashboardRequest{Orgs: list(q["org"]), Sectors: secs, Range: rng, Now: now})
	if err != nil {
		a.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"generated": now, "range_seconds": int64(rng / time.Second),
		"totals": d.Totals, "by_level": d.ByLevel,
		"per_hour": nonNil(d.PerHour), "per_day": nonNil(d.PerDay),
		"top_sources": nonNil(d.TopSources), "techniques": nonNil(d.Techniques),
		"top_orgs": nonNil(d.TopOrgs), "top_sectors": nonNil(d.TopSectors),
	})
}

func (a *API) orgStats(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := r.URL.Query()
	secs, err := sectors(q["sector"])
	if err != nil {
		writeError(w, ErrBadRequest, err.Error())
		return
	}
	stats, err := a.o.Query.OrgStats(r.Context(), p.Scope(), list(q["org"]), secs, time.Time{})
	if err != nil {
		a.internal(w, err)
		return
	}
	type orgJSON struct {
		ID          tenant.ID     `json:"id"`
		Name        string        `json:"name"`
		Sector      tenant.Sector `json:"sector"`
		Alerts24h   int           `json:"alerts_24h"`
		Critical24h int           `json:"critical_24h"`
		Open        int           `json:"open"`
		Events24h   int           `json:"events_24h"`
		LastEvent   *time.Time    `json:"last_event"`
		Silent      bool          `json:"silent"`
	}
	out := make([]orgJSON, 0, len(stats))
	for _, s := range stats {
		j := orgJSON{ID: s.ID, Name: s.Name, Sector: s.Sector, Alerts24h: s.Alerts24h, Critical24h: s.Critical24h, Open: s.Open,
			Events24h: s.Events24h, Silent: s.Silent}
		if !s.LastEvent.IsZero() {
			j.LastEvent = &s.LastEvent
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"orgs": out})
}

func (a *API) histogram(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := r.URL.Query()
	ev, err := eventRequest(q)
	req := query.HistogramRequest{EventRequest: ev}
	if err == nil && q.Get("buckets") != "" {
		if req.Buckets, err = strconv.Atoi(q.Get("buckets")); err != nil || req.Buckets < 1 || req.Buckets > 1000 {
			err = fmt.Errorf("buckets must be 1-1000, got %q", q.Get("buckets"))
		}
	}
	if err != nil {
		writeError(w, ErrBadRequest, err.Error())
		return
	}
	h, err := a.o.Query.EventHistogram(r.Context(), p.Scope(), req)
	if errors.Is(err, query.ErrBadRange) {
		writeError(w, ErrBadRequest, err.Error())
		return
	}
	if err != nil {
		a.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"buckets": nonNil(h.Buckets), "interval_seconds": int64(h.Interval / time.Second)})
}
