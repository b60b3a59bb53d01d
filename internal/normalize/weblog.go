package normalize

import (
	"bytes"
	"strings"
	"time"

	"github.com/mamori-soc/mamori/internal/event"
)

// ChannelWebserver is the Channel of access-log events (Sigma's webserver category).
const ChannelWebserver = "webserver"

const formatAccess = "access log"

// accessLine holds the parts of an access-log line, as slices of it (quoted ones still
// escaped).
type accessLine struct {
	vhost, port, client, user []byte
	request, status, bytes    []byte
	referer, agent            []byte
	hasReferer, hasAgent      bool
	time                      time.Time
}

// AccessLog resets ev and fills it from one line of an Apache or nginx access log in
// Common or Combined Log Format, optionally prefixed by the virtual host (Apache's
// vhost_combined "%v:%p", or "%v"), with the Sigma webserver field names: c-ip,
// cs-username, cs-method, cs-uri-stem, cs-uri-query (after the '?'), cs-uri,
// cs-version, sc-status, sc-bytes, cs-referer, cs-user-agent, cs-host and s-port
// (the virtual host), and Channel webserver; ev.Time from the time stamp. "-" means no
// value: the field is omitted (sc-bytes is then 0, as %b writes). Quoted values lose
// their \" and \\ escapes; other escapes (\xhh) stay as the server wrote them. Fields
// after the user agent (nginx's "$http_x_forwarded_for"…) are ignored. A line wrapped in
// double quotes, as some spreadsheet exports write it, is read inside them. On error ev
// is left empty and the error is a *ParseError.
//
// It does not allocate once the decoder and ev have grown.
func (d *Decoder) AccessLog(line []byte, ev *event.Event) error {
	ev.Reset()
	var a accessLine
	if f, ok := parseAccess(line, &a); !ok {
		return f.err()
	}
	ev.AddString("Channel", ChannelWebserver)
	d.addAccess(ev, &a)
	return nil
}

// accessFail says why and where a line is not an access-log line. It is a value, so that
// Decoder.JSON can try a Filebeat message without allocating an error.
type accessFail struct {
	off int
	msg string // a format with at most one verb, for arg or n
	arg []byte
	n   int
}

func (f *accessFail) err() error {
	switch {
	case f.arg != nil:
		return parseErr(formatAccess, f.off, f.msg, f.arg)
	case strings.Contains(f.msg, "%d"):
		return parseErr(formatAccess, f.off, f.msg, f.n)
	}
	return &ParseError{Format: formatAccess, Offset: f.off, Msg: f.msg}
}

