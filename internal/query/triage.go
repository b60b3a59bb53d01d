package query

import (
	"context"
	"fmt"
	"time"

	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// RelatedWindow and RelatedLimit bound the alerts shown as related to one.
const (
	RelatedWindow = 7 * 24 * time.Hour
	RelatedLimit  = 20
)

// AlertDetail is one alert with what an analyst needs to triage it.
type AlertDetail struct {
	Alert   *store.Alert
	Audit   []store.AuditEntry
	Related []store.Alert // same organisation, sharing host, user or source address, within RelatedWindow
}

// Alert returns an alert of the scope with its audit trail and related
// alerts, or store.ErrNotFound (also for another organisation's alert).
func (q *Querier) Alert(ctx context.Context, scope tenant.Scope, id string) (*AlertDetail, error) {
	ids, err := q.resolve(ctx, scope, nil, nil)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, store.ErrNotFound
	}
	a, err := q.st.Alert(ctx, ids, id)
	if err != nil {
		return nil, err
	}
	d := &AlertDetail{Alert: a}
	if d.Audit, err = q.st.AlertAudit(ctx, ids, id); err != nil {
		return nil, err
	}
	if d.Related, err = q.st.RelatedAlerts(ctx, ids, id, RelatedWindow, RelatedLimit); err != nil {
		return nil, err
	}
	return d, nil
}

// AlertsByID returns those of the named alerts the scope may see.
func (q *Querier) AlertsByID(ctx context.Context, scope tenant.Scope, alertIDs []string) ([]store.Alert, error) {
	ids, err := q.resolve(ctx, scope, nil, nil)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	return q.st.AlertsByID(ctx, ids, alertIDs)
}

// MaxBulk bounds the alerts of one triage request.
const MaxBulk = 1000

// Triage applies a change to alerts of the scope, as user, now. Alerts
// outside the scope fail with store.ErrNotFound, like missing ones.
func (q *Querier) Triage(ctx context.Context, scope tenant.Scope, user string, alertIDs []string, c store.AlertChange) ([]store.UpdateResult, error) {
	if len(alertIDs) > MaxBulk {
		return nil, fmt.Errorf("%w: at most %d alerts at once, got %d", store.ErrInvalidChange, MaxBulk, len(alertIDs))
	}
	ids, err := q.resolve(ctx, scope, nil, nil)
	if err != nil {
		return nil, err
	}
	c.User, c.At = user, time.Now().UTC().Truncate(time.Millisecond)
	return q.st.UpdateAlerts(ctx, ids, alertIDs, c)
}
