// Package api is Mamori's HTTP JSON API: authentication, alerts and their
// triage, dashboards, events, organisations, users, tokens, rules and the
// live alert stream. Every read and every triage change goes through the
// query package with the caller's scope; every handler checks the caller's
// role before acting. Errors come from one catalogue with stable codes.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/auth"
	"github.com/mamori-soc/mamori/internal/query"
	"github.com/mamori-soc/mamori/internal/sigma"
	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// Rules is what the API needs to know about the loaded rules.
type Rules interface {
	Set() *sigma.Set
	SetEnabled(ctx context.Context, t tenant.ID, ruleID string, enabled bool) error
	// Upload validates a rule file (one or more YAML documents) as
	// `mamori rules check` does, and when every document is valid installs
	// it and reloads the rules. problems lists each invalid document with its
	// line; err is a failure to install.
	Upload(ctx context.Context, name string, src []byte) (ids []string, problems []string, err error)
}

// Orgs creates organisations.
type Orgs interface {
	PutTenant(ctx context.Context, t tenant.Tenant) error
}

// Options wires the API.
type Options struct {
	Auth    *auth.Service
	Query   *query.Querier
	Orgs    Orgs
	Rules   Rules
	Log     *slog.Logger
	Metrics func(w io.Writer) // Prometheus text exposition
	// Producer names this centre in STIX exports ("" means intel.DefaultProducer).
	Producer string
	Ready    func() error // nil when ready to serve

	// RuleSource returns a loaded rule (detection or correlation) by id,
	// for the alert detail. Nil: the detail describes the rule from the
	// alert alone.
	RuleSource func(id string) (*sigma.Rule, bool)

	// Subscribe returns the alerts created or updated from now on, of every
	// organisation, until ctx ends. The API filters them by the caller's
	// scope, reads the channel until ctx is done or the channel is closed,
	// and never closes it itself. The publisher must never block on a slow
	// subscriber (drop instead) and should close the channel on shutdown so
	// that streams end. Nil: GET /api/v1/stream answers 503.
	Subscribe func(ctx context.Context) <-chan alert.Alert

	// Done, when set, is closed when the server begins to shut down: open
	// streams end then. (http.Server.Shutdown waits for active requests and
	// does not cancel their contexts, so a stream would otherwise hold
	// shutdown until its deadline.)
	Done <-chan struct{}

	// Triaged, when set, is called after a triage change is committed, with
	// the alerts it changed in their new state: app publishes them to live
	// streams and tells the alert folder that a closed alert takes no more
	// hits. It must not block.
	Triaged func(ctx context.Context, alerts []alert.Alert)
}

// API holds the handlers.
type API struct {
	o    Options
	ping time.Duration // live stream keep-alive interval
}

// New returns the API.
func New(o Options) *API {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &API{o: o, ping: 15 * time.Second}
}

// route is one authenticated endpoint.
type route struct {
	pattern string // "METHOD /path", as http.ServeMux takes it
	action  auth.Action
	anyRole bool // every authenticated caller but ingest tokens (for /me)
	h       func(w http.ResponseWriter, r *http.Request, p auth.Principal)
}

