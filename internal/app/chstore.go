package app

import (
	"context"
	"errors"
	"time"

	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/store/clickhouse"
	"github.com/mamori-soc/mamori/internal/store/local"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// eventsInClickHouse is the store of a node whose events live in
// ClickHouse (config clickhouse:): event writes and reads go there,
// everything else (alerts, incidents, ratings, organisations) to the
// embedded store. Detection then takes its events from the bus, never
// from the store, so it requires nats:.
type eventsInClickHouse struct {
	*local.Store
	ch *clickhouse.Store
}

var _ store.Store = (*eventsInClickHouse)(nil)

// errNoEventLog is returned by EventsAfter: ClickHouse is no event log.
var errNoEventLog = errors.New("events are in ClickHouse: detection reads them from the bus (set nats:)")

func (e *eventsInClickHouse) AppendEvents(ctx context.Context, evs []store.Event) (int, error) {
	return e.ch.AppendEvents(ctx, evs)
}

func (e *eventsInClickHouse) EventsAfter(context.Context, int64, int) ([]store.Event, error) {
	return nil, errNoEventLog
}

func (e *eventsInClickHouse) LastSeq(ctx context.Context) (int64, error) { return e.ch.LastSeq(ctx) }

func (e *eventsInClickHouse) SearchEvents(ctx context.Context, q store.EventQuery) (*store.EventPage, error) {
	return e.ch.SearchEvents(ctx, q)
}

func (e *eventsInClickHouse) EventHistogram(ctx context.Context, q store.HistogramQuery) (*store.Histogram, error) {
	return e.ch.EventHistogram(ctx, q)
}

func (e *eventsInClickHouse) Telemetry(ctx context.Context, q store.TelemetryQuery) (*store.Telemetry, error) {
	return e.ch.Telemetry(ctx, q)
}

// OrgStats takes the alert figures from the embedded store and the event
// figures from ClickHouse.
func (e *eventsInClickHouse) OrgStats(ctx context.Context, q store.OrgStatsQuery) ([]store.OrgStats, error) {
	out, err := e.Store.OrgStats(ctx, q)
	if err != nil {
		return nil, err
	}
	since := q.Now.Truncate(time.Hour).Add(-23 * time.Hour)
	counts, err := e.ch.EventCounts(ctx, q.Tenants, since)
	if err != nil {
		return nil, err
	}
	by := make(map[tenant.ID]clickhouse.EventCount, len(counts))
	for _, c := range counts {
		by[c.Tenant] = c
	}
	for i := range out {
		c := by[out[i].Tenant]
		out[i].Events24h, out[i].LastEvent = c.Events, c.LastEvent
	}
	return out, nil
}

func (e *eventsInClickHouse) DeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	n, err := e.ch.DeleteBefore(ctx, t)
	if err != nil {
		return n, err
	}
	m, err := e.Store.DeleteBefore(ctx, t)
	return n + m, err
}

func (e *eventsInClickHouse) Close() error { return errors.Join(e.ch.Close(), e.Store.Close()) }
