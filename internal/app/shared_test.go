package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/mamori-soc/mamori/internal/bus/natsbus"
	"github.com/mamori-soc/mamori/internal/ioc"
)

// TestSharedStateAcrossNodes runs two nodes on one JetStream: what is
// written on one — an indicator, an alert's triage, a decision, a bouncer
// key — is in force on the other, and the alert one node's worker raised
// is the same alert on both.
func TestSharedStateAcrossNodes(t *testing.T) {
	ns, err := natsbus.Start(natsbus.ServerOptions{StoreDir: t.TempDir(), Name: "shared", ClientAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown) // after both nodes stopped (cleanups run last-in first-out)
	a := startServerWith(t, Config{NATS: ns.ClientURL()})
	b := startServerWith(t, Config{NATS: ns.ClientURL()})
	natA, natB := a.tokens["national_analyst"], b.tokens["national_analyst"]

	// An indicator imported on A is matched by whichever node detects.
	const evil = "192.0.2.150"
	if code, body := a.do(t, "POST", "/api/v1/indicators?format=stix&source=partner-cert", natA, []byte(stixBundle(evil))); code != 200 {
		t.Fatalf("import on A: %d %s", code, body)
	}
	if code, body := b.do(t, "POST", "/_bulk", b.tokens["ingest@health"], []byte(sysmonConn("WS-9.health.example", evil, 1))); code != 200 {
		t.Fatalf("bulk on B: %d %s", code, body)
	}
	var id string
	for _, n := range []*testServer{a, b} {
		waitFor(t, "the indicator alert on "+n.url, func() bool {
			r := n.alerts(t, n.tokens["national_analyst"], "q="+evil)
			if len(r.Alerts) != 1 || r.Alerts[0].RuleAuthor != "partner-cert" {
				return false
			}
			if id != "" && r.Alerts[0].ID != id {
				t.Fatalf("the nodes hold different alerts: %s and %s", id, r.Alerts[0].ID)
			}
			id = r.Alerts[0].ID
			return true
		})
	}
	// Its sighting is recorded once on each node.
	for _, n := range []*testServer{a, b} {
		waitFor(t, "the sighting on "+n.url, func() bool {
			sg, err := n.srv.intel.store.Sightings(context.Background(), ioc.SightingQuery{AllTenants: true})
			if len(sg) > 1 {
				t.Fatalf("%d sightings of one alert on %s", len(sg), n.url)
			}
			return err == nil && len(sg) == 1 && sg[0].AlertID == id
		})
	}

	// Each node groups the alert into the same incident; its triage on A
	// is its state on B.
	var incID string
	for _, n := range []*testServer{a, b} {
		waitFor(t, "the incident on "+n.url, func() bool {
			_, r := getJSON[incidentsResp](t, n, n.tokens["national_analyst"], "/api/v1/incidents")
			if len(r.Incidents) != 1 {
				return false
			}
			if incID != "" && r.Incidents[0].ID != incID {
				t.Fatalf("the nodes grouped different incidents: %s and %s", incID, r.Incidents[0].ID)
			}
			incID = r.Incidents[0].ID
			return true
		})
	}
	if code, body := a.do(t, "PATCH", "/api/v1/incidents/"+incID, natA, []byte(`{"status":"acknowledged","assignee":"alice"}`)); code != 200 {
		t.Fatalf("incident triage on A: %d %s", code, body)
	}
	waitFor(t, "the incident's triage on B", func() bool {
		_, body := b.do(t, "GET", "/api/v1/incidents/"+incID, natB, nil)
		return strings.Contains(string(body), `"acknowledged"`) && strings.Contains(string(body), `"alice"`)
	})

	// Triage on B is the alert's state on A, with the same trail.
	if code, body := b.do(t, "PATCH", "/api/v1/alerts/"+id, natB, []byte(`{"status":"closed","resolution":"true_positive","comment":"C2 confirmed"}`)); code != 200 {
		t.Fatalf("triage on B: %d %s", code, body)
	}
	_, body := a.do(t, "GET", "/api/v1/alerts/"+id, natA, nil)
	if !strings.Contains(string(body), `"closed"`) || !strings.Contains(string(body), "C2 confirmed") {
		// A applies the change a moment after B did.
		waitFor(t, "the triage on A", func() bool {
			_, body = a.do(t, "GET", "/api/v1/alerts/"+id, natA, nil)
			return strings.Contains(string(body), `"closed"`) && strings.Contains(string(body), "C2 confirmed")
		})
	}

	// A bouncer key made on B pulls from A the ban an analyst made on A;
	// the revocation made on B reaches it through A.
	code, body := b.do(t, "POST", "/api/v1/bouncers", b.tokens["national_admin"], []byte(`{"name": "fw-health", "org": "health"}`))
	var key struct {
		Key string `json:"key"`
	}
	json.Unmarshal(body, &key)
	if code != http.StatusCreated || key.Key == "" {
		t.Fatalf("bouncer key on B: %d %s", code, body)
	}
	ban := `{"type": "ban", "scope": "ip", "value": "` + evil + `", "duration": "4h", "target": {"sector": "medical"}, "reason": "C2"}`
	code, body = a.do(t, "POST", "/api/v1/decisions", natA, []byte(ban))
	var dec struct {
		ID int64 `json:"id"`
	}
	json.Unmarshal(body, &dec)
	if code != http.StatusCreated || dec.ID == 0 {
		t.Fatalf("ban on A: %d %s", code, body)
	}
	bouncer := runBouncer(t, a.url, key.Key)
	waitFor(t, "the bouncer pulling from A to enforce the ban", func() bool { return bouncer.has(evil) })
	if code, body := b.do(t, "DELETE", fmt.Sprintf("/api/v1/decisions/%d", dec.ID), natB, nil); code != http.StatusOK {
		t.Fatalf("revoke on B: %d %s", code, body)
	}
	waitFor(t, "the revocation at the bouncer pulling from A", func() bool { return !bouncer.has(evil) })
	_, body = a.do(t, "GET", fmt.Sprintf("/api/v1/decisions/%d", dec.ID), natA, nil)
	if !strings.Contains(string(body), `"revoked"`) {
		t.Errorf("A's audit trail of the decision: %s", body)
	}
	// Both nodes report the state log in their metrics, caught up.
	for _, n := range []*testServer{a, b} {
		waitFor(t, "the state log caught up on "+n.url, func() bool { return metric(t, n.url, "mamori_state_lag") == 0 })
		if metric(t, n.url, "mamori_state_records_total") < 5 {
			t.Errorf("%s applied fewer records than were written", n.url)
		}
	}
}
