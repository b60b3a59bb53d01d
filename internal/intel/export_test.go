package intel

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/incident"
	"github.com/mamori-soc/mamori/internal/tenant"
)

var exportSectors = map[tenant.ID]tenant.Sector{"grid-co": tenant.EnergyPower, "bank-one": tenant.Finance, "water-works": tenant.Water}

const badHash = "4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b"

func exportAlert(id string, org tenant.ID, minute int, src string, ev ...alert.Field) alert.Alert {
	t := time.Date(2026, 4, 1, 8, minute, 0, 0, time.UTC)
	return alert.Alert{ID: id, Tenant: org, Sector: exportSectors[org], RuleID: "rule-" + id, RuleTitle: "Brute force from " + src,
		Level: "high", Techniques: []string{"T1110.001", "T1059"}, Host: "host-" + id, SrcIP: src, Count: 3 + minute,
		FirstSeen: t, LastSeen: t.Add(5 * time.Minute), Status: alert.StatusClosed, Event: ev}
}

// testCampaign runs alerts of three organisations sharing an IP, a domain
// and a file hash through the real incident Grouper and Campaigns.
func testCampaign(t *testing.T) (*incident.Campaign, []alert.Alert) {
	t.Helper()
	as := []alert.Alert{
		exportAlert("a1", "grid-co", 0, "185.220.101.7", alert.Field{Name: "QueryName", Value: "c2.bad.example"}),
		exportAlert("a2", "bank-one", 1, "185.220.101.7", alert.Field{Name: "QueryName", Value: "c2.bad.example"}, alert.Field{Name: "Hashes", Value: "SHA256=" + strings.ToUpper(badHash)}),
		exportAlert("a3", "water-works", 2, "185.220.101.7", alert.Field{Name: "Hashes", Value: "SHA256=" + badHash}),
	}
	g, cs := incident.NewGrouper(0), incident.NewCampaigns(0, 0)
	var camp *incident.Campaign
	for _, a := range as {
		inc, _ := g.Add(a)
		if inc == nil {
			t.Fatalf("alert %s opened no incident", a.ID)
		}
		for _, c := range cs.Add(inc, a) {
			camp = c
		}
	}
	if camp == nil || len(camp.Orgs) != 3 {
		t.Fatalf("no campaign of 3 organisations: %+v", camp)
	}
	return camp, as
}

// exported decodes a bundle and validates the bundle and each object
// against the official STIX 2.1 schemas.
func exported(t *testing.T, b *Bundle) (raw []byte, objs []map[string]any) {
	t.Helper()
	raw = mustJSON(t, b)
	validateSTIX(t, raw)
	var dec struct{ Objects []json.RawMessage }
	if err := json.Unmarshal(raw, &dec); err != nil {
		t.Fatal(err)
	}
	for _, o := range dec.Objects {
		validateSTIX(t, o)
		var m map[string]any
		if err := json.Unmarshal(o, &m); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, m)
	}
	return raw, objs
}

func ofType(objs []map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, o := range objs {
		if o["type"] == typ {
			out = append(out, o)
		}
	}
	return out
}

