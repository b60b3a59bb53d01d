package app

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

type ratingsResp struct {
	National *struct {
		Score   float64  `json:"score"`
		Grade   string   `json:"grade"`
		Orgs    int      `json:"orgs"`
		Weakest []string `json:"weakest"`
	} `json:"national"`
	Sectors []struct {
		Sector  string   `json:"sector"`
		Score   float64  `json:"score"`
		Grade   string   `json:"grade"`
		Orgs    int      `json:"orgs"`
		Weakest []string `json:"weakest"`
	} `json:"sectors"`
	Orgs []struct {
		Org        string  `json:"org"`
		Sector     string  `json:"sector"`
		Score      float64 `json:"score"`
		Grade      string  `json:"grade"`
		Deductions []struct {
			Points float64 `json:"points"`
			Factor string  `json:"factor"`
			Reason string  `json:"reason"`
		} `json:"deductions"`
	} `json:"orgs"`
}

// TestRatingsIsolation: national roles see every organisation, sector and
// the nation; an organisation sees itself and its sector's aggregate, never
// another organisation's score, name or history.
func TestRatingsIsolation(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	// Telemetry for both, an open high incident for the bank.
	if code, b := ts.do(t, "POST", "/_bulk", ts.tokens["ingest@health"], []byte(`{"create":{}}`+"\n"+winlogbeat("WS-1.health.example", `C:\Windows\notepad.exe`, "notepad.exe", 1)+"\n")); code != 200 {
		t.Fatalf("bulk: %d %s", code, b)
	}
	if code, b := ts.do(t, "POST", "/_bulk", ts.tokens["ingest@bank"], []byte(failedLogons("SRV-1.bank.example", "203.0.113.9", 14, 1))); code != 200 {
		t.Fatalf("bulk: %d %s", code, b)
	}
	waitFor(t, "the bank's incident", func() bool {
		_, r := getJSON[incidentsResp](t, ts, ts.tokens["national_analyst"], "/api/v1/incidents?org=bank")
		return r.Total == 1
	})
	if _, err := ts.srv.rater.refresh(ctx, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	code, nat := getJSON[ratingsResp](t, ts, ts.tokens["national_analyst"], "/api/v1/ratings")
	if code != http.StatusOK || nat.National == nil || nat.National.Orgs != 2 || len(nat.Orgs) != 2 || len(nat.Sectors) != 2 {
		t.Fatalf("national ratings: %d %+v", code, nat)
	}
	score := map[string]float64{}
	for _, o := range nat.Orgs {
		score[o.Org] = o.Score
		if o.Score < 0 || o.Score > 100 || o.Grade == "" {
			t.Errorf("rating %+v", o)
		}
		if o.Org == "bank" {
			found := false
			for _, d := range o.Deductions {
				found = found || (d.Factor == "incidents" && strings.Contains(d.Reason, "open high incident"))
			}
			if !found {
				t.Errorf("bank's deductions %+v do not name its open incident", o.Deductions)
			}
		}
	}
	if score["bank"] >= score["health"] {
		t.Errorf("bank (open high incident) %v ≥ health %v", score["bank"], score["health"])
	}
	for _, org := range []string{"health", "bank"} {
		tok := ts.tokens["org_analyst@"+org]
		code, mine := getJSON[ratingsResp](t, ts, tok, "/api/v1/ratings")
		if code != 200 || mine.National != nil || len(mine.Orgs) != 1 || mine.Orgs[0].Org != org || len(mine.Sectors) != 1 {
			t.Errorf("%s's ratings: %d %+v", org, code, mine)
			continue
		}
		if len(mine.Sectors[0].Weakest) != 0 {
			t.Errorf("%s sees the weakest organisations of its sector: %v", org, mine.Sectors[0].Weakest)
		}
		other := map[string]string{"health": "bank", "bank": "health"}[org]
		_, b := ts.do(t, "GET", "/api/v1/ratings/history?org="+other+"&national=1&sector=finance&sector=medical", tok, nil)
		if strings.Contains(string(b), other) || strings.Contains(string(b), `"national"`) {
			t.Errorf("%s reads others' history: %s", org, b)
		}
		_, b = ts.do(t, "GET", "/api/v1/ratings/history", tok, nil)
		if !strings.Contains(string(b), `"org:`+org+`"`) {
			t.Errorf("%s's own history: %s", org, b)
		}
	}
	_, b := ts.do(t, "GET", "/api/v1/ratings/history?national=1", ts.tokens["national_analyst"], nil)
	if !strings.Contains(string(b), `"national"`) || !strings.Contains(string(b), `"score"`) {
		t.Errorf("national history: %s", b)
	}
}
