package normalize

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/mamori-soc/mamori/internal/event"
)

func TestEntitiesOf(t *testing.T) {
	sysmon1, err := os.ReadFile(filepath.Join("testdata", "winlogbeat", "sysmon_1.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		kind string // json, syslog, access
		in   string
		want Entities
	}{
		{name: "winlogbeat sysmon 1", kind: "json", in: string(bytes.TrimSpace(sysmon1)), want: Entities{
			Host: "WS01.corp.example.com", User: `CORP\alice`, Process: `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`,
			CommandLine:   "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA",
			ParentProcess: `C:\Windows\System32\cmd.exe`, Hash: "DE96A6E69944335375DC1AC238336066889D9FFC7D73628EF4FE1B1B160AB32C",
		}},
		{name: "4624: the account logging on, mapped IPv4", kind: "json",
			in:   `{"Event":{"System":{"EventID":4624,"Channel":"Security","Computer":"dc01.corp"},"EventData":{"SubjectUserName":"DC01$","TargetUserName":"bob","TargetDomainName":"CORP","IpAddress":"::ffff:10.1.2.3","IpPort":"50123","ProcessName":"C:\\Windows\\System32\\lsass.exe"}}}`,
			want: Entities{Host: "dc01.corp", User: "bob", SrcIP: "10.1.2.3", SrcPort: "50123", Process: `C:\Windows\System32\lsass.exe`}},
		{name: "4625 from nowhere", kind: "json",
			in:   `{"EventID":4625,"Channel":"Security","Hostname":"ws2","SubjectUserName":"-","TargetUserName":"admin","IpAddress":"-","IpPort":"-"}`,
			want: Entities{Host: "ws2", User: "admin"}},
		{name: "4688: the creator, not the target", kind: "json",
			in:   `{"EventID":4688,"Channel":"Security","Hostname":"ws2","SubjectUserName":"alice","TargetUserName":"-","NewProcessName":"C:\\x.exe","ParentProcessName":"C:\\p.exe","CommandLine":"x -y"}`,
			want: Entities{Host: "ws2", User: "alice", Process: `C:\x.exe`, ParentProcess: `C:\p.exe`, CommandLine: "x -y"}},
		{name: "sysmon 3 and 22", kind: "json",
			in:   `{"EventID":3,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"ws3","SourceIp":"127.0.0.1","SourcePort":"1","DestinationIp":"203.0.113.5","DestinationPort":"443","DestinationHostname":"evil.example","QueryName":"q.example","Image":"C:\\b.exe","Hashes":"MD5=AA,SHA1=BB"}`,
			want: Entities{Host: "ws3", SrcPort: "1", DstIP: "203.0.113.5", DstPort: "443", Domain: "q.example", Process: `C:\b.exe`, Hash: "BB"}},
		{name: "winlogbeat ECS leftovers", kind: "json",
			in:   `{"winlog":{"event_id":4776},"host":{"name":"ws4"},"user":{"name":"carol"},"source":{"ip":"10.0.0.9","port":5}}`,
			want: Entities{Host: "ws4", User: "carol", SrcIP: "10.0.0.9", SrcPort: "5"}},
		{name: "generic JSON, loopback source", kind: "json",
			in:   `{"source":{"ip":"::1"},"destination":{"ip":"10.0.0.1","port":80},"url":{"original":"http://x/y"}}`,
			want: Entities{DstIP: "10.0.0.1", DstPort: "80", URL: "http://x/y"}},
		{name: "sshd", kind: "syslog", in: "<38>Nov 23 14:00:00 web01 sshd[4242]: Failed password for invalid user admin from 203.0.113.9 port 52144 ssh2",
			want: Entities{Host: "web01", User: "admin", SrcIP: "203.0.113.9", SrcPort: "52144", Process: "sshd"}},
		{name: "sshd from loopback", kind: "syslog", in: "Nov 23 14:00:00 web01 sshd[1]: Accepted password for root from 127.0.0.1 port 1 ssh2",
			want: Entities{Host: "web01", User: "root", SrcPort: "1", Process: "sshd"}},
		{name: "sudo", kind: "syslog", in: "Nov 23 14:00:00 h sudo[9]: alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/id",
			want: Entities{Host: "h", User: "alice", Process: "sudo", CommandLine: "/bin/id"}},
		{name: "auditd", kind: "syslog", in: `Nov 23 14:00:00 h audispd: type=USER_AUTH msg=audit(1700000000.5:7): pid=1 msg='op=PAM:authentication acct="root" exe="/usr/bin/su" addr=? res=failed'`,
			want: Entities{Host: "h", User: "root", Process: "/usr/bin/su"}},
		{name: "access log", kind: "access", in: `www.example.com:443 198.51.100.7 - bob [02/May/2024:11:04:31 +0200] "POST /x.php?cmd=id HTTP/1.1" 200 512 "-" "curl/8.0"`,
			want: Entities{User: "bob", SrcIP: "198.51.100.7", DstPort: "443", Domain: "www.example.com", URL: "/x.php?cmd=id"}},
		{name: "filebeat access log", kind: "json", in: `{"event":{"dataset":"nginx.access"},"host":{"name":"web01"},"message":"198.51.100.7 - - [02/May/2024:11:04:31 +0000] \"GET / HTTP/1.1\" 200 1"}`,
			want: Entities{Host: "web01", SrcIP: "198.51.100.7", URL: "/"}},
		{name: "suricata http alert", kind: "json",
			in:   `{"timestamp":"2024-05-02T11:04:31.856335+0000","flow_id":1,"event_type":"alert","src_ip":"192.168.0.54","src_port":63259,"dest_ip":"157.56.114.104","dest_port":80,"host":"sensor1","http":{"hostname":"ui.example.com","url":"/ui/0/x?ver=1"}}`,
			want: Entities{Host: "sensor1", SrcIP: "192.168.0.54", SrcPort: "63259", DstIP: "157.56.114.104", DstPort: "80", Domain: "ui.example.com", URL: "http://ui.example.com/ui/0/x?ver=1"}},
		{name: "suricata dns", kind: "json",
			in:   `{"timestamp":"2024-05-02T11:04:32Z","event_type":"dns","src_ip":"10.1.2.3","dest_ip":"10.0.0.53","dns":{"type":"query","rrname":"a.example"}}`,
			want: Entities{SrcIP: "10.1.2.3", DstIP: "10.0.0.53", Domain: "a.example"}},
		{name: "zeek dns", kind: "json",
			in:   `{"_path":"dns","ts":"2024-05-02T11:04:31.865716Z","uid":"C1","id.orig_h":"10.1.2.3","id.orig_p":41772,"id.resp_h":"10.0.0.53","id.resp_p":53,"query":"intranet.example.org"}`,
			want: Entities{SrcIP: "10.1.2.3", SrcPort: "41772", DstIP: "10.0.0.53", DstPort: "53", Domain: "intranet.example.org"}},
		{name: "zeek http", kind: "json",
			in:   `{"_path":"http","_system_name":"zeek1","ts":1,"uid":"C1","id.orig_h":"10.1.2.3","id.resp_h":"10.0.0.80","method":"GET","host":"intranet","uri":"/a?b"}`,
			want: Entities{Host: "zeek1", SrcIP: "10.1.2.3", DstIP: "10.0.0.80", Domain: "intranet", URL: "http://intranet/a?b"}},
	}
	d := newSyslogDecoder(fixedNow)
	var ev event.Event
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			switch tc.kind {
			case "json":
				err = d.JSON([]byte(tc.in), &ev)
			case "syslog":
				err = d.Syslog([]byte(tc.in), &ev)
			case "access":
				err = d.AccessLog([]byte(tc.in), &ev)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := EntitiesOf(&ev); got != tc.want {
				t.Errorf("EntitiesOf\n got: %+v\nwant: %+v\nfields: %q", got, tc.want, fields(&ev))
			}
		})
	}
}