// parseAccess splits an access-log line into a, or says why it cannot.
func parseAccess(line []byte, a *accessLine) (accessFail, bool) {
	n := len(line)
	for n > 0 && (line[n-1] == '\n' || line[n-1] == '\r') {
		n--
	}
	b := line[:n]
	i := 0
	if len(b) > 0 && b[0] == '"' {
		i = 1 // a CSV-style wrapped line
	}
	if i >= len(b) {
		return accessFail{off: i, msg: "empty line"}, false
	}
	// Up to four space-separated words before '[': [vhost] client ident user.
	var words [4][]byte
	nw := 0
	for i < len(b) && b[i] != '[' {
		if nw == len(words) {
			return accessFail{off: i, msg: "expected '[' and the time after at most 4 words"}, false
		}
		w, j := word(b, i)
		if len(w) == 0 {
			return accessFail{off: i, msg: "empty word (two spaces)"}, false
		}
		words[nw] = w
		nw++
		if j >= len(b) {
			return accessFail{off: j, msg: "line ends before the time"}, false
		}
		i = j + 1
	}
	if i >= len(b) {
		return accessFail{off: i, msg: "line ends before the time"}, false
	}
	switch nw {
	case 3:
		a.client, a.user = words[0], words[2]
	case 4:
		a.vhost, a.client, a.user = words[0], words[1], words[3]
		if k := bytes.LastIndexByte(a.vhost, ':'); k > 0 && k+1 < len(a.vhost) && allDigits(a.vhost[k+1:]) {
			a.vhost, a.port = a.vhost[:k], a.vhost[k+1:]
		}
	default:
		return accessFail{off: i, msg: "expected client, ident and user before the time, found %d words", n: nw}, false
	}
	// [10/Oct/2000:13:55:36 -0700]
	end := bytes.IndexByte(b[i:], ']')
	if end < 0 {
		return accessFail{off: i, msg: "time not closed by ']'"}, false
	}
	t, ok := parseCLFTime(b[i+1 : i+end])
	if !ok {
		return accessFail{off: i + 1, msg: "invalid time %q, want dd/Mon/yyyy:hh:mm:ss ±hhmm", arg: b[i+1 : i+end]}, false
	}
	a.time = t
	i += end + 1
	if i+1 >= len(b) || b[i] != ' ' || b[i+1] != '"' {
		return accessFail{off: i, msg: "expected ' \"' and the request after the time"}, false
	}
	i += 2
	reqEnd := requestEnd(b, i)
	if reqEnd < 0 {
		return accessFail{off: i, msg: "request not closed by '\"'"}, false
	}
	a.request = b[i:reqEnd]
	i = reqEnd + 1
	// Status and bytes.
	if i >= len(b) || b[i] != ' ' {
		return accessFail{off: i, msg: "expected ' ' and the status after the request"}, false
	}
	a.status, i = word(b, i+1)
	if !(len(a.status) == 3 && allDigits(a.status)) && !isDash(a.status) {
		return accessFail{off: i - len(a.status), msg: "invalid status %q", arg: a.status}, false
	}
	if i >= len(b) {
		return accessFail{off: i, msg: "line ends before the size"}, false
	}
	a.bytes, i = word(b, i+1)
	if !(len(a.bytes) > 0 && allDigits(a.bytes)) && !isDash(a.bytes) {
		return accessFail{off: i - len(a.bytes), msg: "invalid size %q", arg: a.bytes}, false
	}
	// Combined: "referer" "user-agent".
	if i+1 < len(b) && b[i] == ' ' && b[i+1] == '"' {
		e := quotedEnd(b, i+2)
		if e < 0 {
			return accessFail{off: i + 1, msg: "referer not closed by '\"'"}, false
		}
		a.referer, a.hasReferer = b[i+2:e], true
		i = e + 1
		if i+1 < len(b) && b[i] == ' ' && b[i+1] == '"' {
			e := quotedEnd(b, i+2)
			if e < 0 {
				return accessFail{off: i + 1, msg: "user agent not closed by '\"'"}, false
			}
			a.agent, a.hasAgent = b[i+2:e], true
		}
	}
	return accessFail{}, true
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return len(b) > 0
}

func isDash(b []byte) bool { return len(b) == 1 && b[0] == '-' }

// quotedEnd returns the index of the '"' closing the quoted value starting at b[i],
// skipping \" and \\, or -1.
func quotedEnd(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case '\\':
			i += 2
			continue
		case '"':
			return i
		}
		i++
	}
	return -1
}

// requestEnd returns the index of the '"' closing the request line that starts at b[i].
// It must be followed by a space and a status (three digits or "-"): servers before
// Apache 2.0.46 did not escape quotes in the request, so a quote followed by anything
// else is part of it.
func requestEnd(b []byte, i int) int {
	for {
		e := quotedEnd(b, i)
		if e < 0 {
			return -1
		}
		if r := b[e+1:]; len(r) >= 2 && r[0] == ' ' && (r[1] == '-' || (len(r) >= 4 && allDigits(r[1:4]))) {
			return e
		}
		i = e + 1
	}
}

