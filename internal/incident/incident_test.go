package incident

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/tenant"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// al builds an alert; id must be unique within a test.
func al(id string, org tenant.ID, min int, host, user, src string) alert.Alert {
	ts := t0.Add(time.Duration(min) * time.Minute)
	return alert.Alert{ID: id, Tenant: org, Sector: tenant.Transport, RuleID: "r-" + id, RuleTitle: "Rule " + id,
		Level: "medium", Host: host, User: user, SrcIP: src, Count: 1, FirstSeen: ts, LastSeen: ts}
}

// group adds alerts in order and returns each alert's final incident ID.
func group(t *testing.T, g *Grouper, as []alert.Alert) map[string]string {
	t.Helper()
	owner := map[string]string{}
	for _, a := range as {
		inc, _ := g.Add(a)
		if !slices.Contains(inc.AlertIDs, a.ID) {
			t.Fatalf("incident %s lacks alert %s", inc.ID, a.ID)
		}
		for _, id := range inc.AlertIDs {
			owner[id] = inc.ID
		}
	}
	return owner
}

func TestGrouping(t *testing.T) {
	tests := []struct {
		name   string
		alerts []alert.Alert
		same   [][2]string // alert pairs that must share an incident
		diff   [][2]string // alert pairs that must not
	}{
		{"same host", []alert.Alert{al("a", "o1", 0, "WS-1", "", ""), al("b", "o1", 30, "ws-1", "", "")}, [][2]string{{"a", "b"}}, nil},
		{"same user on two hosts", []alert.Alert{al("a", "o1", 0, "WS-1", "CORP\\alice", ""), al("b", "o1", 10, "WS-2", "corp\\ALICE", "")}, [][2]string{{"a", "b"}}, nil},
		{"same public source ip", []alert.Alert{al("a", "o1", 0, "WS-1", "", "185.220.101.7"), al("b", "o1", 10, "SRV-9", "", "185.220.101.7")}, [][2]string{{"a", "b"}}, nil},
		{"different tenants never group", []alert.Alert{al("a", "o1", 0, "WS-1", "bob", "185.220.101.7"), al("b", "o2", 1, "WS-1", "bob", "185.220.101.7")}, nil, [][2]string{{"a", "b"}}},
		{"past the window", []alert.Alert{al("a", "o1", 0, "WS-1", "", ""), al("b", "o1", 121, "WS-1", "", "")}, nil, [][2]string{{"a", "b"}}},
		{"just inside the window", []alert.Alert{al("a", "o1", 0, "WS-1", "", ""), al("b", "o1", 120, "WS-1", "", "")}, [][2]string{{"a", "b"}}, nil},
		{"chained within window of last alert", []alert.Alert{al("a", "o1", 0, "WS-1", "", ""), al("b", "o1", 100, "WS-1", "", ""), al("c", "o1", 200, "WS-1", "", "")}, [][2]string{{"a", "c"}}, nil},
		{"SYSTEM does not link", []alert.Alert{al("a", "o1", 0, "WS-1", "SYSTEM", ""), al("b", "o1", 1, "WS-2", "NT AUTHORITY\\SYSTEM", "")}, nil, [][2]string{{"a", "b"}}},
		{"LOCAL SERVICE does not link", []alert.Alert{al("a", "o1", 0, "WS-1", "NT AUTHORITY\\LOCAL SERVICE", ""), al("b", "o1", 1, "WS-2", "LOCAL SERVICE", "")}, nil, [][2]string{{"a", "b"}}},
		{"machine account and dash do not link", []alert.Alert{al("a", "o1", 0, "WS-1", "CORP\\WS-9$", "-"), al("b", "o1", 1, "WS-2", "CORP\\WS-9$", "-"), al("c", "o1", 2, "-", "-", "")}, nil, [][2]string{{"a", "b"}, {"b", "c"}, {"a", "c"}}},
		{"private source ip does not link", []alert.Alert{al("a", "o1", 0, "WS-1", "", "10.1.2.3"), al("b", "o1", 1, "WS-2", "", "10.1.2.3")}, nil, [][2]string{{"a", "b"}}},
		{"loopback source ip does not link", []alert.Alert{al("a", "o1", 0, "WS-1", "", "127.0.0.1"), al("b", "o1", 1, "WS-2", "", "::1")}, nil, [][2]string{{"a", "b"}}},
		{"one alert merges two incidents", []alert.Alert{al("a", "o1", 0, "WS-1", "", ""), al("b", "o1", 5, "WS-2", "carol", ""), al("c", "o1", 10, "WS-1", "carol", "")}, [][2]string{{"a", "b"}, {"a", "c"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			owner := group(t, NewGrouper(0), tt.alerts)
			for _, p := range tt.same {
				if owner[p[0]] != owner[p[1]] {
					t.Errorf("%s and %s in different incidents (%s, %s)", p[0], p[1], owner[p[0]], owner[p[1]])
				}
			}
			for _, p := range tt.diff {
				if owner[p[0]] == owner[p[1]] {
					t.Errorf("%s and %s grouped into %s", p[0], p[1], owner[p[0]])
				}
			}
		})
	}
}

func TestMerge(t *testing.T) {
	g := NewGrouper(time.Hour)
	i1, c1 := g.Add(al("a", "o1", 0, "WS-1", "", ""))
	i2, c2 := g.Add(al("b", "o1", 5, "WS-2", "", "203.0.113.9"))
	if !c1 || !c2 || i1.ID == i2.ID {
		t.Fatalf("want two new incidents, got %v %v %s %s", c1, c2, i1.ID, i2.ID)
	}
	m, created := g.Add(al("c", "o1", 10, "WS-3", "", "203.0.113.9"))
	if created || m.ID != i2.ID {
		t.Fatalf("c should join b's incident")
	}
	m, created = g.Add(al("d", "o1", 12, "WS-1", "", "203.0.113.9"))
	if created || m.ID != i1.ID || !slices.Equal(m.Merged, []string{i2.ID}) {
		t.Fatalf("merge: got id %s merged %v, want %s absorbing %s", m.ID, m.Merged, i1.ID, i2.ID)
	}
	if !slices.Equal(m.AlertIDs, []string{"a", "b", "c", "d"}) || g.Len() != 1 {
		t.Errorf("alerts %v, open %d", m.AlertIDs, g.Len())
	}
	if got := m.Entities[EntityHost]; !slices.Equal(got, []string{"WS-1", "WS-2", "WS-3"}) {
		t.Errorf("hosts %v", got)
	}
	// The absorbed incident's entities now lead to the survivor.
	if n, _ := g.Add(al("e", "o1", 15, "WS-2", "", "")); n.ID != i1.ID {
		t.Errorf("WS-2 should now link to %s, got %s", i1.ID, n.ID)
	}
}

func TestSeverity(t *testing.T) {
	tests := []struct {
		level  string
		stages []string
		want   string
	}{
		{"informational", nil, "low"},
		{"low", []string{"execution"}, "low"},
		{"medium", []string{"execution", "persistence"}, "medium"},
		{"medium", []string{"execution", "persistence", "discovery"}, "high"},
		{"high", []string{"execution", "persistence", "discovery"}, "critical"},
		{"critical", []string{"execution", "persistence", "discovery", "collection"}, "critical"},
		{"low", []string{"initial-access", "credential-access", "impact"}, "critical"},
		{"low", []string{"execution", "lateral-movement", "exfiltration"}, "critical"},
		{"low", []string{"execution", "lateral-movement", "collection"}, "medium"},
		{"bogus", nil, "low"},
	}
	for _, tt := range tests {
		t.Run(tt.level+"/"+strconv.Itoa(len(tt.stages)), func(t *testing.T) {
			if got := Severity(levelRank(tt.level), tt.stages); got != tt.want {
				t.Errorf("Severity(%s, %v) = %s, want %s", tt.level, tt.stages, got, tt.want)
			}
		})
	}
}

func TestEscalationAndKillChain(t *testing.T) {
	steps := []struct {
		tactic    string
		level     string
		wantSev   string
		wantStage []string
		wantTitle string
	}{
		{"credential-access", "medium", "medium", []string{"credential-access"}, "Credential access on WS-0412 (1 stage)"},
		{"attack.execution", "medium", "medium", []string{"execution", "credential-access"}, "Credential access on WS-0412 (2 stages)"},
		{"persistence", "low", "high", []string{"execution", "persistence", "credential-access"}, "Credential access on WS-0412 (3 stages)"},
		{"lateral_movement", "medium", "high", []string{"execution", "persistence", "credential-access", "lateral-movement"}, "Lateral movement on WS-0412 (4 stages)"},
		{"impact", "low", "critical", []string{"execution", "persistence", "credential-access", "lateral-movement", "impact"}, "Impact on WS-0412 (5 stages)"},
	}
	g := NewGrouper(0)
	var id string
	for i, s := range steps {
		a := al("a"+strconv.Itoa(i), "o1", i, "WS-0412", "", "")
		a.Level, a.Tactics, a.Techniques = s.level, []string{s.tactic}, []string{"T10" + strconv.Itoa(9-i)}
		inc, _ := g.Add(a)
		if id == "" {
			id = inc.ID
		}
		if inc.ID != id || inc.Severity != s.wantSev || !slices.Equal(inc.Stages, s.wantStage) || inc.Title != s.wantTitle {
			t.Errorf("step %d: got %s %s %v %q, want %s %v %q", i, inc.ID, inc.Severity, inc.Stages, inc.Title, s.wantSev, s.wantStage, s.wantTitle)
		}
		if !slices.IsSorted(inc.Techniques) || len(inc.Techniques) != i+1 {
			t.Errorf("step %d: techniques %v", i, inc.Techniques)
		}
	}
}

func TestStableIDAndDuplicates(t *testing.T) {
	as := []alert.Alert{al("x1", "o1", 0, "H", "", ""), al("x2", "o1", 1, "H", "", ""), al("x1", "o1", 2, "H", "", "")}
	var ids []string
	for range 2 {
		g := NewGrouper(0)
		var inc *Incident
		for _, a := range as {
			inc, _ = g.Add(a)
		}
		ids = append(ids, inc.ID)
		if !slices.Equal(inc.AlertIDs, []string{"x1", "x2"}) {
			t.Errorf("a re-added alert is duplicated: %v", inc.AlertIDs)
		}
		if !inc.LastSeen.Equal(t0.Add(2 * time.Minute)) {
			t.Errorf("last seen %v", inc.LastSeen)
		}
	}
	if ids[0] != ids[1] || ids[0] != IncidentID("o1", "x1") || IncidentID("o1", "x1") == IncidentID("o2", "x1") {
		t.Errorf("IDs not stable: %v", ids)
	}
}

func TestGrouperExpiry(t *testing.T) {
	g := NewGrouper(time.Hour)
	inc, _ := g.Add(al("a", "o1", 0, "WS-1", "dave", "198.51.100.4"))
	g.Add(al("b", "o1", 50, "WS-2", "", ""))
	if got := g.Expire(t0.Add(100 * time.Minute)); !slices.Equal(got, []string{inc.ID}) || g.Len() != 1 {
		t.Fatalf("Expire = %v, open %d", got, g.Len())
	}
	if len(g.index) != 1 {
		t.Errorf("index not cleaned: %d keys", len(g.index))
	}
	// Alert time moving on expires idle incidents without an explicit call.
	for i := range 50 {
		g.Add(al("n"+strconv.Itoa(i), "o1", 200+i*30, "H-"+strconv.Itoa(i), "", ""))
	}
	if n := g.Len(); n > 4 {
		t.Errorf("%d incidents open, want at most a window's worth", n)
	}
	if _, created := g.Add(al("c", "o1", 200+50*30, "WS-1", "dave", "")); !created {
		t.Errorf("an expired incident took a new alert")
	}
}

func TestLinkHelpers(t *testing.T) {
	for _, u := range []string{"SYSTEM", "nt authority\\system", "LOCAL SERVICE", "NT AUTHORITY\\NETWORK SERVICE", "Window Manager\\DWM-1", "Font Driver Host\\UMFD-0", "CORP\\WS1$", "root", "ANONYMOUS LOGON"} {
		if !ServiceAccount(u) {
			t.Errorf("ServiceAccount(%q) = false", u)
		}
	}
	for _, u := range []string{"alice", "CORP\\svc-backup", "administrator", "alice@corp.example"} {
		if ServiceAccount(u) {
			t.Errorf("ServiceAccount(%q) = true", u)
		}
	}
	for ip, want := range map[string]bool{"8.8.8.8": true, "203.0.113.5": true, "2001:4860::1": true, "10.0.0.1": false, "172.16.5.5": false,
		"192.168.1.1": false, "127.0.0.1": false, "169.254.1.1": false, "100.64.1.1": false, "fd00::1": false, "::ffff:10.0.0.1": false, "junk": false, "": false} {
		if _, got := PublicIP(ip); got != want {
			t.Errorf("PublicIP(%q) = %v", ip, got)
		}
	}
}
