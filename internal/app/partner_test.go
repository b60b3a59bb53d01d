package app

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// TestPartnerSharing: two Mamori centres share over TAXII 2.1. The first
// imports a STIX bundle; the second polls the first's indicators
// collection as a partner, imports what it finds under the partner's name,
// matches events against it, and keeps its poll cursor in its store.
func TestPartnerSharing(t *testing.T) {
	a := startServer(t)
	if code, b := a.do(t, "POST", "/api/v1/indicators?format=stix&source=own-cert", a.tokens["national_analyst"], []byte(stixBundle("192.0.2.150"))); code != 200 {
		t.Fatalf("import at A: %d %s", code, b)
	}
	b := startServerWith(t, Config{Intel: IntelConfig{Partners: []PartnerConfig{{Name: "centre-a", URL: a.url + "/taxii2/",
		Collection: "indicators", Token: a.tokens["national_analyst"], Every: Duration(time.Hour)}}}})
	var inds struct {
		Indicators []struct {
			Value  string `json:"value"`
			Source string `json:"source"`
		} `json:"indicators"`
	}
	waitFor(t, "B to import A's indicator", func() bool {
		_, body := b.do(t, "GET", "/api/v1/indicators?q=192.0.2.150", b.tokens["national_analyst"], nil)
		json.Unmarshal(body, &inds)
		return len(inds.Indicators) == 1
	})
	if inds.Indicators[0].Source != "centre-a" {
		t.Errorf("imported indicator = %+v, want source centre-a", inds.Indicators[0])
	}
	// The poller stores its cursor right after the import it follows.
	waitFor(t, "B's cursor for A", func() bool {
		cur, err := b.srv.store.Cursor(context.Background(), "taxii:centre-a")
		return err == nil && cur != 0
	})
	// B detects with what A shared.
	if code, body := b.do(t, "POST", "/_bulk", b.tokens["ingest@health"], []byte(sysmonConn("WS-1.health.example", "192.0.2.150", 1))); code != 200 {
		t.Fatalf("bulk: %d %s", code, body)
	}
	waitFor(t, "B's alert from A's indicator", func() bool {
		r := b.alerts(t, b.tokens["national_analyst"], "q=192.0.2.150")
		return len(r.Alerts) == 1 && r.Alerts[0].RuleAuthor == "centre-a"
	})
}
