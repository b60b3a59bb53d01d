package simulate

import (
	"strconv"
	"strings"
	"time"
)

// Windows event logs, as Winlogbeat 8 ships them to Elasticsearch (_bulk documents).

const (
	chSecurity = iota
	chSysmon
	chSystem
	chDefender
	chPowerShell
	chSMBAudit
	numChannels
)

// numCoreChannels are the channels whose first record numbers buildSites draws from the
// estate's source; the later ones are drawn by profile, so that adding them left the
// estates a seed builds as they were.
const numCoreChannels = chSystem + 1

var channels = [numChannels]struct{ name, provider string }{
	chSecurity:   {"Security", "Microsoft-Windows-Security-Auditing"},
	chSysmon:     {"Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon"},
	chSystem:     {"System", "Service Control Manager"},
	chDefender:   {"Microsoft-Windows-Windows Defender/Operational", "Microsoft-Windows-Windows Defender"},
	chPowerShell: {"Windows PowerShell", "PowerShell"},
	chSMBAudit:   {"Microsoft-Windows-SMBServer/Audit", "Microsoft-Windows-SMBServer"},
}

// winBegin starts a Winlogbeat document for event id on channel ch of host h and leaves
// the encoder inside winlog.event_data.
func (g *Generator) winBegin(s *site, t time.Time, h *winHost, ch, id int) {
	g.winOpen(s, t, h, ch, channels[ch].provider, id, "information", "event_data")
}

// winOpen is winBegin with the provider, the level and the data object (event_data, or
// user_data for the events whose XML carries UserData) stated.
func (g *Generator) winOpen(s *site, t time.Time, h *winHost, ch int, provider string, id int, level, data string) {
	g.winHost = h
	e := g.begin()
	e.open()
	e.time("@timestamp", t, appendISOMilli)
	e.obj("agent")
	e.str("type", "winlogbeat")
	e.str("version", s.AgentVersion)
	e.str("name", h.name)
	e.close()
	e.obj("ecs")
	e.str("version", s.ecsVersion)
	e.close()
	e.obj("host")
	e.str("name", h.fqdn)
	e.close()
	e.obj("event")
	e.sint("code", int64(id))
	e.str("provider", provider)
	e.str("kind", "event")
	e.time("created", t.Add(time.Duration(200+g.r.IntN(1800))*time.Millisecond), appendISOMilli)
	e.close()
	e.obj("log")
	e.str("level", level)
	e.close()
	e.obj("winlog")
	e.str("channel", channels[ch].name)
	e.int("event_id", int64(id))
	e.str("computer_name", h.fqdn)
	e.str("provider_name", provider)
	e.uint("record_id", h.rec[ch])
	h.rec[ch]++
	e.str("api", "wineventlog")
	e.obj(data)
}

// winEnd closes event_data (or user_data) and winlog, writes the rendered message and finishes the record.
func (g *Generator) winEnd(s *site, t time.Time, msg ...string) {
	e := &g.e
	e.close() // event_data
	e.close() // winlog
	e.strs("message", msg...)
	e.close()
	g.finish(s, Bulk, t)
}

// guid writes a Sysmon-style "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}" field; a zero id is random.
func (g *Generator) guid(k string, id [2]uint64) {
	if id == [2]uint64{} {
		id = [2]uint64{g.r.Uint64(), g.r.Uint64()}
	}
	e := &g.e
	e.key(k)
	e.b = appendGUID(e.b, id)
}

