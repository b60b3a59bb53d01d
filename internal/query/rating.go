package query

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/mamori-soc/mamori/internal/rating"
	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// Ratings is one computation of every organisation's rating, with the
// sector and national aggregates and each one's 7-day trend (keyed like
// store.RatingPoint: "org:<id>", "sector:<name>", "national").
type Ratings struct {
	At       time.Time
	National rating.Group
	Sectors  []rating.SectorRating
	Orgs     []rating.Rating
	Trends   map[string]rating.Change
}

// Rating keys of the history.
func OrgKey(id tenant.ID) string       { return "org:" + string(id) }
func SectorKey(s tenant.Sector) string { return "sector:" + string(s) }

const NationalKey = "national"

// SetRatings tells the querier where the latest ratings are.
func (q *Querier) SetRatings(latest func() *Ratings) {
	q.mu.Lock()
	q.ratings = latest
	q.mu.Unlock()
}

// OrgRating is an organisation's rating with its trend.
type OrgRating struct {
	rating.Rating
	Trend *rating.Change `json:"trend"`
}

// GroupRating is a sector's or the nation's rating with its trend.
type GroupRating struct {
	Sector tenant.Sector `json:"sector,omitempty"`
	rating.Group
	Trend *rating.Change `json:"trend"`
}

// RatingsView is what a scope may see of the ratings: national roles
// everything; an organisation's role its own organisations and the
// aggregate of their sectors, with nothing naming another organisation
// and no national figure.
type RatingsView struct {
	At       time.Time     `json:"at"`
	National *GroupRating  `json:"national,omitempty"`
	Sectors  []GroupRating `json:"sectors"`
	Orgs     []OrgRating   `json:"orgs"`
}

// ErrNoRatings is returned before the first ratings are computed.
var ErrNoRatings = fmt.Errorf("ratings are not computed yet")

// Ratings returns the latest ratings as scope may see them.
func (q *Querier) Ratings(ctx context.Context, scope tenant.Scope) (*RatingsView, error) {
	q.mu.Lock()
	latest := q.ratings
	q.mu.Unlock()
	var r *Ratings
	if latest != nil {
		r = latest()
	}
	if r == nil {
		return nil, ErrNoRatings
	}
	trend := func(key string) *rating.Change {
		if c, ok := r.Trends[key]; ok {
			return &c
		}
		return nil
	}
	v := &RatingsView{At: r.At, Sectors: []GroupRating{}, Orgs: []OrgRating{}}
	sectors := map[tenant.Sector]bool{}
	for _, o := range r.Orgs {
		if scope.Contains(o.Org) {
			v.Orgs = append(v.Orgs, OrgRating{Rating: o, Trend: trend(OrgKey(o.Org))})
			sectors[o.Sector] = true
		}
	}
	for _, s := range r.Sectors {
		if !scope.IsAll() && !sectors[s.Sector] {
			continue
		}
		g := s.Group
		if !scope.IsAll() {
			g = g.WithoutOrgs()
		}
		v.Sectors = append(v.Sectors, GroupRating{Sector: s.Sector, Group: g, Trend: trend(SectorKey(s.Sector))})
	}
	if scope.IsAll() {
		v.National = &GroupRating{Group: r.National, Trend: trend(NationalKey)}
	}
	return v, nil
}

// HistoryRequest names the ratings whose history is wanted.
type HistoryRequest struct {
	Orgs     []string
	Sectors  []tenant.Sector
	National bool
	Days     int // 1-366; 0 means 30
}

// HistorySeries is the daily history of one rating.
type HistorySeries struct {
	Key    string              `json:"key"`
	Name   string              `json:"name"`
	Points []store.RatingPoint `json:"points"`
}

// RatingHistory returns the daily history of the requested ratings that
// scope may see: its organisations, their sectors, and (national roles)
// any sector and the nation. Requests for others yield nothing. With
// nothing requested it returns the scope's own organisations (and, for
// national roles, the nation).
func (q *Querier) RatingHistory(ctx context.Context, scope tenant.Scope, req HistoryRequest, now time.Time) ([]HistorySeries, error) {
	days := req.Days
	if days <= 0 {
		days = 30
	}
	days = min(days, 366)
	ts, err := q.Tenants(ctx, scope)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	var keys []string
	if len(req.Orgs) == 0 && len(req.Sectors) == 0 && !req.National {
		if scope.IsAll() {
			req.National = true
		} else {
			for _, t := range ts {
				req.Orgs = append(req.Orgs, string(t.ID))
			}
		}
	}
	if len(req.Orgs) > 0 {
		ids, err := q.resolve(ctx, scope, req.Orgs, nil)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			k := OrgKey(id)
			keys = append(keys, k)
			for _, t := range ts {
				if t.ID == id {
					names[k] = t.Name
				}
			}
		}
	}
	for _, s := range req.Sectors {
		visible := scope.IsAll() || slices.ContainsFunc(ts, func(t tenant.Tenant) bool { return t.Sector == s })
		if visible {
			keys = append(keys, SectorKey(s))
			names[SectorKey(s)] = string(s)
		}
	}
	if req.National && scope.IsAll() {
		keys = append(keys, NationalKey)
		names[NationalKey] = "national"
	}
	out := []HistorySeries{}
	if len(keys) == 0 {
		return out, nil
	}
	pts, err := q.st.RatingHistory(ctx, keys, rating.Day(now.AddDate(0, 0, -(days-1))))
	if err != nil {
		return nil, err
	}
	by := map[string][]store.RatingPoint{}
	for _, p := range pts {
		by[p.Key] = append(by[p.Key], p)
	}
	for _, k := range keys {
		ps := by[k]
		if ps == nil {
			ps = []store.RatingPoint{}
		}
		out = append(out, HistorySeries{Key: k, Name: names[k], Points: ps})
	}
	return out, nil
}
