package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mamori-soc/mamori/internal/auth"
	"github.com/mamori-soc/mamori/internal/decision"
	"github.com/mamori-soc/mamori/internal/query"
	"github.com/mamori-soc/mamori/internal/store"
)

// parseDuration reads "4h", "90m", "7d".
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err := strconv.Atoi(n)
		if err == nil && d > 0 {
			return time.Duration(d) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("duration must look like 30m, 4h or 7d, got %q", s)
	}
	return d, nil
}

// decisionError answers the errors of decision calls.
func (a *API) decisionError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, query.ErrNoDecisions):
		writeError(w, ErrUnavailable, err.Error())
	case errors.Is(err, query.ErrForbidden):
		writeError(w, ErrForbidden, err.Error())
	case errors.Is(err, decision.ErrNotFound), errors.Is(err, store.ErrNotFound):
		writeError(w, ErrNotFound, "no such decision in your scope")
	case errors.Is(err, decision.ErrInvalid), errors.Is(err, decision.ErrAllowlisted):
		writeError(w, ErrBadRequest, err.Error())
	case errors.Is(err, decision.ErrNotActive):
		writeError(w, ErrConflict, err.Error())
	default:
		a.internal(w, err)
	}
}

type decisionBody struct {
	Type     string          `json:"type"`
	Scope    string          `json:"scope"`
	Value    string          `json:"value"`
	Duration string          `json:"duration"`
	Target   decision.Target `json:"target"`
	Reason   string          `json:"reason"`
}

func (a *API) createDecision(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var b decisionBody
	if !decodeBody(w, r, &b) {
		return
	}
	dur, err := parseDuration(b.Duration)
	if err != nil {
		writeError(w, ErrBadRequest, err.Error())
		return
	}
	if b.Type == "" {
		b.Type = decision.Ban
	}
	now := time.Now().UTC()
	d, err := a.o.Query.CreateDecision(r.Context(), p.Scope(), p.Name, decision.Decision{Type: b.Type, Scope: b.Scope, Value: b.Value,
		Target: b.Target, Reason: b.Reason, Created: now, Until: now.Add(dur)})
	if err != nil {
		a.decisionError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, d)
}

func (a *API) listDecisions(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := r.URL.Query()
	req := query.DecisionRequest{Active: q.Get("active") != "false", Value: strings.TrimSpace(q.Get("value"))}
	var err error
	if req.Limit, err = limitParam(q.Get("limit")); err == nil && q.Get("offset") != "" {
		if req.Offset, err = strconv.Atoi(q.Get("offset")); err != nil || req.Offset < 0 {
			err = fmt.Errorf("offset must be a whole number of at least 0, got %q", q.Get("offset"))
		}
	}
	if err != nil {
		writeError(w, ErrBadRequest, err.Error())
		return
	}
	ds, total, err := a.o.Query.ListDecisions(r.Context(), p.Scope(), req)
	if err != nil {
		a.decisionError(w, err)
		return
	}
	if ds == nil {
		ds = []decision.Decision{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"decisions": ds, "total": total})
}

func decisionID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, ErrNotFound, "no such decision in your scope")
		return 0, false
	}
	return id, true
}

func (a *API) decisionDetail(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	id, ok := decisionID(w, r)
	if !ok {
		return
	}
	d, err := a.o.Query.Decision(r.Context(), p.Scope(), id)
	if err != nil {
		a.decisionError(w, err)
		return
	}
	audit := d.Audit
	if audit == nil {
		audit = []decision.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"decision": d.Decision, "audit": audit})
}

func (a *API) revokeDecision(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	id, ok := decisionID(w, r)
	if !ok {
		return
	}
	if err := a.o.Query.RevokeDecision(r.Context(), p.Scope(), p.Name, id); err != nil {
		a.decisionError(w, err)
		return
	}
	d, err := a.o.Query.Decision(r.Context(), p.Scope(), id)
	if err != nil {
		a.decisionError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d.Decision)
}

func (a *API) blockCampaign(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var b struct {
		Type     string          `json:"type"`
		Duration string          `json:"duration"`
		Target   decision.Target `json:"target"`
		Reason   string          `json:"reason"`
		Kinds    []string        `json:"kinds"`
	}
	if !decodeBody(w, r, &b) {
		return
	}
	if b.Duration == "" {
		b.Duration = "24h"
	}
	dur, err := parseDuration(b.Duration)
	if err != nil {
		writeError(w, ErrBadRequest, err.Error())
		return
	}
	if b.Type == "" {
		b.Type = decision.Ban
	}
	made, errs, err := a.o.Query.BlockCampaign(r.Context(), p.Scope(), p.Name, r.PathValue("id"),
		query.BlockRequest{Type: b.Type, Duration: dur, Target: b.Target, Reason: b.Reason, Kinds: b.Kinds})
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, ErrNotFound, fmt.Sprintf("no campaign %q in your scope", r.PathValue("id")))
		return
	}
	if err != nil {
		a.decisionError(w, err)
		return
	}
	if made == nil {
		made = []decision.Decision{}
	}
	if errs == nil {
		errs = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"decisions": made, "errors": errs})
}

func (a *API) createBouncer(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var b struct {
		Name string `json:"name"`
		Org  string `json:"org"`
	}
	if !decodeBody(w, r, &b) {
		return
	}
	key, err := a.o.Query.CreateBouncer(r.Context(), p.Scope(), strings.TrimSpace(b.Name), strings.TrimSpace(b.Org))
	if errors.Is(err, decision.ErrExists) {
		writeError(w, ErrConflict, err.Error())
		return
	}
	if err != nil {
		a.decisionError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"name": b.Name, "org": b.Org, "key": key})
}

func (a *API) listBouncers(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	bs, err := a.o.Query.ListBouncers(r.Context(), p.Scope())
	if err != nil {
		a.decisionError(w, err)
		return
	}
	if bs == nil {
		bs = []decision.Bouncer{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"bouncers": bs})
}

func (a *API) deleteBouncer(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if err := a.o.Query.DeleteBouncer(r.Context(), p.Scope(), r.PathValue("name")); err != nil {
		a.decisionError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
