package simulate

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/tenant"
)

// TestHygieneDetected plays 40 minutes of a quiet baseline, with the organisations'
// hygiene findings, through the real decoders and the built-in rule pack: every finding
// of every organisation is detected by its kind's rule, on the hosts the finding names;
// no hygiene rule fires where there is no such finding (so never for the strongest
// organisation); and no attack rule fires.
func TestHygieneDetected(t *testing.T) {
	g := New(Config{Seed: 4, BaselinePerSecond: 5, AttacksPerDay: -1})
	orgs := map[tenant.ID]Org{}
	var strongest Org
	for _, o := range g.Orgs() {
		orgs[o.Tenant.ID] = o
		if o.Maturity > strongest.Maturity {
			strongest = o
		}
	}
	recs := ticks(g, 240, 10*time.Second)

	type key struct {
		org  tenant.ID
		kind HygieneKind
	}
	got := map[key]int{}
	perKind := map[HygieneKind]int{}
	attacks := 0
	newDetector(t).run(t, recs, func(det detection) {
		o := orgs[det.rec.Org]
		if det.kind == "" {
			if attacks++; attacks <= 10 {
				t.Errorf("attack detection %q: %s", det.title, det.rec.Body)
			}
			return
		}
		got[key{o.Tenant.ID, det.kind}]++
		perKind[det.kind]++
		i := slices.IndexFunc(o.Hygiene, func(f Finding) bool { return f.Kind == det.kind })
		if i < 0 {
			t.Errorf("%s (maturity %.2f) has no %s finding, but %q fired: %s", o.Tenant.ID, o.Maturity, det.kind, det.title, det.rec.Body)
			return
		}
		if det.kind == RDPExposed {
			return // seen on the wire: the record names the sensor, not the host
		}
		if name, ok := strings.CutSuffix(det.host, "."+o.Domain); !ok || !slices.Contains(o.Hygiene[i].Hosts, name) {
			t.Errorf("%s: %s detected on %q, not one of %v", o.Tenant.ID, det.kind, det.host, o.Hygiene[i].Hosts)
		}
	})
	if attacks > 0 {
		t.Errorf("%d attack detections on the baseline and hygiene events", attacks)
	}
	kinds := map[HygieneKind]bool{}
	weak := 0
	for _, o := range orgs {
		for _, f := range o.Hygiene {
			kinds[f.Kind] = true
			if got[key{o.Tenant.ID, f.Kind}] == 0 {
				t.Errorf("%s (maturity %.2f): %s on %v never detected in 40 minutes", o.Tenant.ID, o.Maturity, f.Kind, f.Hosts)
			}
		}
		if o.Maturity < 0.45 {
			weak++
			if len(o.Hygiene) == 0 {
				t.Errorf("%s (maturity %.2f) reveals no weakness", o.Tenant.ID, o.Maturity)
			}
		}
	}
	for _, k := range HygieneKinds() {
		if !kinds[k] {
			t.Errorf("no organisation has a %s finding: the test proves nothing for it", k)
		}
	}
	if len(strongest.Hygiene) > 0 || weak == 0 {
		t.Errorf("strongest %s (maturity %.2f) has findings %v; %d weak organisations", strongest.Tenant.ID, strongest.Maturity, strongest.Hygiene, weak)
	}
	t.Logf("%d records; hygiene detections per kind: %v", len(recs), perKind)
}

