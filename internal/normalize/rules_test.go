package normalize_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/event"
	"github.com/mamori-soc/mamori/internal/normalize"
	"github.com/mamori-soc/mamori/internal/rulepack"
	"github.com/mamori-soc/mamori/internal/sigma"
)

// TestBuiltInRulesMatch runs what the decoders produce through Mamori's own rule pack
// and Sigma engine: the SSH brute-force correlation over syslog lines (3164, 5424 and
// OpenSSH 9.8's sshd-session, and a Filebeat auth.log document), the web shell rule over
// an access-log line and a Filebeat nginx document, and the DNS long-label rule over a
// Sysmon 22 record.
func TestBuiltInRulesMatch(t *testing.T) {
	rules, errs := sigma.LoadFS(rulepack.Rules(), "rules")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	set, errs := sigma.Compile(rules, sigma.CompileOptions{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	m := set.NewMatcher()
	d := normalize.NewDecoder()
	d.Now = func() time.Time { return time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC) }
	var ev event.Event
	match := func(ev *event.Event) []string {
		var titles []string
		for _, i := range m.Match(ev, nil) {
			titles = append(titles, set.Rules[i].Title)
		}
		return titles
	}

	t.Run("ssh brute force", func(t *testing.T) {
		c := set.NewCorrelator()
		var fired []string
		for i := range 12 {
			var line, kind string
			switch i % 4 {
			case 0:
				kind, line = "syslog", fmt.Sprintf("<38>Nov 23 14:00:%02d bastion sshd[%d]: Failed password for invalid user u%d from 203.0.113.9 port %d ssh2", i, 100+i, i, 40000+i)
			case 1:
				kind, line = "syslog", fmt.Sprintf("<38>1 2026-11-23T14:00:%02dZ bastion sshd-session %d - - Failed password for root from 203.0.113.9 port %d ssh2", i, 100+i, 40000+i)
			case 2:
				kind, line = "syslog", fmt.Sprintf("Nov 23 14:00:%02d bastion sshd[%d]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root", i, 100+i)
			case 3:
				kind, line = "json", fmt.Sprintf(`{"@timestamp":"2026-11-23T14:00:%02d.5Z","event":{"dataset":"system.auth"},"host":{"name":"bastion"},"message":"Nov 23 14:00:%02d bastion sshd[%d]: Invalid user u%d from 203.0.113.9 port %d"}`, i, i, 100+i, i, 40000+i)
			}
			var err error
			if kind == "json" {
				err = d.JSON([]byte(line), &ev)
			} else {
				err = d.Syslog([]byte(line), &ev)
			}
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			hits := m.Match(&ev, nil)
			if len(hits) != 1 || set.Rules[hits[0]].Title != "Failed SSH Authentication" {
				t.Fatalf("%s: matched %q, want the failed SSH authentication rule; fields %q", line, match(&ev), ev.Map())
			}
			for _, h := range c.Observe(hits[0], ev.Time, func(f string) (string, bool) {
				v, ok := ev.Get(f)
				return string(v), ok
			}) {
				fired = append(fired, fmt.Sprintf("%s %v", set.Correlations[h.Corr].Title, h.Group))
			}
		}
		if want := []string{"SSH Brute Force From One Source map[src_ip:203.0.113.9]"}; !slices.Equal(fired, want) {
			t.Errorf("correlations %q, want %q", fired, want)
		}
		// A success is not a failure.
		if err := d.Syslog([]byte("Nov 23 14:01:00 bastion sshd[1]: Accepted password for root from 203.0.113.9 port 1 ssh2"), &ev); err != nil {
			t.Fatal(err)
		}
		if got := match(&ev); len(got) != 0 {
			t.Errorf("accepted login matched %q", got)
		}
	})

	t.Run("web shell", func(t *testing.T) {
		for _, tc := range []struct{ kind, in string }{
			{"access", `203.0.113.7 - - [02/May/2024:11:04:31 +0000] "GET /uploads/shell.php?cmd=whoami HTTP/1.1" 200 12 "-" "curl/8.0"`},
			{"access", `"192.168.4.25 - - [22/Dec/2016:16:30:52 +0300] "GET /x.aspx?exec=cmd.exe+/c+ipconfig HTTP/1.1" 200 1 "-" "-""`},
			{"json", `{"@timestamp":"2024-05-02T11:04:40Z","event":{"dataset":"nginx.access"},"host":{"name":"web01"},"message":"203.0.113.7 - - [02/May/2024:11:04:31 +0000] \"GET /uploads/shell.php?c=uname+-a HTTP/1.1\" 200 12 \"-\" \"curl/8.0\""}`},
			{"json", `{"log":{"file":{"path":"/var/log/apache2/access.log"}},"message":"203.0.113.7 - - [02/May/2024:11:04:31 +0000] \"POST /a.php?command=net+user HTTP/1.1\" 200 12"}`},
		} {
			var err error
			if tc.kind == "json" {
				err = d.JSON([]byte(tc.in), &ev)
			} else {
				err = d.AccessLog([]byte(tc.in), &ev)
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.in, err)
			}
			if got := match(&ev); !slices.Equal(got, []string{"Web Shell Command In Request"}) {
				t.Errorf("%s: matched %q; fields %q", tc.in, got, ev.Map())
			}
		}
		if err := d.AccessLog([]byte(`203.0.113.7 - - [02/May/2024:11:04:31 +0000] "GET /index.php?page=whoami-we-are HTTP/1.1" 200 12`), &ev); err != nil {
			t.Fatal(err)
		}
		if got := match(&ev); len(got) != 0 {
			t.Errorf("benign query matched %q", got)
		}
	})

	t.Run("dns long label", func(t *testing.T) {
		doc := `{"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon"}},"EventID":22,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"ws1"},"EventData":{"QueryName":"a3f9c2e81b7d4065a9e3c1f2b8d7e6a5c4.tunnel.example","Image":"C:\\x.exe"}}}`
		if err := d.JSON([]byte(doc), &ev); err != nil {
			t.Fatal(err)
		}
		if got := match(&ev); !slices.Equal(got, []string{"Long Random-Looking DNS Label"}) {
			t.Errorf("matched %q", got)
		}
	})
}