// parseCLFTime reads "10/Oct/2000:13:55:36 -0700" (the zone may be missing: UTC).
func parseCLFTime(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[14] != ':' || b[17] != ':' {
		return time.Time{}, false
	}
	day, ok1 := num(b, 0, 2)
	month := monthOf(b[3:6])
	year, ok2 := num(b, 7, 4)
	hour, ok3 := num(b, 12, 2)
	minute, ok4 := num(b, 15, 2)
	sec, ok5 := num(b, 18, 2)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || month == 0 || day < 1 || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	i, nsec := 20, 0
	if i < len(b) && (b[i] == '.' || b[i] == ',') { // nginx $msec-like fractions in custom formats
		i++
		digits := 0
		for ; i < len(b) && isDigit(b[i]); i++ {
			if digits < 9 {
				nsec = nsec*10 + int(b[i]-'0')
				digits++
			}
		}
		for ; digits < 9; digits++ {
			nsec *= 10
		}
	}
	offset := 0
	if i < len(b) {
		if b[i] != ' ' || i+6 != len(b) || (b[i+1] != '+' && b[i+1] != '-') {
			return time.Time{}, false
		}
		oh, ok1 := num(b, i+2, 2)
		om, ok2 := num(b, i+4, 2)
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = oh*3600 + om*60
		if b[i+1] == '-' {
			offset = -offset
		}
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day {
		return time.Time{}, false
	}
	return t.Add(-time.Duration(offset) * time.Second), true
}

// appendCLFUnescaped appends v with Apache's and nginx's \" and \\ escapes decoded.
func appendCLFUnescaped(dst, v []byte) []byte {
	if bytes.IndexByte(v, '\\') < 0 {
		return append(dst, v...)
	}
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) && (v[i+1] == '"' || v[i+1] == '\\') {
			i++
		}
		dst = append(dst, v[i])
	}
	return dst
}

// addQuoted adds a quoted value, unescaped, unless it is "-".
func (d *Decoder) addQuoted(ev *event.Event, name string, v []byte) {
	if isDash(v) {
		return
	}
	d.web = appendCLFUnescaped(d.web[:0], v)
	ev.Append(name, d.web)
}

// addAccess adds the fields of a to ev and sets ev.Time.
func (d *Decoder) addAccess(ev *event.Event, a *accessLine) {
	ev.Time = a.time
	if len(a.vhost) > 0 && !isDash(a.vhost) {
		ev.Append("cs-host", a.vhost)
	}
	if len(a.port) > 0 {
		ev.Append("s-port", a.port)
	}
	ev.Append("c-ip", a.client)
	if !isDash(a.user) {
		ev.Append("cs-username", a.user)
	}
	d.addRequest(ev, a.request)
	if !isDash(a.status) {
		ev.Append("sc-status", a.status)
	}
	if isDash(a.bytes) {
		ev.AddString("sc-bytes", "0")
	} else {
		ev.Append("sc-bytes", a.bytes)
	}
	if a.hasReferer {
		d.addQuoted(ev, "cs-referer", a.referer)
	}
	if a.hasAgent {
		d.addQuoted(ev, "cs-user-agent", a.agent)
	}
}

// addRequest splits "METHOD URI VERSION" into cs-method, cs-uri (and its stem and
// query) and cs-version. A request that is not of that form (a TLS handshake sent to
// the HTTP port, "\x16\x03\x01…") is kept whole as cs-uri.
func (d *Decoder) addRequest(ev *event.Event, req []byte) {
	if len(req) == 0 || isDash(req) {
		return
	}
	d.web = appendCLFUnescaped(d.web[:0], req)
	r := d.web
	sp := bytes.IndexByte(r, ' ')
	if sp <= 0 {
		ev.Append("cs-uri", r)
		return
	}
	method, rest := r[:sp], r[sp+1:]
	var version []byte
	if k := bytes.LastIndexByte(rest, ' '); k >= 0 && hasPrefix(rest[k+1:], "HTTP/") {
		rest, version = rest[:k], rest[k+1:]
	} else if hasPrefix(rest, "HTTP/") && bytes.IndexByte(rest, ' ') < 0 {
		rest, version = nil, rest // "GET  HTTP/1.1": an empty URI
	}
	rest = bytes.TrimLeft(rest, " ")
	ev.Append("cs-method", method)
	if len(rest) > 0 {
		ev.Append("cs-uri", rest)
		stem, query, hasQuery := cutByte(rest, '?')
		ev.Append("cs-uri-stem", stem)
		if hasQuery {
			ev.Append("cs-uri-query", query)
		}
	}
	if len(version) > 0 {
		ev.Append("cs-version", version)
	}
}