func (a *API) routes() []route {
	return []route{
		{"GET /api/v1/me", auth.ReadData, true, a.me},
		{"POST /api/v1/logout", auth.ReadData, true, a.logout},
		{"GET /api/v1/alerts", auth.ReadData, false, a.alerts},
		{"GET /api/v1/alerts/{id}", auth.ReadData, false, a.alertDetail},
		{"PATCH /api/v1/alerts/{id}", auth.Triage, false, a.triage},
		{"POST /api/v1/alerts/bulk", auth.Triage, false, a.bulkTriage},
		{"GET /api/v1/incidents", auth.ReadData, false, a.incidents},
		{"GET /api/v1/incidents/{id}", auth.ReadData, false, a.incidentDetail},
		{"PATCH /api/v1/incidents/{id}", auth.Triage, false, a.triageIncident},
		{"GET /api/v1/campaigns", auth.ReadData, false, a.campaigns},
		{"GET /api/v1/campaigns/{id}", auth.ReadData, false, a.campaignDetail},
		{"POST /api/v1/campaigns/{id}/block", auth.Triage, false, a.blockCampaign},
		{"GET /api/v1/decisions", auth.ReadData, false, a.listDecisions},
		{"POST /api/v1/decisions", auth.Triage, false, a.createDecision},
		{"GET /api/v1/decisions/{id}", auth.ReadData, false, a.decisionDetail},
		{"DELETE /api/v1/decisions/{id}", auth.Triage, false, a.revokeDecision},
		{"GET /api/v1/indicators", auth.ReadData, false, a.listIndicators},
		{"GET /api/v1/indicators/sources", auth.ReadData, false, a.indicatorSources},
		{"POST /api/v1/indicators", auth.Triage, false, a.importIndicators},
		{"DELETE /api/v1/indicators/{id}", auth.Triage, false, a.deleteIndicator},
		{"GET /api/v1/stix", auth.ReadData, false, a.exportSTIX},
		{"GET /api/v1/bouncers", auth.Admin, false, a.listBouncers},
		{"POST /api/v1/bouncers", auth.Admin, false, a.createBouncer},
		{"DELETE /api/v1/bouncers/{name}", auth.Admin, false, a.deleteBouncer},
		{"GET /api/v1/ratings", auth.ReadData, false, a.ratings},
		{"GET /api/v1/ratings/history", auth.ReadData, false, a.ratingHistory},
		{"GET /api/v1/dashboard", auth.ReadData, false, a.dashboard},
		{"GET /api/v1/stream", auth.ReadData, false, a.stream},
		{"GET /api/v1/events", auth.ReadData, false, a.events},
		{"GET /api/v1/events/histogram", auth.ReadData, false, a.histogram},
		{"GET /api/v1/orgs", auth.ReadData, false, a.listOrgs},
		{"GET /api/v1/orgs/stats", auth.ReadData, false, a.orgStats},
		{"POST /api/v1/orgs", auth.Admin, false, a.createOrg},
		{"GET /api/v1/users", auth.Admin, false, a.listUsers},
		{"POST /api/v1/users", auth.Admin, false, a.createUser},
		{"DELETE /api/v1/users/{name}", auth.Admin, false, a.deleteUser},
		{"GET /api/v1/tokens", auth.Admin, false, a.listTokens},
		{"POST /api/v1/tokens", auth.Admin, false, a.createToken},
		{"DELETE /api/v1/tokens/{id}", auth.Admin, false, a.revokeToken},
		{"GET /api/v1/rules", auth.ReadData, false, a.listRules},
		{"POST /api/v1/rules", auth.ManageRules, false, a.uploadRule},
		{"PUT /api/v1/orgs/{org}/rules/{rule}", auth.ManageRules, false, a.setRule},
	}
}

// Register adds the API routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/login", a.login)
	for _, rt := range a.routes() {
		mux.HandleFunc(rt.pattern, a.authed(rt.action, rt.h, rt.anyRole))
	}
	mux.HandleFunc("GET /api/v1/openapi.json", a.openapi)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.ready)
	if a.o.Metrics != nil {
		mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			a.o.Metrics(w)
		})
	}
}

type principalKey struct{}

// authed wraps a handler: it authenticates the caller and checks that its
// role may perform the action. anyRole lets every authenticated non-ingest
// caller through (for /me).
func (a *API) authed(action auth.Action, h func(w http.ResponseWriter, r *http.Request, p auth.Principal), anyRole bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := bearer(r)
		if tok == "" {
			writeError(w, ErrUnauthenticated, "send Authorization: Bearer <token>")
			return
		}
		p, err := a.o.Auth.Authenticate(r.Context(), tok)
		if err != nil {
			writeError(w, ErrUnauthenticated, "")
			return
		}
		if !p.Can(action) && !(anyRole && p.Role != auth.Ingest) {
			writeError(w, ErrForbidden, fmt.Sprintf("role %s may not %s", p.Role, action))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)), p)
	}
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if scheme, rest, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "bearer") {
		return strings.TrimSpace(rest)
	}
	if c, err := r.Cookie("mamori_session"); err == nil {
		return c.Value
	}
	return ""
}

