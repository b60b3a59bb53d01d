package simulate

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// combinedLog matches an nginx/Apache combined log format line.
var combinedLog = regexp.MustCompile(`^(\S+) - - \[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000)\] "([A-Z]+) (\S+) HTTP/1\.1" (\d{3}) (\d+) "([^"]*)" "([^"]*)"$`)

var sshFrom = regexp.MustCompile(`from (\S+) port (\d+)`)

// TestScenarios plays every scenario against every organisation and checks the
// records carry what detections rely on.
func TestScenarios(t *testing.T) {
	g := New(Config{Seed: 9})
	checks := map[string]func(t *testing.T, o Org, ds []decoded){
		"ssh-bruteforce":  checkSSHBruteforce,
		"rdp-bruteforce":  checkRDPBruteforce,
		"phishing-macro":  checkPhishingMacro,
		"lsass-dump":      checkLsassDump,
		"psexec-lateral":  checkPsexecLateral,
		"ransomware-prep": checkRansomwarePrep,
		"web-shell":       checkWebShell,
		"dns-tunnelling":  checkDNSTunnelling,
		"beaconing":       checkBeaconing,
	}
	withAlert := map[string]bool{"ssh-bruteforce": true, "rdp-bruteforce": true, "phishing-macro": true, "psexec-lateral": true,
		"web-shell": true, "dns-tunnelling": true, "beaconing": true}
	for _, sc := range Scenarios() {
		check := checks[sc.Name]
		if check == nil {
			t.Fatalf("no check for scenario %q", sc.Name)
		}
		t.Run(sc.Name, func(t *testing.T) {
			for i, o := range g.Orgs() {
				start := t0.Add(time.Duration(i) * time.Minute)
				recs, err := g.Scenario(sc.Name, o.Tenant.ID, start)
				if err != nil {
					t.Fatal(err)
				}
				ds := decode(t, recs)
				if len(ds) == 0 {
					t.Fatalf("%s: no records", o.Tenant.ID)
				}
				alerts := 0
				for _, d := range ds {
					if d.Org != o.Tenant.ID || d.Scenario != sc.Name || d.Time.Before(start) || d.Time.After(start.Add(4*time.Minute)) {
						t.Fatalf("%s: record org %q scenario %q time %v", o.Tenant.ID, d.Org, d.Scenario, d.Time)
					}
					if str(d.m, "event_type") == "alert" {
						alerts++
						if str(d.m, "alert.signature") == "" || str(d.m, "alert.signature_id") == "" || str(d.m, "alert.category") == "" ||
							str(d.m, "alert.severity") == "" || str(d.m, "proto") == "" {
							t.Fatalf("%s: incomplete EVE alert: %s", o.Tenant.ID, d.Body)
						}
					}
				}
				if want := withAlert[sc.Name] && o.Sensor != ""; want != (alerts > 0) {
					t.Errorf("%s (sensor %q): %d Suricata alerts", o.Tenant.ID, o.Sensor, alerts)
				}
				check(t, o, ds)
				if t.Failed() {
					t.Fatalf("%s failed for org %s", sc.Name, o.Tenant.ID)
				}
			}
		})
	}
}

func checkSSHBruteforce(t *testing.T, o Org, ds []decoded) {
	times := map[string][]time.Time{}
	hosts := map[string]bool{}
	for _, d := range ds {
		if d.sys == nil {
			continue
		}
		if d.sys.app != "sshd" || (d.sys.pri>>3 != facAuth && d.sys.pri>>3 != facAuthpriv) {
			t.Errorf("sshd line with app %q facility %d", d.sys.app, d.sys.pri>>3)
		}
		if !strings.HasPrefix(d.sys.msg, "Failed password") && !strings.HasPrefix(d.sys.msg, "Invalid user") {
			continue
		}
		m := sshFrom.FindStringSubmatch(d.sys.msg)
		if m == nil {
			t.Fatalf("sshd failure without source: %q", d.sys.msg)
		}
		times[m[1]] = append(times[m[1]], d.sys.time)
		hosts[d.sys.host] = true
	}
	ok := false
	for ip, ts := range times {
		if len(ts) >= 15 && ts[len(ts)-1].Sub(ts[0]) <= 60*time.Second && isPublic(ip) {
			ok = true
		}
	}
	if !ok || len(hosts) != 1 {
		t.Errorf("want >= 15 sshd failures from one public IP within 60s against one host; got %v on %v", lens(times), hosts)
	}
}

