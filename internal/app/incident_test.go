package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/auth"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// failedLogons is a _bulk body of n Security 4625 events on host from src.
func failedLogons(host, src string, n, firstRecord int) string {
	var b strings.Builder
	for i := range n {
		doc := map[string]any{
			"@timestamp": time.Now().UTC().Format(time.RFC3339Nano),
			"agent":      map[string]any{"type": "winlogbeat", "version": "8.15.0"},
			"host":       map[string]any{"name": host},
			"winlog": map[string]any{"channel": "Security", "event_id": 4625, "computer_name": host,
				"provider_name": "Microsoft-Windows-Security-Auditing", "record_id": firstRecord + i,
				"event_data": map[string]any{"TargetUserName": fmt.Sprintf("user%d", i%3), "IpAddress": src, "LogonType": "3",
					"WorkstationName": "KALI", "Status": "0xc000006d"}},
		}
		line, _ := json.Marshal(doc)
		b.WriteString(`{"create":{}}` + "\n" + string(line) + "\n")
	}
	return b.String()
}

type incidentsResp struct {
	Incidents []struct {
		ID         string   `json:"id"`
		OrgID      string   `json:"org_id"`
		Org        string   `json:"org"`
		Severity   string   `json:"severity"`
		Status     string   `json:"status"`
		Stages     []string `json:"stages"`
		AlertCount int      `json:"alert_count"`
		CampaignID string   `json:"campaign_id"`
		InCampaign bool     `json:"in_campaign"`
	} `json:"incidents"`
	Total int `json:"total"`
}

type campaignJSON struct {
	ID          string   `json:"id"`
	IncidentIDs []string `json:"incident_ids"`
	Indicators  []struct {
		Kind  string `json:"kind"`
		Value string `json:"value"`
	} `json:"indicators"`
	Partial bool `json:"partial"`
	Orgs    []struct {
		ID     string `json:"id"`
		Sector string `json:"sector"`
	} `json:"orgs"`
	Sectors []string `json:"sectors"`
}

func getJSON[T any](t *testing.T, ts *testServer, token, path string) (int, T) {
	t.Helper()
	var v T
	code, b := ts.do(t, "GET", path, token, nil)
	if code == http.StatusOK {
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, b)
		}
	}
	return code, v
}

