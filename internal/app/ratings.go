package app

import (
	"context"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/detect"
	"github.com/mamori-soc/mamori/internal/query"
	"github.com/mamori-soc/mamori/internal/rating"
	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// rater recomputes every organisation's rating from what the store holds,
// keeps the latest in memory for the API and records the day's point of
// each organisation, sector and the nation.
type rater struct {
	st      store.Store
	log     *slog.Logger
	classes func() *ruleClasses
	model   rating.Model

	mu     sync.Mutex
	latest *query.Ratings
}

func newRater(st store.Store, log *slog.Logger, classes func() *ruleClasses) *rater {
	return &rater{st: st, log: log, classes: classes, model: rating.DefaultModel()}
}

// Latest returns the last computed ratings (nil before the first).
func (r *rater) Latest() *query.Ratings {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.latest
}

// run recomputes every interval until ctx ends.
func (r *rater) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := r.refresh(ctx, time.Now().UTC()); err != nil && ctx.Err() == nil {
			r.log.Warn("ratings not computed", "err", err)
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

const (
	week  = 7 * 24 * time.Hour
	month = 30 * 24 * time.Hour
)

// inputs gathers what the store measured about every organisation at now.
func (r *rater) inputs(ctx context.Context, now time.Time) ([]rating.Input, error) {
	ts, err := r.st.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]tenant.ID, len(ts))
	in := make(map[tenant.ID]*rating.Input, len(ts))
	out := make([]rating.Input, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
		out[i] = rating.Input{Org: t.ID, Name: t.Name, Sector: t.Sector, Assets: t.Assets, Alerts: map[string]int{}}
		in[t.ID] = &out[i]
	}
	if len(ts) == 0 {
		return nil, nil
	}
	times, err := r.st.IncidentTimes(ctx, ids, now.Add(-month))
	if err != nil {
		return nil, err
	}
	for _, it := range times {
		o := in[it.Tenant]
		if o == nil {
			continue
		}
		if it.Status != alert.StatusClosed {
			o.OpenIncidents = append(o.OpenIncidents, rating.OpenIncident{ID: it.ID, Severity: it.Severity, Opened: it.Created,
				Acknowledged: !it.Acknowledged.IsZero()})
		}
		if !it.Created.Before(now.Add(-month)) {
			o.Responded = append(o.Responded, rating.Response{Opened: it.Created, Acknowledged: it.Acknowledged, Resolved: it.Closed})
		}
	}
	counts, err := r.st.AlertCounts(ctx, store.AlertCountQuery{Tenants: ids, Since: now.Add(-week)})
	if err != nil {
		return nil, err
	}
	rc := r.classes()
	type findKey struct {
		org  tenant.ID
		kind string
	}
	findings := map[findKey]*rating.Finding{}
	for _, c := range counts {
		o := in[c.Tenant]
		if o == nil {
			continue
		}
		switch kind := rc.hygiene[c.RuleID]; {
		case kind != "":
			f := findings[findKey{c.Tenant, kind}]
			if f == nil {
				f = &rating.Finding{Kind: kind}
				findings[findKey{c.Tenant, kind}] = f
			}
			f.Hosts += c.Hosts // per rule and level; a host seen by two rules of a kind counts twice, a bound the model caps
			f.Count += c.Hits
			if c.LastSeen.After(f.LastSeen) {
				f.LastSeen = c.LastSeen
			}
		case rc.intel[c.RuleID] || strings.HasPrefix(c.RuleID, detect.IOCPrefix):
			o.IntelHits += c.Hits
		default:
			o.Alerts[c.Level] += c.Alerts
		}
	}
	tel, err := r.st.Telemetry(ctx, store.TelemetryQuery{Tenants: ids, Since: now.Add(-week)})
	if err != nil {
		return nil, err
	}
	for _, s := range tel.Sources {
		if o := in[s.Tenant]; o != nil {
			name := s.Source
			if s.Channel != "" {
				name += " " + s.Channel
			}
			src := rating.Source{Name: name, LastSeen: s.LastSeen, Events: s.Events}
			if s.Events > 1 {
				src.Gap = s.LastSeen.Sub(s.FirstSeen) / time.Duration(s.Events-1)
			}
			o.Sources = append(o.Sources, src)
			o.Events += s.Events
		}
	}
	for i := range out {
		o := &out[i]
		o.Hosts = tel.Hosts[o.Org]
		for k, f := range findings {
			if k.org == o.Org {
				if o.Hosts > 0 {
					f.Hosts = min(f.Hosts, o.Hosts)
				}
				o.Hygiene = append(o.Hygiene, *f)
			}
		}
	}
	return out, nil
}

// sizeWeight is an organisation's weight in its sector's and the national
// score: the square root of its size (declared assets, else hosts seen), at
// least 1, so a large estate counts more than a small one without drowning it.
func sizeWeight(hosts map[tenant.ID]int) func(tenant.ID) float64 {
	return func(id tenant.ID) float64 { return math.Max(1, math.Sqrt(float64(hosts[id]))) }
}

// refresh recomputes the ratings at now, records today's points and makes
// them the latest.
func (r *rater) refresh(ctx context.Context, now time.Time) (*query.Ratings, error) {
	ins, err := r.inputs(ctx, now)
	if err != nil {
		return nil, err
	}
	res := &query.Ratings{At: now, Orgs: make([]rating.Rating, 0, len(ins)), Trends: map[string]rating.Change{}}
	hosts := map[tenant.ID]int{}
	for _, in := range ins {
		res.Orgs = append(res.Orgs, rating.Rate(in, now, r.model))
		hosts[in.Org] = in.Hosts
		if in.Assets > 0 {
			hosts[in.Org] = in.Assets
		}
	}
	res.National, res.Sectors = rating.Aggregate(res.Orgs, sizeWeight(hosts))
	day := rating.Day(now)
	var pts []store.RatingPoint
	for _, o := range res.Orgs {
		pts = append(pts, store.RatingPoint{Key: query.OrgKey(o.Org), Day: day, Score: o.Score, Grade: o.Grade, At: now})
	}
	for _, s := range res.Sectors {
		pts = append(pts, store.RatingPoint{Key: query.SectorKey(s.Sector), Day: day, Score: s.Score, Grade: s.Grade, At: now})
	}
	if res.National.Orgs > 0 {
		pts = append(pts, store.RatingPoint{Key: query.NationalKey, Day: day, Score: res.National.Score, Grade: res.National.Grade, At: now})
	}
	if err := r.st.PutRatings(ctx, pts); err != nil {
		return nil, err
	}
	keys := make([]string, len(pts))
	for i, p := range pts {
		keys[i] = p.Key
	}
	hist, err := r.st.RatingHistory(ctx, keys, rating.Day(now.AddDate(0, 0, -14)))
	if err != nil {
		return nil, err
	}
	by := map[string][]rating.Point{}
	for _, p := range hist {
		by[p.Key] = append(by[p.Key], rating.Point{Day: p.Day, Score: p.Score, Grade: p.Grade})
	}
	for k, ps := range by {
		if c, ok := rating.Trend(ps, now); ok {
			res.Trends[k] = c
		}
	}
	r.mu.Lock()
	r.latest = res
	r.mu.Unlock()
	return res, nil
}
