package normalize

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/event"
)

func TestAccessLog(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // all fields after Channel, in order
		time     string
	}{
		{name: "combined", in: `203.0.113.9 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?a=1&b=2 HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"`,
			want: []string{"c-ip=203.0.113.9", "cs-username=frank", "cs-method=GET", "cs-uri=/apache_pb.gif?a=1&b=2", "cs-uri-stem=/apache_pb.gif",
				"cs-uri-query=a=1&b=2", "cs-version=HTTP/1.0", "sc-status=200", "sc-bytes=2326", "cs-referer=http://www.example.com/start.html",
				"cs-user-agent=Mozilla/4.08 [en] (Win98; I ;Nav)"},
			time: "2000-10-10T20:55:36Z"},
		{name: "common, no size", in: "127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \"GET /index.html HTTP/1.1\" 304 -\r\n",
			want: []string{"c-ip=127.0.0.1", "cs-method=GET", "cs-uri=/index.html", "cs-uri-stem=/index.html", "cs-version=HTTP/1.1", "sc-status=304", "sc-bytes=0"},
			time: "2000-10-10T13:55:36Z"},
		{name: "vhost_combined with a web shell", in: `www.example.com:443 198.51.100.7 - - [02/May/2024:11:04:31 +0200] "POST /uploads/x.php?cmd=whoami HTTP/1.1" 200 512 "-" "curl/8.0"`,
			want: []string{"cs-host=www.example.com", "s-port=443", "c-ip=198.51.100.7", "cs-method=POST", "cs-uri=/uploads/x.php?cmd=whoami",
				"cs-uri-stem=/uploads/x.php", "cs-uri-query=cmd=whoami", "cs-version=HTTP/1.1", "sc-status=200", "sc-bytes=512", "cs-user-agent=curl/8.0"},
			time: "2024-05-02T09:04:31Z"},
		{name: "vhost without port, IPv6 client", in: `shop.example 2001:db8::1 - - [02/May/2024:11:04:31 +0000] "GET / HTTP/2.0" 200 10`,
			want: []string{"cs-host=shop.example", "c-ip=2001:db8::1", "cs-method=GET", "cs-uri=/", "cs-uri-stem=/", "cs-version=HTTP/2.0", "sc-status=200", "sc-bytes=10"},
			time: "2024-05-02T11:04:31Z"},
		{name: "escapes in quoted values", in: `192.0.2.1 - - [02/May/2024:11:04:31 +0000] "GET /a\"b HTTP/1.1" 200 1 "() { :;}; echo \"NS:\" $(/bin/sh -c \"id\")" "x\\y\x41"`,
			want: []string{"c-ip=192.0.2.1", "cs-method=GET", `cs-uri=/a"b`, `cs-uri-stem=/a"b`, "cs-version=HTTP/1.1", "sc-status=200", "sc-bytes=1",
				`cs-referer=() { :;}; echo "NS:" $(/bin/sh -c "id")`, `cs-user-agent=x\y\x41`},
			time: "2024-05-02T11:04:31Z"},
		{name: "empty URI", in: `192.0.2.1 - - [22/Dec/2016:16:18:09 +0300] "GET  HTTP/1.1" 400 300 "-" "-"`,
			want: []string{"c-ip=192.0.2.1", "cs-method=GET", "cs-version=HTTP/1.1", "sc-status=400", "sc-bytes=300"},
			time: "2016-12-22T13:18:09Z"},
		{name: "nginx empty request", in: `192.0.2.1 - - [02/May/2024:11:04:31 +0000] "-" 400 0 "-" "-"`,
			want: []string{"c-ip=192.0.2.1", "sc-status=400", "sc-bytes=0"}, time: "2024-05-02T11:04:31Z"},
		{name: "TLS handshake on the HTTP port", in: `192.0.2.1 - - [02/May/2024:11:04:31 +0000] "\x16\x03\x01\x00\xa5\x01" 400 226 "-" "-"`,
			want: []string{"c-ip=192.0.2.1", `cs-uri=\x16\x03\x01\x00\xa5\x01`, "sc-status=400", "sc-bytes=226"}, time: "2024-05-02T11:04:31Z"},
		{name: "unescaped quote in the request (old Apache)", in: `192.0.2.1 - - [02/May/2024:11:04:31 +0000] "GET /a"b" HTTP/1.0" 404 10`,
			want: []string{"c-ip=192.0.2.1", "cs-method=GET", `cs-uri=/a"b"`, `cs-uri-stem=/a"b"`, "cs-version=HTTP/1.0", "sc-status=404", "sc-bytes=10"},
			time: "2024-05-02T11:04:31Z"},
		{name: "nginx with X-Forwarded-For after the agent", in: `10.0.0.2 - bob [02/May/2024:11:04:31 +0000] "GET /x? HTTP/1.1" 200 5 "-" "Go-http-client/1.1" "203.0.113.50"`,
			want: []string{"c-ip=10.0.0.2", "cs-username=bob", "cs-method=GET", "cs-uri=/x?", "cs-uri-stem=/x", "cs-uri-query=", "cs-version=HTTP/1.1",
				"sc-status=200", "sc-bytes=5", "cs-user-agent=Go-http-client/1.1"},
			time: "2024-05-02T11:04:31Z"},
		{name: "HTTP/0.9 and referer only", in: `10.0.0.2 - - [02/May/2024:11:04:31 +0000] "GET /" 200 5 "http://r/"`,
			want: []string{"c-ip=10.0.0.2", "cs-method=GET", "cs-uri=/", "cs-uri-stem=/", "sc-status=200", "sc-bytes=5", "cs-referer=http://r/"},
			time: "2024-05-02T11:04:31Z"},
		{name: "wrapped in quotes, as a spreadsheet exports it", in: `"192.168.4.25 - - [22/Dec/2016:16:30:52 +0300] "POST /administrator/index.php HTTP/1.1" 303 382 "http://192.168.4.161/DVWA" "Mozilla/5.0""`,
			want: []string{"c-ip=192.168.4.25", "cs-method=POST", "cs-uri=/administrator/index.php", "cs-uri-stem=/administrator/index.php", "cs-version=HTTP/1.1",
				"sc-status=303", "sc-bytes=382", "cs-referer=http://192.168.4.161/DVWA", "cs-user-agent=Mozilla/5.0"},
			time: "2016-12-22T13:30:52Z"},
	}
	d := NewDecoder()
	var ev event.Event
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := d.AccessLog([]byte(tc.in), &ev); err != nil {
				t.Fatalf("AccessLog(%q) = %v", tc.in, err)
			}
			want := append([]string{"Channel=webserver"}, tc.want...)
			if got := fields(&ev); !slices.Equal(got, want) {
				t.Errorf("AccessLog(%q) fields\n got: %q\nwant: %q", tc.in, got, want)
			}
			wantTime, _ := time.Parse(time.RFC3339, tc.time)
			if !ev.Time.Equal(wantTime) {
				t.Errorf("AccessLog(%q) time %v, want %v", tc.in, ev.Time, wantTime)
			}
		})
	}
}