func checkRDPBruteforce(t *testing.T, o Org, ds []decoded) {
	type acc struct {
		times []time.Time
		users map[string]bool
		hosts map[string]bool
	}
	byIP := map[string]*acc{}
	for _, d := range ds {
		if !d.win(securityChannel, 4625) {
			continue
		}
		if lt := d.ed("LogonType"); lt != "3" && lt != "10" {
			t.Errorf("4625 LogonType %q", lt)
		}
		if d.ed("Status") != "0xc000006d" || (d.ed("SubStatus") != "0xc000006a" && d.ed("SubStatus") != "0xc0000064") ||
			d.ed("TargetDomainName") == "" || d.ed("IpPort") == "" || d.ed("WorkstationName") == "" {
			t.Errorf("4625 fields: %s", d.Body)
		}
		a := byIP[d.ed("IpAddress")]
		if a == nil {
			a = &acc{users: map[string]bool{}, hosts: map[string]bool{}}
			byIP[d.ed("IpAddress")] = a
		}
		a.times = append(a.times, d.Time)
		a.users[d.ed("TargetUserName")] = true
		a.hosts[str(d.m, "host.name")] = true
	}
	if len(byIP) != 1 {
		t.Fatalf("4625s from %d addresses, want 1", len(byIP))
	}
	for ip, a := range byIP {
		if !isPublic(ip) || len(a.times) < 12 || len(a.times) > 30 || a.times[len(a.times)-1].Sub(a.times[0]) > 2*time.Minute ||
			len(a.users) < 5 || len(a.hosts) != 1 || !strings.HasPrefix(first(a.hosts), "SRV-") {
			t.Errorf("from %s: %d failures over %v, %d users, hosts %v", ip, len(a.times), a.times[len(a.times)-1].Sub(a.times[0]), len(a.users), a.hosts)
		}
	}
}

func checkPhishingMacro(t *testing.T, o Org, ds []decoded) {
	var domain, c2 string
	for _, d := range ds {
		if d.win(sysmonChannel, 1) && d.ed("ParentImage") == imgWord &&
			d.ed("Image") == `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe` {
			cmd := d.ed("CommandLine")
			m := regexp.MustCompile(`DownloadString\('http://([a-z0-9.-]+)/[a-z]+\.ps1'\)`).FindStringSubmatch(cmd)
			if m == nil || !strings.Contains(cmd, "-nop -w hidden") || d.ed("ParentCommandLine") == "" {
				t.Errorf("PowerShell command line %q", cmd)
				continue
			}
			domain = m[1]
		}
	}
	if domain == "" {
		t.Fatal("no Sysmon 1 of WINWORD.EXE starting powershell.exe")
	}
	for _, d := range ds {
		if d.win(sysmonChannel, 22) && d.ed("QueryName") == domain {
			c2 = strings.TrimSuffix(strings.TrimPrefix(d.ed("QueryResults"), "::ffff:"), ";")
		}
	}
	if !isPublic(c2) {
		t.Fatalf("no Sysmon 22 resolving %q to a public address (got %q)", domain, c2)
	}
	conn := false
	for _, d := range ds {
		if d.win(sysmonChannel, 3) && d.ed("DestinationIp") == c2 && d.ed("DestinationHostname") == domain &&
			strings.HasSuffix(d.ed("Image"), `\powershell.exe`) && d.ed("Initiated") == "true" {
			conn = true
		}
	}
	if !conn {
		t.Errorf("no Sysmon 3 from powershell.exe to %s (%s)", c2, domain)
	}
}

func checkLsassDump(t *testing.T, o Org, ds []decoded) {
	found := false
	writable := regexp.MustCompile(`(?i)^C:\\(Users\\Public\\|ProgramData\\|Windows\\Temp\\|Users\\[^\\]+\\AppData\\)`)
	for _, d := range ds {
		if d.win(sysmonChannel, 10) {
			ga := d.ed("GrantedAccess")
			if strings.HasSuffix(strings.ToLower(d.ed("TargetImage")), `\lsass.exe`) && (ga == "0x1010" || ga == "0x1410") &&
				writable.MatchString(d.ed("SourceImage")) && d.ed("CallTrace") != "" && d.ed("SourceUser") != "" && d.ed("TargetUser") != "" {
				found = true
			}
		}
		if d.win(sysmonChannel, 1) && strings.Contains(d.ed("CommandLine"), "comsvcs.dll") &&
			!regexp.MustCompile(`comsvcs\.dll, MiniDump \d+ C:\\Windows\\Temp\\lsass\.dmp full$`).MatchString(d.ed("CommandLine")) {
			t.Errorf("comsvcs command line %q", d.ed("CommandLine"))
		}
	}
	if !found {
		t.Error("no Sysmon 10 of a user-writable tool opening lsass.exe with 0x1010/0x1410")
	}
}

