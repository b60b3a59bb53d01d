package app

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/decision"
)

// TestFeedToDecisions: a configured feed is pulled into the indicator store,
// a "feed" policy bans what it lists nationally, and when the feed fails
// its indicators stay and the failure is reported.
func TestFeedToDecisions(t *testing.T) {
	var fail atomic.Bool
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("# botnet C2 list\n192.0.2.66\n198.51.100.0/24\nc2.bad.example\n"))
	}))
	defer feed.Close()
	ts := startServerWith(t, Config{
		Intel: IntelConfig{Feeds: []FeedConfig{{Name: "c2list", URL: feed.URL, Format: "list", Every: Duration(time.Hour), Confidence: 90}}},
		Decisions: DecisionsConfig{Policies: []decision.Policy{{Name: "feed-ban", When: decision.WhenFeed, Feed: "c2list", Type: "ban",
			Duration: 6 * time.Hour, Target: decision.TargetNational}}},
	})
	nat := ts.tokens["national_analyst"]
	type sources struct {
		Feeds []struct {
			Name       string `json:"name"`
			LastError  string `json:"last_error"`
			Indicators int    `json:"indicators"`
		} `json:"feeds"`
	}
	waitFor(t, "the feed's first pull", func() bool {
		_, s := getJSON[sources](t, ts, nat, "/api/v1/indicators/sources")
		return len(s.Feeds) == 1 && s.Feeds[0].Indicators == 3
	})
	var ds struct {
		Decisions []struct {
			Value  string `json:"value"`
			Origin string `json:"origin"`
		} `json:"decisions"`
	}
	waitFor(t, "the feed policy's decisions", func() bool {
		_, b := ts.do(t, "GET", "/api/v1/decisions", nat, nil)
		json.Unmarshal(b, &ds)
		return len(ds.Decisions) == 3
	})
	for _, d := range ds.Decisions {
		if d.Origin != "feed" {
			t.Errorf("decision %+v: origin", d)
		}
	}
	// The feed fails: its indicators stay, and the status says why.
	fail.Store(true)
	if err := ts.srv.intel.puller.Pull(t.Context(), "c2list"); err == nil {
		t.Fatal("a failing feed pulled without error")
	}
	_, s := getJSON[sources](t, ts, nat, "/api/v1/indicators/sources")
	if len(s.Feeds) != 1 || !strings.Contains(s.Feeds[0].LastError, "503") || s.Feeds[0].Indicators != 3 {
		t.Errorf("after a failed pull: %+v", s)
	}
	if code, _ := ts.do(t, "GET", "/api/v1/indicators/sources", ts.tokens["org_analyst@health"], nil); code != http.StatusForbidden {
		t.Errorf("an organisation reads the feed status: %d", code)
	}
}