func (a *API) ready(w http.ResponseWriter, r *http.Request) {
	if a.o.Ready != nil {
		if err := a.o.Ready(); err != nil {
			writeError(w, ErrUnavailable, err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		writeError(w, ErrBadRequest, "body must be {\"username\": ..., \"password\": ...}")
		return
	}
	tok, p, err := a.o.Auth.Login(r.Context(), req.Username, req.Password)
	if err != nil {
		if errors.Is(err, auth.ErrUnauthenticated) {
			writeError(w, ErrUnauthenticated, "wrong user name or password")
			return
		}
		a.internal(w, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: "mamori_session", Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "user": p.Name, "role": p.Role, "org_id": p.Tenant})
}

// logout ends the caller's session (a long-lived token is revoked through
// DELETE /api/v1/tokens/{id} instead) and clears the cookie.
func (a *API) logout(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	http.SetCookie(w, &http.Cookie{Name: "mamori_session", Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	if strings.HasPrefix(bearer(r), "mmr_") && p.Token != "" && p.Session {
		if err := a.o.Auth.Revoke(r.Context(), p.Token); err != nil {
			a.internal(w, err)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) internal(w http.ResponseWriter, err error) {
	a.o.Log.Error("api", "err", err)
	writeError(w, ErrInternal, "")
}

func (a *API) me(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	writeJSON(w, http.StatusOK, map[string]any{"user": p.Name, "role": p.Role, "org_id": p.Tenant, "scope": p.Scope().String(),
		"can": map[string]bool{"read": p.Can(auth.ReadData), "triage": p.Can(auth.Triage), "rules": p.Can(auth.ManageRules), "admin": p.Can(auth.Admin)}})
}

// parseTime accepts RFC 3339, Unix seconds, or a duration ago ("24h").
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("bad time %q (want RFC 3339, Unix seconds or a duration ago like 24h)", s)
}

func list(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func limitParam(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1000 {
		return 0, fmt.Errorf("limit must be 1-1000, got %q", s)
	}
	return n, nil
}

// orgNames maps ids to names for the caller's scope.
func (a *API) orgNames(ctx context.Context, scope tenant.Scope) map[tenant.ID]tenant.Tenant {
	ts, _ := a.o.Query.Tenants(ctx, scope)
	m := make(map[tenant.ID]tenant.Tenant, len(ts))
	for _, t := range ts {
		m[t.ID] = t
	}
	return m
}

type alertJSON struct {
	store.Alert
	Org   string         `json:"org"`
	Event map[string]any `json:"event,omitempty"`
}

// toAlertJSON renders an alert as every endpoint shows it.
func toAlertJSON(al store.Alert, names map[tenant.ID]tenant.Tenant, withEvent bool) alertJSON {
	j := alertJSON{Alert: al, Org: names[al.Tenant].Name}
	if al.Techniques == nil {
		j.Techniques = []string{}
	}
	if al.Tactics == nil {
		j.Tactics = []string{}
	}
	if withEvent && len(al.Event) > 0 {
		j.Event = fieldsMap(al.Event, func(f alert.Field) (string, string) { return f.Name, f.Value })
	}
	return j
}

func fieldsMap[F any](fields []F, name func(F) (string, string)) map[string]any {
	m := make(map[string]any, len(fields))
	for _, f := range fields {
		k, v := name(f)
		switch prev := m[k].(type) {
		case nil:
			m[k] = v
		case string:
			m[k] = []string{prev, v}
		case []string:
			m[k] = append(prev, v)
		}
	}
	return m
}

func (a *API) alerts(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := r.URL.Query()
	f, err := parseQueueFilters(q)
	if err == nil && !store.ValidAlertSort(f.Sort) {
		err = fmt.Errorf("unknown sort %q (want last_seen, first_seen, level or count; a leading - reverses)", f.Sort)
	}
	req := query.AlertRequest{Orgs: f.Orgs, Sectors: f.Sectors, Levels: list(q["level"]), Statuses: f.Statuses, RuleID: q.Get("rule_id"),
		Technique: q.Get("technique"), Assignee: f.Assignee, Unassigned: f.Unassigned, Text: f.Text, Sort: f.Sort,
		Since: f.Since, Until: f.Until, Limit: f.Limit, Cursor: q.Get("cursor"), WithEvents: q.Get("events") != "false"}
	for _, l := range req.Levels {
		if err == nil && sigma.LevelRank(l) == 0 {
			err = fmt.Errorf("unknown level %q", l)
		}
	}
	if err != nil {
		writeError(w, ErrBadRequest, err.Error())
		return
	}
	page, err := a.o.Query.Alerts(r.Context(), p.Scope(), req)
	if err != nil {
		if strings.Contains(err.Error(), "bad cursor") {
			writeError(w, ErrBadRequest, err.Error())
			return
		}
		a.internal(w, err)
		return
	}
	names := a.orgNames(r.Context(), p.Scope())
	out := make([]alertJSON, 0, len(page.Alerts))
	for _, al := range page.Alerts {
		out = append(out, toAlertJSON(al, names, true))
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": out, "total": page.Total, "next": page.Next})
}

type eventJSON struct {
	Seq      int64          `json:"seq"`
	ID       string         `json:"id"`
	OrgID    tenant.ID      `json:"org_id"`
	Org      string         `json:"org"`
	Sector   tenant.Sector  `json:"sector"`
	Time     time.Time      `json:"timestamp"`
	Received time.Time      `json:"received"`
	Source   string         `json:"source"`
	Host     string         `json:"host,omitempty"`
	Channel  string         `json:"channel,omitempty"`
	EventID  string         `json:"event_id,omitempty"`
	Fields   map[string]any `json:"fields"`
	Raw      string         `json:"raw,omitempty"`
}

// eventRequest parses the event filters shared by /events and /events/histogram.
func eventRequest(q url.Values) (query.EventRequest, error) {
	req := query.EventRequest{Orgs: list(q["org"]), Text: q.Get("q")}
	var err error
	if req.Since, err = parseTime(q.Get("since")); err == nil {
		req.Until, err = parseTime(q.Get("until"))
	}
	if err == nil {
		req.Limit, err = limitParam(q.Get("limit"))
	}
	if err == nil && q.Get("cursor") != "" {
		req.Before, err = strconv.ParseInt(q.Get("cursor"), 10, 64)
		if err != nil {
			err = fmt.Errorf("bad cursor %q", q.Get("cursor"))
		}
	}
	if err != nil {
		return req, err
	}
	// Field filters: field=Name:value (repeatable) or field.Name=value.
	for k, vs := range q {
		if name, ok := strings.CutPrefix(k, "field."); ok && name != "" {
			for _, v := range vs {
				req.Filters = append(req.Filters, store.Filter{Field: name, Value: v})
			}
		}
	}
	for _, fv := range q["field"] {
		name, v, ok := strings.Cut(fv, ":")
		if !ok || name == "" {
			return req, fmt.Errorf("field filter %q must be Name:value", fv)
		}
		req.Filters = append(req.Filters, store.Filter{Field: name, Value: v})
	}
	return req, nil
}

func (a *API) events(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := r.URL.Query()
	req, err := eventRequest(q)
	if err != nil {
		writeError(w, ErrBadRequest, err.Error())
		return
	}
	page, err := a.o.Query.Events(r.Context(), p.Scope(), req)
	if err != nil {
		a.internal(w, err)
		return
	}
	names := a.orgNames(r.Context(), p.Scope())
	out := make([]eventJSON, 0, len(page.Events))
	withRaw := q.Get("raw") == "true"
	for _, ev := range page.Events {
		t := names[ev.Tenant]
		j := eventJSON{Seq: ev.Seq, ID: ev.ID, OrgID: ev.Tenant, Org: t.Name, Sector: t.Sector, Time: ev.Time, Received: ev.Received, Source: ev.Source,
			Host: ev.Host, Channel: ev.Channel, EventID: ev.EventID, Fields: fieldsMap(ev.Fields, func(f store.Field) (string, string) { return f.Name, f.Value })}
		if withRaw {
			j.Raw = string(ev.Raw)
		}
		out = append(out, j)
	}
	next := ""
	if page.Next > 0 {
		next = strconv.FormatInt(page.Next, 10)
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out, "total": page.Total, "next": next})
}

func (a *API) listOrgs(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	ts, err := a.o.Query.Tenants(r.Context(), p.Scope())
	if err != nil {
		a.internal(w, err)
		return
	}
	type org struct {
		ID     tenant.ID     `json:"id"`
		Name   string        `json:"name"`
		Sector tenant.Sector `json:"sector"`
		Assets int           `json:"assets"`
	}
	out := make([]org, 0, len(ts))
	for _, t := range ts {
		out = append(out, org{t.ID, t.Name, t.Sector, t.Assets})
	}
	writeJSON(w, http.StatusOK, map[string]any{"orgs": out})
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, ErrBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

func (a *API) createOrg(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var req struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Sector string `json:"sector"`
		Assets int    `json:"assets"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Assets < 0 {
		writeError(w, ErrBadRequest, "assets must be 0 or more")
		return
	}
	sec, err := tenant.ParseSector(req.Sector)
	if err != nil || strings.TrimSpace(req.Name) == "" {
		writeError(w, ErrBadRequest, fmt.Sprintf("name and a valid sector are required (%v)", err))
		return
	}
	id := tenant.ID(req.ID)
	if id == "" {
		id = tenant.Slug(req.Name)
	}
	if !tenant.ValidID(string(id)) {
		writeError(w, ErrBadRequest, fmt.Sprintf("invalid organisation id %q (a-z, 0-9, -)", id))
		return
	}
	t := tenant.Tenant{ID: id, Name: strings.TrimSpace(req.Name), Sector: sec, Assets: req.Assets}
	if err := a.o.Orgs.PutTenant(r.Context(), t); err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			writeError(w, ErrConflict, fmt.Sprintf("an organisation named %q exists", t.Name))
			return
		}
		a.internal(w, err)
		return
	}
	a.o.Query.Invalidate()
	writeJSON(w, http.StatusCreated, map[string]any{"id": t.ID, "name": t.Name, "sector": t.Sector})
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	us, err := a.o.Auth.Users(r.Context())
	if err != nil {
		a.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": us})
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var req struct {
		Name     string `json:"name"`
		Password string `json:"password"`
		Role     string `json:"role"`
		Org      string `json:"org_id"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	role, err := auth.ParseRole(req.Role)
	if err == nil && role == auth.Ingest {
		err = errors.New("ingest is a token role; create a token instead")
	}
	if err == nil {
		err = a.o.Auth.AddUser(r.Context(), req.Name, req.Password, role, tenant.ID(req.Org))
	}
	if err != nil {
		if errors.Is(err, auth.ErrExists) {
			writeError(w, ErrConflict, err.Error())
			return
		}
		writeError(w, ErrBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"name": req.Name, "role": role, "org_id": req.Org})
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if err := a.o.Auth.DeleteUser(r.Context(), r.PathValue("name")); err != nil {
		a.internal(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	ts, err := a.o.Auth.Tokens(r.Context())
	if err != nil {
		a.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": ts})
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var req struct {
		Name string `json:"name"`
		Role string `json:"role"`
		Org  string `json:"org_id"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	role, err := auth.ParseRole(req.Role)
	var tok string
	if err == nil {
		tok, err = a.o.Auth.CreateToken(r.Context(), req.Name, role, tenant.ID(req.Org))
	}
	if err != nil {
		writeError(w, ErrBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": tok, "name": req.Name, "role": role, "org_id": req.Org})
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if err := a.o.Auth.Revoke(r.Context(), r.PathValue("id")); err != nil {
		a.internal(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// uploadRule installs a Sigma rule file sent as the body (YAML), or as JSON
// {"name": "...", "yaml": "..."}. Invalid documents are listed with their
// lines and nothing is installed.
func (a *API) uploadRule(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil || len(body) > 1<<20 {
		writeError(w, ErrBadRequest, "the rule file must be at most 1 MiB")
		return
	}
	name := r.URL.Query().Get("name")
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var req struct {
			Name string `json:"name"`
			YAML string `json:"yaml"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			writeError(w, ErrBadRequest, "body must be {\"name\": ..., \"yaml\": ...}")
			return
		}
		name, body = req.Name, []byte(req.YAML)
	}
	if name == "" {
		name = "uploaded.yml"
	}
	ids, problems, err := a.o.Rules.Upload(r.Context(), name, body)
	if err != nil {
		a.internal(w, err)
		return
	}
	if len(problems) > 0 {
		writeJSON(w, ErrBadRequest.Status, map[string]any{"error": map[string]any{"code": ErrBadRequest.Code,
			"message": fmt.Sprintf("%d invalid rule(s); nothing was installed", len(problems)), "problems": problems}})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"installed": ids, "by": p.Name})
}

func (a *API) listRules(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	ctx, scope := r.Context(), p.Scope()
	// With org, hits and switches are that organisation's (404 outside the scope).
	var orgs []string
	var disabled map[string]bool
	org := strings.TrimSpace(r.URL.Query().Get("org"))
	if org != "" {
		t, err := a.o.Query.Org(ctx, scope, org)
		if err == nil {
			disabled, err = a.o.Query.DisabledRules(ctx, scope, t.ID)
		}
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, ErrNotFound, fmt.Sprintf("no organisation %q in your scope", org))
			return
		}
		if err != nil {
			a.internal(w, err)
			return
		}
		orgs = []string{string(t.ID)}
	}
	hits, err := a.o.Query.RuleHits(ctx, scope, orgs, time.Time{})
	if err != nil {
		a.internal(w, err)
		return
	}
	set := a.o.Rules.Set()
	out := make([]map[string]any, 0, len(set.Rules)+len(set.Correlations))
	add := func(r *sigma.Rule, corr bool) {
		h := hits[r.ID]
		m := map[string]any{"id": r.ID, "title": r.Title, "author": r.Author, "level": r.Level, "status": r.Status,
			"logsource": r.Logsource.String(), "techniques": r.Techniques(), "correlation": corr, "path": r.Path,
			"hits_24h": h.Recent, "hits_total": h.Total}
		if org != "" {
			m["enabled"] = !disabled[r.ID]
		}
		out = append(out, m)
	}
	for _, r := range set.Rules {
		add(r, false)
	}
	for _, c := range set.Correlations {
		add(c.Rule, true)
	}
	writeJSON(w, http.StatusOK, map[string]any{"rules": out, "total": len(out)})
}

func (a *API) setRule(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	org := tenant.ID(r.PathValue("org"))
	if !p.Scope().Contains(org) {
		writeError(w, ErrNotFound, fmt.Sprintf("no organisation %q in your scope", org))
		return
	}
	var req struct {
		Enabled bool `json:"enabled"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if err := a.o.Rules.SetEnabled(r.Context(), org, r.PathValue("rule"), req.Enabled); err != nil {
		writeError(w, ErrBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"org_id": org, "rule_id": r.PathValue("rule"), "enabled": req.Enabled})
}
