package simulate

import (
	"strings"
	"time"
)

// Hygiene findings: what a weak organisation's own telemetry keeps revealing about it.
// Each finding of a site (profile) emits its events on the same hosts, as a Poisson
// process in real time, the first within a few minutes of the first Tick so that a demo
// shows it early. They are baseline records (Record.Scenario ""): the everyday state of a
// badly run estate, not an attack.

// firstWithin bounds the time from the first Tick to a finding's first event.
const firstWithin = 4 * time.Minute

// hygiene emits the findings' events of (from, end].
func (g *Generator) hygiene(from, end time.Time) {
	r := g.r
	for _, s := range g.sites {
		for i := range s.findings {
			f := &s.findings[i]
			if !f.next.After(from) { // the first Tick, or after a gap
				d := f.mean
				if f.n == 0 {
					d = min(d, firstWithin)
				}
				f.next = from.Add(1 + time.Duration(r.Int64N(int64(d))))
			}
			for !f.next.After(end) {
				g.hygieneOne(s, f, f.next, end)
				f.n++
				f.next = f.next.Add(1 + time.Duration(r.ExpFloat64()*float64(f.mean)))
			}
		}
	}
}

var (
	legacyScripts = []string{
		`powershell.exe -Version 2 -NoProfile -File C:\Scripts\legacy-inventory.ps1`,
		`powershell.exe -Version 2.0 -NonInteractive -File C:\Scripts\export-users.ps1`,
		`C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe -version 2 -File "C:\Program Files (x86)\AssetTrack\collect.ps1"`,
	}
	// rdpScannerCookies are the mstshash cookies of internet-wide RDP scanners.
	rdpScannerCookies = []string{"Administr", "hello", "Test", ""}
	// auditSubcategories are audit policy subcategories whose auditing gets removed.
	auditSubcategories = []struct{ category, categoryID, sub, subID, guid string }{
		{"Detailed Tracking", "%%8276", "Process Creation", "%%13312", "{0CCE922B-69AE-11D9-BED3-505054503030}"},
		{"Logon/Logoff", "%%8273", "Logon", "%%12544", "{0CCE9215-69AE-11D9-BED3-505054503030}"},
		{"Object Access", "%%8274", "File Share", "%%12808", "{0CCE9224-69AE-11D9-BED3-505054503030}"},
		{"Account Management", "%%8278", "User Account Management", "%%13824", "{0CCE9235-69AE-11D9-BED3-505054503030}"},
	}
)

const (
	regSMB1Server = `HKLM\System\CurrentControlSet\Services\LanmanServer\Parameters\SMB1`
	regSMB1Client = `HKLM\System\CurrentControlSet\Services\mrxsmb10\Start`
)

// hygieneOne emits one event of finding f of s at t (and, for a logon seen on the wire
// first, its Windows side a little later, but not after end).
func (g *Generator) hygieneOne(s *site, f *finding, t, end time.Time) {
	r := g.r
	h := &s.win[f.hosts[r.IntN(len(f.hosts))]]
	switch f.kind {
	case CleartextLogon: // a user of the application behind IIS Basic authentication
		ws := s.workstation(r)
		l := logon{user: ws.user, domain: s.netbios, logonType: 8, ip: ws.ip, port: g.ephemeral(), workstation: h.name,
			process: "Advapi  ", pkg: "Negotiate"}
		g.securityLogon(s, h, t, &l, true)
	case SMBv1:
		switch {
		case f.n == 0 || r.IntN(5) < 2: // Group Policy (re)applies the setting
			if h.server {
				g.sysmonRegistry(s, h, t, regSMB1Server, "DWORD (0x00000001)")
			} else {
				g.sysmonRegistry(s, h, t, regSMB1Client, "DWORD (0x00000002)")
			}
		default: // a legacy client talks SMB 1 to the file server
			client := s.workstation(r)
			for _, j := range f.hosts {
				if j != s.fs && r.IntN(2) == 0 {
					client = &s.win[j]
				}
			}
			g.smb1Access(s, &s.win[s.fs], t, client.ip)
		}
	case DefenderDisabled:
		switch x := r.IntN(5); {
		case f.n == 0 || x < 3:
			g.defenderOff(s, h, t, 5001)
		case x == 3:
			g.defenderOff(s, h, t, 5010)
		default:
			g.defenderOff(s, h, t, 5012)
		}
	case LoggingDisabled:
		if f.n == 0 || r.IntN(4) > 0 {
			g.auditPolicyRemoved(s, h, t)
		} else {
			user, _ := g.orgAccount(s)
			g.logCleared(s, h, t, user)
		}
	case PowerShellV2:
		g.psEngineStart(s, h, t, legacyScripts[r.IntN(len(legacyScripts))])
	case RDPExposed:
		fl := flow{srcIP: g.visitors[r.IntN(len(g.visitors))], dstIP: h.ip, dstPort: 3389}
		if r.IntN(5) < 2 { // staff connecting straight in from home
			user := s.Users[r.IntN(len(s.Users))]
			g.zeekRDP(s, t, &fl, user[:min(len(user), 9)], "encrypted", "HYBRID")
			l := logon{user: user, domain: s.netbios, logonType: 10, ip: fl.srcIP, port: fl.srcPort,
				workstation: "DESKTOP-" + randomUpper(r, 7), process: "User32", pkg: "Negotiate"}
			g.securityLogon(s, h, later(t, g.ms(1500, 6000), end), &l, true)
			return
		}
		proto := "SSL"
		if r.IntN(3) == 0 {
			proto = "RDP"
		}
		g.zeekRDP(s, t, &fl, rdpScannerCookies[r.IntN(len(rdpScannerCookies))], "", proto)
	case OutdatedAgent: // the old agent falls over and the service recovery restarts it
		g.serviceRunning(s, h, t, "winlogbeat", "770069006E006C006F00670062006500610074002F0034000000")
	}
}

