package normalize

import (
	"bytes"
	"fmt"
	"time"

	"github.com/mamori-soc/mamori/internal/event"
)

// ParseError reports a line that a text decoder (Syslog, AccessLog, ZeekTSV) cannot read.
type ParseError struct {
	// Format names the format being read: "syslog", "RFC 5424 syslog", "access log"…
	Format string
	// Offset is the byte offset of the problem within the line.
	Offset int
	// Msg says what was wrong, e.g. "PRI 999 out of range 0-191".
	Msg string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("invalid %s at offset %d: %s", e.Format, e.Offset, e.Msg)
}

func parseErr(format string, off int, msg string, args ...any) error {
	return &ParseError{Format: format, Offset: off, Msg: fmt.Sprintf(msg, args...)}
}

// Syslog channels (the Channel field Sigma log sources select on).
const (
	ChannelAuth   = "linux/auth"
	ChannelCron   = "linux/cron"
	ChannelAuditd = "linux/auditd"
	ChannelSyslog = "linux/syslog"
)

// yearSlack is how far past "now" an RFC 3164 timestamp may lie and still be given the
// current year (clocks of senders and receiver differ, and the receiver may use another
// zone): past it, the time is read as last year's.
const yearSlack = 7 * 24 * time.Hour

// Syslog resets ev and fills it from one syslog message: RFC 5424
// (<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG) or RFC 3164 / BSD
// (<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG, also without PRI, without HOST, with an
// ISO 8601 timestamp as rsyslog writes files, or with none). Trailing CR, LF and NUL
// bytes are ignored. See the package documentation for the fields. On error ev is left
// empty and the error is a *ParseError naming the byte offset.
//
// It does not allocate once the decoder and ev have grown.
func (d *Decoder) Syslog(line []byte, ev *event.Event) error {
	ev.Reset()
	if err := d.syslog(line, ev); err != nil {
		ev.Reset()
		return err
	}
	return nil
}

func (d *Decoder) now() time.Time {
	if !d.ref.IsZero() {
		return d.ref
	}
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Decoder) syslog(line []byte, ev *event.Event) error {
	n := len(line)
	for n > 0 && (line[n-1] == '\n' || line[n-1] == '\r' || line[n-1] == 0) {
		n--
	}
	b := line[:n]
	if len(b) == 0 {
		return parseErr("syslog", 0, "empty message")
	}
	i, pri := 0, -1
	if b[0] == '<' {
		j, v := 1, 0
		for j < len(b) && j <= 3 && isDigit(b[j]) {
			v = v*10 + int(b[j]-'0')
			j++
		}
		switch {
		case j == 1 && j < len(b):
			return parseErr("syslog", 1, "PRI must be digits, found %s", quoteByte(b[1]))
		case j >= len(b):
			return parseErr("syslog", j, "PRI is not closed by '>'")
		case isDigit(b[j]):
			return parseErr("syslog", 1, "PRI longer than 3 digits")
		case b[j] != '>':
			return parseErr("syslog", j, "PRI must be closed by '>', found %s", quoteByte(b[j]))
		case v > 191:
			return parseErr("syslog", 1, "PRI %d out of range 0-191", v)
		}
		pri, i = v, j+1
	}
	if pri >= 0 {
		d.facility = uint8(pri >> 3)
		ev.Append("facility", d.itoa(pri>>3))
		ev.Append("severity", d.itoa(pri&7))
	} else {
		d.facility = 0xff
	}
	d.prog = d.prog[:0]
	var err error
	var msg []byte
	if isRFC5424(b, i) {
		msg, err = d.syslog5424(b, i, ev)
	} else {
		msg = d.syslog3164(b, i, ev)
	}
	if err != nil {
		return err
	}
	d.enrichSyslog(ev, msg)
	return nil
}

// itoa formats a small number into d's scratch buffer.
func (d *Decoder) itoa(v int) []byte {
	d.num = d.num[:0]
	if v >= 10 {
		d.num = append(d.num, byte('0'+v/10))
	}
	d.num = append(d.num, byte('0'+v%10))
	return d.num
}

// isRFC5424 reports whether b[i:] starts with an RFC 5424 VERSION (1-999) followed by a
// space and a timestamp or NILVALUE. Zeek's syslog.log keeps such messages without PRI.
func isRFC5424(b []byte, i int) bool {
	j := i
	for j < len(b) && j-i < 3 && isDigit(b[j]) {
		j++
	}
	return j > i && b[i] != '0' && j+1 < len(b) && b[j] == ' ' && (isDigit(b[j+1]) || b[j+1] == '-')
}

// word returns the bytes of b from i up to the next space (or the end).
func word(b []byte, i int) ([]byte, int) {
	j := i
	for j < len(b) && b[j] != ' ' {
		j++
	}
	return b[i:j], j
}

