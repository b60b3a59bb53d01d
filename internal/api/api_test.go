package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/auth"
	"github.com/mamori-soc/mamori/internal/query"
	"github.com/mamori-soc/mamori/internal/sigma"
	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/store/local"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// env is the API in-process over a real store and auth service, with two
// organisations (health, bank) and a token per role.
type env struct {
	api    *API
	url    string
	st     *local.Store
	tokens map[string]string // role@org → token; the principal is named the same
}

type noRules struct{}

func (noRules) Set() *sigma.Set { return &sigma.Set{} }
func (noRules) SetEnabled(context.Context, tenant.ID, string, bool) error {
	return nil
}
func (noRules) Upload(context.Context, string, []byte) ([]string, []string, error) {
	return nil, []string{"no rules here"}, nil
}

func newEnv(t *testing.T, o Options) *env {
	t.Helper()
	ctx := context.Background()
	st, err := local.Open(ctx, local.Config{Dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	au, err := auth.Open(ctx, st.DB(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []tenant.Tenant{{ID: "health", Name: "Ministry of Health", Sector: tenant.Medical}, {ID: "bank", Name: "Central Bank", Sector: tenant.Finance}} {
		if err := st.PutTenant(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{st: st, tokens: map[string]string{}}
	mk := func(key string, role auth.Role, org tenant.ID) {
		tok, err := au.CreateToken(ctx, key, role, org)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[key] = tok
	}
	mk("national_analyst", auth.NationalAnalyst, "")
	for _, org := range []tenant.ID{"health", "bank"} {
		mk("org_analyst@"+string(org), auth.OrgAnalyst, org)
		mk("org_viewer@"+string(org), auth.OrgViewer, org)
	}
	o.Auth, o.Query = au, query.New(st)
	if o.Rules == nil {
		o.Rules = noRules{}
	}
	e.api = New(o)
	mux := http.NewServeMux()
	e.api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

func (e *env) do(t *testing.T, method, path, token, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (e *env) commit(t *testing.T, as ...alert.Alert) {
	t.Helper()
	if err := e.st.CommitDetections(context.Background(), "detect", 1, as); err != nil {
		t.Fatal(err)
	}
}

func testAlert(id string, org tenant.ID, host string) alert.Alert {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return alert.Alert{ID: id, Tenant: org, Sector: tenant.Medical, RuleID: "rule-1", RuleTitle: "Shadow copies deleted", RuleAuthor: "Mamori",
		Level: "critical", Techniques: []string{"T1490"}, Tactics: []string{"impact"}, Host: host, User: `CORP\bob`, Count: 1,
		FirstSeen: now, LastSeen: now, Status: alert.StatusNew, EventSeq: 1, Event: []alert.Field{{Name: "CommandLine", Value: "vssadmin delete shadows"}}}
}

type alertBody struct {
	ID         string         `json:"id"`
	OrgID      string         `json:"org_id"`
	Org        string         `json:"org"`
	Status     string         `json:"status"`
	Assignee   string         `json:"assignee"`
	Resolution string         `json:"resolution"`
	Updated    time.Time      `json:"updated"`
	Event      map[string]any `json:"event"`
}

type detailBody struct {
	Alert alertBody `json:"alert"`
	Rule  struct {
		ID             string   `json:"id"`
		Title          string   `json:"title"`
		Description    string   `json:"description"`
		FalsePositives []string `json:"falsepositives"`
		Source         string   `json:"source"`
	} `json:"rule"`
	Audit    []store.AuditEntry `json:"audit"`
	Comments []struct {
		At   time.Time `json:"at"`
		User string    `json:"user"`
		Text string    `json:"text"`
	} `json:"comments"`
	Related []alertBody `json:"related"`
}

// TestTriageWorkflow: acknowledge → in_progress → close without a
// resolution (400) → close with one → comment → reopen, with the audit
// trail naming the analyst, and every role and scope rule on the way.
func TestTriageWorkflow(t *testing.T) {
	var mu sync.Mutex
	var triaged []alert.Alert
	e := newEnv(t, Options{
		RuleSource: func(id string) (*sigma.Rule, bool) {
			if id != "rule-1" {
				return nil, false
			}
			return &sigma.Rule{ID: id, Title: "Shadow copies deleted", Description: "vssadmin deletes shadow copies", FalsePositives: []string{"backup software"}, Source: "title: x\n"}, true
		},
		Triaged: func(_ context.Context, as []alert.Alert) { mu.Lock(); triaged = append(triaged, as...); mu.Unlock() },
	})
	e.commit(t, testAlert("h1", "health", "WS-1"), testAlert("h2", "health", "WS-1"), testAlert("b1", "bank", "WS-1"))
	ana, viewer := e.tokens["org_analyst@health"], e.tokens["org_viewer@health"]

	patch := func(id, body string) (int, alertBody, string) {
		t.Helper()
		code, b := e.do(t, "PATCH", "/api/v1/alerts/"+id, ana, body)
		var a alertBody
		json.Unmarshal(b, &a)
		return code, a, string(b)
	}
	if code, a, b := patch("h1", `{"status":"acknowledged"}`); code != 200 || a.Status != "acknowledged" || a.Event == nil {
		t.Fatalf("acknowledge: %d %s", code, b)
	}
	if code, a, b := patch("h1", `{"status":"in_progress","assignee":"org_analyst@health"}`); code != 200 || a.Status != "in_progress" || a.Assignee != "org_analyst@health" {
		t.Fatalf("in_progress: %d %s", code, b)
	}
	if code, _, b := patch("h1", `{"status":"closed"}`); code != 400 || !strings.Contains(b, `"bad_request"`) || !strings.Contains(b, "needs a resolution") {
		t.Fatalf("close without resolution: %d %s, want 400 naming the resolution", code, b)
	}
	if code, a, b := patch("h1", `{"status":"closed","resolution":"true_positive"}`); code != 200 || a.Status != "closed" || a.Resolution != "true_positive" {
		t.Fatalf("close: %d %s", code, b)
	}
	if code, _, b := patch("h1", `{"comment":"confirmed with the host owner"}`); code != 200 {
		t.Fatalf("comment: %d %s", code, b)
	}
	for _, c := range []struct{ body, want string }{
		{`{"status":"done"}`, `unknown status \"done\"`},
		{`{"status":"closed","resolution":"maybe"}`, `unknown resolution \"maybe\"`},
		{`{}`, "nothing to change"},
		{`{"state":"new"}`, "unknown field"},
		{`not json`, "invalid JSON"},
	} {
		if code, _, b := patch("h1", c.body); code != 400 || !strings.Contains(b, c.want) {
			t.Errorf("PATCH %s: %d %s, want 400 with %q", c.body, code, b, c.want)
		}
	}

	code, b := e.do(t, "GET", "/api/v1/alerts/h1", ana, "")
	var d detailBody
	if err := json.Unmarshal(b, &d); code != 200 || err != nil {
		t.Fatalf("detail: %d %s", code, b)
	}
	var statuses []string
	for _, a := range d.Audit {
		if a.User != "org_analyst@health" {
			t.Errorf("audit entry by %q, want the analyst: %+v", a.User, a)
		}
		if a.Action == store.ActionStatus {
			statuses = append(statuses, a.From+"→"+a.To)
		}
	}
	// One entry per changed attribute: three status changes, the assignee,
	// the resolution set on closing, and the comment.
	if strings.Join(statuses, " ") != "new→acknowledged acknowledged→in_progress in_progress→closed" || len(d.Audit) != 6 {
		t.Errorf("audit trail: %+v", d.Audit)
	}
	if len(d.Comments) != 1 || d.Comments[0].Text != "confirmed with the host owner" || d.Comments[0].User != "org_analyst@health" || d.Comments[0].At.IsZero() {
		t.Errorf("comments: %+v", d.Comments)
	}
	if d.Rule.Description != "vssadmin deletes shadow copies" || len(d.Rule.FalsePositives) != 1 || d.Rule.Source == "" {
		t.Errorf("rule: %+v", d.Rule)
	}
	if d.Alert.Org != "Ministry of Health" || d.Alert.Event["CommandLine"] == nil || d.Alert.Updated.IsZero() {
		t.Errorf("alert: %+v", d.Alert)
	}
	if len(d.Related) != 1 || d.Related[0].ID != "h2" || d.Related[0].Event != nil {
		t.Errorf("related: %+v (want h2 only: b1 shares the host but is the bank's)", d.Related)
	}

	if code, a, b := patch("h1", `{"status":"new"}`); code != 200 || a.Resolution != "" || a.Status != "new" || a.Assignee != "org_analyst@health" {
		t.Errorf("reopen: %d %s (the resolution must go, the assignee stay)", code, b)
	}

	// Scope: another organisation's alert does not exist; roles without triage get 403.
	if code, _, b := patch("b1", `{"status":"acknowledged"}`); code != 404 {
		t.Errorf("PATCH the bank's alert: %d %s, want 404", code, b)
	}
	if code, b := e.do(t, "GET", "/api/v1/alerts/b1", ana, ""); code != 404 {
		t.Errorf("GET the bank's alert: %d %s, want 404", code, b)
	}
	if code, b := e.do(t, "PATCH", "/api/v1/alerts/h2", viewer, `{"status":"acknowledged"}`); code != 403 {
		t.Errorf("viewer PATCH: %d %s, want 403", code, b)
	}
	if code, b := e.do(t, "POST", "/api/v1/alerts/bulk", viewer, `{"ids":["h2"],"status":"acknowledged"}`); code != 403 {
		t.Errorf("viewer bulk: %d %s, want 403", code, b)
	}
	code, b = e.do(t, "POST", "/api/v1/alerts/bulk", ana, `{"ids":["h2","b1","zz"],"status":"acknowledged","comment":"bulk"}`)
	var bulk struct {
		Results []struct {
			ID    string `json:"id"`
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		} `json:"results"`
	}
	json.Unmarshal(b, &bulk)
	if code != 200 || len(bulk.Results) != 3 || !bulk.Results[0].OK || bulk.Results[1].OK || bulk.Results[1].Error == "" || bulk.Results[2].OK {
		t.Errorf("bulk: %d %s", code, b)
	}
	if b1, _ := e.st.Alert(context.Background(), []tenant.ID{"bank"}, "b1"); b1.Status != alert.StatusNew {
		t.Errorf("the bank's alert changed: %+v", b1)
	}
	if code, b := e.do(t, "POST", "/api/v1/alerts/bulk", ana, `{"ids":[],"status":"new"}`); code != 400 {
		t.Errorf("empty bulk: %d %s", code, b)
	}

	// The list carries the triage state and filters on it.
	code, b = e.do(t, "GET", "/api/v1/alerts?assignee=org_analyst@health&events=false", ana, "")
	var page struct{ Alerts []alertBody }
	json.Unmarshal(b, &page)
	if code != 200 || len(page.Alerts) != 1 || page.Alerts[0].ID != "h1" || page.Alerts[0].Assignee == "" || page.Alerts[0].Updated.IsZero() {
		t.Errorf("assignee filter: %d %s", code, b)
	}
	for q, want := range map[string]int{"assignee=-": 1, "q=ws-1": 2, "q=nothing": 0, "sort=-level": 2, "sort=count&status=acknowledged": 1} {
		code, b := e.do(t, "GET", "/api/v1/alerts?"+q, ana, "")
		page.Alerts = nil
		json.Unmarshal(b, &page)
		if code != 200 || len(page.Alerts) != want {
			t.Errorf("alerts?%s: %d, %d alerts, want %d: %s", q, code, len(page.Alerts), want, b)
		}
	}
	if code, _ := e.do(t, "GET", "/api/v1/alerts?sort=severity", ana, ""); code != 400 {
		t.Errorf("unknown sort: %d, want 400", code)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(triaged) != 6 { // 5 accepted single changes (refused ones publish nothing) + h2 of the bulk
		t.Errorf("Triaged saw %d changes, want 6", len(triaged))
	}
}

// broker is a fake Options.Subscribe: it fans alerts out to subscribers and
// drops them for a subscriber that is not keeping up.
type broker struct {
	mu   sync.Mutex
	subs map[chan alert.Alert]bool
}

func (b *broker) Subscribe(ctx context.Context) <-chan alert.Alert {
	ch := make(chan alert.Alert, 16)
	b.mu.Lock()
	b.subs[ch] = true
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		delete(b.subs, ch)
		b.mu.Unlock()
	}()
	return ch
}

func (b *broker) Publish(a alert.Alert) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- a:
		default:
		}
	}
}

func (b *broker) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// sse reads a stream: alert events as their ids and pings as "ping".
type sse struct {
	resp   *http.Response
	cancel context.CancelFunc
	got    chan string
	alerts chan alertBody
}

func (e *env) openStream(t *testing.T, token string, cookie bool) *sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/api/v1/stream", nil)
	if cookie { // as EventSource sends it
		req.AddCookie(&http.Cookie{Name: "mamori_session", Value: token})
	} else {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("stream: %d %s", resp.StatusCode, b)
	}
	s := &sse{resp: resp, cancel: cancel, got: make(chan string, 100), alerts: make(chan alertBody, 100)}
	go func() {
		defer close(s.got)
		sc := bufio.NewScanner(resp.Body)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == ": ping":
				s.got <- "ping"
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "alert":
				var a alertBody
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &a); err != nil {
					s.got <- "bad json: " + line
					continue
				}
				s.alerts <- a
				s.got <- a.ID
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *sse) close() { s.cancel(); s.resp.Body.Close() }

// next returns the next alert id received, skipping pings.
func (s *sse) next(t *testing.T) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case id, ok := <-s.got:
			if !ok {
				t.Fatal("stream ended")
			}
			if id != "ping" {
				return id
			}
		case <-timeout:
			t.Fatal("no event within 10s")
		}
	}
}

// TestStreamScope: an alert published for one organisation reaches the
// national stream and that organisation's stream, never another's.
func TestStreamScope(t *testing.T) {
	b := &broker{subs: map[chan alert.Alert]bool{}}
	e := newEnv(t, Options{Subscribe: b.Subscribe})
	e.api.ping = 50 * time.Millisecond
	national := e.openStream(t, e.tokens["national_analyst"], false)
	health := e.openStream(t, e.tokens["org_viewer@health"], true)
	bank := e.openStream(t, e.tokens["org_analyst@bank"], false)
	waitFor(t, "three subscribers", func() bool { return b.count() == 3 })

	// h1 is stored with a triage state the publisher does not know.
	h1 := testAlert("h1", "health", "WS-1")
	e.commit(t, h1)
	if _, err := e.st.UpdateAlerts(context.Background(), []tenant.ID{"health"}, []string{"h1"},
		store.AlertChange{Assignee: ptr("alice"), User: "alice", At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	b.Publish(h1)
	b.Publish(testAlert("b1", "bank", "B-1"))
	b.Publish(testAlert("h2", "health", "WS-2")) // not stored (yet): sent as published
	for name, c := range map[string]struct {
		s    *sse
		want []string
	}{
		"national": {national, []string{"h1", "b1", "h2"}},
		"health":   {health, []string{"h1", "h2"}},
		"bank":     {bank, []string{"b1"}},
	} {
		var got []string
		for range c.want {
			got = append(got, c.s.next(t))
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s stream got %v, want %v", name, got, c.want)
		}
	}
	a := <-health.alerts
	if a.ID != "h1" || a.Org != "Ministry of Health" || a.Assignee != "alice" || a.Event != nil {
		t.Errorf("streamed h1 = %+v (want the org name, the stored assignee, no event)", a)
	}
	// Nothing of the bank arrives later either, and pings keep coming.
	for pings := 0; pings < 2; {
		select {
		case id := <-health.got:
			if id != "ping" {
				t.Fatalf("health stream got %q", id)
			}
			pings++
		case <-time.After(5 * time.Second):
			t.Fatal("no ping")
		}
	}
	// The stream ends when its client goes away.
	bank.close()
	waitFor(t, "the bank's subscription to end", func() bool { return b.count() == 2 })
}

// TestStreamEndsOnShutdown: closing Options.Done ends open streams.
func TestStreamEndsOnShutdown(t *testing.T) {
	b := &broker{subs: map[chan alert.Alert]bool{}}
	done := make(chan struct{})
	e := newEnv(t, Options{Subscribe: b.Subscribe, Done: done})
	s := e.openStream(t, e.tokens["national_analyst"], false)
	waitFor(t, "the subscriber", func() bool { return b.count() == 1 })
	close(done)
	select {
	case _, ok := <-s.got:
		if ok {
			t.Fatal("an event after shutdown began")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end when Done was closed")
	}
}

// TestStreamDisabled: without Subscribe the stream is unavailable, and it
// still needs credentials.
func TestStreamDisabled(t *testing.T) {
	e := newEnv(t, Options{})
	if code, b := e.do(t, "GET", "/api/v1/stream", e.tokens["national_analyst"], ""); code != 503 {
		t.Errorf("stream without Subscribe: %d %s", code, b)
	}
	if code, _ := e.do(t, "GET", "/api/v1/stream", "nope", ""); code != 401 {
		t.Errorf("stream without a valid token: %d", code)
	}
}

func ptr[T any](v T) *T { return &v }

// TestDashboardShape: the dashboard has every key, with lists (never null),
// also for a scope without data.
func TestDashboardShape(t *testing.T) {
	e := newEnv(t, Options{})
	e.commit(t, testAlert("b1", "bank", "B-1"))
	code, b := e.do(t, "GET", "/api/v1/dashboard?range=24h&org=bank", e.tokens["org_analyst@health"], "")
	var d map[string]json.RawMessage
	if code != 200 || json.Unmarshal(b, &d) != nil {
		t.Fatalf("dashboard: %d %s", code, b)
	}
	for _, k := range []string{"per_hour", "per_day", "top_sources", "techniques", "top_orgs", "top_sectors"} {
		if string(d[k]) != "[]" {
			t.Errorf("%s = %s, want []", k, d[k])
		}
	}
	if !bytes.Contains(d["totals"], []byte(`"today":0`)) || !bytes.Contains(d["by_level"], []byte(`"critical":0`)) || d["generated"] == nil {
		t.Errorf("dashboard: %s", b)
	}
	if code, b := e.do(t, "GET", "/api/v1/dashboard", e.tokens["national_analyst"], ""); code != 200 || !bytes.Contains(b, []byte(`"today":1`)) {
		t.Errorf("national dashboard: %d %s", code, b)
	}
	for _, q := range []string{"range=0s", "range=x", "range=365d", "sector=nowhere"} {
		if code, _ := e.do(t, "GET", "/api/v1/dashboard?"+q, e.tokens["national_analyst"], ""); code != 400 {
			t.Errorf("dashboard?%s: %d, want 400", q, code)
		}
	}
	for _, q := range []string{"buckets=0", "buckets=1001", "since=1h&until=2h"} {
		if code, _ := e.do(t, "GET", "/api/v1/events/histogram?"+q, e.tokens["national_analyst"], ""); code != 400 {
			t.Errorf("histogram?%s: %d, want 400", q, code)
		}
	}
	code, b = e.do(t, "GET", "/api/v1/events/histogram?buckets=24", e.tokens["national_analyst"], "")
	var h struct {
		Buckets  []store.Bucket `json:"buckets"`
		Interval int            `json:"interval_seconds"`
	}
	if json.Unmarshal(b, &h); code != 200 || len(h.Buckets) != 24 || h.Interval != 3600 {
		t.Errorf("histogram: %d %s", code, b)
	}
	code, b = e.do(t, "GET", "/api/v1/orgs/stats", e.tokens["org_viewer@bank"], "")
	if code != 200 || !bytes.Contains(b, []byte(`"last_event":null`)) || !bytes.Contains(b, []byte(`"silent":true`)) || bytes.Contains(b, []byte("health")) {
		t.Errorf("orgs stats: %d %s", code, b)
	}
}

// TestOpenAPIDocumentsEveryRoute: every endpoint is in openapi.json.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatal(err)
	}
	for _, rt := range New(Options{}).routes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		if doc.Paths[path][strings.ToLower(method)] == nil {
			t.Errorf("openapi.json does not describe %s", rt.pattern)
		}
	}
}

// TestCatalogueDocumented: docs/API.md lists every error code.
func TestCatalogueDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/API.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range Catalogue {
		if !bytes.Contains(doc, []byte("| `"+e.Code+"` |")) {
			t.Errorf("docs/API.md does not list the error code %q", e.Code)
		}
	}
}
