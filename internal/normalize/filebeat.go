package normalize

import (
	"time"

	"github.com/mamori-soc/mamori/internal/event"
)

// emitFilebeat maps a Filebeat document that ships a web server access log or a syslog
// file: its message line is decoded (AccessLog's or Syslog's fields, and their Channel,
// come first), then the rest of the document is flattened as generic JSON, with
// host.name named host (unless the line named the host already). ev.Time is the line's
// time, else @timestamp; the year of a syslog time stamp is read relative to @timestamp,
// as Filebeat read the line then. A syslog line decoded into fields leaves its text in
// event.original, and message holds its MSG part; an access-log line stays in message.
// A line that does not decode leaves the document generic, with Channel webserver or
// linux/syslog. Filebeat reading journald ships the bare MSG; its program then comes from
// log.syslog.appname or process.name (and process.pid), as if the line were
// "PROGRAM[PID]: MSG".
func (d *Decoder) emitFilebeat(ev *event.Event) {
	// Copy the line: d.str may return d.val, which the decoders below use.
	d.nested = append(d.nested[:0], d.str(d.msgTok)...)
	rawName := "message"
	if d.net&netWebAccess != 0 {
		d.addConst(ev, "Channel", ChannelWebserver)
		var a accessLine
		if _, ok := parseAccess(d.nested, &a); ok {
			d.addAccess(ev, &a)
			d.timeRank = 0 // the request's time beats @timestamp
		}
	} else {
		for k := uint32(1); k < d.toks[0].next; k = d.toks[k+1].next {
			if d.keyIs(k, "@timestamp") {
				if t, ok := parseTime(d.str(k + 1)); ok {
					d.ref = t
				}
				break
			}
		}
		d.prefixApp()
		err := d.syslog(d.nested, ev)
		d.ref = time.Time{}
		if err != nil {
			ev.Reset()
			d.addConst(ev, "Channel", ChannelSyslog)
		} else {
			rawName = "event.original"
			if !ev.Time.IsZero() {
				d.timeRank = 0
			}
		}
	}
	hasHost := ev.Index("host") >= 0
	for k := uint32(1); k < d.toks[0].next; k = d.toks[k+1].next {
		v := k + 1
		if r := d.timeRankOf(k); r < len(timeKeys) {
			d.offerTime(ev, r, v)
		}
		switch {
		case v == d.msgTok:
			d.name = append(d.name[:0], rawName...)
			d.flatten(ev, v)
			continue
		case d.toks[v].kind == kindObject && d.keyIs(k, "host"):
			for hk := v + 1; hk < d.toks[v].next; hk = d.toks[hk+1].next {
				if !hasHost && d.keyIs(hk, "name") && d.toks[hk+1].kind == kindString {
					d.name = append(d.name[:0], "host"...)
					hasHost = true
				} else {
					d.name = append(d.name[:0], "host."...)
					d.name = d.appendKey(d.name, hk, false)
				}
				d.flatten(ev, hk+1)
			}
			continue
		case !hasHost && d.toks[v].kind == kindString && d.keyIs(k, "host.name"):
			d.name = append(d.name[:0], "host"...)
			hasHost = true
			d.flatten(ev, v)
			continue
		}
		d.name = d.appendKey(d.name[:0], k, false)
		d.flatten(ev, v)
	}
}

// prefixApp turns the bare MSG in d.nested into "PROGRAM[PID]: MSG" when it has no
// syslog header and the document names the program (Filebeat's journald input:
// log.syslog.appname or process.name, process.pid).
func (d *Decoder) prefixApp() {
	b := d.nested
	if len(b) == 0 || b[0] == '<' || isRFC5424(b, 0) {
		return
	}
	if _, _, ok := d.timestamp3164(b, 0); ok {
		return
	}
	app, pid := d.docMember("log", "syslog", "appname"), d.docMember("process", "pid")
	if app == 0 {
		app = d.docMember("process", "name")
	}
	if app == 0 || d.toks[app].kind != kindString {
		return
	}
	d.web = append(d.web[:0], d.str(app)...)
	if pid != 0 && d.toks[pid].kind == kindNumber {
		d.web = append(append(append(d.web, '['), d.str(pid)...), ']')
	}
	d.web = append(append(d.web, ": "...), d.nested...)
	d.nested, d.web = d.web, d.nested
}

// docMember returns the value token of the top-level key a.b[.c] (nested objects or
// a flat dotted key), or 0.
func (d *Decoder) docMember(a, b string, c ...string) uint32 {
	for k := uint32(1); k < d.toks[0].next; k = d.toks[k+1].next {
		key := d.keyText(k)
		if !hasPrefix(key, a) {
			continue
		}
		rest := key[len(a):]
		v := k + 1
		switch {
		case len(rest) == 0 && d.toks[v].kind == kindObject:
			// Nested: a: {b: {c: …}} or a: {"b.c": …}.
			for bk := v + 1; bk < d.toks[v].next; bk = d.toks[bk+1].next {
				bkey := d.keyText(bk)
				if !hasPrefix(bkey, b) {
					continue
				}
				brest, bv := bkey[len(b):], bk+1
				if len(c) == 0 {
					if len(brest) == 0 {
						return bv
					}
					continue
				}
				if len(brest) == 0 && d.toks[bv].kind == kindObject {
					if t, ok := d.member(bv, c[0]); ok {
						return t
					}
				} else if len(brest) == len(c[0])+1 && brest[0] == '.' && string(brest[1:]) == c[0] {
					return bv
				}
			}
		case len(rest) > 0 && rest[0] == '.':
			// Flat: "a.b" or "a.b.c".
			rest = rest[1:]
			if !hasPrefix(rest, b) {
				continue
			}
			rest = rest[len(b):]
			if len(c) == 0 && len(rest) == 0 {
				return v
			}
			if len(c) > 0 && len(rest) == len(c[0])+1 && rest[0] == '.' && string(rest[1:]) == c[0] {
				return v
			}
		}
	}
	return 0
}