func byID(objs []map[string]any) map[string]map[string]any {
	m := map[string]map[string]any{}
	for _, o := range objs {
		m[o["id"].(string)] = o
	}
	return m
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestExportCampaignAnonymised(t *testing.T) {
	camp, _ := testCampaign(t)
	opt := ExportOptions{Anonymise: true, SectorOf: func(id tenant.ID) tenant.Sector { return exportSectors[id] }}
	b, errs := Export([]*incident.Campaign{camp}, nil, opt)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	raw, objs := exported(t, b)

	for org := range exportSectors {
		if strings.Contains(string(raw), string(org)) {
			t.Errorf("anonymised export names organisation %q", org)
		}
	}
	ids := byID(objs)
	producer := ID("identity", "producer", DefaultProducer)
	if ids[producer]["name"] != DefaultProducer {
		t.Fatalf("no producer identity %s", producer)
	}
	if _, ok := ids[TLPAmberID]; !ok {
		t.Fatal("the TLP:AMBER marking definition is not in the bundle")
	}
	for _, o := range objs {
		if o["id"] == producer || o["type"] == "marking-definition" {
			continue
		}
		if o["created_by_ref"] != producer || !slices.Equal(strs(o["object_marking_refs"]), []string{TLPAmberID}) {
			t.Errorf("%s: created_by_ref %v, markings %v", o["id"], o["created_by_ref"], o["object_marking_refs"])
		}
	}

	camps := ofType(objs, "campaign")
	if len(camps) != 1 {
		t.Fatalf("%d campaigns", len(camps))
	}
	c := camps[0]
	if c["id"] != ID("campaign", camp.ID) || !strings.HasPrefix(c["name"].(string), "Campaign via ") ||
		c["first_seen"] != T(camp.FirstSeen).String() || c["last_seen"] != T(camp.LastSeen).String() {
		t.Errorf("campaign %v", c)
	}
	for _, s := range []string{"energy-power", "finance", "water"} {
		if !strings.Contains(c["description"].(string), s) {
			t.Errorf("campaign description %q lacks sector %s", c["description"], s)
		}
	}

	// Indicators: ip, its /24, the domain and the hash; never the rules.
	var pats []string
	for _, o := range ofType(objs, "indicator") {
		pats = append(pats, o["pattern"].(string))
	}
	slices.Sort(pats)
	want := []string{
		"[domain-name:value = 'c2.bad.example']",
		"[file:hashes.'SHA-256' = '" + badHash + "']",
		"[ipv4-addr:value = '185.220.101.7']",
		"[ipv4-addr:value ISSUBSET '185.220.101.0/24']",
	}
	if !slices.Equal(pats, want) {
		t.Errorf("indicator patterns\n%v\nwant\n%v", pats, want)
	}

	// Attack patterns with their ATT&CK references, used by the campaign.
	aps := ofType(objs, "attack-pattern")
	if len(aps) != 2 {
		t.Fatalf("%d attack-patterns, want 2", len(aps))
	}
	for _, ap := range aps {
		ref := ap["external_references"].([]any)[0].(map[string]any)
		if ref["source_name"] != "mitre-attack" || ref["external_id"] != ap["name"] || !strings.HasPrefix(ref["url"].(string), "https://attack.mitre.org/techniques/T") {
			t.Errorf("attack-pattern reference %v", ref)
		}
	}
	if ref := ids[ID("attack-pattern", "mitre-attack", "T1110.001")]["external_references"].([]any)[0].(map[string]any); ref["url"] != "https://attack.mitre.org/techniques/T1110/001/" {
		t.Errorf("sub-technique url %v", ref["url"])
	}

	rels := map[string]int{}
	for _, r := range ofType(objs, "relationship") {
		src, dst := ids[r["source_ref"].(string)], ids[r["target_ref"].(string)]
		if src == nil || dst == nil {
			t.Fatalf("relationship %v points outside the bundle", r)
		}
		rels[src["type"].(string)+" "+r["relationship_type"].(string)+" "+dst["type"].(string)]++
	}
	if rels["indicator indicates campaign"] != 4 || rels["campaign uses attack-pattern"] != 2 || len(rels) != 2 {
		t.Errorf("relationships %v", rels)
	}

	// Sightings: where_sighted_refs name sectors (identity class), never organisations.
	sights := ofType(objs, "sighting")
	if len(sights) != 4 {
		t.Fatalf("%d sightings, want 4", len(sights))
	}
	for _, s := range sights {
		of := ids[s["sighting_of_ref"].(string)]
		if of["type"] != "indicator" {
			t.Errorf("sighting of %v", s["sighting_of_ref"])
		}
		var sectors []string
		for _, w := range strs(s["where_sighted_refs"]) {
			id := ids[w]
			if id["identity_class"] != "class" || !strings.HasSuffix(id["name"].(string), " sector") {
				t.Errorf("sighted at %v, want a sector identity", id)
			}
			sectors = append(sectors, id["name"].(string))
		}
		if of["pattern"] == "[ipv4-addr:value = '185.220.101.7']" {
			if s["count"] != float64(3) || len(sectors) != 3 {
				t.Errorf("ip sighting count %v at %v, want 3 sectors", s["count"], sectors)
			}
		}
	}

	// Re-exporting gives the same bundle, byte for byte.
	b2, _ := Export([]*incident.Campaign{camp}, nil, opt)
	if raw2 := mustJSON(t, b2); string(raw2) != string(raw) {
		t.Error("re-export differs")
	}
	// The indicators parse back (with the ioc.ParseSTIX stand-in).
	inds, perrs := testParse(strings.NewReader(string(raw)), "x")
	if len(perrs) > 0 || len(inds) != 4 {
		t.Errorf("parsing the export back: %d indicators, %v", len(inds), perrs)
	}
}

func TestExportCampaignNamed(t *testing.T) {
	camp, _ := testCampaign(t)
	b, errs := Export([]*incident.Campaign{camp}, nil, ExportOptions{Producer: "CERT-X", TLP: "red",
		SectorOf: func(id tenant.ID) tenant.Sector { return exportSectors[id] },
		OrgName:  func(id tenant.ID) string { return strings.ToUpper(string(id)) }})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	raw, objs := exported(t, b)
	if !strings.Contains(string(raw), "GRID-CO") || !strings.Contains(string(raw), "bank-one") || !strings.Contains(string(raw), TLPRedID) {
		t.Error("named export lacks organisations or its TLP:RED marking")
	}
	ids := byID(objs)
	if ids[ID("identity", "producer", "CERT-X")] == nil {
		t.Error("producer CERT-X missing")
	}
	for _, s := range ofType(objs, "sighting") {
		for _, w := range strs(s["where_sighted_refs"]) {
			if ids[w]["identity_class"] != "organization" {
				t.Errorf("named sighting at %v", ids[w])
			}
		}
	}
}

func TestExportAlerts(t *testing.T) {
	_, as := testCampaign(t)
	as[0].SrcIP = "10.1.2.3" // private: not an indicator
	b, errs := Export(nil, as, ExportOptions{Anonymise: true})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	raw, objs := exported(t, b)
	if strings.Contains(string(raw), "grid-co") || strings.Contains(string(raw), "10.1.2.3") {
		t.Error("alert export leaks an organisation or a private address")
	}
	ids := byID(objs)
	// a1: domain; a2: ip, domain, hash; a3: ip, hash → 6 sightings of 3 indicators.
	if n := len(ofType(objs, "indicator")); n != 3 {
		t.Errorf("%d indicators, want 3", n)
	}
	sights := ofType(objs, "sighting")
	if len(sights) != 6 {
		t.Fatalf("%d sightings, want 6", len(sights))
	}
	for _, s := range sights {
		where := strs(s["where_sighted_refs"])
		if len(where) != 1 || ids[where[0]]["identity_class"] != "class" {
			t.Errorf("alert sighting at %v", where)
		}
		if s["count"].(float64) < 3 {
			t.Errorf("alert sighting count %v", s["count"])
		}
	}
	for _, r := range ofType(objs, "relationship") {
		if r["relationship_type"] != "indicates" || ids[r["target_ref"].(string)]["type"] != "attack-pattern" {
			t.Errorf("relationship %v", r)
		}
	}
	// The shared domain is one indicator, created at its first sighting.
	dom := ids[ID("indicator", "mamori:domain:c2.bad.example")]
	if dom == nil || dom["created"] != T(as[0].FirstSeen).String() || dom["modified"] != T(as[1].LastSeen).String() {
		t.Errorf("merged domain indicator %v", dom)
	}
}
