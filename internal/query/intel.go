package query

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/incident"
	"github.com/mamori-soc/mamori/internal/intel"
	"github.com/mamori-soc/mamori/internal/ioc"
	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// Indicators is what the querier needs of the indicator hub.
type Indicators interface {
	Import(ctx context.Context, format, source string, owner tenant.ID, r io.Reader, opts ioc.ListOptions) (added, updated int, errs []error, err error)
	Delete(ctx context.Context, ids []string) (int, error)
	List(ctx context.Context, q ioc.Query) ([]ioc.Indicator, int, error)
	Sources() ([]ioc.FeedStatus, []intel.PartnerStatus)
}

// IndicatorSources is the status of the configured feeds and TAXII
// partners (national roles): last success, last error, what was imported.
func (q *Querier) IndicatorSources(ctx context.Context, scope tenant.Scope) ([]ioc.FeedStatus, []intel.PartnerStatus, error) {
	h, err := q.inds()
	if err != nil {
		return nil, nil, err
	}
	if !scope.IsAll() {
		return nil, nil, fmt.Errorf("%w: feed status is for national roles", ErrForbidden)
	}
	f, p := h.Sources()
	return f, p, nil
}

// SetIndicators tells the querier where indicators live.
func (q *Querier) SetIndicators(i Indicators) {
	q.mu.Lock()
	q.indicators = i
	q.mu.Unlock()
}

func (q *Querier) inds() (Indicators, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.indicators == nil {
		return nil, fmt.Errorf("%w: threat intelligence is not enabled", ErrNoDecisions)
	}
	return q.indicators, nil
}

// caller is the scope as the TLP rules of sharing see it.
func (q *Querier) caller(ctx context.Context, scope tenant.Scope) (intel.Caller, error) {
	if scope.IsAll() {
		return intel.Caller{National: true}, nil
	}
	ts, err := q.Tenants(ctx, scope)
	if err != nil || len(ts) == 0 {
		return intel.Caller{}, err
	}
	return intel.Caller{Org: ts[0].ID, Sector: ts[0].Sector}, nil
}

// ListIndicators lists the indicators the scope may see: national roles
// all of them; an organisation's role those their TLP marking and owner
// let it see (clear and green; amber of its sector or of no owner; its own
// amber+strict and red ones).
func (q *Querier) ListIndicators(ctx context.Context, scope tenant.Scope, iq ioc.Query) ([]ioc.Indicator, int, error) {
	h, err := q.inds()
	if err != nil {
		return nil, 0, err
	}
	if scope.Empty() {
		return []ioc.Indicator{}, 0, nil
	}
	if scope.IsAll() {
		return h.List(ctx, iq)
	}
	c, err := q.caller(ctx, scope)
	if err != nil {
		return nil, 0, err
	}
	limit, offset := iq.Limit, iq.Offset
	if limit <= 0 {
		limit = 100
	}
	iq.Limit, iq.Offset = 100000, 0
	all, _, err := h.List(ctx, iq)
	if err != nil {
		return nil, 0, err
	}
	sectors := map[tenant.ID]tenant.Sector{}
	ts, _ := q.allTenants(ctx)
	for _, t := range ts {
		sectors[t.ID] = t.Sector
	}
	var vis []ioc.Indicator
	for _, ind := range all {
		if c.CanSee(ind, sectors[tenant.ID(ind.Owner)]) {
			vis = append(vis, ind)
		}
	}
	total := len(vis)
	vis = vis[min(offset, total):min(offset+limit, total)]
	return vis, total, nil
}

// ImportIndicators stores the indicators of a feed body. An organisation's
// role shares them as its own (its TLP rules apply); national roles import
// national ones.
func (q *Querier) ImportIndicators(ctx context.Context, scope tenant.Scope, format, source string, r io.Reader, opts ioc.ListOptions) (added, updated int, errs []error, err error) {
	h, err := q.inds()
	if err != nil {
		return 0, 0, nil, err
	}
	var owner tenant.ID
	if !scope.IsAll() {
		ids := scope.IDs()
		if len(ids) != 1 {
			return 0, 0, nil, fmt.Errorf("%w: sharing indicators needs a role of one organisation", ErrForbidden)
		}
		owner = ids[0]
		if opts.TLP == "" {
			opts.TLP = ioc.TLPAmber
		}
	}
	return h.Import(ctx, format, source, owner, r, opts)
}

// DeleteIndicators removes indicators (national roles).
func (q *Querier) DeleteIndicators(ctx context.Context, scope tenant.Scope, ids []string) (int, error) {
	h, err := q.inds()
	if err != nil {
		return 0, err
	}
	if !scope.IsAll() {
		return 0, fmt.Errorf("%w: only national roles delete indicators", ErrForbidden)
	}
	return h.Delete(ctx, ids)
}

// ExportSTIX exports a campaign, or the scope's confirmed alerts (closed as
// true positives) since a time, as a STIX 2.1 bundle. anonymise keeps
// sectors and leaves organisation names out (for sharing with partners).
// Campaigns are national-only.
func (q *Querier) ExportSTIX(ctx context.Context, scope tenant.Scope, campaignID string, since time.Time, producer string, anonymise bool) (*intel.Bundle, []error, error) {
	ts, err := q.allTenants(ctx)
	if err != nil {
		return nil, nil, err
	}
	byID := map[tenant.ID]tenant.Tenant{}
	for _, t := range ts {
		byID[t.ID] = t
	}
	opts := intel.ExportOptions{Producer: producer, Anonymise: anonymise,
		SectorOf: func(id tenant.ID) tenant.Sector { return byID[id].Sector },
		OrgName:  func(id tenant.ID) string { return byID[id].Name }}
	if campaignID != "" {
		if !scope.IsAll() {
			return nil, nil, fmt.Errorf("%w: only national roles export campaigns", ErrForbidden)
		}
		ids, err := q.resolve(ctx, scope, nil, nil)
		if err != nil {
			return nil, nil, err
		}
		c, err := q.st.Campaign(ctx, ids, campaignID)
		if err != nil {
			return nil, nil, err
		}
		b, errs := intel.Export([]*incident.Campaign{c}, nil, opts)
		return b, errs, nil
	}
	page, err := q.Alerts(ctx, scope, AlertRequest{Statuses: []string{string(alert.StatusClosed)}, Since: since, Limit: 1000, WithEvents: true})
	if err != nil {
		return nil, nil, err
	}
	var confirmed []alert.Alert
	for _, a := range page.Alerts {
		if a.Resolution == store.ResolutionTruePositive {
			confirmed = append(confirmed, a.Alert)
		}
	}
	b, errs := intel.Export(nil, confirmed, opts)
	return b, errs, nil
}
