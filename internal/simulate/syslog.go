package simulate

import (
	"strconv"
	"time"
)

// Syslog from the Linux servers: RFC 5424 or RFC 3164 (per host), over UDP or TCP (per host).

// Facilities and severities used.
const (
	facDaemon   = 3
	facAuth     = 4
	facCron     = 9
	facAuthpriv = 10

	sevNotice = 5
	sevInfo   = 6
)

// syslogBegin starts a syslog line from host h and leaves the encoder at the start of MSG;
// the caller appends the message to g.e.b and calls syslogEnd.
func (g *Generator) syslogBegin(h *linHost, t time.Time, fac, sev int, app string, pid int) {
	e := g.begin()
	e.b = append(e.b, '<')
	e.b = strconv.AppendInt(e.b, int64(fac*8+sev), 10)
	e.b = append(e.b, '>')
	if h.rfc5424 {
		e.b = append(e.b, '1', ' ')
		e.b = appendISOMicro(e.b, t)
		e.b = append(e.b, ' ')
		e.b = append(e.b, h.name...)
		e.b = append(e.b, ' ')
		e.b = append(e.b, app...)
		e.b = append(e.b, ' ')
		e.b = strconv.AppendInt(e.b, int64(pid), 10)
		e.b = append(e.b, " - - "...)
		return
	}
	e.b = appendRFC3164(e.b, t)
	e.b = append(e.b, ' ')
	e.b = append(e.b, h.name...)
	e.b = append(e.b, ' ')
	e.b = append(e.b, app...)
	e.b = append(e.b, '[')
	e.b = strconv.AppendInt(e.b, int64(pid), 10)
	e.b = append(e.b, ']', ':', ' ')
}

func (g *Generator) syslogEnd(s *site, h *linHost, t time.Time) {
	tr := SyslogUDP
	if h.tcp {
		tr = SyslogTCP
	}
	g.finish(s, tr, t)
}

// syslogMsg emits a whole syslog line whose message is the concatenation of parts.
func (g *Generator) syslogMsg(s *site, h *linHost, t time.Time, fac, sev int, app string, pid int, parts ...string) {
	g.syslogBegin(h, t, fac, sev, app, pid)
	for _, p := range parts {
		g.e.b = append(g.e.b, p...)
	}
	g.syslogEnd(s, h, t)
}

// sshd emits an sshd line "<prefix><user> from <ip> port <port><suffix>", the shape of
// every sshd authentication message.
func (g *Generator) sshd(s *site, h *linHost, t time.Time, pid int, prefix, user, ip string, port int, suffix string) {
	g.syslogBegin(h, t, facAuth, sevInfo, "sshd", pid)
	e := &g.e
	e.b = append(e.b, prefix...)
	e.b = append(e.b, user...)
	e.b = append(e.b, " from "...)
	e.b = append(e.b, ip...)
	e.b = append(e.b, " port "...)
	e.b = strconv.AppendInt(e.b, int64(port), 10)
	e.b = append(e.b, suffix...)
	g.syslogEnd(s, h, t)
}