func TestAccessLogErrors(t *testing.T) {
	tests := []struct {
		in, wantErr string
		offset      int
	}{
		{"", "empty line", 0},
		{`"`, "empty line", 1},
		{"1.2.3.4 - -", "line ends before the time", 11},
		{"a b c d e [x]", "expected '[' and the time after at most 4 words", 8},
		{"a  b [x]", "empty word (two spaces)", 2},
		{"a b [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1", "expected client, ident and user before the time, found 2 words", 4},
		{"a b c [10/Oct/2000:13:55:36 -0700", "time not closed by ']'", 6},
		{"a b c [10/Foo/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1", `invalid time "10/Foo/2000:13:55:36 -0700"`, 7},
		{"a b c [31/Feb/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1", `invalid time "31/Feb/2000:13:55:36 -0700"`, 7},
		{"a b c [10/Oct/2000:13:55:36 -0700] GET / 200 1", "expected ' \"' and the request after the time", 34},
		{"a b c [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0 200 1", "request not closed by '\"'", 36},
		{"a b c [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 2000 1", `invalid status "2000"`, 52},
		{"a b c [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200", "line ends before the size", 55},
		{"a b c [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1k", `invalid size "1k"`, 56},
		{"a b c [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1 \"ref", "referer not closed by '\"'", 58},
	}
	d := NewDecoder()
	var ev event.Event
	for _, tc := range tests {
		err := d.AccessLog([]byte(tc.in), &ev)
		var pe *ParseError
		if err == nil || !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("AccessLog(%q) = %v, want a *ParseError containing %q", tc.in, err, tc.wantErr)
			continue
		}
		if pe.Offset != tc.offset {
			t.Errorf("AccessLog(%q): offset %d, want %d (%v)", tc.in, pe.Offset, tc.offset, err)
		}
		if ev.Len() != 0 {
			t.Errorf("AccessLog(%q) failed but left %d fields", tc.in, ev.Len())
		}
	}
}