// TestEntitiesOfRegression: every SigmaHQ regression event (evtx_dump) names its host,
// and every one with a user field names a user.
func TestEntitiesOfRegression(t *testing.T) {
	root := filepath.Join(sharedData(t), "sigma", "regression_data")
	d := NewDecoder()
	var ev event.Event
	n := 0
	_ = filepath.WalkDir(root, func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() || filepath.Ext(p) != ".json" || n >= 300 {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return Lines(bytes.NewReader(data), func(line int, doc []byte) error {
			if err := d.JSON(doc, &ev); err != nil {
				t.Fatalf("%s:%d: %v", p, line, err)
			}
			n++
			e := EntitiesOf(&ev)
			if e.Host == "" || e.Host != ev.GetString("Computer") {
				t.Errorf("%s:%d: Host %q, Computer %q", p, line, e.Host, ev.GetString("Computer"))
			}
			for _, f := range []string{"User", "SubjectUserName", "TargetUserName"} {
				if v := ev.GetString(f); v != "" && v != "-" && e.User == "" {
					t.Errorf("%s:%d: %s is %q but User is empty", p, line, f, v)
				}
			}
			return nil
		}, nil)
	})
	if n == 0 {
		t.Fatal("no regression data")
	}
}

// TestHostOfAgreesWithEntitiesOf: the cheap host lookup must give what
// EntitiesOf gives, for every source.
func TestHostOfAgreesWithEntitiesOf(t *testing.T) {
	cases := [][]string{
		{"Channel", "Security", "Computer", "DC01", "host.name", "other"},
		{"Channel", "Security", "Computer", "-", "host.name", "h2"},
		{"Channel", "linux/auth", "host", "web01", "hostname", "x"},
		{"Channel", "webserver", "s-computername", "IIS1", "host", "web01"},
		{"Channel", "suricata/alert", "host", "sensor1"},
		{"Channel", "zeek/dns", "_node", "n1", "_system_name", "zeek1"},
		{"Channel", "Microsoft-Windows-Sysmon/Operational", "Hostname", "?", "hostname", "h3"},
		{"message", "no channel", "host.name", "generic"},
		{"Channel", "Security"},
	}
	for _, kv := range cases {
		ev := &event.Event{}
		for i := 0; i+1 < len(kv); i += 2 {
			ev.AddString(kv[i], kv[i+1])
		}
		if got, want := HostOf(ev), EntitiesOf(ev).Host; got != want {
			t.Errorf("%v: HostOf = %q, EntitiesOf.Host = %q", kv, got, want)
		}
	}
}
