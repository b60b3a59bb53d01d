package normalize

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/event"
)

// TestSuricataChannel decodes every shared EVE sample: each record is an alert.
func TestSuricataChannel(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(sharedData(t), "network", "suricata", "samples", "*", "alerts-only.json"))
	if len(files) != 4 {
		t.Fatalf("found %d EVE samples, want 4", len(files))
	}
	total := 0
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		evs, shapes := decodeAll(t, bytes.NewReader(data))
		for i, ev := range evs {
			if shapes[i] != ShapeSuricata || ev.GetString("Channel") != "suricata/alert" || ev.Index("Channel") != 0 {
				t.Fatalf("%s event %d: shape %v, fields %q", p, i, shapes[i], fields(ev))
			}
			if ev.GetString("src_ip") == "" || ev.GetString("alert.signature") == "" || ev.Time.IsZero() {
				t.Fatalf("%s event %d: fields %q", p, i, fields(ev))
			}
		}
		total += len(evs)
	}
	if total != 136+44+161+207 {
		t.Errorf("%d alerts, want 548", total)
	}
	// Other event types, and what is not EVE.
	d := NewDecoder()
	var ev event.Event
	for _, tc := range []struct{ doc, channel string }{
		{`{"timestamp":"2024-05-02T11:04:31.856335+0000","flow_id":1,"event_type":"flow","src_ip":"10.0.0.1"}`, "suricata/flow"},
		{`{"timestamp":"2024-05-02T11:04:31.856335+0000","event_type":"stats","stats":{"uptime":5}}`, "suricata/stats"},
		{`{"timestamp":"2024-05-02T11:04:31Z","event_type":"login","user":"x"}`, ""}, // an application log
	} {
		if err := d.JSON([]byte(tc.doc), &ev); err != nil {
			t.Fatal(err)
		}
		if got := ev.GetString("Channel"); got != tc.channel {
			t.Errorf("JSON(%s): Channel %q, want %q", tc.doc, got, tc.channel)
		}
	}
}

