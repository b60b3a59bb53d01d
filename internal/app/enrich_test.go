package app

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// writeMMDB writes a small database of the given type with one network.
func writeMMDB(t *testing.T, dbType, cidr string, rec mmdbtype.Map) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, IPVersion: 6, RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	_, n, _ := net.ParseCIDR(cidr)
	if err := tree.Insert(n, rec); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), dbType+".mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAlertsEnriched: with GeoIP databases configured, an attack's alert and
// the dashboard's top sources carry the source's country and AS.
func TestAlertsEnriched(t *testing.T) {
	country := writeMMDB(t, "GeoLite2-Country", "185.220.101.0/24", mmdbtype.Map{
		"country": mmdbtype.Map{"iso_code": mmdbtype.String("DE"), "names": mmdbtype.Map{"en": mmdbtype.String("Germany")}}})
	asn := writeMMDB(t, "GeoLite2-ASN", "185.220.101.0/24", mmdbtype.Map{
		"autonomous_system_number": mmdbtype.Uint32(64500), "autonomous_system_organization": mmdbtype.String("Example Hosting")})
	ts := startServerWith(t, Config{GeoIP: GeoIPConfig{CountryDB: country, ASNDB: asn, OwnRanges: map[string][]string{"health": {"198.51.100.0/24"}}}})
	var body strings.Builder
	for i := 0; i < 12; i++ {
		doc := map[string]any{"@timestamp": time.Now().UTC().Format(time.RFC3339Nano),
			"winlog": map[string]any{"channel": "Security", "event_id": 4625, "computer_name": "DC01", "record_id": i,
				"event_data": map[string]any{"TargetUserName": fmt.Sprintf("user%d", i%6), "IpAddress": "185.220.101.7", "LogonType": "3"}}}
		b, _ := json.Marshal(doc)
		body.WriteString("{\"create\":{}}\n" + string(b) + "\n")
	}
	if code, b := ts.do(t, "POST", "/_bulk", ts.tokens["ingest@bank"], []byte(body.String())); code != 200 {
		t.Fatalf("ingest: %d %s", code, b)
	}
	waitFor(t, "an enriched brute-force alert", func() bool {
		code, b := ts.do(t, "GET", "/api/v1/alerts?events=false", ts.tokens["national_analyst"], nil)
		return code == 200 && strings.Contains(string(b), `"src_country":"DE"`) && strings.Contains(string(b), `"src_asn":64500`) &&
			strings.Contains(string(b), `"src_as_org":"Example Hosting"`)
	})
	// An attack from the health ministry's own network is marked as such.
	var own strings.Builder
	for i := 0; i < 12; i++ {
		doc := map[string]any{"@timestamp": time.Now().UTC().Format(time.RFC3339Nano),
			"winlog": map[string]any{"channel": "Security", "event_id": 4625, "computer_name": "DC02", "record_id": 100 + i,
				"event_data": map[string]any{"TargetUserName": "admin", "IpAddress": "198.51.100.23", "LogonType": "3"}}}
		b, _ := json.Marshal(doc)
		own.WriteString("{\"create\":{}}\n" + string(b) + "\n")
	}
	if code, b := ts.do(t, "POST", "/_bulk", ts.tokens["ingest@health"], []byte(own.String())); code != 200 {
		t.Fatalf("ingest: %d %s", code, b)
	}
	waitFor(t, "an alert from the organisation's own network", func() bool {
		code, b := ts.do(t, "GET", "/api/v1/alerts?org=health&events=false", ts.tokens["national_analyst"], nil)
		return code == 200 && strings.Contains(string(b), `"src_ip":"198.51.100.23"`) && strings.Contains(string(b), `"src_scope":"own"`)
	})
	// A connection to a known bad address: the alert carries its destination, enriched.
	if code, b := ts.do(t, "POST", "/api/v1/indicators?format=list&source=test", ts.tokens["national_analyst"], []byte("185.220.101.9\n")); code != 200 {
		t.Fatalf("import: %d %s", code, b)
	}
	if code, b := ts.do(t, "POST", "/_bulk", ts.tokens["ingest@bank"], []byte(sysmonConn("WS-3.bank.example", "185.220.101.9", 500))); code != 200 {
		t.Fatalf("ingest: %d %s", code, b)
	}
	waitFor(t, "an alert with its destination's country and AS", func() bool {
		code, b := ts.do(t, "GET", "/api/v1/alerts?events=false&q=Threat", ts.tokens["national_analyst"], nil)
		return code == 200 && strings.Contains(string(b), `"dst_ip":"185.220.101.9"`) && strings.Contains(string(b), `"dst_country":"DE"`) &&
			strings.Contains(string(b), `"dst_asn":64500`)
	})
	code, b := ts.do(t, "GET", "/api/v1/dashboard", ts.tokens["national_analyst"], nil)
	if code != 200 || !strings.Contains(string(b), `"ip":"185.220.101.7"`) || !strings.Contains(string(b), `"country":"DE"`) {
		t.Errorf("dashboard top sources lack the enrichment: %d %s", code, b)
	}
}
