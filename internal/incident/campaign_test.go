package incident

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/tenant"
)

var sectorOf = map[tenant.ID]tenant.Sector{"org-a": tenant.Transport, "org-b": tenant.Finance, "org-c": tenant.Water, "org-d": tenant.Medical, "org-e": tenant.IT}

// ca builds an alert for campaign tests.
func ca(id string, org tenant.ID, min int, src, rule, level string, ev ...alert.Field) alert.Alert {
	a := al(id, org, min, "H-"+id, "", src)
	a.Sector, a.RuleID, a.Level, a.Event = sectorOf[org], rule, level, ev
	a.Techniques = []string{"T1110"}
	return a
}

func f(name, value string) alert.Field { return alert.Field{Name: name, Value: value} }

// feed runs alerts through a Grouper and a Campaigns tracker.
func feed(cs *Campaigns, as ...alert.Alert) (map[string]*Campaign, map[string]string) {
	g := NewGrouper(0)
	g.MinLevel = "informational" // these cases are about campaigns, not about which alerts open incidents
	camps := map[string]*Campaign{}
	incOf := map[string]string{}
	for _, a := range as {
		inc, _ := g.Add(a)
		incOf[a.ID] = inc.ID
		for _, c := range cs.Add(inc, a) {
			camps[c.ID] = c
		}
	}
	// Keep only campaigns still open (others were merged away).
	for id := range camps {
		if _, ok := cs.camps[id]; !ok {
			delete(camps, id)
		}
	}
	return camps, incOf
}