// TestZeekChannel decodes the shared Zeek JSON logs: Channel is zeek/<_path>, and,
// with _path removed, the same log is inferred from the fields for every record that has
// ts, uid and id.orig_h.
func TestZeekChannel(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(sharedData(t), "network", "zeek", "zeek-json", "*.json.gz"))
	if len(files) < 30 {
		t.Fatalf("found %d Zeek logs, want 31", len(files))
	}
	d := NewDecoder()
	var ev event.Event
	inferred := map[string]int{}
	total, unknown := 0, 0
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzipReader(f)
		if err != nil {
			t.Fatal(err)
		}
		log := strings.TrimSuffix(filepath.Base(p), ".json.gz")
		prefix := []byte(`{"_path":"` + log + `",`)
		for i, line := range readLines(t, zr, 300) {
			if err := d.JSON(line, &ev); err != nil {
				t.Fatalf("%s line %d: %v", log, i+1, err)
			}
			if d.Shape() != ShapeZeek || ev.GetString("Channel") != "zeek/"+log || ev.Index("Channel") != 0 {
				t.Fatalf("%s line %d: shape %v, Channel %q", log, i+1, d.Shape(), ev.GetString("Channel"))
			}
			// Without _path.
			if !bytes.HasPrefix(line, prefix) {
				t.Fatalf("%s line %d does not start with %s", log, i+1, prefix)
			}
			stripped := append([]byte("{"), line[len(prefix):]...)
			if err := d.JSON(stripped, &ev); err != nil {
				t.Fatal(err)
			}
			if d.Shape() != ShapeZeek {
				continue // no uid or no id.orig_h: x509, files, known_*, stats…
			}
			switch got := ev.GetString("Channel"); got {
			case "zeek/" + log:
				inferred[log]++
			case "zeek/unknown":
				// Only the connection fields (an ntlm record whose exchange never
				// started): nothing tells the log.
				unknown++
			default:
				t.Fatalf("%s line %d without _path: Channel %q", log, i+1, got)
			}
			total++
		}
		f.Close()
	}
	var logs []string
	for l := range inferred {
		logs = append(logs, l)
	}
	slices.Sort(logs)
	want := []string{"analyzer", "dce_rpc", "dns", "dpd", "ftp", "kerberos", "ldap_search", "modbus", "notice", "ntlm", "ntp",
		"rdp", "rfb", "smb_files", "smb_mapping", "smtp", "snmp", "ssh", "ssl", "syslog", "weird"}
	if !slices.Equal(logs, want) {
		t.Errorf("logs inferred without _path: %q, want %q", logs, want)
	}
	if unknown*50 > total {
		t.Errorf("%d of %d records without _path inferred as zeek/unknown, want under 2%%", unknown, total)
	}
	t.Logf("without _path: %d records, %d inferred right, %d unknown", total, total-unknown, unknown)

	t.Run("otrf @stream", func(t *testing.T) {
		p := dataFile(t, "otrf/compound/apt29/day1/zeek/NASHUA-zeek_logs.zip")
		for _, log := range []string{"conn", "dns", "kerberos", "smb_files", "x509"} {
			evs, shapes := decodeAll(t, zipMember(t, p, log+".log"))
			for i, ev := range evs {
				if shapes[i] != ShapeZeek || ev.GetString("Channel") != "zeek/"+log {
					t.Fatalf("%s event %d: shape %v, Channel %q", log, i, shapes[i], ev.GetString("Channel"))
				}
				if _, ok := ev.Get("id_orig_h"); ok {
					t.Fatalf("%s event %d: id_orig_h not renamed: %q", log, i, fields(ev))
				}
			}
			if log == "conn" && (len(evs) == 0 || evs[0].GetString("id.orig_h") == "") {
				t.Errorf("conn: no id.orig_h")
			}
		}
	})

	t.Run("inference", func(t *testing.T) {
		for _, tc := range []struct{ doc, channel string }{
			{`{"ts":1,"uid":"C1","id.orig_h":"10.0.0.1","proto":"tcp","conn_state":"SF"}`, "zeek/conn"},
			{`{"ts":1,"uid":"C1","id.orig_h":"10.0.0.1","method":"GET","host":"example.com","uri":"/"}`, "zeek/http"},
			{`{"ts":1,"uid":"C1","id":{"orig_h":"10.0.0.1"},"query":"example.com"}`, "zeek/dns"},
			{`{"ts":1,"uid":"C1","id.orig_h":"10.0.0.1","whatever":1}`, "zeek/unknown"},
			{`{"ts":1,"uid":"C1","query":"x"}`, ""}, // not enough to call it Zeek
		} {
			if err := d.JSON([]byte(tc.doc), &ev); err != nil {
				t.Fatal(err)
			}
			if got := ev.GetString("Channel"); got != tc.channel {
				t.Errorf("JSON(%s): Channel %q, want %q", tc.doc, got, tc.channel)
			}
		}
	})
}