func checkPsexecLateral(t *testing.T, o Org, ds []decoded) {
	var logon, svc, shell *decoded
	for i := range ds {
		d := &ds[i]
		switch {
		case d.win(securityChannel, 4624) && d.ed("LogonType") == "3":
			logon = d
		case d.win(systemChannel, 7045):
			svc = d
		case d.win(sysmonChannel, 1) && d.ed("ParentImage") == `C:\Windows\PSEXESVC.exe`:
			shell = d
		}
	}
	if logon == nil || svc == nil || shell == nil {
		t.Fatalf("want 4624, 7045 and Sysmon 1 under PSEXESVC; got %v %v %v", logon != nil, svc != nil, shell != nil)
	}
	if !ipIn(o.Internal, logon.ed("IpAddress")) {
		t.Errorf("4624 from %q, not in %s", logon.ed("IpAddress"), o.Internal)
	}
	if svc.ed("ServiceName") != "PSEXESVC" || svc.ed("ImagePath") != `%SystemRoot%\PSEXESVC.exe` ||
		str(svc.m, "winlog.provider_name") != "Service Control Manager" || svc.ed("StartType") == "" || svc.ed("AccountName") == "" {
		t.Errorf("7045: %s", svc.Body)
	}
	if d := svc.Time.Sub(logon.Time); d < 0 || d > time.Minute {
		t.Errorf("7045 %v after the logon", d)
	}
	host := str(logon.m, "host.name")
	if str(svc.m, "host.name") != host || str(shell.m, "host.name") != host {
		t.Errorf("hosts differ: %s %s %s", host, str(svc.m, "host.name"), str(shell.m, "host.name"))
	}
	if !strings.HasSuffix(shell.ed("Image"), `\cmd.exe`) || !strings.HasPrefix(shell.ed("CommandLine"), "cmd.exe /c ") {
		t.Errorf("shell %q %q", shell.ed("Image"), shell.ed("CommandLine"))
	}
}

func checkRansomwarePrep(t *testing.T, o Org, ds []decoded) {
	want := map[string]string{
		`vssadmin.exe Delete Shadows /All /Quiet`:       `C:\Windows\System32\vssadmin.exe`,
		`wmic.exe shadowcopy delete`:                    `C:\Windows\System32\wbem\WMIC.exe`,
		`bcdedit.exe /set {default} recoveryenabled No`: `C:\Windows\System32\bcdedit.exe`,
		`wbadmin.exe delete catalog -quiet`:             `C:\Windows\System32\wbadmin.exe`,
	}
	hosts := map[string]bool{}
	for _, d := range ds {
		if d.win(sysmonChannel, 1) && want[d.ed("CommandLine")] == d.ed("Image") {
			delete(want, d.ed("CommandLine"))
			hosts[str(d.m, "host.name")] = true
		}
	}
	if len(want) > 0 || len(hosts) != 1 {
		t.Errorf("missing Sysmon 1 %v; hosts %v", want, hosts)
	}
}