func TestCampaigns(t *testing.T) {
	tests := []struct {
		name      string
		alerts    []alert.Alert
		wantOrgs  []tenant.ID // of the single campaign expected; nil = no campaign
		wantInds  []Indicator // must be among the campaign's indicators
		wantNoInd []Indicator // must not be
	}{
		{"shared public ip across 3 orgs", []alert.Alert{
			ca("a", "org-a", 0, "185.220.101.7", "r1", "medium"),
			ca("b", "org-b", 60, "185.220.101.7", "r2", "medium"),
			ca("c", "org-c", 600, "185.220.101.7", "r3", "low"),
		}, []tenant.ID{"org-a", "org-b", "org-c"}, []Indicator{{IndicatorIP, "185.220.101.7"}, {IndicatorNet, "185.220.101.0/24"}}, nil},
		{"shared /24", []alert.Alert{
			ca("a", "org-a", 0, "45.155.205.10", "r1", "medium"),
			ca("b", "org-b", 30, "45.155.205.99", "r2", "medium"),
		}, []tenant.ID{"org-a", "org-b"}, []Indicator{{IndicatorNet, "45.155.205.0/24"}}, []Indicator{{IndicatorIP, "45.155.205.10"}, {IndicatorIP, "45.155.205.99"}}},
		{"rare high rule", []alert.Alert{
			ca("a", "org-a", 0, "", "rare-1", "high"),
			ca("b", "org-b", 300, "", "rare-1", "critical"),
		}, []tenant.ID{"org-a", "org-b"}, []Indicator{{IndicatorRule, "rare-1"}}, nil},
		{"rule stops linking once common", []alert.Alert{
			ca("a", "org-a", 0, "", "rare-1", "high"),
			ca("b", "org-b", 1, "", "rare-1", "high"),
			ca("c", "org-c", 2, "", "rare-1", "high"),
			ca("d", "org-d", 3, "", "rare-1", "high"),
			ca("e", "org-e", 4, "", "rare-1", "high"),
		}, []tenant.ID{"org-a", "org-b", "org-c"}, []Indicator{{IndicatorRule, "rare-1"}}, nil},
		{"medium rule is no indicator", []alert.Alert{
			ca("a", "org-a", 0, "", "r1", "medium"),
			ca("b", "org-b", 1, "", "r1", "medium"),
		}, nil, nil, nil},
		{"shared domain", []alert.Alert{
			ca("a", "org-a", 0, "", "r1", "medium", f("QueryName", "Evil-C2.example.")),
			ca("b", "org-b", 1, "", "r2", "medium", f("DestinationHostname", "evil-c2.example")),
		}, []tenant.ID{"org-a", "org-b"}, []Indicator{{IndicatorDomain, "evil-c2.example"}}, nil},
		{"internal domain is no indicator", []alert.Alert{
			ca("a", "org-a", 0, "", "r1", "medium", f("QueryName", "dc01.corp.local")),
			ca("b", "org-b", 1, "", "r2", "medium", f("QueryName", "dc01.corp.local")),
		}, nil, nil, nil},
		{"shared file hash", []alert.Alert{
			ca("a", "org-a", 0, "", "r1", "medium", f("Hashes", "SHA1=AAAA000000000000000000000000000000000001,MD5=0123456789ABCDEF0123456789ABCDEF,SHA256=ABCDEF0000000000000000000000000000000000000000000000000000000001,IMPHASH=11111111111111111111111111111111")),
			ca("b", "org-b", 1, "", "r2", "medium", f("sha256", "abcdef0000000000000000000000000000000000000000000000000000000001")),
		}, []tenant.ID{"org-a", "org-b"}, []Indicator{{IndicatorHash, "abcdef0000000000000000000000000000000000000000000000000000000001"}}, nil},
		{"imphash alone is no indicator", []alert.Alert{
			ca("a", "org-a", 0, "", "r1", "medium", f("Hashes", "IMPHASH=11111111111111111111111111111111")),
			ca("b", "org-b", 1, "", "r2", "medium", f("Hashes", "IMPHASH=11111111111111111111111111111111")),
		}, nil, nil, nil},
		{"no campaign inside one org", []alert.Alert{
			ca("a", "org-a", 0, "185.220.101.7", "rare-1", "high", f("QueryName", "evil.example")),
			ca("b", "org-a", 600, "185.220.101.7", "rare-1", "high", f("QueryName", "evil.example")),
		}, nil, nil, nil},
		{"private ip shared by orgs", []alert.Alert{
			ca("a", "org-a", 0, "192.168.1.10", "r1", "medium"),
			ca("b", "org-b", 1, "192.168.1.10", "r2", "medium"),
		}, nil, nil, nil},
		{"past the window", []alert.Alert{
			ca("a", "org-a", 0, "185.220.101.7", "r1", "medium"),
			ca("b", "org-b", 24*60+1, "185.220.101.7", "r2", "medium"),
		}, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := NewCampaigns(0, 0)
			camps, incOf := feed(cs, tt.alerts...)
			if tt.wantOrgs == nil {
				if len(camps) != 0 || len(cs.camps) != 0 {
					t.Fatalf("want no campaign, got %d", len(cs.camps))
				}
				return
			}
			if len(camps) != 1 || len(cs.camps) != 1 {
				t.Fatalf("want 1 campaign, got %d (%d open)", len(camps), len(cs.camps))
			}
			var c *Campaign
			for _, c = range camps {
			}
			if !slices.Equal(c.Orgs, tt.wantOrgs) {
				t.Errorf("orgs %v, want %v", c.Orgs, tt.wantOrgs)
			}
			if len(c.Sectors) != len(tt.wantOrgs) || !slices.IsSorted(c.Sectors) {
				t.Errorf("sectors %v", c.Sectors)
			}
			for _, ind := range tt.wantInds {
				if !slices.Contains(c.Indicators, ind) {
					t.Errorf("indicators %v lack %v", c.Indicators, ind)
				}
			}
			for _, ind := range tt.wantNoInd {
				if slices.Contains(c.Indicators, ind) {
					t.Errorf("indicators %v hold %v", c.Indicators, ind)
				}
			}
			for _, a := range tt.alerts {
				if slices.Contains(tt.wantOrgs, a.Tenant) != slices.Contains(c.IncidentIDs, incOf[a.ID]) {
					t.Errorf("incident of %s (%s): membership wrong in %v", a.ID, a.Tenant, c.IncidentIDs)
				}
			}
			if !slices.Equal(c.Techniques, []string{"T1110"}) || c.FirstSeen.After(c.LastSeen) || c.FirstSeen != tt.alerts[0].FirstSeen {
				t.Errorf("techniques %v, seen %v..%v", c.Techniques, c.FirstSeen, c.LastSeen)
			}
		})
	}
}

func TestCampaignStableID(t *testing.T) {
	as := []alert.Alert{ca("a", "org-a", 0, "185.220.101.7", "r1", "medium"), ca("b", "org-b", 1, "185.220.101.7", "r2", "medium")}
	c1, _ := feed(NewCampaigns(0, 0), as...)
	c2, _ := feed(NewCampaigns(0, 0), as...)
	for id := range c1 {
		if _, ok := c2[id]; !ok || len(c1) != 1 {
			t.Errorf("campaign IDs differ between replays")
		}
	}
}

