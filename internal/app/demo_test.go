package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemo runs the demo as a newcomer would and checks, through the API and
// with the credentials it wrote to demo.json, that alerts appear across
// organisations and sectors for every attack scenario the generator plays.
func TestDemo(t *testing.T) {
	t.Setenv("MAMORI_RULES", "")
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	d, err := startDemo(ctx, demoConfig{dir: dir, listen: "127.0.0.1:0", seed: 7, rate: 300, attacks: 600}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		if err := d.wait(); err != nil {
			t.Errorf("demo: %v", err)
		}
	}()
	b, err := os.ReadFile(filepath.Join(dir, "demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	var info DemoInfo
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	if info.URL == "" || info.APIToken == "" || info.Password == "" || len(info.IngestTokens) != 40 || len(info.OrgTokens) != 40 || len(info.BouncerKeys) != 40 || info.Syslog.UDP == "" || info.Syslog.Org == "" {
		t.Fatalf("demo.json incomplete: %s", b)
	}
	// The scenarios' detections, by rule title (built-in pack).
	want := []string{"SSH Brute Force From One Source", "Windows Logon Brute Force From One Source", "Office Application Spawning A Script Interpreter",
		"LSASS Memory Read By Unusual Process", "PsExec Service Started On Target", "Shadow Copies Deleted", "Web Shell Command In Request",
		"DNS Tunnelling", "Possible C2 Beaconing"}
	var titles map[string]bool
	intel := false
	orgs, sectors := map[string]bool{}, map[string]bool{}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", info.URL+"/api/v1/alerts?limit=1000&events=false", nil)
		req.Header.Set("Authorization", "Bearer "+info.APIToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var r alertsResp
		json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		titles = map[string]bool{}
		for _, a := range r.Alerts {
			titles[a.RuleTitle] = true
			orgs[a.Org] = true
			sectors[a.Sector] = true
		}
		missing := 0
		for _, w := range want {
			if !titles[w] {
				missing++
			}
		}
		intel = false
		for title := range titles {
			intel = intel || strings.HasPrefix(title, "Threat intelligence match")
		}
		if missing == 0 && intel && len(orgs) >= 10 && len(sectors) >= 5 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, w := range want {
		if !titles[w] {
			t.Errorf("no %q alert within a minute", w)
		}
	}
	if !intel {
		t.Error("no alert from the published attacker infrastructure (threat-intelligence match) within a minute")
	}
	t.Errorf("alerts from %d organisations and %d sectors", len(orgs), len(sectors))
}
