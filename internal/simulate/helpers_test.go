package simulate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// t0 is the start of every test's timeline.
var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// decoded is a record with its body parsed: m for JSON bodies, sys for syslog lines.
type decoded struct {
	Record
	m   map[string]any
	sys *syslogLine
}

type syslogLine struct {
	pri     int
	rfc5424 bool
	time    time.Time
	host    string
	app     string
	msg     string
}

// decode parses every record's body, failing the test on any malformed one.
func decode(t testing.TB, recs []Record) []decoded {
	t.Helper()
	out := make([]decoded, len(recs))
	for i, r := range recs {
		out[i].Record = r
		if bytes.IndexByte(r.Body, '\n') >= 0 || bytes.IndexByte(r.Body, '\r') >= 0 {
			t.Fatalf("record %d (%s) body has a raw line break: %s", i, r.Transport, r.Body)
		}
		switch r.Transport {
		case Bulk, NDJSON:
			if err := json.Unmarshal(r.Body, &out[i].m); err != nil {
				t.Fatalf("record %d (%s, scenario %q): invalid JSON: %v\n%s", i, r.Transport, r.Scenario, err, r.Body)
			}
		case SyslogUDP, SyslogTCP:
			l, err := parseSyslog(string(r.Body), r.Time.Year())
			if err != nil {
				t.Fatalf("record %d: invalid syslog line: %v\n%s", i, err, r.Body)
			}
			out[i].sys = l
		default:
			t.Fatalf("record %d: unknown transport %q", i, r.Transport)
		}
	}
	return out
}

// parseSyslog checks and splits an RFC 5424 or RFC 3164 line (the subset the generator writes).
func parseSyslog(s string, year int) (*syslogLine, error) {
	if len(s) < 4 || s[0] != '<' {
		return nil, fmt.Errorf("no <PRI>")
	}
	end := strings.IndexByte(s, '>')
	if end < 2 || end > 4 {
		return nil, fmt.Errorf("bad <PRI>")
	}
	pri, err := strconv.Atoi(s[1:end])
	if err != nil || pri < 0 || pri > 191 {
		return nil, fmt.Errorf("PRI %q out of range 0..191", s[1:end])
	}
	l := &syslogLine{pri: pri}
	rest := s[end+1:]
	if strings.HasPrefix(rest, "1 ") {
		l.rfc5424 = true
		f := strings.SplitN(rest[2:], " ", 7) // TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG
		if len(f) != 7 {
			return nil, fmt.Errorf("RFC 5424 line has %d header fields", len(f))
		}
		if l.time, err = time.Parse(time.RFC3339Nano, f[0]); err != nil {
			return nil, fmt.Errorf("RFC 5424 timestamp: %v", err)
		}
		if f[4] != "-" || f[5] != "-" {
			return nil, fmt.Errorf("RFC 5424 MSGID/SD = %q %q", f[4], f[5])
		}
		if _, err := strconv.Atoi(f[3]); err != nil {
			return nil, fmt.Errorf("RFC 5424 PROCID %q", f[3])
		}
		l.host, l.app, l.msg = f[1], f[2], f[6]
		return l, nil
	}
	if len(rest) < 16 || rest[15] != ' ' {
		return nil, fmt.Errorf("neither RFC 5424 nor an RFC 3164 timestamp")
	}
	ts, err := time.Parse(time.Stamp, rest[:15])
	if err != nil {
		return nil, fmt.Errorf("RFC 3164 timestamp: %v", err)
	}
	l.time = ts.AddDate(year, 0, 0)
	f := strings.SplitN(rest[16:], " ", 3)
	if len(f) != 3 || !strings.HasSuffix(f[1], "]:") || strings.IndexByte(f[1], '[') < 1 {
		return nil, fmt.Errorf("RFC 3164 HOSTNAME TAG[PID]: missing")
	}
	l.host, l.app, l.msg = f[0], f[1][:strings.IndexByte(f[1], '[')], f[2]
	return l, nil
}

// get walks a dotted path through nested JSON objects; keys with dots (Zeek's id.orig_h)
// are tried whole first.
func get(m map[string]any, path string) any {
	if v, ok := m[path]; ok {
		return v
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		if sub, ok := m[path[:i]].(map[string]any); ok {
			if v := get(sub, path[i+1:]); v != nil {
				return v
			}
		}
	}
	return nil
}

func str(m map[string]any, path string) string {
	switch v := get(m, path).(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// ed returns a Windows EventData field.
func (d *decoded) ed(name string) string { return str(d.m, "winlog.event_data."+name) }

// win reports whether d is a Windows event of the given channel and id.
func (d *decoded) win(channel string, id int) bool {
	return d.m != nil && str(d.m, "winlog.channel") == channel && str(d.m, "winlog.event_id") == strconv.Itoa(id)
}

const (
	sysmonChannel   = "Microsoft-Windows-Sysmon/Operational"
	securityChannel = "Security"
	systemChannel   = "System"
)

// bodyTime is the event time a record's body states.
func (d *decoded) bodyTime() (time.Time, error) {
	if d.sys != nil {
		return d.sys.time, nil
	}
	if s := str(d.m, "@timestamp"); s != "" {
		return time.Parse(time.RFC3339Nano, s)
	}
	if s := str(d.m, "timestamp"); s != "" {
		return time.Parse("2006-01-02T15:04:05.999999-0700", s)
	}
	if v, ok := d.m["ts"].(float64); ok {
		sec := int64(v)
		return time.Unix(sec, int64((v-float64(sec))*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("no timestamp")
}

// bodyPrecision is how finely a record's body states its time.
func (d *decoded) bodyPrecision() time.Duration {
	switch {
	case d.sys != nil && !d.sys.rfc5424:
		return time.Second
	case d.sys != nil:
		return time.Microsecond
	case d.m["@timestamp"] != nil:
		return time.Millisecond
	default:
		return time.Millisecond // EVE's µs, and Zeek's float ts loses a little
	}
}

func isPublic(ip string) bool {
	a, err := netip.ParseAddr(ip)
	return err == nil && !a.IsPrivate() && !a.IsLoopback() && !a.IsUnspecified()
}

// ticks runs n Ticks of dt from t0 and returns all records.
func ticks(g *Generator, n int, dt time.Duration) []Record {
	var all []Record
	for i := range n {
		all = append(all, g.Tick(t0.Add(time.Duration(i)*dt), dt)...)
	}
	return all
}

func ipIn(cidr, ip string) bool {
	p, err := netip.ParsePrefix(cidr)
	a, err2 := netip.ParseAddr(ip)
	return err == nil && err2 == nil && p.Contains(a)
}
