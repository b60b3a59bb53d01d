package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/query"
	"github.com/mamori-soc/mamori/internal/simulate"
	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// responder plays the organisations' own analysts in the demo: each
// acknowledges its incidents after its AckAfter and closes them after its
// ResolveAfter, through the same query layer and workflow as a person in
// the console, so well-run organisations keep their queues short and weak
// ones let incidents age, and the ratings show it.
type responder struct {
	q    *query.Querier
	orgs []simulate.Org
	log  *slog.Logger
}

// pass acts once on every organisation's open incidents, at now.
func (r *responder) pass(ctx context.Context, now time.Time) (acked, closed int) {
	for _, o := range r.orgs {
		if o.AckAfter == simulate.Never {
			continue
		}
		scope := tenant.Only(o.Tenant.ID)
		page, err := r.q.Incidents(ctx, scope, query.IncidentRequest{
			Statuses: []string{string(alert.StatusNew), string(alert.StatusAcknowledged), string(alert.StatusInProgress)}, Limit: 500})
		if err != nil {
			r.log.Warn("demo responder", "org", o.Tenant.ID, "err", err)
			continue
		}
		user := "soc." + string(o.Tenant.ID)
		for _, inc := range page.Incidents {
			age := now.Sub(inc.Created)
			var c store.AlertChange
			switch {
			case o.ResolveAfter != simulate.Never && age >= o.ResolveAfter:
				st, res := alert.StatusClosed, store.ResolutionTruePositive
				c = store.AlertChange{Status: &st, Resolution: &res, Comment: "contained and remediated"}
				closed++
			case inc.Status == alert.StatusNew && age >= o.AckAfter:
				st := alert.StatusAcknowledged
				c = store.AlertChange{Status: &st, Assignee: &user}
				acked++
			default:
				continue
			}
			if _, err := r.q.TriageIncidents(ctx, scope, user, []string{inc.ID}, c); err != nil {
				r.log.Warn("demo responder", "incident", inc.ID, "err", err)
			}
		}
	}
	return acked, closed
}

func (r *responder) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			r.pass(ctx, now.UTC())
		}
	}
}