// sysmonRegistry emits Sysmon event 13 (registry value set) by Group Policy.
func (g *Generator) sysmonRegistry(s *site, h *winHost, t time.Time, target, details string) {
	g.winBegin(s, t, h, chSysmon, 13)
	e := &g.e
	e.str("RuleName", "-")
	e.str("EventType", "SetValue")
	e.time("UtcTime", t, appendSysmonTime)
	g.guid("ProcessGuid", [2]uint64{})
	e.sint("ProcessId", int64(g.pid()))
	e.str("Image", imgSvchost)
	e.str("TargetObject", target)
	e.str("Details", details)
	e.str("User", userSystem)
	g.winEnd(s, t, "Registry value set:\nRuleName: -\nEventType: SetValue\nImage: ", imgSvchost, "\nTargetObject: ", target,
		"\nDetails: ", details)
}

// smb1Access emits SMBServer/Audit event 3000 (SMB1 access), logged by a file server
// that audits SMB 1 clients.
func (g *Generator) smb1Access(s *site, h *winHost, t time.Time, client string) {
	g.winBegin(s, t, h, chSMBAudit, 3000)
	g.e.str("ClientName", client)
	g.winEnd(s, t, "SMB1 access\n\nClient Address: ", client, "\n\nGuidance:\n\nThis event indicates that a client attempted to access "+
		"the server using SMB1. To stop auditing SMB1 access, use the Windows PowerShell cmdlet Set-SmbServerConfiguration.")
}

// defenderOff emits Microsoft Defender Antivirus 5001 (real-time protection disabled),
// 5010 (scanning for spyware disabled) or 5012 (scanning for viruses disabled).
func (g *Generator) defenderOff(s *site, h *winHost, t time.Time, id int) {
	g.winOpen(s, t, h, chDefender, channels[chDefender].provider, id, "warning", "event_data")
	e := &g.e
	e.str("Product Name", "Microsoft Defender Antivirus")
	e.str("Product Version", "4.18.24090.11")
	switch id {
	case 5001:
		g.winEnd(s, t, "Microsoft Defender Antivirus Real-time Protection scanning for malware and other potentially unwanted software was disabled.")
	case 5010:
		g.winEnd(s, t, "Microsoft Defender Antivirus scanning for spyware and other potentially unwanted software is disabled.")
	default:
		g.winEnd(s, t, "Microsoft Defender Antivirus scanning for viruses is disabled.")
	}
}

