package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	csbouncer "github.com/crowdsecurity/go-cs-bouncer"
)

// stixBundle is a STIX 2.1 bundle with one indicator for ip.
func stixBundle(ip string) string {
	return fmt.Sprintf(`{"type": "bundle", "id": "bundle--6b6a7c1e-3e0a-4a53-9d3c-2f1a8a0e9a11", "objects": [
	 {"type": "indicator", "spec_version": "2.1", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
	  "created": "2026-11-20T09:00:00.000Z", "modified": "2026-11-20T09:00:00.000Z", "name": "QakBot C2",
	  "indicator_types": ["malicious-activity"], "pattern": "[ipv4-addr:value = '%s']", "pattern_type": "stix",
	  "valid_from": "2026-11-20T09:00:00Z", "confidence": 85,
	  "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]}]}`, ip)
}

// sysmonConn is a _bulk body with one Sysmon network connection to dst.
func sysmonConn(host, dst string, record int) string {
	doc := map[string]any{
		"@timestamp": time.Now().UTC().Format(time.RFC3339Nano),
		"agent":      map[string]any{"type": "winlogbeat", "version": "8.15.0"},
		"host":       map[string]any{"name": host},
		"winlog": map[string]any{"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 3, "computer_name": host,
			"provider_name": "Microsoft-Windows-Sysmon", "record_id": record,
			"event_data": map[string]any{"Image": `C:\Users\Public\update.exe`, "Initiated": "true", "SourceIp": "10.1.2.3",
				"DestinationIp": dst, "DestinationPort": "443", "User": `CORP\bob`}},
	}
	b, _ := json.Marshal(doc)
	return `{"create":{}}` + "\n" + string(b) + "\n"
}

// streamHeld runs CrowdSec's own StreamBouncer and keeps what it holds.
type streamHeld struct {
	mu   sync.Mutex
	held map[string]bool
	pull int
}

func (s *streamHeld) has(v string) bool { s.mu.Lock(); defer s.mu.Unlock(); return s.held[v] }
func (s *streamHeld) pulls() int        { s.mu.Lock(); defer s.mu.Unlock(); return s.pull }