const format5424 = "RFC 5424 syslog"

// syslog5424 reads the RFC 5424 message after PRI at b[i:] and returns its MSG.
func (d *Decoder) syslog5424(b []byte, i int, ev *event.Event) ([]byte, error) {
	_, i = word(b, i) // VERSION, checked by isRFC5424
	var hdr [5][]byte // TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
	var at [5]int
	names := [...]string{"TIMESTAMP", "HOSTNAME", "APP-NAME", "PROCID", "MSGID"}
	for k := range hdr {
		if i >= len(b) {
			return nil, parseErr(format5424, i, "header ends before the %s", names[k])
		}
		i++ // the space
		at[k] = i
		hdr[k], i = word(b, i)
		if len(hdr[k]) == 0 {
			return nil, parseErr(format5424, at[k], "empty %s (two spaces)", names[k])
		}
	}
	if ts := hdr[0]; len(ts) != 1 || ts[0] != '-' {
		// RFC 3339 with date and time (parseISO also takes a zone-less time, as UTC).
		if len(ts) < 19 || ts[4] != '-' {
			return nil, parseErr(format5424, at[0], "invalid TIMESTAMP %q", ts)
		}
		t, ok := parseISO(ts)
		if !ok {
			return nil, parseErr(format5424, at[0], "invalid TIMESTAMP %q", ts)
		}
		ev.Time = t
	}
	nilv := func(v []byte) bool { return len(v) == 1 && v[0] == '-' }
	if !nilv(hdr[1]) {
		ev.Append("host", hdr[1])
	}
	if !nilv(hdr[2]) {
		d.setProgram(ev, hdr[2])
	}
	if !nilv(hdr[3]) {
		ev.Append("pid", hdr[3])
	}
	if !nilv(hdr[4]) {
		ev.Append("msgid", hdr[4])
	}
	if i >= len(b) {
		return nil, parseErr(format5424, i, "header ends before the STRUCTURED-DATA")
	}
	i++
	// STRUCTURED-DATA: NILVALUE or [SD-ID PARAM="VALUE" …]…; its fields come before
	// message.
	var err error
	if i, err = d.structuredData(b, i, ev); err != nil {
		return nil, err
	}
	var msg []byte
	if i < len(b) {
		if b[i] != ' ' {
			return nil, parseErr(format5424, i, "expected a space after STRUCTURED-DATA, found %s", quoteByte(b[i]))
		}
		msg = bytes.TrimPrefix(b[i+1:], bom)
	}
	if len(msg) > 0 {
		ev.Append("message", msg)
	}
	return msg, nil
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// structuredData reads RFC 5424 STRUCTURED-DATA at b[i] and adds each parameter as
// sd.<SD-ID>.<PARAM-NAME>. It returns the index past it.
func (d *Decoder) structuredData(b []byte, i int, ev *event.Event) (int, error) {
	if i >= len(b) {
		return i, parseErr(format5424, i, "missing STRUCTURED-DATA")
	}
	if b[i] == '-' {
		return i + 1, nil
	}
	if b[i] != '[' {
		return i, parseErr(format5424, i, "STRUCTURED-DATA must be '-' or start with '[', found %s", quoteByte(b[i]))
	}
	for i < len(b) && b[i] == '[' {
		i++
		start := i
		for i < len(b) && sdNameByte(b[i]) {
			i++
		}
		if i == start {
			if i >= len(b) {
				return i, parseErr(format5424, i, "structured data ends inside an element")
			}
			return i, parseErr(format5424, i, "empty or invalid SD-ID, found %s", quoteByte(b[i]))
		}
		id := b[start:i]
		for {
			if i >= len(b) {
				return i, parseErr(format5424, i, "SD element %q is not closed by ']'", id)
			}
			if b[i] == ']' {
				i++
				break
			}
			if b[i] != ' ' {
				return i, parseErr(format5424, i, "expected ' ' or ']' in SD element %q, found %s", id, quoteByte(b[i]))
			}
			i++
			start := i
			for i < len(b) && sdNameByte(b[i]) {
				i++
			}
			if i == start {
				if i >= len(b) {
					return i, parseErr(format5424, i, "SD element %q is not closed by ']'", id)
				}
				return i, parseErr(format5424, i, "empty or invalid PARAM-NAME in SD element %q, found %s", id, quoteByte(b[i]))
			}
			param := b[start:i]
			if i+1 >= len(b) || b[i] != '=' || b[i+1] != '"' {
				return i, parseErr(format5424, i, "expected =\" after PARAM-NAME %q", param)
			}
			quote := i + 1
			i += 2
			d.val = d.val[:0]
			closed := false
			for i < len(b) {
				c := b[i]
				if c == '\\' && i+1 < len(b) && (b[i+1] == '"' || b[i+1] == '\\' || b[i+1] == ']') {
					d.val = append(d.val, b[i+1])
					i += 2
					continue
				}
				i++
				if c == '"' {
					closed = true
					break
				}
				d.val = append(d.val, c)
			}
			if !closed {
				return i, parseErr(format5424, quote, "unterminated value of SD parameter %q", param)
			}
			d.name = append(append(append(append(d.name[:0], "sd."...), id...), '.'), param...)
			ev.Add(d.name, d.val)
		}
	}
	return i, nil
}

// sdNameByte reports whether c may appear in an SD-NAME: printable US-ASCII except
// '=', ' ', ']' and '"'.
func sdNameByte(c byte) bool {
	return c > ' ' && c < 0x7f && c != '=' && c != ']' && c != '"'
}

var months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// monthOf returns the month 1-12 of a three-letter English abbreviation (any case), or 0.
func monthOf(b []byte) int {
	if len(b) < 3 {
		return 0
	}
	c0, c1, c2 := b[0]|0x20, b[1]|0x20, b[2]|0x20
	for m, s := range months {
		if c0 == s[0]|0x20 && c1 == s[1] && c2 == s[2] {
			return m + 1
		}
	}
	return 0
}

// syslog3164 reads an RFC 3164 (BSD) message after PRI at b[i:]. It never fails: text
// without a recognisable timestamp is all content, as RFC 3164 section 4.3.3 has a relay
// treat it. It returns the message.
func (d *Decoder) syslog3164(b []byte, i int, ev *event.Event) []byte {
	if t, j, ok := d.timestamp3164(b, i); ok {
		ev.Time, i = t, j
		for i < len(b) && b[i] == ' ' {
			i++
		}
		// HOSTNAME, unless the next word is already the TAG (a local message).
		if host, j := word(b, i); len(host) > 0 && !looksLikeTag(host) && j < len(b) {
			ev.Append("host", host)
			i = j + 1
		}
	}
	return d.tag3164(b[i:], ev)
}

// timestamp3164 reads "Mmm dd hh:mm:ss" (day space-padded; optional fraction; optional
// year before the time, as some devices write) or an ISO 8601 timestamp at b[i], and
// returns its time (in UTC) and the index after it.
func (d *Decoder) timestamp3164(b []byte, i int) (time.Time, int, bool) {
	if i+19 <= len(b) && isDigit(b[i]) && b[i+4] == '-' {
		ts, j := word(b, i)
		if t, ok := parseTime(ts); ok {
			return t, j, true
		}
		return time.Time{}, i, false
	}
	month := monthOf(b[i:])
	if month == 0 || i+15 > len(b) || b[i+3] != ' ' {
		return time.Time{}, i, false
	}
	j := i + 4
	if b[j] == ' ' {
		j++
	}
	day := 0
	for k := 0; k < 2 && j < len(b) && isDigit(b[j]); k++ {
		day = day*10 + int(b[j]-'0')
		j++
	}
	if day < 1 || day > 31 || j >= len(b) || b[j] != ' ' {
		return time.Time{}, i, false
	}
	j++
	year := 0
	if y, ok := num(b, j, 4); ok && j+4 < len(b) && b[j+4] == ' ' {
		year = y
		j += 5
	}
	hour, ok1 := num(b, j, 2)
	minute, ok2 := num(b, j+3, 2)
	sec, ok3 := num(b, j+6, 2)
	if !ok1 || !ok2 || !ok3 || b[j+2] != ':' || b[j+5] != ':' || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, i, false
	}
	j += 8
	nsec := 0
	if j+1 < len(b) && b[j] == '.' && isDigit(b[j+1]) {
		j++
		digits := 0
		for ; j < len(b) && isDigit(b[j]); j++ {
			if digits < 9 {
				nsec = nsec*10 + int(b[j]-'0')
				digits++
			}
		}
		for ; digits < 9; digits++ {
			nsec *= 10
		}
	}
	if j < len(b) && b[j] != ' ' {
		return time.Time{}, i, false
	}
	loc := d.SyslogLocation
	if loc == nil {
		loc = time.UTC
	}
	if year != 0 {
		t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc)
		if t.Day() != day {
			return time.Time{}, i, false
		}
		return t.UTC(), j, true
	}
	// No year: the latest year that does not put the time more than yearSlack after now
	// (so "Dec 31" read on January 2nd is last year's, "Jan 1" read on December 31st next
	// year's). Feb 29 looks back to the last leap year.
	now := d.now().In(loc)
	limit := now.Add(yearSlack)
	for y := now.Year() + 1; y >= now.Year()-4; y-- {
		t := time.Date(y, time.Month(month), day, hour, minute, sec, nsec, loc)
		if t.Day() == day && !t.After(limit) {
			return t.UTC(), j, true
		}
	}
	return time.Time{}, i, false
}