func checkWebShell(t *testing.T, o Org, ds []decoded) {
	want := map[string]bool{"POST /uploads/shell.php": true, "GET /uploads/shell.php?cmd=whoami": true,
		"GET /uploads/shell.php?cmd=net+user": true, "GET /uploads/shell.php?cmd=cat+/etc/passwd": true}
	clients := map[string]bool{}
	w3wp := 0
	for _, d := range ds {
		if str(d.m, "event.dataset") == "nginx.access" {
			m := combinedLog.FindStringSubmatch(str(d.m, "message"))
			if m == nil {
				t.Fatalf("not a combined log line: %q", str(d.m, "message"))
			}
			if m[5] != "200" || str(d.m, "log.file.path") != "/var/log/nginx/access.log" || str(d.m, "agent.type") != "filebeat" {
				t.Errorf("access log: %s", d.Body)
			}
			delete(want, m[3]+" "+m[4])
			clients[m[1]] = true
		}
		if d.win(sysmonChannel, 1) && d.ed("ParentImage") == `c:\windows\system32\inetsrv\w3wp.exe` && d.ed("CommandLine") == "cmd.exe /c whoami" {
			w3wp++
		}
	}
	if len(want) > 0 {
		t.Errorf("missing requests %v", want)
	}
	if len(clients) != 1 || !isPublic(first(clients)) {
		t.Errorf("clients %v, want one public address", clients)
	}
	if (w3wp > 0) != o.IIS {
		t.Errorf("IIS %v but %d whoami under w3wp.exe", o.IIS, w3wp)
	}
}

func checkDNSTunnelling(t *testing.T, o Org, ds []decoded) {
	names := map[string]bool{}
	hosts := map[string]bool{}
	var times []time.Time
	zeek := 0
	for _, d := range ds {
		switch {
		case d.win(sysmonChannel, 22):
			q := d.ed("QueryName")
			label, parent, _ := strings.Cut(q, ".")
			if len(label) < 40 || !regexp.MustCompile(`^[a-z2-7]+$|^[0-9a-f]+$`).MatchString(label) || parent != "t.exfil-data-sync.com" {
				t.Errorf("query %q", q)
			}
			names[q] = true
			hosts[str(d.m, "host.name")] = true
			times = append(times, d.Time)
		case str(d.m, "_path") == "dns":
			if !names[str(d.m, "query")] || str(d.m, "qtype_name") != "TXT" || str(d.m, "rcode_name") != "NOERROR" {
				t.Errorf("Zeek dns: %s", d.Body)
			}
			if _, ok := get(d.m, "answers").([]any); !ok {
				t.Errorf("Zeek dns answers: %s", d.Body)
			}
			zeek++
		}
	}
	if len(names) < 25 || len(names) > 60 || len(hosts) != 1 || times[len(times)-1].Sub(times[0]) > 150*time.Second {
		t.Errorf("%d distinct names from %v over %v", len(names), hosts, times[len(times)-1].Sub(times[0]))
	}
	if want := len(names) * btoi(o.Sensor != ""); zeek != want {
		t.Errorf("%d Zeek dns records, want %d", zeek, want)
	}
}

func checkBeaconing(t *testing.T, o Org, ds []decoded) {
	type key struct{ host, image, ip, port, guid string }
	byKey := map[key][]time.Time{}
	for _, d := range ds {
		if d.win(sysmonChannel, 3) {
			if d.ed("Initiated") != "true" || d.ed("Protocol") != "tcp" || d.ed("SourceIp") == "" || d.ed("User") == "" {
				t.Errorf("Sysmon 3: %s", d.Body)
			}
			k := key{str(d.m, "host.name"), d.ed("Image"), d.ed("DestinationIp"), d.ed("DestinationPort"), d.ed("ProcessGuid")}
			byKey[k] = append(byKey[k], d.Time)
		}
	}
	if len(byKey) != 1 {
		t.Fatalf("beacons on %d (host, image, destination) keys, want 1", len(byKey))
	}
	for k, ts := range byKey {
		span := ts[len(ts)-1].Sub(ts[0])
		if !isPublic(k.ip) || k.port != "443" || len(ts) < 35 || len(ts) > 80 || span < 100*time.Second || span > 190*time.Second {
			t.Errorf("%+v: %d beacons over %v", k, len(ts), span)
		}
		if !strings.Contains(k.image, `\AppData\`) && k.image != imgRundll {
			t.Errorf("beaconing image %q", k.image)
		}
		var gaps []time.Duration
		for i := 1; i < len(ts); i++ {
			gaps = append(gaps, ts[i].Sub(ts[i-1]))
		}
		sorted := slices.Clone(gaps)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
		med := sorted[len(sorted)/2]
		for _, gp := range gaps {
			if gp < med*3/4 || gp > med*5/4 {
				t.Errorf("beacon gap %v, median %v: not regular", gp, med)
				break
			}
		}
	}
}

func lens(m map[string][]time.Time) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = len(v)
	}
	return out
}

func first(m map[string]bool) string {
	for k := range m {
		return k
	}
	return ""
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