// TestAccessLogCorpus decodes the Apache access logs of three web vulnerability scanners
// (acunetix, netsparker, w3af against DVWA), every line, and checks the fields against an
// independent split of the same line.
func TestAccessLogCorpus(t *testing.T) {
	dir := filepath.Join(sharedData(t), "web", "apache-scans")
	d := NewDecoder()
	var ev event.Event
	// Lines per file (wc -l, plus the last one, which has no newline); all of them parse.
	want := map[string]int{"acunetix.txt": 6539, "netsparker.txt": 7314, "w3af.txt": 3996}
	total, withQuery, shellshock := 0, 0, 0
	for file, n := range want {
		f, err := os.Open(filepath.Join(dir, file))
		if err != nil {
			t.Fatalf("corpus absent: %v", err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		lines, failures := 0, 0
		for sc.Scan() {
			lines++
			line := sc.Bytes()
			if err := d.AccessLog(line, &ev); err != nil {
				failures++
				if failures <= 5 {
					t.Errorf("%s:%d: %v\n%s", file, lines, err, line)
				}
				continue
			}
			// The independent reference: the client is the first word after the wrapping
			// quote, the status and size the two words after the request.
			s := strings.TrimPrefix(string(line), `"`)
			if client := strings.Fields(s)[0]; ev.GetString("c-ip") != client {
				t.Fatalf("%s:%d: c-ip %q, want %q", file, lines, ev.GetString("c-ip"), client)
			}
			if ev.Time.Year() != 2016 {
				t.Fatalf("%s:%d: time %v", file, lines, ev.Time)
			}
			if _, ok := ev.Get("sc-status"); !ok {
				t.Fatalf("%s:%d: no sc-status: %q", file, lines, fields(&ev))
			}
			if _, ok := ev.Get("cs-uri-query"); ok {
				withQuery++
			}
			if strings.Contains(ev.GetString("cs-referer"), "() {") || strings.Contains(ev.GetString("cs-user-agent"), "() {") {
				shellshock++
			}
			checkNames(t, &ev, line)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		if lines != n || failures != 0 {
			t.Errorf("%s: %d lines, %d failed; want %d lines, none failing", file, lines, failures, n)
		}
		total += lines
	}
	if withQuery < 1000 || shellshock == 0 {
		t.Errorf("%d requests with a query, %d Shellshock probes: want many and some", withQuery, shellshock)
	}
	t.Logf("%d lines, all parsed; %d with a query, %d Shellshock probes", total, withQuery, shellshock)
}

// TestAccessLogDoesNotAllocate: after warm-up, decoding allocates nothing.
func TestAccessLogDoesNotAllocate(t *testing.T) {
	d := NewDecoder()
	var ev event.Event
	for _, line := range accessSeeds {
		b := []byte(line)
		_ = d.AccessLog(b, &ev)
		if n := testing.AllocsPerRun(100, func() { _ = d.AccessLog(b, &ev) }); n != 0 {
			t.Errorf("AccessLog(%q) allocates %.1f times per line, want 0", line, n)
		}
	}
}

var accessSeeds = []string{
	`203.0.113.9 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?a=1&b=2 HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"`,
	`127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /index.html HTTP/1.1" 304 -`,
	`www.example.com:443 198.51.100.7 - - [02/May/2024:11:04:31 +0200] "POST /uploads/x.php?cmd=whoami HTTP/1.1" 200 512 "-" "curl/8.0"`,
	`192.0.2.1 - - [02/May/2024:11:04:31 +0000] "GET /a\"b HTTP/1.1" 200 1 "() { :;}; echo \"NS:\" $(/bin/sh -c \"id\")" "x\\y"`,
	`192.0.2.1 - - [02/May/2024:11:04:31 +0000] "\x16\x03\x01\x00\xa5\x01" 400 226 "-" "-"`,
	`"192.168.4.25 - - [22/Dec/2016:16:30:52 +0300] "POST /administrator/index.php HTTP/1.1" 303 382 "http://192.168.4.161/DVWA" "Mozilla/5.0""`,
}
