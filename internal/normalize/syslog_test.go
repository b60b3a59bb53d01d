package normalize

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/event"
)

// fixedNow is the clock of the syslog tests: RFC 3164 time stamps have no year.
var fixedNow = time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)

func newSyslogDecoder(now time.Time) *Decoder {
	d := NewDecoder()
	d.Now = func() time.Time { return now }
	return d
}

func TestSyslog(t *testing.T) {
	tests := []struct {
		name, in string
		now      time.Time // zero: fixedNow
		want     []string  // all fields, in order
		time     string    // RFC 3339; "" means zero
	}{
		// RFC 5424.
		{name: "5424 RFC example 1 with BOM", in: "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xef\xbb\xbf'su root' failed for lonvick on /dev/pts/8",
			want: []string{"facility=4", "severity=2", "host=mymachine.example.com", "program=su", "msgid=ID47",
				"message='su root' failed for lonvick on /dev/pts/8", "Channel=linux/auth"},
			time: "2003-10-11T22:14:15.003Z"},
		{name: "5424 structured data", in: `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"] An application event`,
			want: []string{"facility=20", "severity=5", "host=mymachine.example.com", "program=evntslog", "msgid=ID47",
				"sd.exampleSDID@32473.iut=3", "sd.exampleSDID@32473.eventSource=Application", "sd.exampleSDID@32473.eventID=1011",
				"sd.examplePriority@32473.class=high", "message=An application event", "Channel=linux/syslog"},
			time: "2003-10-11T22:14:15.003Z"},
		{name: "5424 SD escapes, no MSG, zone offset", in: `<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - [a b="c\"d\\e\]f" g=""]`,
			want: []string{"facility=20", "severity=5", "host=192.0.2.1", "program=myproc", "pid=8710", `sd.a.b=c"d\e]f`, "sd.a.g=", "Channel=linux/syslog"},
			time: "2003-08-24T12:14:15.000003Z"},
		{name: "5424 all nil", in: "<14>1 - - - - - -",
			want: []string{"facility=1", "severity=6", "Channel=linux/syslog"}},
		{name: "5424 without PRI (Zeek syslog.log)", in: `1 2018-03-24T08:59:37-07:00 PC-helen.jerry.land EvntSLog - - - @cee: {"msg":"x"}`,
			want: []string{"host=PC-helen.jerry.land", "program=EvntSLog", `message=@cee: {"msg":"x"}`, "Channel=linux/syslog"},
			time: "2018-03-24T15:59:37Z"},
		{name: "5424 sshd-session", in: "<38>1 2026-11-23T14:00:00Z bastion sshd-session 811 - - Failed password for root from 203.0.113.9 port 50022 ssh2\n",
			want: []string{"facility=4", "severity=6", "host=bastion", "program=sshd", "program_original=sshd-session", "pid=811",
				"message=Failed password for root from 203.0.113.9 port 50022 ssh2", "user=root", "src_ip=203.0.113.9", "src_port=50022",
				"auth_result=failure", "auth_method=password", "Channel=linux/auth"},
			time: "2026-11-23T14:00:00Z"},

		// RFC 3164.
		{name: "3164 sshd failed invalid user", in: "<38>Nov 23 14:00:00 web01 sshd[4242]: Failed password for invalid user admin from 203.0.113.9 port 52144 ssh2",
			want: []string{"facility=4", "severity=6", "host=web01", "program=sshd", "pid=4242",
				"message=Failed password for invalid user admin from 203.0.113.9 port 52144 ssh2",
				"user=admin", "src_ip=203.0.113.9", "src_port=52144", "auth_result=failure", "auth_method=password", "Channel=linux/auth"},
			time: "2026-11-23T14:00:00Z"},
		{name: "3164 file line, padded day, IPv6, publickey", in: "Nov  3 09:08:07 web01 sshd[1]: Accepted publickey for alice from 2001:db8::7 port 40000 ssh2: ED25519 SHA256:abc",
			want: []string{"host=web01", "program=sshd", "pid=1", "message=Accepted publickey for alice from 2001:db8::7 port 40000 ssh2: ED25519 SHA256:abc",
				"user=alice", "src_ip=2001:db8::7", "src_port=40000", "auth_result=success", "auth_method=publickey", "Channel=linux/auth"},
			time: "2026-11-03T09:08:07Z"},
		{name: "3164 no host, sudo", in: "<85>Nov 23 14:00:00 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id -u ; echo hi",
			want: []string{"facility=10", "severity=5", "program=sudo", "message=   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id -u ; echo hi",
				"user=alice", "tty=pts/0", "pwd=/home/alice", "target_user=root", "command=/usr/bin/id -u ; echo hi", "Channel=linux/auth"},
			time: "2026-11-23T14:00:00Z"},
		{name: "3164 sudo failure", in: "Nov 23 14:00:00 h sudo[9]: mallory : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh",
			want: []string{"host=h", "program=sudo", "pid=9", "message=mallory : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh",
				"user=mallory", "tty=pts/1", "pwd=/tmp", "target_user=root", "command=/bin/sh", "auth_result=failure", "Channel=linux/auth"},
			time: "2026-11-23T14:00:00Z"},
		{name: "year rollover: December read in January", in: "Dec 31 23:59:59 h cron[1]: hello", now: time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC),
			want: []string{"host=h", "program=cron", "pid=1", "message=hello", "Channel=linux/cron"}, time: "2026-12-31T23:59:59Z"},
		{name: "year rollover: January read on December 31st", in: "Jan  1 00:00:30 h app: x", now: time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC),
			want: []string{"host=h", "program=app", "message=x", "Channel=linux/syslog"}, time: "2027-01-01T00:00:30Z"},
		{name: "Feb 29 goes back to a leap year", in: "Feb 29 12:00:00 h app: x", now: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC),
			want: []string{"host=h", "program=app", "message=x", "Channel=linux/syslog"}, time: "2024-02-29T12:00:00Z"},
		{name: "3164 with year and fraction", in: "<13>Nov 23 2025 14:00:00.250 sw1 app: x",
			want: []string{"facility=1", "severity=5", "host=sw1", "program=app", "message=x", "Channel=linux/syslog"}, time: "2025-11-23T14:00:00.25Z"},
		{name: "ISO time stamp (rsyslog file format), sshd-session closed", in: "<86>2024-05-02T11:04:31.482913+02:00 host sshd-session[99]: Connection closed by authenticating user root 198.51.100.4 port 2222 [preauth]",
			want: []string{"facility=10", "severity=6", "host=host", "program=sshd", "program_original=sshd-session", "pid=99",
				"message=Connection closed by authenticating user root 198.51.100.4 port 2222 [preauth]", "user=root", "src_ip=198.51.100.4", "src_port=2222", "Channel=linux/auth"},
			time: "2024-05-02T09:04:31.482913Z"},
		{name: "PAM authentication failure", in: "Nov 23 14:00:00 h sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root",
			want: []string{"host=h", "program=sshd", "pid=1", "message=pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root",
				"user=root", "src_ip=203.0.113.9", "auth_result=failure", "Channel=linux/auth"}, time: "2026-11-23T14:00:00Z"},
		{name: "rsyslog repeated message", in: "Nov 23 14:00:00 h sshd[1]: message repeated 2 times: [ Failed password for root from 203.0.113.9 port 22 ssh2]",
			want: []string{"host=h", "program=sshd", "pid=1", "message=message repeated 2 times: [ Failed password for root from 203.0.113.9 port 22 ssh2]",
				"user=root", "src_ip=203.0.113.9", "src_port=22", "auth_result=failure", "auth_method=password", "Channel=linux/auth"}, time: "2026-11-23T14:00:00Z"},
		{name: "user name injection reads the address from the right", in: "Nov 23 14:00:00 h sshd[1]: Invalid user x from 6.6.6.6 port 1 from 203.0.113.9 port 5",
			want: []string{"host=h", "program=sshd", "pid=1", "message=Invalid user x from 6.6.6.6 port 1 from 203.0.113.9 port 5",
				"user=x from 6.6.6.6 port 1", "src_ip=203.0.113.9", "src_port=5", "auth_result=failure", "Channel=linux/auth"}, time: "2026-11-23T14:00:00Z"},
		{name: "disconnected, empty invalid user", in: "Nov 23 14:00:00 h sshd[1]: Disconnected from invalid user  203.0.113.9 port 22 [preauth]",
			want: []string{"host=h", "program=sshd", "pid=1", "message=Disconnected from invalid user  203.0.113.9 port 22 [preauth]",
				"src_ip=203.0.113.9", "src_port=22", "Channel=linux/auth"}, time: "2026-11-23T14:00:00Z"},
		{name: "host name instead of address (UseDNS)", in: "Nov 23 14:00:00 h sshd[1]: Failed none for root from attacker.example port 22 ssh2",
			want: []string{"host=h", "program=sshd", "pid=1", "message=Failed none for root from attacker.example port 22 ssh2",
				"user=root", "src_host=attacker.example", "src_port=22", "auth_result=failure", "auth_method=none", "Channel=linux/auth"}, time: "2026-11-23T14:00:00Z"},
		{name: "cron command", in: "Nov 23 14:00:01 h /USR/SBIN/CRON[77]: (root) CMD (/usr/local/bin/backup.sh --full)",
			want: []string{"host=h", "program=/USR/SBIN/CRON", "pid=77", "message=(root) CMD (/usr/local/bin/backup.sh --full)",
				"user=root", "command=/usr/local/bin/backup.sh --full", "Channel=linux/cron"}, time: "2026-11-23T14:00:01Z"},
		{name: "auditd through audispd", in: `<30>Nov 23 14:00:00 h audispd: node=h type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 success=yes exe="/usr/bin/curl" key="exec"`,
			want: []string{"facility=3", "severity=6", "host=h", "program=audispd",
				`message=node=h type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 success=yes exe="/usr/bin/curl" key="exec"`,
				"node=h", "type=SYSCALL", "msg=audit(1700000000.123:42)", "arch=c000003e", "syscall=59", "success=yes", "exe=/usr/bin/curl", "key=exec",
				"Channel=linux/auditd"}, time: "2026-11-23T14:00:00Z"},
		{name: "auditd USER_AUTH, nested msg, no header time", in: `type=USER_AUTH msg=audit(1700000000.5:7): pid=1 uid=0 msg='op=PAM:authentication acct="root" exe="/usr/bin/su" addr=? res=failed'`,
			want: []string{`message=type=USER_AUTH msg=audit(1700000000.5:7): pid=1 uid=0 msg='op=PAM:authentication acct="root" exe="/usr/bin/su" addr=? res=failed'`,
				"type=USER_AUTH", "msg=audit(1700000000.5:7)", "pid=1", "uid=0", `msg=op=PAM:authentication acct="root" exe="/usr/bin/su" addr=? res=failed`,
				"op=PAM:authentication", "acct=root", "exe=/usr/bin/su", "addr=?", "res=failed", "Channel=linux/auditd"}, time: "2023-11-14T22:13:20.5Z"},
		{name: "kernel audit", in: `Nov 23 14:00:00 h kernel: audit: type=1400 audit(1700000000.5:9): apparmor="DENIED" operation="open"`,
			want: []string{"host=h", "program=kernel", `message=audit: type=1400 audit(1700000000.5:9): apparmor="DENIED" operation="open"`,
				"type=1400", "msg=audit(1700000000.5:9)", "apparmor=DENIED", "operation=open", "Channel=linux/auditd"}, time: "2026-11-23T14:00:00Z"},
		{name: "authpriv facility, unknown program", in: "<86>Nov 23 14:00:00 h myauth: hello",
			want: []string{"facility=10", "severity=6", "host=h", "program=myauth", "message=hello", "Channel=linux/auth"}, time: "2026-11-23T14:00:00Z"},
		{name: "systemd-logind", in: "Nov 23 14:00:00 h systemd-logind[5]: New session 12 of user alice.",
			want: []string{"host=h", "program=systemd-logind", "pid=5", "message=New session 12 of user alice.", "user=alice", "Channel=linux/auth"}, time: "2026-11-23T14:00:00Z"},
		{name: "su failure", in: "Nov 23 14:00:00 h su[1]: FAILED SU (to root) alice on pts/0",
			want: []string{"host=h", "program=su", "pid=1", "message=FAILED SU (to root) alice on pts/0", "user=alice", "target_user=root", "auth_result=failure", "Channel=linux/auth"}, time: "2026-11-23T14:00:00Z"},
		{name: "no time stamp", in: "<13>hello world",
			want: []string{"facility=1", "severity=5", "message=hello world", "Channel=linux/syslog"}},
		{name: "no time stamp, tag", in: "<13>sshd: Invalid user bob from 192.0.2.8",
			want: []string{"facility=1", "severity=5", "program=sshd", "message=Invalid user bob from 192.0.2.8", "user=bob", "src_ip=192.0.2.8", "auth_result=failure", "Channel=linux/auth"}},
		{name: "no tag", in: "Nov 23 14:00:00 h last message repeated 3 times",
			want: []string{"host=h", "message=last message repeated 3 times", "Channel=linux/syslog"}, time: "2026-11-23T14:00:00Z"},
	}
	var ev event.Event
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = fixedNow
			}
			d := newSyslogDecoder(now)
			if err := d.Syslog([]byte(tc.in), &ev); err != nil {
				t.Fatalf("Syslog(%q) = %v", tc.in, err)
			}
			if got := fields(&ev); !slices.Equal(got, tc.want) {
				t.Errorf("Syslog(%q) fields\n got: %q\nwant: %q", tc.in, got, tc.want)
			}
			var want time.Time
			if tc.time != "" {
				want, _ = time.Parse(time.RFC3339Nano, tc.time)
			}
			if !ev.Time.Equal(want) {
				t.Errorf("Syslog(%q) time %v, want %v", tc.in, ev.Time, want)
			}
		})
	}
}