// looksLikeTag reports whether a word is an RFC 3164 TAG ("sshd[42]:", "kernel:") rather
// than a HOSTNAME.
func looksLikeTag(w []byte) bool {
	if w[len(w)-1] == ':' {
		return true
	}
	k := bytes.IndexByte(w, '[')
	return k > 0 && w[len(w)-1] == ']'
}

// maxTag bounds the length of a TAG; RFC 3164 allows 32 characters, real ones (systemd
// units, postfix/smtpd) stay well below 64.
const maxTag = 64

// tag3164 reads "TAG[PID]: MSG", "TAG: MSG" or "TAG[PID] MSG" from c, adds program, pid
// and message, and returns the message. Content without a TAG is all message.
func (d *Decoder) tag3164(c []byte, ev *event.Event) []byte {
	j := 0
	for j < len(c) && j <= maxTag && c[j] != ' ' && c[j] != '[' && c[j] != ':' {
		j++
	}
	msg := c
	if j > 0 && j < len(c) && j <= maxTag {
		switch c[j] {
		case ':':
			d.setProgram(ev, c[:j])
			msg = c[j+1:]
		case '[':
			if e := bytes.IndexByte(c[j:min(len(c), j+maxTag)], ']'); e > 0 {
				e += j
				d.setProgram(ev, c[:j])
				if e > j+1 {
					ev.Append("pid", c[j+1:e])
				}
				msg = c[e+1:]
				if len(msg) > 0 && msg[0] == ':' {
					msg = msg[1:]
				}
			}
		}
	}
	if len(msg) > 0 && msg[0] == ' ' && len(msg) < len(c) {
		msg = msg[1:]
	}
	msg = bytes.TrimPrefix(msg, bom)
	if len(msg) > 0 {
		ev.Append("message", msg)
	}
	return msg
}