func TestCampaignView(t *testing.T) {
	cs := NewCampaigns(0, 0)
	camps, incOf := feed(cs,
		ca("a", "org-a", 0, "185.220.101.7", "r1", "medium"),
		ca("b", "org-b", 1, "185.220.101.7", "r2", "medium", f("QueryName", "c2.bad.example")),
		ca("c", "org-c", 2, "185.220.101.7", "r3", "medium", f("QueryName", "c2.bad.example")),
	)
	if len(camps) != 1 {
		t.Fatalf("want 1 campaign, got %d", len(camps))
	}
	var c *Campaign
	for _, c = range camps {
	}
	if !slices.Contains(c.Indicators, Indicator{IndicatorDomain, "c2.bad.example"}) {
		t.Fatalf("national view lacks the domain: %v", c.Indicators)
	}
	tests := []struct {
		name     string
		scope    func(tenant.ID) bool
		wantID   bool
		wantIncs []string
		wantInds []Indicator
	}{
		{"org-a sees only its own", tenant.Only("org-a").Contains, true, []string{incOf["a"]},
			[]Indicator{{IndicatorIP, "185.220.101.7"}, {IndicatorNet, "185.220.101.0/24"}}},
		{"org-b sees its domain too", tenant.Only("org-b").Contains, true, []string{incOf["b"]},
			[]Indicator{{IndicatorDomain, "c2.bad.example"}, {IndicatorIP, "185.220.101.7"}, {IndicatorNet, "185.220.101.0/24"}}},
		{"outsider sees nothing", tenant.Only("org-d").Contains, false, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := View(c, tt.scope)
			if (v.ID != "") != tt.wantID {
				t.Fatalf("view ID %q", v.ID)
			}
			if !tt.wantID {
				if v.Indicators != nil || v.IncidentIDs != nil || !v.FirstSeen.IsZero() {
					t.Errorf("outsider view not empty: %+v", v)
				}
				return
			}
			if v.ID != c.ID || !slices.Equal(v.IncidentIDs, tt.wantIncs) || !slices.Equal(v.Indicators, tt.wantInds) || !v.FirstSeen.Equal(c.FirstSeen) || !v.LastSeen.Equal(c.LastSeen) {
				t.Errorf("view %+v", v)
			}
			js, _ := json.Marshal(v)
			for _, other := range []string{"org-", "finance", "water", "transport"} {
				if strings.Contains(string(js), other) {
					t.Errorf("view leaks %q: %s", other, js)
				}
			}
			for _, a := range []string{"a", "b", "c"} {
				if !slices.Contains(tt.wantIncs, incOf[a]) && strings.Contains(string(js), incOf[a]) {
					t.Errorf("view leaks incident of %s", a)
				}
			}
		})
	}
}

func TestCampaignFollowsIncidentMerge(t *testing.T) {
	g := NewGrouper(0)
	cs := NewCampaigns(0, 0)
	add := func(a alert.Alert) (*Incident, []*Campaign) {
		inc, _ := g.Add(a)
		return inc, cs.Add(inc, a)
	}
	a2 := al("a2", "org-a", 0, "H2", "eve", "")
	incEarly, _ := add(a2)
	incIP, _ := add(al("a1", "org-a", 10, "H1", "", "185.220.101.7"))
	_, out := add(ca("b1", "org-b", 20, "185.220.101.7", "r", "medium"))
	if len(out) != 1 || !slices.Contains(out[0].IncidentIDs, incIP.ID) {
		t.Fatalf("campaign missing: %v", out)
	}
	merged, _ := add(al("a3", "org-a", 30, "H1", "eve", ""))
	if merged.ID != incEarly.ID || !slices.Contains(merged.Merged, incIP.ID) {
		t.Fatalf("incidents did not merge: %s %v", merged.ID, merged.Merged)
	}
	c, ok := cs.Campaign(incEarly.ID)
	if !ok || slices.Contains(c.IncidentIDs, incIP.ID) || len(c.IncidentIDs) != 2 {
		t.Fatalf("campaign does not follow the merge: %v %v", ok, c)
	}
	if _, ok := cs.Campaign(incIP.ID); ok {
		t.Errorf("absorbed incident still maps to a campaign")
	}
}

