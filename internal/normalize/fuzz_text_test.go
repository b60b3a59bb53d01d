package normalize

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"testing/iotest"

	"github.com/mamori-soc/mamori/internal/event"
)

// checkParseError fails unless err is a *ParseError with an offset inside line.
func checkParseError(t *testing.T, fn string, line []byte, err error) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("%s(%q) = %v, want a *ParseError", fn, line, err)
	}
	if pe.Offset < 0 || pe.Offset > len(line) {
		t.Fatalf("%s(%q): offset %d outside the line", fn, line, pe.Offset)
	}
}

// FuzzSyslog checks that Syslog never panics; that a failure leaves no field and names a
// byte offset in the line; and that a success has named fields, facility <= 23 and
// severity <= 7 (and PRI = facility*8 + severity), one Channel among the four, and
// host, pid, msgid and message taken from the line.
func FuzzSyslog(f *testing.F) {
	for _, s := range syslogSeeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{"<999>1 - - - - - -", "<14>1 - h a - - [x a=\"b\\\"]", "<13", "1 2018-03-24T08:59:37-07:00 h a - - - x",
		"Feb 30 00:00:00 h a: x", "<0>Jan  1 00:00:00 x[", "Nov 23 2025 14:00:00.1 h a[1] m", "type=X msg='a='b' audit(", "<13>sudo: a : b"} {
		f.Add([]byte(s))
	}
	d := newSyslogDecoder(fixedNow)
	var ev event.Event
	f.Fuzz(func(t *testing.T, line []byte) {
		err := d.Syslog(line, &ev)
		if err != nil {
			if ev.Len() != 0 {
				t.Fatalf("Syslog(%q) failed (%v) but left %d fields", line, err, ev.Len())
			}
			checkParseError(t, "Syslog", line, err)
			return
		}
		channels := 0
		facility, severity := -1, -1
		for i := 0; i < ev.Len(); i++ {
			name, val := string(ev.Name(i)), ev.Value(i)
			if name == "" {
				t.Fatalf("Syslog(%q): field %d has an empty name (value %q)", line, i, val)
			}
			switch name {
			case "facility", "severity":
				n, err := strconv.Atoi(string(val))
				if err != nil || n < 0 || (name == "facility" && n > 23) || (name == "severity" && n > 7) {
					t.Fatalf("Syslog(%q): %s = %q", line, name, val)
				}
				if name == "facility" {
					facility = n
				} else {
					severity = n
				}
			case "Channel":
				channels++
				switch string(val) {
				case ChannelAuth, ChannelCron, ChannelAuditd, ChannelSyslog:
				default:
					t.Fatalf("Syslog(%q): Channel %q", line, val)
				}
			case "host", "pid", "msgid", "message":
				if !bytes.Contains(line, val) {
					t.Fatalf("Syslog(%q): %s %q is not in the line", line, name, val)
				}
			}
		}
		if channels != 1 {
			t.Fatalf("Syslog(%q): %d Channel fields", line, channels)
		}
		if len(line) > 0 && line[0] == '<' {
			end := bytes.IndexByte(line, '>')
			pri, err := strconv.Atoi(string(line[1:max(end, 1)]))
			if err != nil || facility < 0 || pri != facility*8+severity {
				t.Fatalf("Syslog(%q): facility %d, severity %d do not give the PRI", line, facility, severity)
			}
		} else if facility >= 0 {
			t.Fatalf("Syslog(%q): facility without PRI", line)
		}
	})
}