// TestFilebeat decodes Filebeat documents that carry access-log and syslog lines.
func TestFilebeat(t *testing.T) {
	tests := []struct {
		name, doc string
		fields    []string // all fields, in order
		time      string
	}{
		{name: "nginx access, web shell", doc: `{"@timestamp":"2024-05-02T11:04:40.000Z","event":{"dataset":"nginx.access","module":"nginx"},"host":{"name":"web01","os":{"family":"debian"}},"message":"198.51.100.7 - - [02/May/2024:11:04:31 +0000] \"GET /uploads/x.php?cmd=net+user HTTP/1.1\" 200 512 \"-\" \"Mozilla/5.0 \\\"x\\\"\""}`,
			fields: []string{"Channel=webserver", "c-ip=198.51.100.7", "cs-method=GET", "cs-uri=/uploads/x.php?cmd=net+user", "cs-uri-stem=/uploads/x.php",
				"cs-uri-query=cmd=net+user", "cs-version=HTTP/1.1", "sc-status=200", "sc-bytes=512", `cs-user-agent=Mozilla/5.0 "x"`,
				"@timestamp=2024-05-02T11:04:40.000Z", "event.dataset=nginx.access", "event.module=nginx", "host=web01", "host.os.family=debian",
				`message=198.51.100.7 - - [02/May/2024:11:04:31 +0000] "GET /uploads/x.php?cmd=net+user HTTP/1.1" 200 512 "-" "Mozilla/5.0 \"x\""`},
			time: "2024-05-02T11:04:31Z"},
		{name: "apache access by log.file.path, flat keys", doc: `{"log.file.path":"/var/log/apache2/ssl_access.log.1","host.name":"web02","message":"10.0.0.1 - - [02/May/2024:11:04:31 +0000] \"GET / HTTP/1.1\" 200 1"}`,
			fields: []string{"Channel=webserver", "c-ip=10.0.0.1", "cs-method=GET", "cs-uri=/", "cs-uri-stem=/", "cs-version=HTTP/1.1", "sc-status=200", "sc-bytes=1",
				"log.file.path=/var/log/apache2/ssl_access.log.1", "host=web02", `message=10.0.0.1 - - [02/May/2024:11:04:31 +0000] "GET / HTTP/1.1" 200 1`},
			time: "2024-05-02T11:04:31Z"},
		{name: "IIS (W3C, not CLF) stays generic", doc: `{"@timestamp":"2024-05-02T11:04:40Z","event":{"dataset":"iis.access"},"message":"2024-05-02 11:04:31 10.0.0.5 GET /x - 443"}`,
			fields: []string{"Channel=webserver", "@timestamp=2024-05-02T11:04:40Z", "event.dataset=iis.access", "message=2024-05-02 11:04:31 10.0.0.5 GET /x - 443"},
			time:   "2024-05-02T11:04:40Z"},
		{name: "system.auth, year from @timestamp", doc: `{"@timestamp":"2019-01-01T00:00:05.000Z","log":{"file":{"path":"/var/log/auth.log"}},"event":{"dataset":"system.auth"},"host":{"name":"bastion-fb"},"message":"Dec 31 23:59:58 bastion sshd[811]: Failed password for root from 203.0.113.9 port 50022 ssh2"}`,
			fields: []string{"host=bastion", "program=sshd", "pid=811", "message=Failed password for root from 203.0.113.9 port 50022 ssh2",
				"user=root", "src_ip=203.0.113.9", "src_port=50022", "auth_result=failure", "auth_method=password", "Channel=linux/auth",
				"@timestamp=2019-01-01T00:00:05.000Z", "log.file.path=/var/log/auth.log", "event.dataset=system.auth", "host.name=bastion-fb",
				"event.original=Dec 31 23:59:58 bastion sshd[811]: Failed password for root from 203.0.113.9 port 50022 ssh2"},
			time: "2018-12-31T23:59:58Z"},
		{name: "syslog file, line without host", doc: `{"@timestamp":"2024-05-02T11:04:40Z","log":{"file":{"path":"/var/log/secure-20240502"}},"host":{"name":"db01"},"message":"May  2 11:04:39 CRON[5]: (root) CMD (true)"}`,
			fields: []string{"program=CRON", "pid=5", "message=(root) CMD (true)", "user=root", "command=true", "Channel=linux/cron",
				"@timestamp=2024-05-02T11:04:40Z", "log.file.path=/var/log/secure-20240502", "host=db01", "event.original=May  2 11:04:39 CRON[5]: (root) CMD (true)"},
			time: "2024-05-02T11:04:39Z"},
		{name: "journald through Filebeat: bare MSG, program from the document", doc: `{"@timestamp":"2024-05-02T11:04:40.123Z","event":{"dataset":"system.auth"},"host":{"hostname":"bastion","name":"bastion"},"log":{"syslog":{"appname":"sshd","facility":{"code":4}}},"process":{"pid":811,"name":"sshd"},"message":"Failed password for root from 203.0.113.9 port 50022 ssh2"}`,
			fields: []string{"program=sshd", "pid=811", "message=Failed password for root from 203.0.113.9 port 50022 ssh2",
				"user=root", "src_ip=203.0.113.9", "src_port=50022", "auth_result=failure", "auth_method=password", "Channel=linux/auth",
				"@timestamp=2024-05-02T11:04:40.123Z", "event.dataset=system.auth", "host.hostname=bastion", "host=bastion",
				"log.syslog.appname=sshd", "log.syslog.facility.code=4", "process.pid=811", "process.name=sshd",
				"event.original=Failed password for root from 203.0.113.9 port 50022 ssh2"},
			time: "2024-05-02T11:04:40.123Z"},
		{name: "journald, flat keys, process.name only", doc: `{"event.dataset":"system.syslog","process.name":"CRON","message":"(root) CMD (true)"}`,
			fields: []string{"program=CRON", "message=(root) CMD (true)", "user=root", "command=true", "Channel=linux/cron",
				"event.dataset=system.syslog", "process.name=CRON", "event.original=(root) CMD (true)"}},
		{name: "syslog line that does not decode", doc: `{"@timestamp":"2024-05-02T11:04:40Z","event":{"dataset":"system.syslog"},"message":"<999>x"}`,
			fields: []string{"Channel=linux/syslog", "@timestamp=2024-05-02T11:04:40Z", "event.dataset=system.syslog", "message=<999>x"},
			time:   "2024-05-02T11:04:40Z"},
		{name: "other Filebeat documents stay generic", doc: `{"@timestamp":"2024-05-02T11:04:40Z","event":{"dataset":"nginx.error"},"message":"x"}`,
			fields: []string{"@timestamp=2024-05-02T11:04:40Z", "event.dataset=nginx.error", "message=x"},
			time:   "2024-05-02T11:04:40Z"},
	}
	d := newSyslogDecoder(fixedNow)
	var ev event.Event
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := d.JSON([]byte(tc.doc), &ev); err != nil {
				t.Fatal(err)
			}
			if got := fields(&ev); !slices.Equal(got, tc.fields) {
				t.Errorf("fields\n got: %q\nwant: %q", got, tc.fields)
			}
			var want time.Time
			if tc.time != "" {
				want, _ = time.Parse(time.RFC3339, tc.time)
			}
			if !ev.Time.Equal(want) {
				t.Errorf("time %v, want %v", ev.Time, want)
			}
			if tc.name == "syslog line that does not decode" {
				return // the discarded syntax error allocates
			}
			doc := []byte(tc.doc)
			if n := testing.AllocsPerRun(50, func() { _ = d.JSON(doc, &ev) }); n != 0 {
				t.Errorf("JSON allocates %.1f times per document, want 0", n)
			}
		})
	}
}

