package query

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mamori-soc/mamori/internal/decision"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// Decisions is what the querier needs of the decision service.
type Decisions interface {
	Create(ctx context.Context, d decision.Decision) (decision.Decision, error)
	Revoke(ctx context.Context, id int64, by string) error
	Get(ctx context.Context, id int64) (decision.Decision, error)
	List(ctx context.Context, q decision.Query) ([]decision.Decision, int, error)
	Audit(ctx context.Context, id int64) ([]decision.AuditEntry, error)
}

// SetDecisions tells the querier where decisions live.
func (q *Querier) SetDecisions(d Decisions) {
	q.mu.Lock()
	q.decisions = d
	q.mu.Unlock()
}

// ErrForbidden is returned for a change the scope may not make (an
// organisation's role targeting a sector, the nation or another
// organisation, or revoking a decision it did not target).
var ErrForbidden = errors.New("forbidden")

// ErrNoDecisions is returned when the server runs without decisions.
var ErrNoDecisions = errors.New("decisions are not enabled")

func (q *Querier) dec() (Decisions, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.decisions == nil {
		return nil, ErrNoDecisions
	}
	return q.decisions, nil
}

// DecisionRequest lists decisions.
type DecisionRequest struct {
	Active bool
	Value  string
	Limit  int
	Offset int
}

// ListDecisions returns the decisions that apply to the scope: for national
// roles every decision; for an organisation's role those targeting its
// organisations, their sectors or the nation.
func (q *Querier) ListDecisions(ctx context.Context, scope tenant.Scope, req DecisionRequest) ([]decision.Decision, int, error) {
	d, err := q.dec()
	if err != nil {
		return nil, 0, err
	}
	dq := decision.Query{Active: req.Active, Value: req.Value, Limit: req.Limit, Offset: req.Offset}
	if scope.IsAll() {
		dq.All = true
	} else {
		if dq.Orgs, err = q.resolve(ctx, scope, nil, nil); err != nil {
			return nil, 0, err
		}
		if len(dq.Orgs) == 0 {
			return []decision.Decision{}, 0, nil
		}
	}
	return d.List(ctx, dq)
}

// visible reports whether a decision applies to the scope.
func (q *Querier) visible(ctx context.Context, scope tenant.Scope, dd decision.Decision) (bool, error) {
	if scope.IsAll() {
		return true, nil
	}
	ts, err := q.Tenants(ctx, scope)
	if err != nil {
		return false, err
	}
	for _, t := range ts {
		if dd.Target.Covers(t.ID, t.Sector) {
			return true, nil
		}
	}
	return false, nil
}

// DecisionDetail is a decision with its audit trail.
type DecisionDetail struct {
	Decision decision.Decision
	Audit    []decision.AuditEntry
}

// Decision returns one decision that applies to the scope, or decision.ErrNotFound.
func (q *Querier) Decision(ctx context.Context, scope tenant.Scope, id int64) (*DecisionDetail, error) {
	d, err := q.dec()
	if err != nil {
		return nil, err
	}
	dd, err := d.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if ok, err := q.visible(ctx, scope, dd); err != nil || !ok {
		return nil, errors.Join(decision.ErrNotFound, err)
	}
	audit, err := d.Audit(ctx, id)
	if err != nil {
		return nil, err
	}
	return &DecisionDetail{Decision: dd, Audit: audit}, nil
}

// CreateDecision makes a decision as user. National roles may target any
// organisation, a sector or the nation; an organisation's role only one of
// its own organisations.
func (q *Querier) CreateDecision(ctx context.Context, scope tenant.Scope, user string, dd decision.Decision) (decision.Decision, error) {
	d, err := q.dec()
	if err != nil {
		return decision.Decision{}, err
	}
	if dd.Target, err = q.mayTarget(ctx, scope, dd.Target); err != nil {
		return decision.Decision{}, err
	}
	if dd.Origin == "" {
		dd.Origin, dd.OriginRef = decision.OriginAnalyst, user
	}
	dd.CreatedBy = user
	return d.Create(ctx, dd)
}

// mayTarget checks that scope may act on target t and returns it with the
// organisation named by its id (a request may name it by name).
func (q *Querier) mayTarget(ctx context.Context, scope tenant.Scope, t decision.Target) (decision.Target, error) {
	if t.Org != "" {
		ids, err := q.resolve(ctx, scope, []string{string(t.Org)}, nil)
		if err != nil {
			return t, err
		}
		if len(ids) != 1 {
			if scope.IsAll() {
				return t, fmt.Errorf("%w: unknown organisation %q", decision.ErrInvalid, t.Org)
			}
			return t, fmt.Errorf("%w: you may only target your own organisation", ErrForbidden)
		}
		t.Org = ids[0]
		return t, nil
	}
	if !scope.IsAll() {
		return t, fmt.Errorf("%w: only national roles may target a sector or the nation; target your own organisation", ErrForbidden)
	}
	return t, nil
}