// TestHygieneRecords checks the findings' records: consistent hosts, real shapes, and
// the organisation's agent version on every Winlogbeat and Filebeat document.
func TestHygieneRecords(t *testing.T) {
	g := New(Config{Seed: 4, BaselinePerSecond: 5, AttacksPerDay: -1})
	orgs := map[tenant.ID]Org{}
	for _, o := range g.Orgs() {
		orgs[o.Tenant.ID] = o
	}
	seen := map[string]int{}
	for _, d := range decode(t, ticks(g, 90, 10*time.Second)) {
		o := orgs[d.Org]
		if d.m != nil && str(d.m, "agent.type") != "" && str(d.m, "agent.version") != o.AgentVersion {
			t.Fatalf("%s runs agent %s, the document says %s", o.Tenant.ID, o.AgentVersion, str(d.m, "agent.version"))
		}
		hosts := func(k HygieneKind) []string {
			for _, f := range o.Hygiene {
				if f.Kind == k {
					return f.Hosts
				}
			}
			t.Fatalf("%s has no %s finding but sent %s", o.Tenant.ID, k, d.Body)
			return nil
		}
		host, _ := strings.CutSuffix(str(d.m, "host.name"), "."+o.Domain)
		switch {
		case d.win("Microsoft-Windows-Windows Defender/Operational", 5001), d.win("Microsoft-Windows-Windows Defender/Operational", 5010),
			d.win("Microsoft-Windows-Windows Defender/Operational", 5012):
			seen["defender"]++
			if !slices.Contains(hosts(DefenderDisabled), host) || d.ed("Product Name") == "" || str(d.m, "log.level") != "warning" {
				t.Errorf("Defender event: %s", d.Body)
			}
		case d.win("Windows PowerShell", 400):
			seen["powershell"]++
			if !slices.Contains(hosts(PowerShellV2), host) || d.ed("param1") != "Available" ||
				!strings.Contains(d.ed("param3"), "\tEngineVersion=2.0\r\n") || !strings.Contains(d.ed("param3"), "HostApplication=") {
				t.Errorf("PowerShell 400: %s", d.Body)
			}
		case d.win(securityChannel, 4624) && d.ed("LogonType") == "8":
			seen["cleartext"]++
			if !slices.Contains(hosts(CleartextLogon), host) || !ipIn(o.Internal, d.ed("IpAddress")) {
				t.Errorf("cleartext logon: %s", d.Body)
			}
		case d.win(sysmonChannel, 13):
			seen["smb1-setting"]++
			if !slices.Contains(hosts(SMBv1), host) || !strings.Contains(d.ed("TargetObject"), `\Services\`) {
				t.Errorf("SMB 1 setting: %s", d.Body)
			}
		case d.win("Microsoft-Windows-SMBServer/Audit", 3000):
			seen["smb1-access"]++
			if !slices.Contains(hosts(SMBv1), host) || !ipIn(o.Internal, d.ed("ClientName")) {
				t.Errorf("SMB1 access: %s", d.Body)
			}
		case d.win(securityChannel, 4719), d.win(securityChannel, 1102):
			seen["logging"]++
			if !slices.Contains(hosts(LoggingDisabled), host) {
				t.Errorf("logging disabled: %s", d.Body)
			}
			if d.win(securityChannel, 1102) && (str(d.m, "winlog.user_data.SubjectUserName") == "" || str(d.m, "winlog.provider_name") != "Microsoft-Windows-Eventlog") {
				t.Errorf("1102: %s", d.Body)
			}
		case d.win(systemChannel, 7036):
			seen["agent"]++
			if !slices.Contains(hosts(OutdatedAgent), host) || !strings.HasPrefix(o.AgentVersion, "7.") {
				t.Errorf("agent restart: %s", d.Body)
			}
		case str(d.m, "_path") == "rdp":
			seen["rdp"]++
			rds := hosts(RDPExposed)[0]
			ip := ""
			for _, s := range g.sites {
				if s.Tenant.ID == o.Tenant.ID {
					ip = s.win[s.rds].ip
				}
			}
			if !isPublic(str(d.m, "id.orig_h")) || str(d.m, "id.resp_h") != ip || str(d.m, "id.resp_p") != "3389" || str(d.m, "security_protocol") == "" {
				t.Errorf("rdp to %s (%s): %s", rds, ip, d.Body)
			}
		}
	}
	for _, k := range []string{"defender", "powershell", "cleartext", "smb1-setting", "smb1-access", "logging", "agent", "rdp"} {
		if seen[k] == 0 {
			t.Errorf("no %s records in 15 minutes", k)
		}
	}
	t.Logf("hygiene records: %v", seen)
}