// TestZeekTSV reads a hand-written log holding two concatenated Zeek logs (conn with
// a custom separator, then dns) and the malformed lines around them.
func TestZeekTSV(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "zeek", "conn_dns.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got, errs []string
	err = ZeekTSV(f, func(line int, ev *event.Event) error {
		got = append(got, fmt.Sprintf("%d %s %q", line, ev.Time.Format(time.RFC3339Nano), fields(ev)))
		return nil
	}, func(line int, err error) {
		errs = append(errs, fmt.Sprintf("%d %v", line, err))
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`10 2020-04-30T00:06:39.82437Z ["Channel=zeek/conn" "ts=1588205199.824370" "uid=Cvf4XX17hSAgXDdGEd" "id.orig_h=10.0.1.6" "id.orig_p=54243" "id.resp_h=10.0.0.4" "id.resp_p=53" "proto=udp" "service=dns" "local_orig=true" "tunnel_parents=Cabc" "tunnel_parents=Cdef"]`,
		`11 2020-04-30T00:06:40Z ["Channel=zeek/conn" "ts=1588205200" "uid=CJ21Le4zsTUcyKKi98" "id.orig_h=10.0.1.7" "id.orig_p=1" "id.resp_h=10.0.0.4" "id.resp_p=445" "proto=tcp" "local_orig=false"]`,
		`24 2020-04-30T00:06:41.5Z ["Channel=zeek/dns" "ts=1588205201.5" "uid=CqKst53mF3det3eDV9" "id.orig_h=10.1.2.3" "id.orig_p=41772" "id.resp_h=10.0.0.53" "id.resp_p=53" "query=a\tb.example" "qtype_name=" "AA=false" "answers=web.example.org" "answers=10.9.8.7" "TTLs=2230.0" "TTLs=41830.0"]`,
		`25 2020-04-30T00:06:42Z ["Channel=zeek/dns" "ts=1588205202.0" "uid=C2" "id.orig_h=10.1.2.4" "id.orig_p=1" "id.resp_h=10.0.0.53" "id.resp_p=53" "query=x,y" "AA=true"]`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("records\n got: %q\nwant: %q", got, want)
	}
	wantErrs := []string{
		"1 line 1: record before the #fields header",
		"12 invalid Zeek TSV log at offset 0: line 12 has 3 values, #fields names 10",
		`15 invalid Zeek TSV log at offset 11: line 15: separator "\\x0909" is not one byte`,
	}
	if !slices.Equal(errs, wantErrs) {
		t.Errorf("errors\n got: %q\nwant: %q", errs, wantErrs)
	}
}