// RevokeDecision revokes a decision the scope may make (see CreateDecision).
func (q *Querier) RevokeDecision(ctx context.Context, scope tenant.Scope, user string, id int64) error {
	d, err := q.dec()
	if err != nil {
		return err
	}
	dd, err := d.Get(ctx, id)
	if err != nil {
		return err
	}
	if ok, err := q.visible(ctx, scope, dd); err != nil || !ok {
		return errors.Join(decision.ErrNotFound, err)
	}
	if _, err := q.mayTarget(ctx, scope, dd.Target); err != nil {
		return err
	}
	return d.Revoke(ctx, id, user)
}

// BlockRequest turns a campaign's indicators into decisions.
type BlockRequest struct {
	Type     string
	Duration time.Duration
	Target   decision.Target // sector or national; empty means every sector the campaign hit
	Reason   string
	Kinds    []string // indicator kinds to block: ip, net, domain (default all three)
}

// BlockCampaign creates one decision per IP, /24 (as a range) and domain
// indicator of a campaign, as user (national roles only). Indicators the
// allowlist protects are reported in errs, not blocked.
func (q *Querier) BlockCampaign(ctx context.Context, scope tenant.Scope, user, id string, req BlockRequest) (made []decision.Decision, errs []string, err error) {
	if !scope.IsAll() {
		return nil, nil, fmt.Errorf("%w: only national roles block a campaign's infrastructure", ErrForbidden)
	}
	d, err := q.dec()
	if err != nil {
		return nil, nil, err
	}
	detail, err := q.Campaign(ctx, scope, id)
	if err != nil {
		return nil, nil, err
	}
	c := detail.Campaign
	kinds := req.Kinds
	if len(kinds) == 0 {
		kinds = []string{"ip", "net", "domain"}
	}
	targets := []decision.Target{req.Target}
	if req.Target == (decision.Target{}) {
		targets = targets[:0]
		for _, s := range c.Sectors {
			targets = append(targets, decision.Target{Sector: s})
		}
	}
	reason := req.Reason
	if reason == "" {
		reason = fmt.Sprintf("campaign %s across %d organisations", c.ID, len(c.Orgs))
	}
	now := time.Now().UTC()
	for _, ind := range c.Indicators {
		scopeName := map[string]string{"ip": decision.ScopeIP, "net": decision.ScopeRange, "domain": decision.ScopeDomain}[ind.Kind]
		if scopeName == "" || !containsString(kinds, ind.Kind) {
			continue
		}
		for _, t := range targets {
			dd, err := d.Create(ctx, decision.Decision{Type: req.Type, Scope: scopeName, Value: ind.Value, Target: t, Reason: reason,
				Origin: decision.OriginCampaign, OriginRef: c.ID, CreatedBy: user, Created: now, Until: now.Add(req.Duration)})
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s %s: %v", ind.Kind, ind.Value, err))
				continue
			}
			made = append(made, dd)
		}
	}
	return made, errs, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Bouncers is what the querier needs to manage enforcement points' keys.
type Bouncers interface {
	CreateBouncer(ctx context.Context, name string, org tenant.ID) (string, error)
	DeleteBouncer(ctx context.Context, name string) error
	Bouncers(ctx context.Context) ([]decision.Bouncer, error)
}

// CreateBouncer makes a key for an enforcement point of organisation org
// ("" for a national one). Only national administrators reach it (the API
// checks the admin permission); the organisation must exist.
func (q *Querier) CreateBouncer(ctx context.Context, scope tenant.Scope, name string, org string) (string, error) {
	d, err := q.dec()
	if err != nil {
		return "", err
	}
	b, ok := d.(Bouncers)
	if !ok || !scope.IsAll() {
		return "", fmt.Errorf("%w: only national administrators manage bouncers", ErrForbidden)
	}
	var id tenant.ID
	if org != "" {
		ids, err := q.resolve(ctx, scope, []string{org}, nil)
		if err != nil {
			return "", err
		}
		if len(ids) != 1 {
			return "", fmt.Errorf("%w: unknown organisation %q", decision.ErrInvalid, org)
		}
		id = ids[0]
	}
	return b.CreateBouncer(ctx, name, id)
}

// ListBouncers lists the enforcement points (national administrators).
func (q *Querier) ListBouncers(ctx context.Context, scope tenant.Scope) ([]decision.Bouncer, error) {
	d, err := q.dec()
	if err != nil {
		return nil, err
	}
	b, ok := d.(Bouncers)
	if !ok || !scope.IsAll() {
		return nil, fmt.Errorf("%w: only national administrators manage bouncers", ErrForbidden)
	}
	return b.Bouncers(ctx)
}

// DeleteBouncer removes an enforcement point's key (national administrators).
func (q *Querier) DeleteBouncer(ctx context.Context, scope tenant.Scope, name string) error {
	d, err := q.dec()
	if err != nil {
		return err
	}
	b, ok := d.(Bouncers)
	if !ok || !scope.IsAll() {
		return fmt.Errorf("%w: only national administrators manage bouncers", ErrForbidden)
	}
	return b.DeleteBouncer(ctx, name)
}