func TestSyslogLocation(t *testing.T) {
	d := newSyslogDecoder(fixedNow)
	d.SyslogLocation = time.FixedZone("JST", 9*3600)
	var ev event.Event
	if err := d.Syslog([]byte("Nov 23 14:00:00 h app: x"), &ev); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC); !ev.Time.Equal(want) || ev.Time.Location() != time.UTC {
		t.Errorf("time %v, want %v in UTC", ev.Time, want)
	}
	// A zone in the time stamp wins.
	if err := d.Syslog([]byte("<13>1 2026-11-23T14:00:00Z h app - - - x"), &ev); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC); !ev.Time.Equal(want) {
		t.Errorf("time %v, want %v", ev.Time, want)
	}
}

func TestSyslogErrors(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
		offset  int
	}{
		{"", "empty message", 0},
		{"\r\n", "empty message", 0},
		{"<999>1 - - - - - -", "PRI 999 out of range 0-191", 1},
		{"<192>Nov 23 14:00:00 h a: x", "PRI 192 out of range 0-191", 1},
		{"<12345>x", "PRI longer than 3 digits", 1},
		{"<ab>x", "PRI must be digits, found 'a'", 1},
		{"<>x", "PRI must be digits, found '>'", 1},
		{"<13", "PRI is not closed by '>'", 3},
		{"<13 x", "PRI must be closed by '>', found ' '", 3},
		{"<14>1 2003-13-11T22:14:15Z h a - - -", `invalid TIMESTAMP "2003-13-11T22:14:15Z"`, 6},
		{"<14>1 2003-10-11 h a - - -", `invalid TIMESTAMP "2003-10-11"`, 6},
		{"<14>1 - h a", "header ends before the PROCID", 11},
		{"<14>1 - h  a - - -", "empty APP-NAME (two spaces)", 10},
		{"<14>1 - h a - -", "header ends before the STRUCTURED-DATA", 15},
		{"<14>1 - h a - - x", "STRUCTURED-DATA must be '-' or start with '['", 16},
		{"<14>1 - h a - - [x a=b]", `expected =" after PARAM-NAME "a"`, 20},
		{"<14>1 - h a - - [x a=\"b]", `unterminated value of SD parameter "a"`, 21},
		{"<14>1 - h a - - [x a=\"b\"", `SD element "x" is not closed by ']'`, 24},
		{"<14>1 - h a - - []", "empty or invalid SD-ID, found ']'", 17},
		{"<14>1 - h a - - [x]msg", "expected a space after STRUCTURED-DATA, found 'm'", 19},
	}
	d := newSyslogDecoder(fixedNow)
	var ev event.Event
	for _, tc := range tests {
		err := d.Syslog([]byte(tc.in), &ev)
		var pe *ParseError
		if err == nil || !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("Syslog(%q) = %v, want a *ParseError containing %q", tc.in, err, tc.wantErr)
			continue
		}
		if pe.Offset != tc.offset {
			t.Errorf("Syslog(%q): offset %d, want %d (%v)", tc.in, pe.Offset, tc.offset, err)
		}
		if ev.Len() != 0 {
			t.Errorf("Syslog(%q) failed but left %d fields", tc.in, ev.Len())
		}
	}
}