// TestIncidentsAndCampaign: one attacker brute-forcing three organisations
// in three sectors from one address makes an incident in each and one
// campaign linking them; national roles see it whole, each organisation
// only its own part, and nobody reaches another organisation's incident.
func TestIncidentsAndCampaign(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	if err := ts.srv.store.PutTenant(ctx, tenant.Tenant{ID: "rail", Name: "National Rail", Sector: tenant.Transport}); err != nil {
		t.Fatal(err)
	}
	ts.srv.refreshTenants(ctx)
	ts.srv.query.Invalidate()
	for _, k := range []string{"ingest", "org_analyst"} {
		role := map[string]auth.Role{"ingest": auth.Ingest, "org_analyst": auth.OrgAnalyst}[k]
		tok, err := ts.srv.Auth().CreateToken(ctx, k+"@rail", role, "rail")
		if err != nil {
			t.Fatal(err)
		}
		ts.tokens[k+"@rail"] = tok
	}
	const attacker = "198.51.100.23"
	for i, org := range []string{"health", "bank", "rail"} {
		body := failedLogons("SRV-RDS01."+org+".example", attacker, 14, 1000*i)
		if code, b := ts.do(t, "POST", "/_bulk", ts.tokens["ingest@"+org], []byte(body)); code != http.StatusOK {
			t.Fatalf("_bulk %s: %d %s", org, code, b)
		}
	}
	nat := ts.tokens["national_analyst"]
	var camps struct {
		Campaigns []campaignJSON `json:"campaigns"`
	}
	waitFor(t, "a campaign over three organisations", func() bool {
		_, camps = getJSON[struct {
			Campaigns []campaignJSON `json:"campaigns"`
		}](t, ts, nat, "/api/v1/campaigns")
		return len(camps.Campaigns) == 1 && len(camps.Campaigns[0].Orgs) == 3
	})
	c := camps.Campaigns[0]
	slices.Sort(c.Sectors)
	if c.Partial || len(c.IncidentIDs) != 3 || fmt.Sprint(c.Sectors) != "[finance medical transport]" {
		t.Errorf("national campaign = %+v", c)
	}
	if !slices.ContainsFunc(c.Indicators, func(i struct {
		Kind  string `json:"kind"`
		Value string `json:"value"`
	}) bool {
		return i.Kind == "ip" && i.Value == attacker
	}) {
		t.Errorf("campaign indicators %+v lack the attacker's address", c.Indicators)
	}
	_, all := getJSON[incidentsResp](t, ts, nat, "/api/v1/incidents?campaign="+c.ID)
	if all.Total != 3 {
		t.Fatalf("national incidents of the campaign: %+v", all)
	}
	incOf := map[string]string{}
	for _, inc := range all.Incidents {
		incOf[inc.OrgID] = inc.ID
		if inc.Severity != "high" || !inc.InCampaign || inc.CampaignID != c.ID || len(inc.Stages) == 0 {
			t.Errorf("incident = %+v", inc)
		}
	}

	// Each organisation: its own incident, the campaign partial, no one else.
	for _, org := range []string{"health", "bank", "rail"} {
		tok := ts.tokens["org_analyst@"+org]
		_, mine := getJSON[incidentsResp](t, ts, tok, "/api/v1/incidents")
		if mine.Total != 1 || mine.Incidents[0].OrgID != org {
			t.Errorf("%s lists incidents %+v", org, mine)
		}
		_, cs := getJSON[struct {
			Campaigns []campaignJSON `json:"campaigns"`
		}](t, ts, tok, "/api/v1/campaigns")
		if len(cs.Campaigns) != 1 {
			t.Fatalf("%s sees %d campaigns", org, len(cs.Campaigns))
		}
		v := cs.Campaigns[0]
		if !v.Partial || len(v.Orgs) != 0 || len(v.Sectors) != 0 || !slices.Equal(v.IncidentIDs, []string{incOf[org]}) {
			t.Errorf("%s's view of the campaign = %+v", org, v)
		}
		code, body := ts.do(t, "GET", "/api/v1/campaigns/"+c.ID, tok, nil)
		for other, id := range incOf {
			if other == org {
				continue
			}
			if strings.Contains(string(body), id) || strings.Contains(string(body), `"`+other+`"`) {
				t.Errorf("%s's campaign detail (%d) names %s or its incident: %s", org, code, other, body)
			}
			if code, _ := ts.do(t, "GET", "/api/v1/incidents/"+id, tok, nil); code != http.StatusNotFound {
				t.Errorf("%s reads %s's incident: %d", org, other, code)
			}
			if code, _ := ts.do(t, "PATCH", "/api/v1/incidents/"+id, tok, []byte(`{"status":"acknowledged"}`)); code != http.StatusNotFound {
				t.Errorf("%s triages %s's incident: %d", org, other, code)
			}
		}
	}

	// Workflow on one's own incident, with its timeline.
	tok := ts.tokens["org_analyst@health"]
	code, b := ts.do(t, "PATCH", "/api/v1/incidents/"+incOf["health"], tok, []byte(`{"status":"closed"}`))
	if code != http.StatusBadRequest || !strings.Contains(string(b), "resolution") {
		t.Errorf("closing without a resolution: %d %s", code, b)
	}
	code, b = ts.do(t, "PATCH", "/api/v1/incidents/"+incOf["health"], tok, []byte(`{"status":"acknowledged","assignee":"ana","comment":"blocking the source"}`))
	if code != http.StatusOK {
		t.Fatalf("acknowledge: %d %s", code, b)
	}
	_, d := getJSON[struct {
		Incident struct {
			Status       string    `json:"status"`
			Acknowledged time.Time `json:"acknowledged"`
		} `json:"incident"`
		Audit    []map[string]any `json:"audit"`
		Comments []map[string]any `json:"comments"`
		Timeline []struct {
			Stage string         `json:"stage"`
			Event map[string]any `json:"event"`
		} `json:"timeline"`
		Campaign *campaignJSON `json:"campaign"`
	}](t, ts, tok, "/api/v1/incidents/"+incOf["health"])
	if d.Incident.Status != "acknowledged" || d.Incident.Acknowledged.IsZero() || len(d.Audit) != 3 || len(d.Comments) != 1 {
		t.Errorf("incident after triage: %+v", d)
	}
	if len(d.Timeline) == 0 || d.Timeline[0].Event == nil {
		t.Errorf("timeline = %+v", d.Timeline)
	}
	if d.Campaign == nil || !d.Campaign.Partial || len(d.Campaign.Orgs) != 0 {
		t.Errorf("campaign in the incident detail = %+v", d.Campaign)
	}
	if code, _ := ts.do(t, "PATCH", "/api/v1/incidents/"+incOf["health"], ts.tokens["org_viewer@health"], []byte(`{"comment":"x"}`)); code != http.StatusForbidden {
		t.Errorf("viewer triages: %d", code)
	}
}