func TestCampaignExpiry(t *testing.T) {
	cs := NewCampaigns(time.Hour, 0)
	camps, _ := feed(cs, ca("a", "org-a", 0, "185.220.101.7", "rare", "high"), ca("b", "org-b", 5, "185.220.101.7", "rare", "high"))
	if len(camps) != 1 {
		t.Fatalf("want a campaign")
	}
	if got := cs.Expire(t0.Add(30 * time.Minute)); len(got) != 0 {
		t.Fatalf("expired too early: %v", got)
	}
	got := cs.Expire(t0.Add(66 * time.Minute))
	if n, inds := cs.Len(); len(got) != 1 || n != 0 || inds != 0 || len(cs.byInc) != 0 || len(cs.byInd) != 0 {
		t.Fatalf("Expire = %v, left %d campaigns %d indicators %d/%d index", got, n, inds, len(cs.byInc), len(cs.byInd))
	}
	// Alert time moving on bounds memory without explicit calls.
	g := NewGrouper(0)
	for i := range 400 {
		a := ca("x"+strconv.Itoa(i), "org-a", 100+i*10, "8.8."+strconv.Itoa(i)+".1", "r", "medium")
		if i >= 256 {
			a.SrcIP = "9.9." + strconv.Itoa(i-256) + ".1"
		}
		inc, _ := g.Add(a)
		cs.Add(inc, a)
	}
	if _, inds := cs.Len(); inds > 40 || inds == 0 {
		t.Errorf("%d indicators tracked after the window passed", inds)
	}
}

// TestCampaignJSONKeepsView: a campaign written and read back still gives
// each organisation exactly the view it had before.
func TestCampaignJSONKeepsView(t *testing.T) {
	g, cs := NewGrouper(0), NewCampaigns(0, 0)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var camp *Campaign
	for i, org := range []tenant.ID{"a", "b", "c"} {
		a := alert.Alert{ID: "x" + string(org), Tenant: org, Sector: tenant.Sector("s" + string(org)), Level: "high", RuleID: "r" + string(org),
			Host: "H" + string(org), SrcIP: "203.0.113.7", FirstSeen: t0.Add(time.Duration(i) * time.Minute), LastSeen: t0.Add(time.Duration(i) * time.Minute)}
		inc, _ := g.Add(a)
		if cs := cs.Add(inc, a); len(cs) > 0 {
			camp = cs[0]
		}
	}
	if camp == nil || len(camp.Orgs) != 3 {
		t.Fatalf("campaign = %+v, want 3 organisations", camp)
	}
	b, err := json.Marshal(camp)
	if err != nil {
		t.Fatal(err)
	}
	var back Campaign
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, org := range []tenant.ID{"a", "b", "c", "z"} {
		scope := func(t tenant.ID) bool { return t == org }
		want, got := View(camp, scope), View(&back, scope)
		if !reflect.DeepEqual(want, got) {
			t.Errorf("view of %s after JSON = %+v, want %+v", org, got, want)
		}
	}
	if !reflect.DeepEqual(back.Orgs, camp.Orgs) || !reflect.DeepEqual(back.Indicators, camp.Indicators) {
		t.Errorf("national fields changed: %+v vs %+v", back, camp)
	}
}

func TestLowAlertNeverOpensIncident(t *testing.T) {
	g := NewGrouper(0)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	if inc, _ := g.Add(alert.Alert{ID: "l1", Tenant: "a", Level: "low", Host: "WS1", FirstSeen: t0, LastSeen: t0}); inc != nil {
		t.Fatalf("low alert opened %+v", inc)
	}
	inc, created := g.Add(alert.Alert{ID: "h1", Tenant: "a", Level: "high", Host: "WS1", FirstSeen: t0, LastSeen: t0})
	if inc == nil || !created {
		t.Fatal("high alert did not open an incident")
	}
	inc2, _ := g.Add(alert.Alert{ID: "l2", Tenant: "a", Level: "low", Host: "WS1", FirstSeen: t0.Add(time.Minute), LastSeen: t0.Add(time.Minute)})
	if inc2 == nil || inc2.ID != inc.ID || len(inc2.AlertIDs) != 2 {
		t.Fatalf("low alert linked to the open incident: got %+v", inc2)
	}
}

// TestOSBinaryHashesDoNotLink: the hash of powershell.exe appears in alerts
// of every organisation; it must not be taken for attacker infrastructure.
func TestOSBinaryHashesDoNotLink(t *testing.T) {
	h := "SHA256=" + strings.Repeat("ab", 32)
	a := alert.Alert{Level: "high", Event: []alert.Field{{Name: "Image", Value: `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`}, {Name: "Hashes", Value: h}}}
	for _, ind := range Indicators(a) {
		if ind.Kind == IndicatorHash {
			t.Errorf("OS binary's hash taken as an indicator: %v", ind)
		}
	}
	a.Event[0].Value = `C:\Users\bob\AppData\Local\Temp\svch0st.exe`
	found := false
	for _, ind := range Indicators(a) {
		found = found || ind.Kind == IndicatorHash
	}
	if !found {
		t.Error("a dropped binary's hash is not an indicator")
	}
}
