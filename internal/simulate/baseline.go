package simulate

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// Benign traffic: the bulk of the volume. It is meant to look like a working day and to
// stay clear of every attack detection: Office never spawns a shell, PowerShell never
// downloads, failed logons come one or two at a time, DNS labels are short.

// Well-known images.
const (
	imgChrome     = `C:\Program Files\Google\Chrome\Application\chrome.exe`
	imgEdge       = `C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe`
	imgTeams      = `C:\Program Files\WindowsApps\MSTeams_24295.605.3225.8804_x64__8wekyb3d8bbwe\ms-teams.exe`
	imgOfficeDir  = `C:\Program Files\Microsoft Office\root\Office16\`
	imgOutlook    = imgOfficeDir + `OUTLOOK.EXE`
	imgWord       = imgOfficeDir + `WINWORD.EXE`
	imgExcel      = imgOfficeDir + `EXCEL.EXE`
	imgPowerpnt   = imgOfficeDir + `POWERPNT.EXE`
	imgExplorer   = `C:\Windows\explorer.exe`
	imgSvchost    = `C:\Windows\System32\svchost.exe`
	imgServices   = `C:\Windows\System32\services.exe`
	imgUserinit   = `C:\Windows\System32\userinit.exe`
	imgPowershell = `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`
	imgCmd        = `C:\Windows\System32\cmd.exe`
	imgConhost    = `C:\Windows\System32\conhost.exe`
	imgNotepad    = `C:\Windows\System32\notepad.exe`
	imgAcrobat    = `C:\Program Files\Adobe\Acrobat DC\Acrobat\Acrobat.exe`
	imgTaskhostw  = `C:\Windows\System32\taskhostw.exe`
	imgSearchIdx  = `C:\Windows\System32\SearchIndexer.exe`
	imgSearchProt = `C:\Windows\System32\SearchProtocolHost.exe`
	imgWmiPrvSE   = `C:\Windows\System32\wbem\WmiPrvSE.exe`
	imgSystem     = "System"

	userSystem  = `NT AUTHORITY\SYSTEM`
	userNetwork = `NT AUTHORITY\NETWORK SERVICE`
)

// publicSite is a public service the estates talk to. Names have short labels, and each
// resolves to one fixed address.
type publicSite struct{ name, ip string }

var publicSites = []publicSite{
	{"www.google.com", "142.250.74.100"},
	{"update.googleapis.com", "142.250.74.131"},
	{"fonts.gstatic.com", "142.250.74.3"},
	{"clients2.google.com", "142.250.74.142"},
	{"login.microsoftonline.com", "20.190.159.2"},
	{"graph.microsoft.com", "20.190.151.7"},
	{"outlook.office365.com", "52.97.146.162"},
	{"teams.microsoft.com", "52.113.194.132"},
	{"settings-win.data.microsoft.com", "20.42.65.92"},
	{"ctldl.windowsupdate.com", "93.184.221.240"},
	{"ocsp.digicert.com", "93.184.220.29"},
	{"edge.microsoft.com", "13.107.21.239"},
	{"www.linkedin.com", "13.107.42.14"},
	{"officecdn.microsoft.com", "13.107.6.171"},
	{"www.bbc.co.uk", "151.101.0.81"},
	{"github.com", "140.82.121.4"},
	{"cdn.jsdelivr.net", "104.16.85.20"},
	{"www.wikipedia.org", "185.15.59.224"},
	{"slack.com", "34.194.164.123"},
	{"zoom.us", "170.114.52.2"},
}

const (
	siteOutlook = 6
	siteTeams   = 7
	siteWU      = 9
	siteOCSP    = 10
)

var documents = []string{"Quarterly Report.docx", "Team Meeting Notes.docx", "Policy Draft v3.docx", "Budget 2026.xlsx",
	"Staff Rota.xlsx", "Asset Register.xlsx", "Project Plan.pptx", "Board Briefing.pptx", "Invoice 4821.pdf", "Travel Guidelines.pdf"}

var userAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
}

var webPages = []struct {
	target string
	size   int
}{
	{"/", 18230}, {"/index.html", 18230}, {"/about", 9120}, {"/contact", 6410}, {"/news", 14302},
	{"/news/2026/11/annual-report-published", 11877}, {"/services", 12004}, {"/careers", 8790},
	{"/css/main.css", 48211}, {"/js/app.js", 120933}, {"/images/logo.png", 7341}, {"/images/hero.jpg", 231004},
	{"/favicon.ico", 1150}, {"/robots.txt", 68}, {"/search?q=opening+hours", 10211}, {"/sitemap.xml", 3022},
	{"/api/v1/status", 41}, {"/privacy", 15876}, {"/accessibility", 7420},
}

var web404s = []string{"/apple-touch-icon.png", "/news/2019/archive", "/old/index.htm", "/images/banner-2018.jpg", "/favicon.png"}

var linuxCommands = []string{
	"/usr/bin/systemctl restart nginx", "/usr/bin/systemctl status postgresql", "/usr/bin/journalctl -u nginx --since today",
	"/usr/bin/tail -n 200 /var/log/nginx/error.log", "/usr/bin/apt-get update", "/usr/bin/df -h", "/usr/bin/systemctl reload nginx",
	"/usr/bin/docker ps", "/usr/sbin/nginx -t",
}

var cronJobs = []struct{ user, cmd string }{
	{"root", "run-parts /etc/cron.hourly"}, {"root", "/usr/lib/php/sessionclean"},
	{"www-data", "php /var/www/html/cron.php > /dev/null 2>&1"}, {"root", "/usr/sbin/logrotate /etc/logrotate.conf"},
	{"root", "test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )"}, {"postgres", "/usr/local/bin/pg_backup.sh"},
}

var systemdMessages = []string{
	"Starting Daily apt download activities...", "Finished Daily apt download activities.", "logrotate.service: Deactivated successfully.",
	"Finished Rotate log files.", "Started Cleanup of Temporary Directories.", "Reloading A high performance web server and a reverse proxy server...",
	"Started Session 4117 of User deploy.", "Starting Message of the Day...", "motd-news.service: Deactivated successfully.",
}

var lowSignatures = []signature{
	{2013504, 6, "ET POLICY GNU/Linux APT User-Agent Outbound likely related to package management", "Not Suspicious Traffic", 3},
	{2027390, 3, "ET INFO Microsoft Windows Update Delivery Optimization Traffic", "Misc activity", 3},
	{2210045, 2, "SURICATA STREAM Packet with invalid ack", "Generic Protocol Command Decode", 3},
	{2016149, 2, "ET INFO Session Traversal Utilities for NAT (STUN Binding Request)", "Misc activity", 3},
}

// baseline kinds and their weights per 10,000 records.
const (
	bSysmonProc = iota
	bSecProc
	bSysmonNet
	bSysmonDNS
	bSysmonFile
	bLogon
	bLogonTypo
	bService
	bSSHAccept
	bSSHTypo
	bSudo
	bCron
	bSystemd
	bWeb
	bEveFlow
	bEveDNS
	bEveHTTP
	bEveAlert
	bZeekConn
	bZeekDNS
	numBaselineKinds
)

var baselineWeights = [numBaselineKinds]int{
	bSysmonProc: 1100, bSecProc: 700, bSysmonNet: 1500, bSysmonDNS: 1200, bSysmonFile: 400,
	bLogon: 1080, bLogonTypo: 10, bService: 2,
	bSSHAccept: 300, bSSHTypo: 3, bSudo: 300, bCron: 500, bSystemd: 300,
	bWeb:     1200,
	bEveFlow: 400, bEveDNS: 250, bEveHTTP: 150, bEveAlert: 5,
	bZeekConn: 300, bZeekDNS: 250,
}

var baselineCum = func() (c [numBaselineKinds]int) {
	t := 0
	for i, w := range baselineWeights {
		t += w
		c[i] = t
	}
	return c
}()

// buildVisitors makes n public addresses of web site visitors, from ranges no attacker
// group uses.
func buildVisitors(r *rand.Rand, n int) []string {
	firsts := []int{31, 37, 46, 62, 78, 81, 82, 84, 86, 88, 90, 94, 109, 151, 176, 188, 212, 213, 217}
	v := make([]string, n)
	for i := range v {
		v[i] = strconv.Itoa(firsts[r.IntN(len(firsts))]) + "." + strconv.Itoa(r.IntN(256)) + "." +
			strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(1+r.IntN(254))
	}
	return v
}

// baseline emits the benign records of (from, from+dt].
func (g *Generator) baseline(from time.Time, dt time.Duration) {
	if g.cfg.BaselinePerSecond <= 0 {
		return
	}
	want := g.cfg.BaselinePerSecond*dt.Seconds() + g.carry
	n := int(want)
	g.carry = want - float64(n)
	if n <= 0 {
		return
	}
	end := from.Add(dt)
	slot := float64(dt) / float64(n)
	start := len(g.out)
	for done := 0; done < n; done = len(g.out) - start {
		t := from.Add(time.Duration((float64(done) + 1 - g.r.Float64()) * slot))
		if t.After(end) {
			t = end
		}
		g.baselineOne(g.pickSite(), t, end)
	}
}

func (g *Generator) pickSite() *site {
	x := g.r.IntN(g.cumWeight[len(g.cumWeight)-1])
	i, j := 0, len(g.cumWeight)
	for i < j {
		m := (i + j) / 2
		if g.cumWeight[m] <= x {
			i = m + 1
		} else {
			j = m
		}
	}
	return g.sites[i]
}

// later is t plus d, but not after end: a follow-up record stays in the Tick.
func later(t time.Time, d time.Duration, end time.Time) time.Time {
	if t = t.Add(d); t.After(end) {
		return end
	}
	return t
}

func (g *Generator) ms(lo, hi int) time.Duration {
	return time.Duration(lo+g.r.IntN(hi-lo+1)) * time.Millisecond
}

// baselineOne emits one benign record (sometimes two: a typo and the retry).
func (g *Generator) baselineOne(s *site, t, end time.Time) {
	x := g.r.IntN(baselineCum[numBaselineKinds-1])
	k := 0
	for baselineCum[k] <= x {
		k++
	}
	if k >= bEveFlow && s.Sensor == "" {
		k = bSysmonNet // no sensor: the endpoint logs instead
	}
	r := g.r
	switch k {
	case bSysmonProc, bSecProc:
		h := &s.win[r.IntN(len(s.win))]
		var p proc
		g.benignProcess(s, h, &p)
		if k == bSysmonProc {
			g.sysmonProcess(s, h, t, &p)
		} else {
			g.securityProcess(s, h, t, &p)
		}
	case bSysmonNet:
		g.benignConnection(s, t)
	case bSysmonDNS:
		g.benignDNS(s, t)
	case bSysmonFile:
		g.benignFile(s, t)
	case bLogon:
		g.benignLogon(s, t)
	case bLogonTypo:
		ws := s.workstation(r)
		srv := &s.win[s.fs]
		l := logon{user: ws.user, domain: s.netbios, logonType: 3, ip: ws.ip, port: 49152 + r.IntN(16000),
			workstation: ws.name, process: "NtLmSsp", pkg: "NTLM"}
		g.securityLogon(s, srv, t, &l, false)
		l.port++
		g.securityLogon(s, srv, later(t, g.ms(2000, 6000), end), &l, true)
	case bService:
		h := s.workstation(r)
		g.serviceInstall(s, h, t, "edgeupdate", `"C:\Program Files (x86)\Microsoft\EdgeUpdate\MicrosoftEdgeUpdate.exe" /svc`,
			"auto start", "LocalSystem")
	case bSSHAccept:
		h := &s.lin[r.IntN(len(s.lin))]
		user := s.admins[r.IntN(len(s.admins))]
		g.sshd(s, h, t, 1000+r.IntN(60000), "Accepted publickey for ", user, s.workstation(r).ip, 49152+r.IntN(16000),
			" ssh2: ED25519 SHA256:"+keyFingerprint(s, user))
	case bSSHTypo:
		h := &s.lin[r.IntN(len(s.lin))]
		user := s.admins[r.IntN(len(s.admins))]
		ip, pid, port := s.workstation(r).ip, 1000+r.IntN(60000), 49152+r.IntN(16000)
		g.sshd(s, h, t, pid, "Failed password for ", user, ip, port, " ssh2")
		g.sshd(s, h, later(t, g.ms(1500, 4000), end), pid, "Accepted password for ", user, ip, port, " ssh2")
	case bSudo:
		h := &s.lin[r.IntN(len(s.lin))]
		user := s.admins[r.IntN(len(s.admins))]
		g.syslogMsg(s, h, t, facAuthpriv, sevNotice, "sudo", 1000+r.IntN(60000), "  ", user, " : TTY=pts/",
			strconv.Itoa(r.IntN(4)), " ; PWD=/home/", user, " ; USER=root ; COMMAND=", linuxCommands[r.IntN(len(linuxCommands))])
	case bCron:
		h := &s.lin[r.IntN(len(s.lin))]
		j := cronJobs[r.IntN(len(cronJobs))]
		g.syslogMsg(s, h, t, facCron, sevInfo, "CRON", 1000+r.IntN(60000), "(", j.user, ") CMD (", j.cmd, ")")
	case bSystemd:
		h := &s.lin[r.IntN(len(s.lin))]
		g.syslogMsg(s, h, t, facDaemon, sevInfo, "systemd", 1, systemdMessages[r.IntN(len(systemdMessages))])
	case bWeb:
		g.benignWeb(s, t)
	case bEveFlow:
		ws := s.workstation(r)
		ps := &publicSites[r.IntN(len(publicSites))]
		f := flow{srcIP: ws.ip, dstIP: ps.ip, dstPort: 443}
		g.eveFlow(s, t, &f, "tls", 800+r.IntN(4000), 2000+r.IntN(200000), g.ms(500, 120000))
	case bEveDNS:
		ws := s.workstation(r)
		ps := &publicSites[r.IntN(len(publicSites))]
		f := flow{srcIP: ws.ip, dstIP: s.win[s.dc].ip, dstPort: 53, udp: true}
		g.eveDNS(s, t, &f, ps.name, "A", ps.ip)
	case bEveHTTP:
		ws := s.workstation(r)
		ps := &publicSites[siteWU]
		url := "/msdownload/update/v3/static/trustedr/en/authrootstl.cab"
		if r.IntN(2) == 0 {
			ps = &publicSites[siteOCSP]
			url = "/MFEwTzBNMEswSTAJBgUrDgMCGgUABBTfqhLjKLEJQZPin0KCzkdAQpVYowQUsT7DaQP4v0cB1JgmGggC72NkK8MCEA"
		}
		f := flow{srcIP: ws.ip, dstIP: ps.ip, dstPort: 80}
		g.eveHTTP(s, t, &f, ps.name, url, "Microsoft-CryptoAPI/10.0", "GET", 200, 300+r.IntN(20000))
	case bEveAlert:
		sig := &lowSignatures[r.IntN(len(lowSignatures))]
		f := flow{srcIP: s.workstation(r).ip, dstIP: publicSites[r.IntN(len(publicSites))].ip, dstPort: 443}
		if sig.id == 2013504 {
			f = flow{srcIP: s.lin[r.IntN(len(s.lin))].ip, dstIP: "91.189.91.81", dstPort: 80}
		}
		g.eveAlert(s, t, &f, sig, "")
	case bZeekConn:
		ws := s.workstation(r)
		if r.IntN(3) == 0 {
			f := flow{srcIP: ws.ip, dstIP: s.win[s.fs].ip, dstPort: 445}
			g.zeekConn(s, t, &f, "smb", g.ms(10, 60000), 2000+r.IntN(50000), 5000+r.IntN(500000), "SF")
			return
		}
		ps := &publicSites[r.IntN(len(publicSites))]
		f := flow{srcIP: ws.ip, dstIP: ps.ip, dstPort: 443}
		g.zeekConn(s, t, &f, "ssl", g.ms(50, 90000), 800+r.IntN(4000), 2000+r.IntN(300000), "SF")
	case bZeekDNS:
		ws := s.workstation(r)
		ps := &publicSites[r.IntN(len(publicSites))]
		f := flow{srcIP: ws.ip, dstIP: s.win[s.dc].ip, dstPort: 53, udp: true}
		g.zeekDNS(s, t, &f, ps.name, "A", ps.ip)
	}
}

// benignProcess fills p with an everyday process start on h.
func (g *Generator) benignProcess(s *site, h *winHost, p *proc) {
	r := g.r
	if h.server {
		switch r.IntN(4) {
		case 0:
			*p = proc{image: imgSvchost, cmd: `C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule`,
				parentImage: imgServices, parentCmd: `C:\Windows\system32\services.exe`, user: userSystem, integrity: "System"}
		case 1:
			scripts := []string{`C:\Scripts\backup.ps1`, `C:\Scripts\cleanup-logs.ps1`, `C:\Scripts\report-disk-usage.ps1`}
			*p = proc{image: imgPowershell, cmd: `powershell.exe -NoProfile -File ` + scripts[r.IntN(len(scripts))],
				cwd: `C:\Scripts\`, parentImage: imgSvchost, parentCmd: `C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule`,
				user: h.account, integrity: "High"}
		case 2:
			*p = proc{image: imgWmiPrvSE, cmd: `C:\Windows\system32\wbem\wmiprvse.exe -secured -Embedding`,
				parentImage: imgSvchost, parentCmd: `C:\Windows\system32\svchost.exe -k DcomLaunch -p`, user: userNetwork, integrity: "System"}
		default:
			*p = proc{image: imgConhost, cmd: `\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1`,
				parentImage: imgPowershell, parentCmd: `powershell.exe -NoProfile -File C:\Scripts\backup.ps1`, user: h.account, integrity: "High"}
		}
		return
	}
	home := `C:\Users\` + h.user
	doc := documents[r.IntN(len(documents))]
	switch r.IntN(12) {
	case 0:
		*p = proc{image: imgChrome, cmd: `"` + imgChrome + `" `, parentImage: imgExplorer, parentCmd: `C:\Windows\Explorer.EXE`}
	case 1:
		*p = proc{image: imgChrome, cmd: `"` + imgChrome + `" --type=renderer --lang=en-GB --renderer-client-id=` + strconv.Itoa(5+r.IntN(200)),
			parentImage: imgChrome, parentCmd: `"` + imgChrome + `" `, integrity: "Untrusted"}
	case 2:
		*p = proc{image: imgEdge, cmd: `"` + imgEdge + `" --single-argument https://intranet.` + s.Domain + `/`,
			parentImage: imgExplorer, parentCmd: `C:\Windows\Explorer.EXE`}
	case 3:
		*p = proc{image: imgOutlook, cmd: `"` + imgOutlook + `" `, parentImage: imgExplorer, parentCmd: `C:\Windows\Explorer.EXE`}
	case 4:
		img := imgWord
		switch doc[len(doc)-4:] {
		case "xlsx":
			img = imgExcel
		case "pptx":
			img = imgPowerpnt
		case ".pdf":
			img = imgAcrobat
		}
		*p = proc{image: img, cmd: `"` + img + `" "` + home + `\Documents\` + doc + `"`,
			parentImage: imgExplorer, parentCmd: `C:\Windows\Explorer.EXE`}
	case 5:
		*p = proc{image: imgWord, cmd: `"` + imgWord + `" /n "` + home + `\Documents\` + documents[r.IntN(3)] + `" /o ""`,
			parentImage: imgOutlook, parentCmd: `"` + imgOutlook + `" `}
	case 6:
		*p = proc{image: imgTeams, cmd: `"` + imgTeams + `" msteams:system-initiated`, parentImage: imgExplorer, parentCmd: `C:\Windows\Explorer.EXE`}
	case 7:
		*p = proc{image: imgNotepad, cmd: `"` + imgNotepad + `" ` + home + `\Documents\notes.txt`, parentImage: imgExplorer, parentCmd: `C:\Windows\Explorer.EXE`}
	case 8:
		*p = proc{image: imgExplorer, cmd: `C:\Windows\Explorer.EXE`, parentImage: imgUserinit, parentCmd: `C:\Windows\system32\userinit.exe`}
	case 9:
		*p = proc{image: imgTaskhostw, cmd: `taskhostw.exe -RegisterDevice -ProtectionStateChanged -FreeNetworkOnly`,
			parentImage: imgSvchost, parentCmd: `C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule`}
	case 10:
		*p = proc{image: imgSearchProt, cmd: `"C:\Windows\system32\SearchProtocolHost.exe" Global\UsGthrFltPipeMssGthrPipe7_ Global\UsGthrCtrlFltPipeMssGthrPipe7 1 -2147483646 "Software\Microsoft\Windows Search" "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT; MS Search 4.0 Robot)" "C:\ProgramData\Microsoft\Search\Data\Temp\usgthrsvc" "DownLevelDaemon"`,
			parentImage: imgSearchIdx, parentCmd: `C:\Windows\system32\SearchIndexer.exe /Embedding`, user: userSystem, integrity: "System"}
	default:
		*p = proc{image: imgAcrobat, cmd: `"` + imgAcrobat + `" "` + home + `\Downloads\Invoice 4821.pdf"`,
			parentImage: imgChrome, parentCmd: `"` + imgChrome + `" `}
	}
	if p.user == "" {
		p.user = h.account
	}
	if p.cwd == "" {
		p.cwd = home + `\`
	}
}

// benignConnection emits a Sysmon 3: mostly to internal servers, some to public services.
func (g *Generator) benignConnection(s *site, t time.Time) {
	r := g.r
	h := &s.win[r.IntN(len(s.win))]
	c := netConn{image: imgSvchost, user: userNetwork, srcIP: h.ip}
	switch x := r.IntN(10); {
	case x < 3:
		dc := &s.win[s.dc]
		c.dstIP, c.dstHost = dc.ip, dc.fqdn
		c.dstPort = []int{88, 389, 135, 445}[r.IntN(4)]
	case x < 5:
		fs := &s.win[s.fs]
		c.image, c.user, c.dstIP, c.dstHost, c.dstPort = imgSystem, userSystem, fs.ip, fs.fqdn, 445
	case x < 6:
		web := &s.lin[s.web]
		c.image, c.user = imgChrome, h.account
		c.dstIP, c.dstHost, c.dstPort = web.ip, "intranet."+s.Domain, 443
	default:
		ps := &publicSites[r.IntN(len(publicSites))]
		switch r.IntN(5) {
		case 0:
			ps = &publicSites[siteTeams]
			c.image = imgTeams
		case 1:
			ps = &publicSites[siteOutlook]
			c.image = imgOutlook
		case 2:
			c.image = imgEdge
		default:
			c.image = imgChrome
		}
		c.user = h.account
		if h.server {
			ps = &publicSites[siteWU]
			c.image, c.user = imgSvchost, userNetwork
		}
		c.dstIP, c.dstHost, c.dstPort = ps.ip, ps.name, 443
	}
	g.sysmonNetwork(s, h, t, &c)
}

// benignDNS emits a Sysmon 22 for a public or an internal name.
func (g *Generator) benignDNS(s *site, t time.Time) {
	r := g.r
	h := &s.win[r.IntN(len(s.win))]
	images := [...]string{imgChrome, imgEdge, imgTeams, imgOutlook, imgSvchost}
	img := images[r.IntN(len(images))]
	user := h.account
	if img == imgSvchost {
		user = userNetwork
	}
	if r.IntN(4) == 0 {
		srv := &s.win[s.nWS+r.IntN(len(s.win)-s.nWS)]
		g.sysmonDNS(s, h, t, img, user, g.pid(), [2]uint64{}, srv.fqdn, "0", "::ffff:"+srv.ip+";")
		return
	}
	ps := &publicSites[r.IntN(len(publicSites))]
	g.sysmonDNS(s, h, t, img, user, g.pid(), [2]uint64{}, ps.name, "0", "::ffff:"+ps.ip+";")
}

// benignFile emits a Sysmon 11: downloads, Office temp files, saved attachments.
func (g *Generator) benignFile(s *site, t time.Time) {
	r := g.r
	h := s.workstation(r)
	home := `C:\Users\` + h.user
	doc := documents[r.IntN(len(documents))]
	switch r.IntN(3) {
	case 0:
		g.sysmonFile(s, h, t, imgChrome, h.account, g.pid(), home+`\Downloads\`+doc)
	case 1:
		g.sysmonFile(s, h, t, imgWord, h.account, g.pid(), home+`\AppData\Roaming\Microsoft\Word\~WRL`+pad4(r.IntN(10000))+`.tmp`)
	default:
		g.sysmonFile(s, h, t, imgOutlook, h.account, g.pid(),
			home+`\AppData\Local\Microsoft\Windows\INetCache\Content.Outlook\`+randomUpper(r, 8)+`\`+doc)
	}
}

// benignLogon emits a Security 4624: interactive, network, service or RDP logons.
func (g *Generator) benignLogon(s *site, t time.Time) {
	r := g.r
	ws := s.workstation(r)
	switch r.IntN(6) {
	case 0: // interactive at the workstation
		l := logon{user: ws.user, domain: s.netbios, logonType: 2, ip: "127.0.0.1", workstation: ws.name, process: "User32", pkg: "Negotiate"}
		g.securityLogon(s, ws, t, &l, true)
	case 1, 2: // network logon on the DC or file server (Kerberos)
		srv := &s.win[s.dc]
		if r.IntN(2) == 0 {
			srv = &s.win[s.fs]
		}
		l := logon{user: ws.user, domain: s.netbios, logonType: 3, ip: ws.ip, port: 49152 + r.IntN(16000), workstation: "-", process: "Kerberos", pkg: "Kerberos"}
		g.securityLogon(s, srv, t, &l, true)
	case 3: // the machine account at the DC
		l := logon{user: ws.name + "$", domain: s.netbios, logonType: 3, ip: ws.ip, port: 49152 + r.IntN(16000), workstation: "-", process: "Kerberos", pkg: "Kerberos"}
		g.securityLogon(s, &s.win[s.dc], t, &l, true)
	case 4: // a service starting
		h := &s.win[r.IntN(len(s.win))]
		l := logon{user: "SYSTEM", domain: "NT AUTHORITY", logonType: 5, ip: "-", workstation: "-", process: "Advapi", pkg: "Negotiate"}
		g.securityLogon(s, h, t, &l, true)
	default: // remote desktop to the terminal server
		l := logon{user: ws.user, domain: s.netbios, logonType: 10, ip: ws.ip, port: 49152 + r.IntN(16000), workstation: ws.name, process: "User32", pkg: "Negotiate"}
		g.securityLogon(s, &s.win[s.rds], t, &l, true)
	}
}

// benignWeb emits an access log line of a visitor of the public site.
func (g *Generator) benignWeb(s *site, t time.Time) {
	r := g.r
	a := access{ip: g.visitors[r.IntN(len(g.visitors))], method: "GET", ua: userAgents[r.IntN(len(userAgents))]}
	switch x := r.IntN(100); {
	case x < 5:
		a.target, a.status, a.size = web404s[r.IntN(len(web404s))], 404, 153
	case x < 9:
		a.method, a.target, a.status, a.size = "POST", "/contact", 302, 0
		a.referer = "https://www." + s.Domain + "/contact"
	case x < 12:
		pg := &webPages[r.IntN(len(webPages))]
		a.target, a.status, a.size = pg.target, 304, 0
	default:
		pg := &webPages[r.IntN(len(webPages))]
		a.target, a.status, a.size = pg.target, 200, pg.size+r.IntN(64)
		if r.IntN(2) == 0 {
			a.referer = "https://www." + s.Domain + "/"
		}
	}
	g.accessLog(s, t, &a)
}

// keyFingerprint is a stable SSH key fingerprint of user at s (43 base64 characters).
func keyFingerprint(s *site, user string) string {
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	h := fnv64(string(s.Tenant.ID) + "/" + user)
	var b [43]byte
	for i := range b {
		if i%10 == 0 {
			h = splitmix(h)
		}
		b[i] = b64[h>>(6*(i%10))&63]
	}
	return string(b[:])
}

func randomUpper(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = base62[r.IntN(36)]
	}
	return string(b)
}
