package app

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/mamori-soc/mamori/internal/bus/natsbus"
)

// TestRolesSplitAcrossNodes: an ingest node and a detection node meet on a
// JetStream server: what the ingest node accepts, the detection node
// detects; the detection node takes no ingest, the ingest node runs no
// detection.
func TestRolesSplitAcrossNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	ns, err := natsbus.Start(natsbus.ServerOptions{StoreDir: t.TempDir(), Name: "test", ClientAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	bin := buildBinary(t)
	nodes := map[string]string{}
	toks := map[string]string{}
	for _, role := range []string{"ingest", "detect"} {
		data := t.TempDir()
		runCLI(t, bin, "org", "add", "Org A", "--sector", "finance", "--id", "org-a", "--data", data)
		toks["ingest@"+role] = runCLI(t, bin, "token", "create", "sender", "--role", "ingest", "--org", "org-a", "--data", data)
		toks["read@"+role] = runCLI(t, bin, "token", "create", "reader", "--role", "national_analyst", "--data", data)
		nodes[role] = startProcess(t, bin, data, "--nats", ns.ClientURL(), "--role", role).url
	}
	if err := postBatch(nodes["ingest"], toks["ingest@ingest"], crashBatch(7)); err != nil {
		t.Fatalf("ingest node: %v", err)
	}
	alertsAt := func(role string) int {
		req, _ := http.NewRequest("GET", nodes[role]+"/api/v1/alerts?events=false&rule_id=4d8b1f63-9a2e-4c5b-8e70-1f3a6d9c2b48", nil)
		req.Header.Set("Authorization", "Bearer "+toks["read@"+role])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		var page struct{ Total int }
		json.NewDecoder(resp.Body).Decode(&page)
		return page.Total
	}
	// Alerts are shared state: every node shows the one the detection node raised.
	waitFor(t, "the detection node's alert", func() bool { return alertsAt("detect") == 1 })
	waitFor(t, "the alert on the ingest node", func() bool { return alertsAt("ingest") == 1 })
	if n := metric(t, nodes["ingest"], "mamori_detect_events_total"); n != 0 {
		t.Errorf("the ingest node ran detection on %v events", n)
	}
	if n := metric(t, nodes["detect"], "mamori_detect_events_total"); n == 0 {
		t.Error("the detection node counts no detected events")
	}
	if err := postBatch(nodes["detect"], toks["ingest@detect"], crashBatch(8)); err == nil {
		t.Error("the detection node accepted ingest")
	}
	// Consumer lag is in the metrics.
	resp, err := http.Get(nodes["ingest"] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `mamori_bus_pending{partition="0"}`) || !strings.Contains(string(b), "mamori_bus_unacked") {
		t.Errorf("metrics lack the bus lag:\n%s", b)
	}
}

// metric reads one unlabelled value from a node's /metrics.
func metric(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("metric %s missing from %s/metrics", name, url)
	return 0
}
