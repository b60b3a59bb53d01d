package app

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func firstLines(t *testing.T, r *bufio.Scanner, n int) [][]byte {
	t.Helper()
	r.Buffer(make([]byte, 1<<20), 16<<20)
	var out [][]byte
	for r.Scan() && len(out) < n {
		if l := bytes.TrimSpace(r.Bytes()); len(l) > 0 {
			out = append(out, bytes.Clone(l))
		}
	}
	return out
}

func (ts *testServer) channelCount(t *testing.T, channel string) int {
	t.Helper()
	code, b := ts.do(t, "GET", "/api/v1/events?limit=1&field.channel="+channel, ts.tokens["national_analyst"], nil)
	var r struct{ Total int }
	if code != 200 || json.Unmarshal(b, &r) != nil {
		t.Fatalf("count %s: %d %s", channel, code, b)
	}
	return r.Total
}

// TestReplaySharedData replays real shipper output of every kind through
// the ingest path a shipper would use, and checks every record is stored
// under the channel the Sigma logsource mapping selects.
func TestReplaySharedData(t *testing.T) {
	ts := startServer(t)
	dir := testdataDir(t)
	tok := ts.tokens["ingest@bank"]
	send := func(path string, lines [][]byte, bulk bool) (accepted int) {
		var body bytes.Buffer
		for _, l := range lines {
			if bulk {
				body.WriteString(`{"create":{}}` + "\n")
			}
			body.Write(l)
			body.WriteByte('\n')
		}
		code, b := ts.do(t, "POST", path, tok, body.Bytes())
		if code != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, code, b[:min(300, len(b))])
		}
		if bulk {
			var r struct {
				Items []map[string]struct{ Status int }
			}
			json.Unmarshal(b, &r)
			for _, it := range r.Items {
				if it["create"].Status == 201 {
					accepted++
				}
			}
			return accepted
		}
		var r struct{ Accepted int }
		json.Unmarshal(b, &r)
		return r.Accepted
	}

	// Zeek JSON logs (as zeek writes them with the JSON writer).
	f, err := os.Open(filepath.Join(dir, "network", "zeek", "zeek-json", "dns.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	zr, _ := gzip.NewReader(f)
	zeek := firstLines(t, bufio.NewScanner(zr), 2000)
	f.Close()
	if n := send("/api/v1/ingest", zeek, false); n != len(zeek) {
		t.Errorf("zeek dns: %d of %d accepted", n, len(zeek))
	}

	// Suricata EVE alerts (the sample is a JSON array; EVE itself is one object per line).
	raw, err := os.ReadFile(filepath.Join(dir, "network", "suricata", "samples", "wrccdc-2018", "alerts-only.json"))
	if err != nil {
		t.Fatal(err)
	}
	var eve []json.RawMessage
	if err := json.Unmarshal(raw, &eve); err != nil {
		t.Fatal(err)
	}
	var eveLines [][]byte
	for _, e := range eve[:min(2000, len(eve))] {
		var c bytes.Buffer
		json.Compact(&c, e)
		eveLines = append(eveLines, c.Bytes())
	}
	if n := send("/api/v1/ingest", eveLines, false); n != len(eveLines) {
		t.Errorf("suricata: %d of %d accepted", n, len(eveLines))
	}

	// Apache access logs of web scanners.
	af, err := os.Open(filepath.Join(dir, "web", "apache-scans", "w3af.txt"))
	if err != nil {
		t.Fatal(err)
	}
	web := firstLines(t, bufio.NewScanner(af), 2000)
	af.Close()
	nWeb := send("/api/v1/ingest?format=access", web, false)
	if nWeb < len(web)*95/100 {
		t.Errorf("apache: %d of %d accepted", nWeb, len(web))
	}

	// OTRF: Windows events as NXLog shipped them, through _bulk.
	zf, err := zip.OpenReader(filepath.Join(dir, "otrf", "compound", "LSASS_campaign_01", "metasploit_logonpasswords_lsass_memory_dump.zip"))
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := zf.File[0].Open()
	win := firstLines(t, bufio.NewScanner(rc), 3000)
	rc.Close()
	zf.Close()
	if n := send("/_bulk", win, true); n != len(win) {
		t.Errorf("otrf via _bulk: %d of %d accepted", n, len(win))
	}
	sysmon := 0
	for _, l := range win {
		if strings.Contains(string(l), `"Channel":"Microsoft-Windows-Sysmon/Operational"`) {
			sysmon++
		}
	}

	for channel, want := range map[string]int{"zeek/dns": len(zeek), "suricata/alert": len(eveLines), "webserver": nWeb, "Microsoft-Windows-Sysmon/Operational": sysmon} {
		if got := ts.channelCount(t, channel); got != want {
			t.Errorf("channel %s: %d events stored, want %d", channel, got, want)
		}
	}
}
