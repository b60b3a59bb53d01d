package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/auth"
	"github.com/mamori-soc/mamori/internal/query"
	"github.com/mamori-soc/mamori/internal/store"
)

type ruleJSON struct {
	ID             string   `json:"id"`
	Title          string   `json:"title"`
	Author         string   `json:"author"`
	Level          string   `json:"level"`
	Description    string   `json:"description"`
	References     []string `json:"references"`
	FalsePositives []string `json:"falsepositives"`
	Tags           []string `json:"tags"`
	Source         string   `json:"source"` // the rule's YAML
}

// ruleOf describes the rule behind an alert: the loaded rule when there is
// one, else what the alert itself says (the rule may have been removed).
func (a *API) ruleOf(al *store.Alert) ruleJSON {
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	if a.o.RuleSource != nil {
		if r, ok := a.o.RuleSource(al.RuleID); ok && r != nil {
			return ruleJSON{ID: r.ID, Title: r.Title, Author: r.Author, Level: r.Level, Description: r.Description,
				References: nonNil(r.References), FalsePositives: nonNil(r.FalsePositives), Tags: nonNil(r.Tags), Source: r.Source}
		}
	}
	return ruleJSON{ID: al.RuleID, Title: al.RuleTitle, Author: al.RuleAuthor, Level: al.Level, References: []string{}, FalsePositives: []string{}, Tags: []string{}}
}

type commentJSON struct {
	At   time.Time `json:"at"`
	User string    `json:"user"`
	Text string    `json:"text"`
}

// auditAndComments is an audit trail as the detail endpoints show it (never
// null) and the comments in it.
func auditAndComments(audit []store.AuditEntry) ([]store.AuditEntry, []commentJSON) {
	if audit == nil {
		audit = []store.AuditEntry{}
	}
	comments := []commentJSON{}
	for _, e := range audit {
		if e.Action == store.ActionComment {
			comments = append(comments, commentJSON{At: e.At, User: e.User, Text: e.Comment})
		}
	}
	return audit, comments
}

func (a *API) alertDetail(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	id := r.PathValue("id")
	d, err := a.o.Query.Alert(r.Context(), p.Scope(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, ErrNotFound, fmt.Sprintf("no alert %q in your scope", id))
		return
	}
	if err != nil {
		a.internal(w, err)
		return
	}
	names := a.orgNames(r.Context(), p.Scope())
	audit, comments := auditAndComments(d.Audit)
	related := make([]alertJSON, 0, len(d.Related))
	for _, al := range d.Related {
		related = append(related, toAlertJSON(al, names, false))
	}
	writeJSON(w, http.StatusOK, map[string]any{"alert": toAlertJSON(*d.Alert, names, true), "rule": a.ruleOf(d.Alert), "audit": audit,
		"comments": comments, "related": related})
}

// triageBody is a triage change as PATCH and bulk receive it. Absent (or
// null) fields are left as they are; "assignee": "" unassigns.
type triageBody struct {
	Status     *string `json:"status"`
	Assignee   *string `json:"assignee"`
	Resolution *string `json:"resolution"`
	Comment    string  `json:"comment"`
}

func (b triageBody) change() store.AlertChange {
	c := store.AlertChange{Assignee: b.Assignee, Resolution: b.Resolution, Comment: b.Comment}
	if b.Status != nil {
		st := alert.Status(strings.TrimSpace(*b.Status))
		c.Status = &st
	}
	return c
}

// applyTriage runs a change and tells Options.Triaged what changed.
func (a *API) applyTriage(w http.ResponseWriter, r *http.Request, p auth.Principal, ids []string, b triageBody) ([]store.UpdateResult, bool) {
	res, err := a.o.Query.Triage(r.Context(), p.Scope(), p.Name, ids, b.change())
	if errors.Is(err, store.ErrInvalidChange) {
		writeError(w, ErrBadRequest, err.Error())
		return nil, false
	}
	if err != nil {
		a.internal(w, err)
		return nil, false
	}
	var changed []alert.Alert
	for _, u := range res {
		if u.Err == nil && len(u.Audit) > 0 {
			changed = append(changed, u.Alert.Alert)
		}
	}
	if len(changed) > 0 && a.o.Triaged != nil {
		a.o.Triaged(r.Context(), changed)
	}
	return res, true
}

func (a *API) triage(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var b triageBody
	if !decodeBody(w, r, &b) {
		return
	}
	id := r.PathValue("id")
	res, ok := a.applyTriage(w, r, p, []string{id}, b)
	if !ok {
		return
	}
	switch u := res[0]; {
	case errors.Is(u.Err, store.ErrNotFound):
		writeError(w, ErrNotFound, fmt.Sprintf("no alert %q in your scope", id))
	case u.Err != nil:
		writeError(w, ErrBadRequest, u.Err.Error())
	default:
		writeJSON(w, http.StatusOK, toAlertJSON(*u.Alert, a.orgNames(r.Context(), p.Scope()), true))
	}
}

func (a *API) bulkTriage(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var b struct {
		IDs []string `json:"ids"`
		triageBody
	}
	if !decodeBody(w, r, &b) {
		return
	}
	if len(b.IDs) == 0 || len(b.IDs) > query.MaxBulk {
		writeError(w, ErrBadRequest, fmt.Sprintf("ids must list 1-%d alert ids", query.MaxBulk))
		return
	}
	res, ok := a.applyTriage(w, r, p, b.IDs, b.triageBody)
	if !ok {
		return
	}
	type result struct {
		ID    string `json:"id"`
		OK    bool   `json:"ok"`
		Error string `json:"error,omitempty"`
	}
	out := make([]result, len(res))
	for i, u := range res {
		out[i] = result{ID: u.ID, OK: u.Err == nil}
		switch {
		case errors.Is(u.Err, store.ErrNotFound):
			out[i].Error = "no such alert in your scope"
		case u.Err != nil:
			out[i].Error = u.Err.Error()
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": out})
}