// TestSyslogDoesNotAllocate: after warm-up, decoding allocates nothing.
func TestSyslogDoesNotAllocate(t *testing.T) {
	d := newSyslogDecoder(fixedNow)
	var ev event.Event
	for _, line := range syslogSeeds {
		b := []byte(line)
		_ = d.Syslog(b, &ev)
		if n := testing.AllocsPerRun(100, func() { _ = d.Syslog(b, &ev) }); n != 0 {
			t.Errorf("Syslog(%q) allocates %.1f times per line, want 0", line, n)
		}
	}
}

// syslogSeeds are lines of every kind, for the allocation test, the fuzzer and the
// benchmark.
var syslogSeeds = []string{
	"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xef\xbb\xbf'su root' failed for lonvick on /dev/pts/8",
	`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"] An application event`,
	`<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - [a b="c\"d\\e\]f"]`,
	"<38>Nov 23 14:00:00 web01 sshd[4242]: Failed password for invalid user admin from 203.0.113.9 port 52144 ssh2",
	"Nov  3 09:08:07 web01 sshd[1]: Accepted publickey for alice from 2001:db8::7 port 40000 ssh2: ED25519 SHA256:abc",
	"<85>Nov 23 14:00:00 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id -u",
	"<86>2024-05-02T11:04:31.482913+02:00 host sshd-session[99]: Connection closed by authenticating user root 198.51.100.4 port 2222 [preauth]",
	"Nov 23 14:00:00 h sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root",
	"Nov 23 14:00:00 h sshd[1]: message repeated 2 times: [ Failed password for root from 203.0.113.9 port 22 ssh2]",
	"Nov 23 14:00:01 h CRON[77]: (root) CMD (/usr/local/bin/backup.sh)",
	`<30>Nov 23 14:00:00 h audispd: node=h type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 success=yes exe="/usr/bin/curl" key="exec"`,
	`type=USER_AUTH msg=audit(1700000000.5:7): pid=1 uid=0 msg='op=PAM:authentication acct="root" exe="/usr/bin/su" addr=? res=failed'`,
	"Nov 23 14:00:00 h su[1]: FAILED SU (to root) alice on pts/0",
	"<13>hello world",
	"<14>1 - - - - - -",
	"Feb 29 12:00:00 h app: x",
}
