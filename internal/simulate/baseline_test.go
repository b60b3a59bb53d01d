package simulate

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBaselineClean checks benign traffic stays clear of the attack detections: by
// what the records say, and through the real decoders and the built-in rule pack, where
// only hygiene rules (mamori.hygiene.<kind>) may fire.
func TestBaselineClean(t *testing.T) {
	g := New(Config{Seed: 21, AttacksPerDay: -1})
	recs := ticks(g, 12, time.Second)
	if len(recs) < 20000 {
		t.Fatalf("only %d baseline records", len(recs))
	}
	ds := decode(t, recs)

	office := regexp.MustCompile(`(?i)\\(winword|excel|powerpnt|outlook|msaccess|mspub|onenote)\.exe$`)
	shell := regexp.MustCompile(`(?i)\\(cmd|powershell|pwsh|wscript|cscript|mshta|rundll32|regsvr32|bitsadmin|certutil)\.exe$`)
	ssh := regexp.MustCompile(`^(Failed password|Invalid user) .*from (\S+) port`)
	type connKey struct{ org, host, image, ip string }
	conns := map[connKey]int{}
	failedByIP := map[string]int{}
	sshFailByIP := map[string]int{}
	kinds := map[string]int{}
	var names []string
	var attackerStrings [][]byte
	for _, gr := range g.groups {
		for _, ip := range append(append([]string{}, gr.ips...), gr.c2IPs...) {
			attackerStrings = append(attackerStrings, []byte(ip))
		}
		for _, d := range gr.c2Domains {
			attackerStrings = append(attackerStrings, []byte(d))
		}
		attackerStrings = append(attackerStrings, []byte("exfil-data-sync"))
	}
	for _, d := range ds {
		if d.Scenario != "" {
			t.Fatalf("scenario record %q with attacks off", d.Scenario)
		}
		low := bytes.ToLower(d.Body)
		for _, bad := range []string{"lsass", "psexesvc", "downloadstring", "shell.php", "mimikatz", "procdump", "comsvcs",
			"shadowcopy", "delete shadows", "recoveryenabled", "delete catalog", "-enc", "iex "} {
			if bytes.Contains(low, []byte(bad)) {
				t.Fatalf("baseline record mentions %q: %s", bad, d.Body)
			}
		}
		for _, s := range attackerStrings {
			if bytes.Contains(d.Body, s) {
				t.Fatalf("baseline record mentions attacker infrastructure %s: %s", s, d.Body)
			}
		}
		switch {
		case d.win(sysmonChannel, 1) || d.win(securityChannel, 4688):
			kinds["process"]++
			image, parent := d.ed("Image"), d.ed("ParentImage")
			if d.win(securityChannel, 4688) {
				image, parent = d.ed("NewProcessName"), d.ed("ParentProcessName")
			}
			if office.MatchString(parent) && shell.MatchString(image) {
				t.Errorf("Office spawns a shell: %s", d.Body)
			}
			if strings.Contains(strings.ToLower(d.ed("CommandLine")), "http") && strings.Contains(image, "powershell") {
				t.Errorf("PowerShell with a URL: %s", d.Body)
			}
		case d.win(sysmonChannel, 3):
			kinds["conn"]++
			if ip := d.ed("DestinationIp"); isPublic(ip) {
				conns[connKey{string(d.Org), str(d.m, "host.name"), d.ed("Image"), ip}]++
			}
		case d.win(sysmonChannel, 10):
			t.Errorf("Sysmon 10 in the baseline: %s", d.Body)
		case d.win(sysmonChannel, 22):
			kinds["dns"]++
			names = append(names, d.ed("QueryName"))
		case d.win(securityChannel, 4625):
			kinds["4625"]++
			failedByIP[string(d.Org)+"/"+d.ed("IpAddress")]++
		case d.sys != nil && d.sys.app == "sshd":
			if m := ssh.FindStringSubmatch(d.sys.msg); m != nil {
				kinds["sshfail"]++
				sshFailByIP[string(d.Org)+"/"+m[2]]++
			}
		case str(d.m, "event_type") == "dns":
			names = append(names, str(d.m, "dns.rrname"))
		case str(d.m, "event_type") == "alert":
			kinds["alert"]++
			if sev := str(d.m, "alert.severity"); sev != "3" {
				t.Errorf("baseline Suricata alert of severity %s: %s", sev, d.Body)
			}
		case str(d.m, "_path") == "dns":
			names = append(names, str(d.m, "query"))
		case str(d.m, "event.dataset") == "nginx.access":
			kinds["web"]++
			if m := combinedLog.FindStringSubmatch(str(d.m, "message")); m == nil || strings.Contains(m[4], "cmd=") {
				t.Errorf("access log line %q", str(d.m, "message"))
			}
		}
	}
	for k, n := range conns {
		if n >= 30 {
			t.Errorf("%+v: %d connections", k, n)
		}
	}
	for ip, n := range failedByIP {
		if n >= 10 {
			t.Errorf("%s: %d failed Windows logons", ip, n)
		}
	}
	for ip, n := range sshFailByIP {
		if n >= 10 {
			t.Errorf("%s: %d sshd failures", ip, n)
		}
	}
	for _, name := range names {
		for _, label := range strings.Split(name, ".") {
			if len(label) >= 30 {
				t.Errorf("DNS name %q has a %d-character label", name, len(label))
			}
		}
	}
	// The mix must still contain each kind, or the checks above prove nothing.
	for _, k := range []string{"process", "conn", "dns", "4625", "sshfail", "web"} {
		if kinds[k] == 0 {
			t.Errorf("no baseline %s records in %d", k, len(ds))
		}
	}
	t.Logf("%d records: %v; %d DNS names", len(ds), kinds, len(names))

	hygiene, attacks := map[HygieneKind]int{}, 0
	newDetector(t).run(t, recs, func(det detection) {
		if det.kind != "" {
			hygiene[det.kind]++
			return
		}
		if attacks++; attacks <= 10 {
			t.Errorf("attack detection %q on the baseline: %s", det.title, det.rec.Body)
		}
	})
	if attacks > 0 {
		t.Errorf("%d attack detections on the baseline", attacks)
	}
	t.Logf("hygiene detections: %v", hygiene)
}