// FuzzAccessLog checks that AccessLog never panics; that a failure leaves no field and
// names a byte offset in the line; and that a success starts with Channel webserver, has
// named fields, a client from the line, a three-digit status, and cs-uri equal to
// cs-uri-stem[?cs-uri-query].
func FuzzAccessLog(f *testing.F) {
	for _, s := range accessSeeds {
		f.Add([]byte(s))
	}
	// Real lines when the shared data is there (without it, the fuzzer still runs).
	if data, err := os.ReadFile(filepath.Join(repoRoot(f), "..", "shared", "data", "web", "apache-scans", "acunetix.txt")); err == nil {
		for _, l := range bytes.SplitN(data, []byte("\n"), 40) {
			f.Add(l)
		}
	}
	for _, s := range []string{`a b c [10/Oct/2000:13:55:36 -0700] "GET /a"b" HTTP/1.0" 404 10 "\`, `a b c d [01/Jan/2000:00:00:00] "-" - - "" ""`, `"`} {
		f.Add([]byte(s))
	}
	d := NewDecoder()
	var ev event.Event
	f.Fuzz(func(t *testing.T, line []byte) {
		err := d.AccessLog(line, &ev)
		if err != nil {
			if ev.Len() != 0 {
				t.Fatalf("AccessLog(%q) failed (%v) but left %d fields", line, err, ev.Len())
			}
			checkParseError(t, "AccessLog", line, err)
			return
		}
		if ev.Len() == 0 || string(ev.Name(0)) != "Channel" || string(ev.Value(0)) != ChannelWebserver {
			t.Fatalf("AccessLog(%q): fields %q, want Channel webserver first", line, fields(&ev))
		}
		for i := 0; i < ev.Len(); i++ {
			if len(ev.Name(i)) == 0 {
				t.Fatalf("AccessLog(%q): field %d has an empty name", line, i)
			}
		}
		if ip, ok := ev.Get("c-ip"); !ok || len(ip) == 0 || !bytes.Contains(line, ip) {
			t.Fatalf("AccessLog(%q): c-ip %q", line, ip)
		}
		if st, ok := ev.Get("sc-status"); ok && (len(st) != 3 || !allDigits(st)) {
			t.Fatalf("AccessLog(%q): sc-status %q", line, st)
		}
		if uri, ok := ev.Get("cs-uri"); ok {
			if stem, ok := ev.Get("cs-uri-stem"); ok {
				rebuilt := string(stem)
				if q, ok := ev.Get("cs-uri-query"); ok {
					rebuilt += "?" + string(q)
				}
				if rebuilt != string(uri) {
					t.Fatalf("AccessLog(%q): cs-uri %q, stem and query give %q", line, uri, rebuilt)
				}
			}
		}
	})
}

// FuzzSplitSyslogTCP checks that the framing never panics, that every message is
// non-empty and within the limit, and that the result does not depend on how the stream
// arrives: byte by byte into a small buffer, or all at once.
func FuzzSplitSyslogTCP(f *testing.F) {
	for _, s := range []string{
		"11 <13>hello a\n<13>line two\n4 <1>x\x00<14>nul-term\r\n",
		"20 <13>aaaaaaaaaaaaaaaa<13>ok\n", "<13>123456789\n<13>ok\n", "30 <13>short", "2024-05-02T11:04:31Z host app: x\n123",
		"12345678901 x\n", "6 a\nb\x00c\n\n", "99999999 x",
	} {
		f.Add([]byte(s), uint16(16))
	}
	f.Fuzz(func(t *testing.T, in []byte, max16 uint16) {
		max := int(max16%512) + 1
		run := func(br *bufio.Reader) ([]string, string) {
			var msgs []string
			err := SplitSyslogTCP(br, max, func(msg []byte) error {
				if len(msg) == 0 || len(msg) > max {
					t.Fatalf("SplitSyslogTCP(%q, %d) passed %q", in, max, msg)
				}
				msgs = append(msgs, string(msg))
				return nil
			})
			if err != nil {
				return msgs, err.Error()
			}
			return msgs, ""
		}
		m1, e1 := run(bufio.NewReader(bytes.NewReader(in)))
		m2, e2 := run(bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(in)), 16))
		if !slices.Equal(m1, m2) || e1 != e2 {
			t.Fatalf("SplitSyslogTCP(%q, %d):\nall at once:  %q, %s\nbyte by byte: %q, %s", in, max, m1, e1, m2, e2)
		}
		total := 0
		for _, m := range m1 {
			total += len(m)
		}
		if total > len(in) {
			t.Fatalf("SplitSyslogTCP(%q): %d bytes of messages from %d", in, total, len(in))
		}
	})
}

// FuzzZeekTSV checks that ZeekTSV never panics, that every record starts with Channel
// zeek/… and has named fields, and that line numbers only grow.
func FuzzZeekTSV(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "zeek", "conn_dns.log"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("#separator \\x20\n#fields a b\n#types set[x] bool\n1,2 T\n(empty) -\n"))
	f.Add([]byte("#fields\t\tts\n#types\tstring\ttime\nx\t1.5\n#set_separator\t\\x\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		last := 0
		err := ZeekTSV(bytes.NewReader(in), func(line int, ev *event.Event) error {
			if line <= last {
				t.Fatalf("ZeekTSV(%q): record at line %d after line %d", in, line, last)
			}
			last = line
			if ev.Len() == 0 || string(ev.Name(0)) != "Channel" || !bytes.HasPrefix(ev.Value(0), []byte("zeek/")) {
				t.Fatalf("ZeekTSV(%q) line %d: fields %q", in, line, fields(ev))
			}
			for i := 0; i < ev.Len(); i++ {
				if len(ev.Name(i)) == 0 {
					t.Fatalf("ZeekTSV(%q) line %d: field %d has an empty name", in, line, i)
				}
			}
			return nil
		}, func(line int, err error) {
			if line < 1 || err == nil {
				t.Fatalf("ZeekTSV(%q): onErr(%d, %v)", in, line, err)
			}
		})
		if err != nil {
			t.Fatalf("ZeekTSV(%q) = %v", in, err)
		}
	})
}