// setProgram adds the program field and remembers its lower-cased base name. OpenSSH 9.8
// and later log from the privilege-separated sshd-session and sshd-auth processes; they
// are sshd for rules (program: sshd) and the name as written is kept in
// program_original.
func (d *Decoder) setProgram(ev *event.Event, p []byte) {
	base := p
	if k := bytes.LastIndexByte(base, '/'); k >= 0 && k+1 < len(base) {
		base = base[k+1:]
	}
	d.prog = d.prog[:0]
	for _, c := range base {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		d.prog = append(d.prog, c)
	}
	if string(d.prog) == "sshd-session" || string(d.prog) == "sshd-auth" {
		ev.AddString("program", "sshd")
		ev.Append("program_original", p)
		return
	}
	ev.Append("program", p)
}

// Facilities that mean authentication (auth, authpriv) and cron.
const (
	facilityAuth     = 4
	facilityAuthPriv = 10
	facilityCron     = 9
)

// enrichSyslog adds the fields known messages carry and the Channel.
func (d *Decoder) enrichSyslog(ev *event.Event, msg []byte) {
	inner := msg
	// rsyslog's "message repeated 3 times: [ Failed password for …]".
	if bytes.HasPrefix(inner, []byte("message repeated ")) {
		if k := bytes.Index(inner, []byte(" times: [")); k > 0 && inner[len(inner)-1] == ']' {
			inner = bytes.TrimSpace(inner[k+len(" times: [") : len(inner)-1])
		}
	}
	channel := ChannelSyslog
	switch {
	case isAudit(inner):
		channel = ChannelAuditd
		d.auditFields(ev, inner)
	case isAuthProgram(d.prog):
		channel = ChannelAuth
		d.enrichAuth(ev, inner)
	case isCronProgram(d.prog):
		channel = ChannelCron
		d.enrichCron(ev, inner)
	case d.facility == facilityAuth || d.facility == facilityAuthPriv:
		channel = ChannelAuth
		d.enrichAuth(ev, inner)
	case d.facility == facilityCron:
		channel = ChannelCron
		d.enrichCron(ev, inner)
	}
	ev.AddString("Channel", channel)
}

func isAuthProgram(p []byte) bool {
	switch string(p) {
	case "sshd", "sshd-session", "sshd-auth", "sudo", "su", "login", "systemd-logind", "polkitd", "pkexec",
		"passwd", "chpasswd", "useradd", "userdel", "usermod", "groupadd", "groupdel", "groupmod", "gpasswd",
		"chage", "unix_chkpwd", "doas":
		return true
	}
	return false
}

func isCronProgram(p []byte) bool {
	switch string(p) {
	case "cron", "crond", "anacron":
		return true
	}
	return false
}