// auditPolicyRemoved emits Security 4719 (system audit policy was changed): Group Policy
// removing success and failure auditing of a subcategory.
func (g *Generator) auditPolicyRemoved(s *site, h *winHost, t time.Time) {
	a := &auditSubcategories[g.r.IntN(len(auditSubcategories))]
	g.winBegin(s, t, h, chSecurity, 4719)
	e := &g.e
	e.str("SubjectUserSid", "S-1-5-18")
	e.strs("SubjectUserName", h.name, "$")
	e.str("SubjectDomainName", s.netbios)
	e.str("SubjectLogonId", "0x3e7")
	e.str("CategoryId", a.categoryID)
	e.str("SubcategoryId", a.subID)
	e.str("SubcategoryGuid", a.guid)
	e.str("AuditPolicyChanges", "%%8448, %%8450")
	g.winEnd(s, t, "System audit policy was changed.\n\nSubject:\n\tSecurity ID:\t\tS-1-5-18\n\tAccount Name:\t\t", h.name,
		"$\n\tAccount Domain:\t\t", s.netbios, "\n\tLogon ID:\t\t0x3E7\n\nAudit Policy Change:\n\tCategory:\t\t", a.category,
		"\n\tSubcategory:\t\t", a.sub, "\n\tSubcategory GUID:\t", a.guid, "\n\tChanges:\t\tSuccess removed, Failure removed")
}

// logCleared emits Security 1102 (the audit log was cleared) by user of s.
func (g *Generator) logCleared(s *site, h *winHost, t time.Time, user string) {
	g.winOpen(s, t, h, chSecurity, "Microsoft-Windows-Eventlog", 1102, "information", "user_data")
	e := &g.e
	sid := string(g.appendSID(nil, s, s.netbios, user))
	sid = sid[1 : len(sid)-1]
	e.str("SubjectUserSid", sid)
	e.str("SubjectUserName", user)
	e.str("SubjectDomainName", s.netbios)
	e.shex("SubjectLogonId", 0x10000+uint64(g.r.IntN(1<<28)))
	e.str("xml_name", "LogFileCleared")
	g.winEnd(s, t, "The audit log was cleared.\nSubject:\n\tSecurity ID:\t", sid, "\n\tAccount Name:\t", user,
		"\n\tDomain Name:\t", s.netbios)
}

// psEngineStart emits Windows PowerShell 400 (engine state changed to Available) of the
// PowerShell 2.0 engine started by hostApp. Winlogbeat names the event's unnamed data
// param1, param2 and param3.
func (g *Generator) psEngineStart(s *site, h *winHost, t time.Time, hostApp string) {
	var b strings.Builder
	b.WriteString("\tNewEngineState=Available\r\n\tPreviousEngineState=None\r\n\r\n\tSequenceNumber=13\r\n\r\n\tHostName=ConsoleHost\r\n" +
		"\tHostVersion=2.0\r\n\tHostId=")
	b.Write(appendGUIDText(nil, [2]uint64{g.r.Uint64(), g.r.Uint64()}))
	b.WriteString("\r\n\tHostApplication=")
	b.WriteString(hostApp)
	b.WriteString("\r\n\tEngineVersion=2.0\r\n\tRunspaceId=")
	b.Write(appendGUIDText(nil, [2]uint64{g.r.Uint64(), g.r.Uint64()}))
	b.WriteString("\r\n\tPipelineId=\r\n\tCommandName=\r\n\tCommandType=\r\n\tScriptName=\r\n\tCommandPath=\r\n\tCommandLine=")
	details := b.String()
	g.winBegin(s, t, h, chPowerShell, 400)
	e := &g.e
	e.str("param1", "Available")
	e.str("param2", "None")
	e.str("param3", details)
	g.winEnd(s, t, "Engine state is changed from None to Available. \r\n\r\nDetails: \r\n", details)
}

// appendGUIDText appends id as a bare GUID, xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.
func appendGUIDText(b []byte, id [2]uint64) []byte {
	q := appendGUID(nil, id) // "{…}"
	return append(b, q[2:len(q)-2]...)
}

// serviceRunning emits System 7036 (a service entered the running state).
func (g *Generator) serviceRunning(s *site, h *winHost, t time.Time, name, binary string) {
	g.winBegin(s, t, h, chSystem, 7036)
	e := &g.e
	e.str("param1", name)
	e.str("param2", "running")
	e.str("Binary", binary)
	g.winEnd(s, t, "The ", name, " service entered the running state.")
}

// zeekRDP emits a Zeek rdp.log record; cookie and result may be "".
func (g *Generator) zeekRDP(s *site, t time.Time, f *flow, cookie, result, securityProtocol string) {
	e := g.zeekBegin(t, "rdp", f)
	if cookie != "" {
		e.str("cookie", cookie)
	}
	if result != "" {
		e.str("result", result)
	}
	e.str("security_protocol", securityProtocol)
	e.close()
	g.finish(s, NDJSON, t)
}