func runBouncer(t *testing.T, url, key string) *streamHeld {
	t.Helper()
	b := &csbouncer.StreamBouncer{APIKey: key, APIUrl: url + "/", TickerInterval: "200ms", UserAgent: "crowdsec-firewall-bouncer/v0.0.31"}
	if err := b.Init(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	st := &streamHeld{held: map[string]bool{}}
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for {
			select {
			case <-done:
				return
			case resp, ok := <-b.Stream:
				if !ok {
					return
				}
				st.mu.Lock()
				st.pull++
				for _, d := range resp.Deleted {
					delete(st.held, *d.Value)
				}
				for _, d := range resp.New {
					st.held[*d.Value] = true
				}
				st.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-consumed })
	return st
}

// TestIntelToPrevention is the path from shared intelligence to enforcement:
// a STIX bundle is imported, an event with one of its addresses raises an
// alert with the indicator's context, the analyst turns it into a
// sector-wide ban, and a real CrowdSec bouncer of an organisation of that
// sector enforces it while one of another sector does not; revoking it
// reaches the bouncer as a deletion.
func TestIntelToPrevention(t *testing.T) {
	ts := startServer(t)
	nat := ts.tokens["national_analyst"]
	const evil = "203.0.113.77"
	code, b := ts.do(t, "POST", "/api/v1/indicators?format=stix&source=partner-cert", nat, []byte(stixBundle(evil)))
	if code != http.StatusOK || !strings.Contains(string(b), `"added":1`) {
		t.Fatalf("import: %d %s", code, b)
	}
	sent := time.Now()
	if code, b := ts.do(t, "POST", "/_bulk", ts.tokens["ingest@health"], []byte(sysmonConn("WS-9.health.example", evil, 1))); code != 200 {
		t.Fatalf("bulk: %d %s", code, b)
	}
	var r alertsResp
	waitFor(t, "the indicator alert", func() bool {
		r = ts.alerts(t, nat, "q="+evil)
		for _, a := range r.Alerts {
			if strings.HasPrefix(a.RuleTitle, "Threat intelligence match") {
				return true
			}
		}
		return false
	})
	t.Logf("indicator alert %v after the event was sent", time.Since(sent).Round(time.Millisecond))
	a := r.Alerts[0]
	if a.OrgID != "health" || a.Level != "high" || a.Event["ioc.source"] != "partner-cert" || a.Event["ioc.tlp"] != "green" || a.Event["ioc.field"] != "DestinationIp" {
		t.Errorf("indicator alert = %+v", a)
	}
	// The sighting is recorded against the indicator.
	var inds struct {
		Indicators []struct {
			ID    string `json:"id"`
			Value string `json:"value"`
		} `json:"indicators"`
	}
	_, b = ts.do(t, "GET", "/api/v1/indicators?q="+evil, nat, nil)
	json.Unmarshal(b, &inds)
	if len(inds.Indicators) != 1 || inds.Indicators[0].Value != evil {
		t.Fatalf("indicators: %s", b)
	}

	// Bouncer keys for an organisation of each sector.
	keys := map[string]string{}
	for _, org := range []string{"health", "bank"} {
		code, b := ts.do(t, "POST", "/api/v1/bouncers", ts.tokens["national_admin"], []byte(`{"name": "fw-`+org+`", "org": "`+org+`"}`))
		var out struct {
			Key string `json:"key"`
		}
		json.Unmarshal(b, &out)
		if code != http.StatusCreated || out.Key == "" {
			t.Fatalf("bouncer key for %s: %d %s", org, code, b)
		}
		keys[org] = out.Key
	}
	if code, _ := ts.do(t, "POST", "/api/v1/bouncers", nat, []byte(`{"name": "x", "org": "health"}`)); code != http.StatusForbidden {
		t.Errorf("analyst creates a bouncer key: %d", code)
	}
	medical, finance := runBouncer(t, ts.url, keys["health"]), runBouncer(t, ts.url, keys["bank"])
	waitFor(t, "both bouncers' first pulls", func() bool { return medical.pulls() > 0 && finance.pulls() > 0 })

	// An organisation may not ban for its whole sector; the analyst may.
	ban := `{"type": "ban", "scope": "ip", "value": "` + evil + `", "duration": "4h", "target": {"sector": "medical"}, "reason": "QakBot C2 seen at Ministry of Health"}`
	if code, b := ts.do(t, "POST", "/api/v1/decisions", ts.tokens["org_analyst@health"], []byte(ban)); code != http.StatusForbidden {
		t.Errorf("organisation bans for its sector: %d %s", code, b)
	}
	code, b = ts.do(t, "POST", "/api/v1/decisions", nat, []byte(ban))
	var dec struct {
		ID int64 `json:"id"`
	}
	json.Unmarshal(b, &dec)
	if code != http.StatusCreated || dec.ID == 0 {
		t.Fatalf("sector ban: %d %s", code, b)
	}
	waitFor(t, "the medical sector's bouncer to enforce the ban", func() bool { return medical.has(evil) })
	p := finance.pulls()
	waitFor(t, "the finance bouncer's next pulls", func() bool { return finance.pulls() >= p+3 })
	if finance.has(evil) {
		t.Error("a bouncer of another sector got the medical sector's ban")
	}
	// The organisations see the decisions that apply to them, and only those.
	_, b = ts.do(t, "GET", "/api/v1/decisions", ts.tokens["org_analyst@bank"], nil)
	if strings.Contains(string(b), evil) {
		t.Errorf("the bank lists the medical sector's ban: %s", b)
	}
	_, b = ts.do(t, "GET", "/api/v1/decisions", ts.tokens["org_analyst@health"], nil)
	if !strings.Contains(string(b), evil) {
		t.Errorf("health does not list the ban that applies to it: %s", b)
	}
	// Revocation reaches the bouncer as a deletion, and is audited.
	if code, b := ts.do(t, "DELETE", fmt.Sprintf("/api/v1/decisions/%d", dec.ID), nat, nil); code != http.StatusOK {
		t.Fatalf("revoke: %d %s", code, b)
	}
	waitFor(t, "the revocation at the bouncer", func() bool { return !medical.has(evil) })
	_, b = ts.do(t, "GET", fmt.Sprintf("/api/v1/decisions/%d", dec.ID), nat, nil)
	if !strings.Contains(string(b), `"revoked"`) || !strings.Contains(string(b), `"created"`) {
		t.Errorf("audit trail: %s", b)
	}
}

// TestTAXIIServesImportedIndicators: what was imported is served over TAXII
// 2.1 to national callers, and a partner polling the server with Mamori's
// client gets it.
func TestTAXIIServesImportedIndicators(t *testing.T) {
	ts := startServer(t)
	nat := ts.tokens["national_analyst"]
	if code, b := ts.do(t, "POST", "/api/v1/indicators?format=stix&source=partner-cert", nat, []byte(stixBundle("198.51.100.200"))); code != 200 {
		t.Fatalf("import: %d %s", code, b)
	}
	req, _ := http.NewRequest("GET", ts.url+"/taxii2/", nil)
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	req.Header.Set("Authorization", "Bearer "+nat)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/taxii+json") {
		t.Fatalf("discovery: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	req, _ = http.NewRequest("GET", ts.url+"/taxii2/api/collections/indicators/objects/", nil)
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	req.Header.Set("Authorization", "Bearer "+nat)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Objects []map[string]any `json:"objects"`
	}
	json.NewDecoder(resp.Body).Decode(&env)
	resp.Body.Close()
	found := false
	for _, o := range env.Objects {
		found = found || strings.Contains(fmt.Sprint(o["pattern"]), "198.51.100.200")
	}
	if resp.StatusCode != 200 || !found {
		t.Fatalf("objects: %s, %d objects, indicator found %v", resp.Status, len(env.Objects), found)
	}
	req, _ = http.NewRequest("GET", ts.url+"/taxii2/", nil)
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	req.Header.Set("Authorization", "Bearer "+ts.tokens["ingest@health"])
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an ingest token reads TAXII: %s", resp.Status)
	}
}