func appendGUID(b []byte, id [2]uint64) []byte {
	var raw [16]byte
	for i := range 8 {
		raw[i] = byte(id[0] >> (8 * i))
		raw[8+i] = byte(id[1] >> (8 * i))
	}
	b = append(b, '"', '{')
	for i, c := range raw {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	return append(b, '}', '"')
}

// proc is a process start, for Sysmon 1 and Security 4688.
type proc struct {
	image, cmd, cwd        string
	parentImage, parentCmd string
	user                   string // DOMAIN\name
	integrity              string // "" is Medium
	pid, ppid              int    // 0 is random
	guid                   [2]uint64
}

func (g *Generator) pid() int { return 4 * (250 + g.r.IntN(4000)) }

// sysmonProcess emits Sysmon event 1 (process creation).
func (g *Generator) sysmonProcess(s *site, h *winHost, t time.Time, p *proc) {
	if p.pid == 0 {
		p.pid = g.pid()
	}
	if p.ppid == 0 {
		p.ppid = g.pid()
	}
	integrity := p.integrity
	if integrity == "" {
		integrity = "Medium"
	}
	cwd := p.cwd
	if cwd == "" {
		cwd = `C:\Windows\system32\`
	}
	g.winBegin(s, t, h, chSysmon, 1)
	e := &g.e
	e.str("RuleName", "-")
	e.time("UtcTime", t, appendSysmonTime)
	g.guid("ProcessGuid", p.guid)
	e.sint("ProcessId", int64(p.pid))
	e.str("Image", p.image)
	e.str("FileVersion", "-")
	e.str("OriginalFileName", originalFileName(p.image))
	e.str("CommandLine", p.cmd)
	e.str("CurrentDirectory", cwd)
	e.str("User", p.user)
	g.guid("LogonGuid", [2]uint64{})
	e.shex("LogonId", 0x3e7+uint64(g.r.IntN(1<<24)))
	e.str("TerminalSessionId", "1")
	e.str("IntegrityLevel", integrity)
	e.key("Hashes")
	e.b = appendHashes(e.b, p.image)
	g.guid("ParentProcessGuid", [2]uint64{})
	e.sint("ParentProcessId", int64(p.ppid))
	e.str("ParentImage", p.parentImage)
	e.str("ParentCommandLine", p.parentCmd)
	e.str("ParentUser", p.user)
	g.winEnd(s, t, "Process Create:\nRuleName: -\nImage: ", p.image, "\nCommandLine: ", p.cmd,
		"\nUser: ", p.user, "\nParentImage: ", p.parentImage)
}

// securityProcess emits Security event 4688 (a new process has been created).
func (g *Generator) securityProcess(s *site, h *winHost, t time.Time, p *proc) {
	if p.pid == 0 {
		p.pid = g.pid()
	}
	if p.ppid == 0 {
		p.ppid = g.pid()
	}
	dom, name := splitUser(p.user)
	g.winBegin(s, t, h, chSecurity, 4688)
	e := &g.e
	e.key("SubjectUserSid")
	e.b = g.appendSID(e.b, s, dom, name)
	e.str("SubjectUserName", name)
	e.str("SubjectDomainName", dom)
	e.shex("SubjectLogonId", 0x3e7+uint64(g.r.IntN(1<<24)))
	e.shex("NewProcessId", uint64(p.pid))
	e.str("NewProcessName", p.image)
	if p.integrity == "High" || p.integrity == "System" {
		e.str("TokenElevationType", "%%1937") // elevated
	} else {
		e.str("TokenElevationType", "%%1938")
	}
	e.shex("ProcessId", uint64(p.ppid))
	e.str("CommandLine", p.cmd)
	e.str("TargetUserSid", "S-1-0-0")
	e.str("TargetUserName", "-")
	e.str("TargetDomainName", "-")
	e.str("TargetLogonId", "0x0")
	e.str("ParentProcessName", p.parentImage)
	switch p.integrity {
	case "High":
		e.str("MandatoryLabel", "S-1-16-12288")
	case "System":
		e.str("MandatoryLabel", "S-1-16-16384")
	default:
		e.str("MandatoryLabel", "S-1-16-8192")
	}
	g.winEnd(s, t, "A new process has been created.\n\nCreator Subject:\n\tAccount Name:\t\t", name,
		"\n\tAccount Domain:\t\t", dom, "\n\nProcess Information:\n\tNew Process Name:\t", p.image,
		"\n\tCreator Process Name:\t", p.parentImage, "\n\tProcess Command Line:\t", p.cmd)
}

// netConn is a network connection, for Sysmon 3.
type netConn struct {
	image, user    string
	pid            int
	guid           [2]uint64
	srcIP          string
	srcPort        int // 0 is a random ephemeral port
	dstIP, dstHost string
	dstPort        int
	udp            bool
}

// sysmonNetwork emits Sysmon event 3 (network connection detected).
func (g *Generator) sysmonNetwork(s *site, h *winHost, t time.Time, c *netConn) {
	if c.pid == 0 {
		c.pid = g.pid()
	}
	if c.srcPort == 0 {
		c.srcPort = 49152 + g.r.IntN(16000)
	}
	dstHost := c.dstHost
	if dstHost == "" {
		dstHost = "-"
	}
	g.winBegin(s, t, h, chSysmon, 3)
	e := &g.e
	e.str("RuleName", "-")
	e.time("UtcTime", t, appendSysmonTime)
	g.guid("ProcessGuid", c.guid)
	e.sint("ProcessId", int64(c.pid))
	e.str("Image", c.image)
	e.str("User", c.user)
	if c.udp {
		e.str("Protocol", "udp")
	} else {
		e.str("Protocol", "tcp")
	}
	e.str("Initiated", "true")
	e.str("SourceIsIpv6", "false")
	e.str("SourceIp", c.srcIP)
	e.str("SourceHostname", h.fqdn)
	e.sint("SourcePort", int64(c.srcPort))
	e.str("SourcePortName", "-")
	e.str("DestinationIsIpv6", "false")
	e.str("DestinationIp", c.dstIP)
	e.str("DestinationHostname", dstHost)
	e.sint("DestinationPort", int64(c.dstPort))
	e.str("DestinationPortName", portName(c.dstPort))
	g.winEnd(s, t, "Network connection detected:\nRuleName: -\nImage: ", c.image, "\nDestinationIp: ", c.dstIP,
		"\nDestinationHostname: ", dstHost, "\nDestinationPort: ", strconv.Itoa(c.dstPort))
}

// procAccess is a handle opened to another process, for Sysmon 10.
type procAccess struct {
	sourceImage, sourceUser string
	targetImage, targetUser string
	sourcePID, targetPID    int
	access, callTrace       string
}

// sysmonAccess emits Sysmon event 10 (process accessed).
func (g *Generator) sysmonAccess(s *site, h *winHost, t time.Time, a *procAccess) {
	g.winBegin(s, t, h, chSysmon, 10)
	e := &g.e
	e.str("RuleName", "-")
	e.time("UtcTime", t, appendSysmonTime)
	g.guid("SourceProcessGUID", [2]uint64{})
	e.sint("SourceProcessId", int64(a.sourcePID))
	e.sint("SourceThreadId", int64(g.pid()))
	e.str("SourceImage", a.sourceImage)
	g.guid("TargetProcessGUID", [2]uint64{})
	e.sint("TargetProcessId", int64(a.targetPID))
	e.str("TargetImage", a.targetImage)
	e.str("GrantedAccess", a.access)
	e.str("CallTrace", a.callTrace)
	e.str("SourceUser", a.sourceUser)
	e.str("TargetUser", a.targetUser)
	g.winEnd(s, t, "Process accessed:\nRuleName: -\nSourceImage: ", a.sourceImage, "\nTargetImage: ",
		a.targetImage, "\nGrantedAccess: ", a.access)
}

// sysmonFile emits Sysmon event 11 (file created).
func (g *Generator) sysmonFile(s *site, h *winHost, t time.Time, image, user string, pid int, target string) {
	g.winBegin(s, t, h, chSysmon, 11)
	e := &g.e
	e.str("RuleName", "-")
	e.time("UtcTime", t, appendSysmonTime)
	g.guid("ProcessGuid", [2]uint64{})
	e.sint("ProcessId", int64(pid))
	e.str("Image", image)
	e.str("TargetFilename", target)
	e.time("CreationUtcTime", t, appendSysmonTime)
	e.str("User", user)
	g.winEnd(s, t, "File created:\nRuleName: -\nImage: ", image, "\nTargetFilename: ", target)
}

// sysmonDNS emits Sysmon event 22 (DNS query).
func (g *Generator) sysmonDNS(s *site, h *winHost, t time.Time, image, user string, pid int, guid [2]uint64, query, status, results string) {
	g.winBegin(s, t, h, chSysmon, 22)
	e := &g.e
	e.str("RuleName", "-")
	e.time("UtcTime", t, appendSysmonTime)
	g.guid("ProcessGuid", guid)
	e.sint("ProcessId", int64(pid))
	e.str("QueryName", query)
	e.str("QueryStatus", status)
	e.str("QueryResults", results)
	e.str("Image", image)
	e.str("User", user)
	g.winEnd(s, t, "Dns query:\nRuleName: -\nQueryName: ", query, "\nQueryStatus: ", status,
		"\nQueryResults: ", results, "\nImage: ", image)
}

// logon is a logon attempt, for Security 4624 and 4625.
type logon struct {
	user, domain string
	logonType    int
	ip           string // "-" when local
	port         int
	workstation  string
	process, pkg string // LogonProcessName, AuthenticationPackageName
	subStatus    string // 4625 only; "" is 0xc000006a (bad password)
}

// securityLogon emits Security 4624 (success) or 4625 (failure).
func (g *Generator) securityLogon(s *site, h *winHost, t time.Time, l *logon, ok bool) {
	id := 4625
	if ok {
		id = 4624
	}
	port := "-"
	if l.port != 0 {
		port = strconv.Itoa(l.port)
	}
	g.winBegin(s, t, h, chSecurity, id)
	e := &g.e
	if ok {
		e.str("SubjectUserSid", "S-1-5-18")
		e.strs("SubjectUserName", h.name, "$")
		e.str("SubjectDomainName", s.netbios)
		e.str("SubjectLogonId", "0x3e7")
		e.key("TargetUserSid")
		e.b = g.appendSID(e.b, s, l.domain, l.user)
	} else {
		e.str("SubjectUserSid", "S-1-0-0")
		e.str("SubjectUserName", "-")
		e.str("SubjectDomainName", "-")
		e.str("SubjectLogonId", "0x0")
		e.str("TargetUserSid", "S-1-0-0")
	}
	e.str("TargetUserName", l.user)
	e.str("TargetDomainName", l.domain)
	if ok {
		e.shex("TargetLogonId", 0x10000+uint64(g.r.IntN(1<<28)))
	} else {
		e.str("Status", "0xc000006d")
		sub := l.subStatus
		if sub == "" {
			sub = "0xc000006a"
		}
		e.str("FailureReason", "%%2313")
		e.str("SubStatus", sub)
	}
	e.sint("LogonType", int64(l.logonType))
	e.str("LogonProcessName", l.process)
	e.str("AuthenticationPackageName", l.pkg)
	e.str("WorkstationName", l.workstation)
	if ok {
		g.guid("LogonGuid", [2]uint64{})
	}
	e.str("TransmittedServices", "-")
	e.str("LmPackageName", "-")
	e.str("KeyLength", "0")
	e.str("ProcessId", "0x0")
	e.str("ProcessName", "-")
	e.str("IpAddress", l.ip)
	e.str("IpPort", port)
	if ok {
		e.str("ImpersonationLevel", "%%1833")
		e.str("ElevatedToken", "%%1843")
		e.str("VirtualAccount", "%%1843")
		e.str("RestrictedAdminMode", "-")
		e.str("TargetOutboundUserName", "-")
		e.str("TargetOutboundDomainName", "-")
		e.str("TargetLinkedLogonId", "0x0")
		g.winEnd(s, t, "An account was successfully logged on.\n\nLogon Information:\n\tLogon Type:\t\t",
			logonTypeText[l.logonType], "\n\nNew Logon:\n\tAccount Name:\t\t", l.user, "\n\tAccount Domain:\t\t", l.domain,
			"\n\nNetwork Information:\n\tWorkstation Name:\t", l.workstation, "\n\tSource Network Address:\t", l.ip,
			"\n\tSource Port:\t\t", port)
		return
	}
	g.winEnd(s, t, "An account failed to log on.\n\nLogon Type:\t\t\t", logonTypeText[l.logonType],
		"\n\nAccount For Which Logon Failed:\n\tAccount Name:\t\t", l.user, "\n\tAccount Domain:\t\t", l.domain,
		"\n\nFailure Information:\n\tFailure Reason:\t\tUnknown user name or bad password.\n\tStatus:\t\t\t0xC000006D",
		"\n\nNetwork Information:\n\tWorkstation Name:\t", l.workstation, "\n\tSource Network Address:\t", l.ip,
		"\n\tSource Port:\t\t", port)
}

var logonTypeText = [12]string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"}

// serviceInstall emits System event 7045 (a service was installed in the system).
func (g *Generator) serviceInstall(s *site, h *winHost, t time.Time, name, imagePath, startType, account string) {
	g.winBegin(s, t, h, chSystem, 7045)
	e := &g.e
	e.str("ServiceName", name)
	e.str("ImagePath", imagePath)
	e.str("ServiceType", "user mode service")
	e.str("StartType", startType)
	e.str("AccountName", account)
	g.winEnd(s, t, "A service was installed in the system.\n\nService Name:  ", name, "\nService File Name:  ",
		imagePath, "\nService Type:  user mode service\nService Start Type:  ", startType,
		"\nService Account:  ", account)
}

// appendSID appends the quoted SID of dom\name: the well-known ones, else the
// organisation's domain SID and a stable RID.
func (g *Generator) appendSID(b []byte, s *site, dom, name string) []byte {
	switch {
	case name == "SYSTEM" || strings.HasSuffix(name, "$"):
		return append(b, `"S-1-5-18"`...)
	case dom == "NT AUTHORITY":
		return append(b, `"S-1-5-20"`...)
	case dom == "IIS APPPOOL":
		return append(b, `"S-1-5-82-3006700770-424185619-1745488364-794895919-4004696415"`...)
	}
	b = append(b, `"S-1-5-21-`...)
	b = strconv.AppendUint(b, uint64(s.sid[0]), 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, uint64(s.sid[1]), 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, uint64(s.sid[2]), 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, 1100+fnv64(name)%8000, 10)
	return append(b, '"')
}

func splitUser(u string) (dom, name string) {
	if i := strings.IndexByte(u, '\\'); i >= 0 {
		return u[:i], u[i+1:]
	}
	return "-", u
}

func portName(p int) string {
	switch p {
	case 443:
		return "https"
	case 80:
		return "http"
	case 53:
		return "domain"
	case 88:
		return "kerberos"
	case 135:
		return "epmap"
	case 389:
		return "ldap"
	case 445:
		return "microsoft-ds"
	case 3389:
		return "ms-wbt-server"
	}
	return "-"
}

// originalFileName is the PE version resource name Sysmon reports for well-known images.
func originalFileName(image string) string {
	base := image[strings.LastIndexByte(image, '\\')+1:]
	switch strings.ToLower(base) {
	case "powershell.exe":
		return "PowerShell.EXE"
	case "cmd.exe":
		return "Cmd.Exe"
	case "rundll32.exe":
		return "RUNDLL32.EXE"
	case "wmic.exe":
		return "wmic.exe"
	case "vssadmin.exe":
		return "VSSADMIN.EXE"
	case "bcdedit.exe":
		return "bcdedit.exe"
	case "wbadmin.exe":
		return "WBADMIN.EXE"
	case "svchost.exe":
		if !strings.EqualFold(image, `C:\Windows\System32\svchost.exe`) {
			return "-" // an implant borrowing the name has no such resource
		}
		return "svchost.exe"
	case "chrome.exe":
		return "chrome.exe"
	case "msedge.exe":
		return "msedge.exe"
	case "winword.exe":
		return "WinWord.exe"
	case "excel.exe":
		return "Excel.exe"
	case "powerpnt.exe":
		return "POWERPNT.EXE"
	case "outlook.exe":
		return "Outlook.exe"
	case "procdump64.exe":
		return "procdump"
	}
	return "-"
}

// appendHashes appends the quoted Sysmon Hashes value for an image: stable per image,
// so the same binary has the same hash on every host.
func appendHashes(b []byte, image string) []byte {
	h := fnv64(strings.ToLower(image))
	b = append(b, `"SHA256=`...)
	for range 4 {
		h = splitmix(h)
		b = appendHex64(b, h)
	}
	b = append(b, ",IMPHASH="...)
	for range 2 {
		h = splitmix(h)
		b = appendHex64(b, h)
	}
	return append(b, '"')
}

func appendHex64(b []byte, v uint64) []byte {
	for i := 60; i >= 0; i -= 4 {
		b = append(b, "0123456789ABCDEF"[v>>uint(i)&15])
	}
	return b
}

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
