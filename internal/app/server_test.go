package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/auth"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// testServer starts a whole platform in-process on a free port with the
// built-in rules, two organisations and a token per role.
type testServer struct {
	srv    *Server
	url    string
	tokens map[string]string // role@org → token
	cancel context.CancelFunc
	done   chan error
}

func startServer(t *testing.T) *testServer { return startServerWith(t, Config{}) }

// startServerWith is startServer with extra configuration.
func startServerWith(t *testing.T, cfg Config) *testServer {
	t.Helper()
	t.Setenv("MAMORI_RULES", "")
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Listen, cfg.Data = "127.0.0.1:0", t.TempDir()
	srv, err := NewServer(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{srv: srv, url: "http://" + srv.Addr(), tokens: map[string]string{}, cancel: cancel, done: make(chan error, 1)}
	for _, o := range []tenant.Tenant{{ID: "health", Name: "Ministry of Health", Sector: tenant.Medical}, {ID: "bank", Name: "Central Bank", Sector: tenant.Finance}} {
		if err := srv.store.PutTenant(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	srv.refreshTenants(ctx)
	a := srv.Auth()
	mk := func(key string, role auth.Role, org tenant.ID) {
		tok, err := a.CreateToken(ctx, key, role, org)
		if err != nil {
			t.Fatal(err)
		}
		ts.tokens[key] = tok
	}
	mk("national_admin", auth.NationalAdmin, "")
	mk("national_analyst", auth.NationalAnalyst, "")
	for _, org := range []tenant.ID{"health", "bank"} {
		mk("ingest@"+string(org), auth.Ingest, org)
		mk("org_analyst@"+string(org), auth.OrgAnalyst, org)
		mk("org_viewer@"+string(org), auth.OrgViewer, org)
	}
	ts.run(t, ctx)
	return ts
}

// run starts the server, waits until it is ready and stops it when the
// test ends.
func (ts *testServer) run(t *testing.T, ctx context.Context) {
	t.Helper()
	go func() { ts.done <- ts.srv.Run(ctx) }()
	if err := waitReady(ctx, ts.url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ts.cancel()
		if err := <-ts.done; err != nil {
			t.Errorf("server Run: %v", err)
		}
	})
}

func (ts *testServer) do(t *testing.T, method, path, token string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.url+path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func winlogbeat(host, image, cmd string, recordID int) string {
	doc := map[string]any{
		"@timestamp": time.Now().UTC().Format(time.RFC3339Nano),
		"agent":      map[string]any{"type": "winlogbeat", "version": "8.15.0"},
		"host":       map[string]any{"name": host},
		"winlog": map[string]any{"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1, "computer_name": host,
			"provider_name": "Microsoft-Windows-Sysmon", "record_id": recordID,
			"event_data": map[string]any{"Image": image, "CommandLine": cmd, "ParentImage": `C:\Windows\System32\cmd.exe`, "User": `CORP\bob`}},
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

// waitFor polls until cond holds (or fails the test after 15s).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

type alertsResp struct {
	Alerts []struct {
		ID         string         `json:"id"`
		Org        string         `json:"org"`
		OrgID      string         `json:"org_id"`
		Sector     string         `json:"sector"`
		RuleTitle  string         `json:"rule_title"`
		RuleAuthor string         `json:"rule_author"`
		Level      string         `json:"level"`
		Techniques []string       `json:"techniques"`
		Host       string         `json:"host"`
		Count      int            `json:"count"`
		Event      map[string]any `json:"event"`
	} `json:"alerts"`
	Total int    `json:"total"`
	Next  string `json:"next"`
}

func (ts *testServer) alerts(t *testing.T, token, query string) alertsResp {
	t.Helper()
	code, b := ts.do(t, "GET", "/api/v1/alerts?"+query, token, nil)
	if code != http.StatusOK {
		t.Fatalf("GET alerts?%s: %d %s", query, code, b)
	}
	var r alertsResp
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestBulkToAlert: Winlogbeat-shaped _bulk requests produce alerts with the
// fields the API promises, repeated hits fold into one alert, and a bad
// document fails only its own item.
func TestBulkToAlert(t *testing.T) {
	ts := startServer(t)
	var body strings.Builder
	for i := 0; i < 3; i++ {
		body.WriteString(`{"create":{"_index":"winlogbeat-8"}}` + "\n")
		body.WriteString(winlogbeat("WS-001.health.example", `C:\Windows\System32\vssadmin.exe`, "vssadmin.exe delete shadows /all /quiet", 100+i) + "\n")
	}
	body.WriteString(`{"index":{}}` + "\n" + `{"broken json` + "\n")
	body.WriteString(`{"index":{}}` + "\n" + winlogbeat("WS-002.health.example", `C:\Windows\notepad.exe`, "notepad.exe", 7) + "\n")
	code, b := ts.do(t, "POST", "/_bulk", ts.tokens["ingest@health"], []byte(body.String()))
	if code != http.StatusOK {
		t.Fatalf("_bulk: %d %s", code, b)
	}
	var br struct {
		Errors bool `json:"errors"`
		Items  []map[string]struct {
			Status int `json:"status"`
		} `json:"items"`
	}
	json.Unmarshal(b, &br)
	if !br.Errors || len(br.Items) != 5 || br.Items[3]["index"].Status != 400 || br.Items[0]["create"].Status != 201 || br.Items[4]["index"].Status != 201 {
		t.Errorf("bulk response = %s", b)
	}
	var r alertsResp
	waitFor(t, "the shadow-copy alert", func() bool {
		r = ts.alerts(t, ts.tokens["national_analyst"], "rule_id=4d8b1f63-9a2e-4c5b-8e70-1f3a6d9c2b48")
		return len(r.Alerts) == 1 && r.Alerts[0].Count == 3
	})
	a := r.Alerts[0]
	if a.Org != "Ministry of Health" || a.OrgID != "health" || a.Sector != "medical" || a.Level != "critical" || a.RuleAuthor != "Mamori" ||
		a.Host != "WS-001.health.example" || fmt.Sprint(a.Techniques) != "[T1490]" || a.Event["CommandLine"] == nil {
		t.Errorf("alert = %+v", a)
	}
	// Events are searchable, with their organisation.
	code, b = ts.do(t, "GET", "/api/v1/events?q=vssadmin&limit=2", ts.tokens["national_analyst"], nil)
	var er struct {
		Events []struct {
			Org    string         `json:"org"`
			Fields map[string]any `json:"fields"`
		} `json:"events"`
		Total int    `json:"total"`
		Next  string `json:"next"`
	}
	json.Unmarshal(b, &er)
	if code != 200 || er.Total != 3 || len(er.Events) != 2 || er.Next == "" || er.Events[0].Org != "Ministry of Health" {
		t.Errorf("events search: %d %s", code, b)
	}
}

// TestIsolation tries to cross organisations from every role and endpoint.
func TestIsolation(t *testing.T) {
	ts := startServer(t)
	for org, host := range map[string]string{"health": "H-1", "bank": "B-1"} {
		body := `{"create":{}}` + "\n" + winlogbeat(host, `C:\Windows\System32\vssadmin.exe`, "vssadmin delete shadows /all", 1) + "\n"
		if code, b := ts.do(t, "POST", "/_bulk", ts.tokens["ingest@"+org], []byte(body)); code != 200 {
			t.Fatalf("ingest %s: %d %s", org, code, b)
		}
	}
	waitFor(t, "both alerts", func() bool { return ts.alerts(t, ts.tokens["national_analyst"], "").Total == 2 })

	for _, role := range []string{"org_analyst", "org_viewer"} {
		tok := ts.tokens[role+"@health"]
		for _, q := range []string{"", "org=bank", "org=Central%20Bank", "sector=finance", "org=bank,health", "rule_id=4d8b1f63-9a2e-4c5b-8e70-1f3a6d9c2b48"} {
			r := ts.alerts(t, tok, q)
			for _, a := range r.Alerts {
				if a.OrgID != "health" {
					t.Errorf("%s@health with %q sees an alert of %s", role, q, a.OrgID)
				}
			}
			if q == "org=bank" || q == "sector=finance" {
				if r.Total != 0 {
					t.Errorf("%s@health asking %q: total %d, want 0", role, q, r.Total)
				}
			}
		}
		for _, q := range []string{"", "org=bank", "q=B-1", "field.Computer=B-1", "field=Computer:B-1"} {
			code, b := ts.do(t, "GET", "/api/v1/events?"+q, tok, nil)
			if code != 200 || strings.Contains(string(b), "B-1") || strings.Contains(string(b), `"bank"`) {
				t.Errorf("%s@health events?%s leaked the bank: %d %s", role, q, code, b)
			}
		}
		code, b := ts.do(t, "GET", "/api/v1/orgs", tok, nil)
		if code != 200 || strings.Contains(string(b), "bank") {
			t.Errorf("%s@health lists orgs: %s", role, b)
		}
		// Writes outside their role or organisation are refused.
		for _, c := range []struct{ method, path, body string }{
			{"POST", "/api/v1/orgs", `{"name":"X","sector":"it"}`},
			{"POST", "/api/v1/tokens", `{"name":"x","role":"ingest","org_id":"bank"}`},
			{"POST", "/api/v1/users", `{"name":"x","password":"0123456789ab","role":"national_admin"}`},
			{"GET", "/api/v1/users", ``},
			{"PUT", "/api/v1/orgs/bank/rules/4d8b1f63-9a2e-4c5b-8e70-1f3a6d9c2b48", `{"enabled":false}`},
		} {
			if code, b := ts.do(t, c.method, c.path, tok, []byte(c.body)); code != http.StatusForbidden && code != http.StatusNotFound {
				t.Errorf("%s@health %s %s: %d %s, want 403/404", role, c.method, c.path, code, b)
			}
		}
	}
	// Ingest tokens read nothing; ingest cannot be sent with a read token; no token, nothing.
	if code, _ := ts.do(t, "GET", "/api/v1/alerts", ts.tokens["ingest@health"], nil); code != http.StatusForbidden {
		t.Errorf("ingest token reading alerts: %d, want 403", code)
	}
	if code, _ := ts.do(t, "POST", "/api/v1/ingest", ts.tokens["national_admin"], []byte(`{"a":1}`)); code != http.StatusUnauthorized {
		t.Errorf("admin token ingesting: %d, want 401", code)
	}
	for _, p := range []string{"/api/v1/alerts", "/api/v1/events", "/api/v1/orgs", "/api/v1/users", "/api/v1/tokens", "/api/v1/rules", "/api/v1/me",
		"/api/v1/alerts/x", "/api/v1/dashboard", "/api/v1/orgs/stats", "/api/v1/events/histogram", "/api/v1/stream"} {
		if code, _ := ts.do(t, "GET", p, "", nil); code != http.StatusUnauthorized {
			t.Errorf("GET %s without a token: %d, want 401", p, code)
		}
		if code, _ := ts.do(t, "GET", p, "mmr_aaaaaaaaaaaaaaaa_forged", nil); code != http.StatusUnauthorized {
			t.Errorf("GET %s with a forged token: %d, want 401", p, code)
		}
	}
	// National roles see both; an org analyst may disable a rule for its own organisation only through a national role.
	if r := ts.alerts(t, ts.tokens["national_analyst"], "org=bank"); r.Total != 1 || r.Alerts[0].OrgID != "bank" {
		t.Errorf("national analyst org=bank: %+v", r)
	}
	testIsolationConsole(t, ts)
}

// testIsolationConsole crosses organisations through the analyst console's
// endpoints: alert detail, related alerts, triage (single and bulk),
// dashboard, organisation freshness, event histogram, rule hits and the
// live stream. The bank's alert must not exist for the health roles (404 or
// nothing, never 403, which would confirm it exists).
func testIsolationConsole(t *testing.T, ts *testServer) {
	nat := ts.tokens["national_analyst"]
	bankAlert := ts.alerts(t, nat, "org=bank").Alerts[0].ID
	healthAlert := ts.alerts(t, nat, "org=health").Alerts[0].ID
	const vss = "4d8b1f63-9a2e-4c5b-8e70-1f3a6d9c2b48"
	leaks := func(b []byte) bool {
		return bytes.Contains(b, []byte(`"bank"`)) || bytes.Contains(b, []byte("Central Bank")) || bytes.Contains(b, []byte("B-1")) || bytes.Contains(b, []byte(bankAlert))
	}
	type dash struct {
		Totals struct{ Today, Open int }
	}
	dashboard := func(tok, q string) (dash, []byte) {
		t.Helper()
		code, b := ts.do(t, "GET", "/api/v1/dashboard?"+q, tok, nil)
		var d dash
		if code != 200 || json.Unmarshal(b, &d) != nil {
			t.Fatalf("dashboard?%s: %d %s", q, code, b)
		}
		return d, b
	}
	ruleHits := func(tok, q string) (int, int) {
		t.Helper()
		code, b := ts.do(t, "GET", "/api/v1/rules?"+q, tok, nil)
		var r struct {
			Rules []struct {
				ID        string `json:"id"`
				HitsTotal int    `json:"hits_total"`
				Hits24h   int    `json:"hits_24h"`
			}
		}
		json.Unmarshal(b, &r)
		for _, x := range r.Rules {
			if x.ID == vss {
				return x.HitsTotal, x.Hits24h
			}
		}
		t.Fatalf("rules?%s: %d, no %s in %s", q, code, vss, b[:min(300, len(b))])
		return 0, 0
	}
	if d, _ := dashboard(nat, ""); d.Totals.Today != 2 {
		t.Errorf("national dashboard today = %d, want 2", d.Totals.Today)
	}
	if total, recent := ruleHits(nat, ""); total != 2 || recent != 2 {
		t.Errorf("national hits of %s: %d total, %d in 24h; want 2, 2", vss, total, recent)
	}
	for _, role := range []string{"org_analyst", "org_viewer"} {
		tok := ts.tokens[role+"@health"]
		who := role + "@health"
		if code, b := ts.do(t, "GET", "/api/v1/alerts/"+bankAlert, tok, nil); code != http.StatusNotFound {
			t.Errorf("%s reads the bank's alert: %d %s, want 404", who, code, b)
		}
		// Its own alert: related alerts never cross organisations (the
		// bank's alert has the same rule and user).
		if code, b := ts.do(t, "GET", "/api/v1/alerts/"+healthAlert, tok, nil); code != 200 || leaks(b) {
			t.Errorf("%s reads its alert: %d %s", who, code, b)
		}
		if role == "org_viewer" {
			for _, c := range []struct{ method, path, body string }{
				{"PATCH", "/api/v1/alerts/" + healthAlert, `{"status":"acknowledged"}`},
				{"POST", "/api/v1/alerts/bulk", `{"ids":["` + healthAlert + `"],"status":"acknowledged"}`},
			} {
				if code, b := ts.do(t, c.method, c.path, tok, []byte(c.body)); code != http.StatusForbidden {
					t.Errorf("%s %s %s: %d %s, want 403", who, c.method, c.path, code, b)
				}
			}
		} else {
			if code, b := ts.do(t, "PATCH", "/api/v1/alerts/"+bankAlert, tok, []byte(`{"status":"closed","resolution":"benign","comment":"x"}`)); code != http.StatusNotFound {
				t.Errorf("%s triages the bank's alert: %d %s, want 404", who, code, b)
			}
			code, b := ts.do(t, "POST", "/api/v1/alerts/bulk", tok, []byte(`{"ids":["`+bankAlert+`"],"status":"closed","resolution":"benign"}`))
			if code != 200 || !bytes.Contains(b, []byte(`"ok":false`)) || bytes.Contains(b, []byte(`"ok":true`)) {
				t.Errorf("%s bulk-triages the bank's alert: %d %s", who, code, b)
			}
		}
		for _, q := range []string{"", "org=bank", "sector=finance", "org=bank,health"} {
			d, b := dashboard(tok, q)
			if leaks(b) || bytes.Contains(b, []byte(`"finance"`)) {
				t.Errorf("%s dashboard?%s leaks the bank: %s", who, q, b)
			}
			want := 1
			if q == "org=bank" || q == "sector=finance" {
				want = 0
			}
			if d.Totals.Today != want || d.Totals.Open != want {
				t.Errorf("%s dashboard?%s totals %+v, want %d", who, q, d.Totals, want)
			}
		}
		if code, b := ts.do(t, "GET", "/api/v1/orgs/stats", tok, nil); code != 200 || leaks(b) || !bytes.Contains(b, []byte(`"health"`)) {
			t.Errorf("%s orgs/stats: %d %s", who, code, b)
		}
		for q, want := range map[string]int{"": 1, "org=bank": 0, "q=B-1": 0, "field.Computer=B-1": 0} {
			code, b := ts.do(t, "GET", "/api/v1/events/histogram?buckets=10&"+q, tok, nil)
			var h struct{ Buckets []struct{ Count int } }
			json.Unmarshal(b, &h)
			n := 0
			for _, x := range h.Buckets {
				n += x.Count
			}
			if code != 200 || n != want || len(h.Buckets) != 10 {
				t.Errorf("%s events/histogram?%s: %d, %d events, want %d: %s", who, q, code, n, want, b)
			}
		}
		if total, _ := ruleHits(tok, ""); total != 1 {
			t.Errorf("%s hits of %s: %d, want 1 (its own)", who, vss, total)
		}
		if total, _ := ruleHits(tok, "org=health"); total != 1 {
			t.Errorf("%s hits of %s for org=health: %d, want 1", who, vss, total)
		}
		if code, b := ts.do(t, "GET", "/api/v1/rules?org=bank", tok, nil); code != http.StatusNotFound {
			t.Errorf("%s rules?org=bank: %d %s, want 404", who, code, b[:min(200, len(b))])
		}
	}
	if d, _ := dashboard(nat, "org=bank"); d.Totals.Today != 1 || d.Totals.Open != 1 {
		t.Errorf("the bank's alert changed through the health roles: %+v", d.Totals)
	}

	// The live stream: a new bank alert reaches the national and bank
	// streams, never health's; health's own alert reaches health's.
	streams := map[string]*liveStream{}
	for _, key := range []string{"national_analyst", "org_viewer@health", "org_analyst@bank"} {
		s := openLiveStream(t, ts, ts.tokens[key])
		if s == nil {
			t.Fatal("GET /api/v1/stream is not available: the live stream must be wired")
		}
		streams[key] = s
	}
	ingest := func(org, host string) {
		t.Helper()
		body := `{"create":{}}` + "\n" + winlogbeat(host, `C:\Windows\System32\vssadmin.exe`, "vssadmin delete shadows /all", 2) + "\n"
		if code, b := ts.do(t, "POST", "/_bulk", ts.tokens["ingest@"+org], []byte(body)); code != 200 {
			t.Fatalf("ingest %s: %d %s", org, code, b)
		}
	}
	ingest("bank", "B-2")
	if org := streams["national_analyst"].nextOrg(t); org != "bank" {
		t.Fatalf("national stream: first alert of %q, want bank", org)
	}
	if org := streams["org_analyst@bank"].nextOrg(t); org != "bank" {
		t.Errorf("bank stream: first alert of %q, want bank", org)
	}
	ingest("health", "H-2")
	if org := streams["org_viewer@health"].nextOrg(t); org != "health" {
		t.Errorf("health stream: first alert of %q, want health (the bank's came first)", org)
	}
}

// liveStream reads the organisation of each alert on an SSE stream.
type liveStream struct{ orgs chan string }

// openLiveStream connects to /api/v1/stream; nil when it answers 503.
func openLiveStream(t *testing.T, ts *testServer, token string) *liveStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.url+"/api/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode == http.StatusServiceUnavailable {
		return nil
	}
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	s := &liveStream{orgs: make(chan string, 100)}
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var a struct {
					OrgID string `json:"org_id"`
				}
				json.Unmarshal([]byte(data), &a)
				s.orgs <- a.OrgID
			}
		}
	}()
	return s
}

func (s *liveStream) nextOrg(t *testing.T) string {
	t.Helper()
	select {
	case org := <-s.orgs:
		return org
	case <-time.After(15 * time.Second):
		t.Fatal("no alert on the stream within 15s")
		return ""
	}
}

// TestNDJSONIngestReportsBadLines: malformed lines are reported with their
// line numbers and the rest of the batch is stored; oversized bodies are refused.
func TestNDJSONIngestReportsBadLines(t *testing.T) {
	ts := startServer(t)
	body := `{"message":"ok 1","host":{"name":"a"}}` + "\n" + `{bad` + "\n\n" + `{"message":"ok 2"}` + "\n" + `[1,2]` + "\n"
	code, b := ts.do(t, "POST", "/api/v1/ingest", ts.tokens["ingest@bank"], []byte(body))
	var r struct {
		Accepted, Rejected int
		Errors             []struct {
			Line  int
			Error string
		}
	}
	json.Unmarshal(b, &r)
	if code != 200 || r.Accepted != 2 || r.Rejected != 2 || len(r.Errors) != 2 || r.Errors[0].Line != 2 || r.Errors[1].Line != 5 {
		t.Errorf("ingest: %d %s", code, b)
	}
	big := bytes.Repeat([]byte(`{"message":"`+strings.Repeat("x", 1000)+`"}`+"\n"), 110_000)
	if code, b := ts.do(t, "POST", "/api/v1/ingest", ts.tokens["ingest@bank"], big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d %s", code, b[:min(200, len(b))])
	}
}

func TestElasticsearchProbes(t *testing.T) {
	ts := startServer(t)
	code, b := ts.do(t, "GET", "/", "", nil)
	if code != 200 || !strings.Contains(string(b), `"number":"8.`) {
		t.Errorf("GET /: %d %s", code, b)
	}
	for _, p := range []string{"/_license", "/_index_template/winlogbeat-8.15.0", "/_ilm/policy/winlogbeat"} {
		if code, b := ts.do(t, "GET", p, "", nil); code != 200 {
			t.Errorf("GET %s: %d %s", p, code, b)
		}
	}
	if code, _ := ts.do(t, "PUT", "/_index_template/winlogbeat-8.15.0", "", []byte(`{}`)); code != 200 {
		t.Errorf("PUT template: %d", code)
	}
	if code, b := ts.do(t, "GET", "/api/v1/openapi.json", "", nil); code != 200 || !json.Valid(b) {
		t.Errorf("openapi: %d", code)
	}
	if code, b := ts.do(t, "GET", "/metrics", "", nil); code != 200 || !strings.Contains(string(b), "mamori_detect_queue_depth") {
		t.Errorf("metrics: %d %s", code, b)
	}
}

// TestRuleUpload: a national analyst uploads a rule; invalid documents are
// reported with their lines and nothing is installed; a valid rule is
// installed, reloaded without a restart, and fires on the next event.
func TestRuleUpload(t *testing.T) {
	ts := startServer(t)
	bad := "title: broken\nlogsource: {product: windows, category: process_creation}\ndetection:\n  sel:\n    Image|nope: x\n  condition: sel\n"
	code, b := ts.do(t, "POST", "/api/v1/rules?name=broken.yml", ts.tokens["national_analyst"], []byte(bad))
	if code != http.StatusBadRequest || !strings.Contains(string(b), `broken.yml:5:5: \"Image|nope\": unknown modifier`) {
		t.Errorf("invalid rule: %d %s", code, b)
	}
	good := `title: Uploaded Marker Rule
id: 6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
author: Test Analyst
level: high
logsource: {product: windows, category: process_creation}
detection:
  sel:
    CommandLine|contains: 'mamori-upload-marker'
  condition: sel
`
	if code, b := ts.do(t, "POST", "/api/v1/rules?name=marker.yml", ts.tokens["org_analyst@health"], []byte(good)); code != http.StatusForbidden {
		t.Errorf("org analyst uploading: %d %s, want 403", code, b)
	}
	code, b = ts.do(t, "POST", "/api/v1/rules?name=marker.yml", ts.tokens["national_analyst"], []byte(good))
	if code != http.StatusCreated || !strings.Contains(string(b), "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d") {
		t.Fatalf("upload: %d %s", code, b)
	}
	body := `{"create":{}}` + "\n" + winlogbeat("WS-9", `C:\Windows\System32\cmd.exe`, "cmd /c echo mamori-upload-marker", 1) + "\n"
	if code, b := ts.do(t, "POST", "/_bulk", ts.tokens["ingest@health"], []byte(body)); code != 200 {
		t.Fatalf("ingest: %d %s", code, b)
	}
	waitFor(t, "the uploaded rule's alert", func() bool {
		r := ts.alerts(t, ts.tokens["national_analyst"], "rule_id=6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
		return r.Total == 1 && r.Alerts[0].RuleAuthor == "Test Analyst"
	})
}
