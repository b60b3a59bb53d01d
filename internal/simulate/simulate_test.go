package simulate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/tenant"
)

func TestDeterminism(t *testing.T) {
	run := func(seed int64) []Record {
		g := New(Config{Seed: seed})
		recs := ticks(g, 3, time.Second)
		sc, err := g.Scenario("beaconing", g.Orgs()[3].Tenant.ID, t0.Add(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return append(recs, sc...)
	}
	a, b := run(7), run(7)
	if len(a) != len(b) {
		t.Fatalf("seed 7 gave %d records, then %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Org != b[i].Org || a[i].Transport != b[i].Transport || a[i].Scenario != b[i].Scenario ||
			!a[i].Time.Equal(b[i].Time) || !bytes.Equal(a[i].Body, b[i].Body) {
			t.Fatalf("seed 7 record %d differs between runs:\n%s\n%s", i, a[i].Body, b[i].Body)
		}
	}
	c := run(8)
	same := 0
	for i := range min(len(a), len(c)) {
		if bytes.Equal(a[i].Body, c[i].Body) {
			same++
		}
	}
	if same > len(a)/100 {
		t.Fatalf("seeds 7 and 8 share %d of %d records", same, len(a))
	}
	oa, oc := New(Config{Seed: 7}).Orgs(), New(Config{Seed: 8}).Orgs()
	if slices.EqualFunc(oa, oc, func(x, y Org) bool { return x.Tenant == y.Tenant && x.Internal == y.Internal }) {
		t.Fatal("seeds 7 and 8 built the same organisations")
	}
}

func TestOrgs(t *testing.T) {
	orgs := New(Config{Seed: 1}).Orgs()
	if len(orgs) != 40 {
		t.Fatalf("got %d orgs, want 40 by default", len(orgs))
	}
	ids := map[tenant.ID]bool{}
	sectors := map[tenant.Sector]int{}
	nets := map[string]bool{}
	for _, o := range orgs {
		if !tenant.ValidID(string(o.Tenant.ID)) || o.Tenant.ID != tenant.Slug(o.Tenant.Name) {
			t.Errorf("org %q: id %q is not a valid slug of its name", o.Tenant.Name, o.Tenant.ID)
		}
		if ids[o.Tenant.ID] {
			t.Errorf("duplicate tenant id %q", o.Tenant.ID)
		}
		ids[o.Tenant.ID] = true
		if _, err := tenant.ParseSector(string(o.Tenant.Sector)); err != nil {
			t.Errorf("org %q: %v", o.Tenant.ID, err)
		}
		sectors[o.Tenant.Sector]++
		if n := len(o.Hosts); n < 5 || n > 30 {
			t.Errorf("org %q has %d Windows hosts, want 5-30", o.Tenant.ID, n)
		}
		if !slices.Contains(o.Hosts, "SRV-DC01") || !slices.ContainsFunc(o.Hosts, func(h string) bool { return strings.HasPrefix(h, "WS-") }) {
			t.Errorf("org %q hosts %v lack a DC or workstations", o.Tenant.ID, o.Hosts)
		}
		if len(o.LinuxHosts) < 2 || !slices.Contains(o.LinuxHosts, o.WebServer) {
			t.Errorf("org %q: Linux hosts %v, web server %q", o.Tenant.ID, o.LinuxHosts, o.WebServer)
		}
		if o.IIS != slices.Contains(o.Hosts, "SRV-WEB01") {
			t.Errorf("org %q: IIS %v but hosts %v", o.Tenant.ID, o.IIS, o.Hosts)
		}
		for _, u := range o.Users {
			if strings.Count(u, ".") != 1 || strings.ToLower(u) != u {
				t.Errorf("org %q: user %q is not first.last", o.Tenant.ID, u)
			}
		}
		p, err := netip.ParsePrefix(o.Internal)
		if err != nil || !p.Addr().IsPrivate() || (p.Bits() != 16 && p.Bits() != 24) || p.Masked() != p {
			t.Errorf("org %q: internal range %q is not an RFC 1918 /16 or /24", o.Tenant.ID, o.Internal)
		}
		for q := range nets {
			if pq := netip.MustParsePrefix(q); pq.Overlaps(p) {
				t.Errorf("org %q: range %s overlaps %s", o.Tenant.ID, p, pq)
			}
		}
		nets[o.Internal] = true
		if !isPublic(o.PublicIP) {
			t.Errorf("org %q: public IP %q", o.Tenant.ID, o.PublicIP)
		}
		if o.Domain == "" || !strings.Contains(o.Domain, ".") {
			t.Errorf("org %q: domain %q", o.Tenant.ID, o.Domain)
		}
	}
	for _, sec := range tenant.Sectors {
		if sectors[sec] == 0 {
			t.Errorf("no org in sector %q", sec)
		}
	}
	if n := len(New(Config{Seed: 1, Orgs: 100}).Orgs()); n != 100 {
		t.Errorf("Orgs: 100 built %d", n)
	}

	// The most New builds: still unique ids, addresses, ranges and NetBIOS names per org.
	g := New(Config{Seed: 1, Orgs: 100000})
	all := g.Orgs()
	if len(all) != 522 {
		t.Fatalf("Orgs: 100000 built %d, want the 522 maximum", len(all))
	}
	ids, ips := map[tenant.ID]bool{}, map[string]bool{}
	var prefixes []netip.Prefix
	for _, o := range all {
		if !tenant.ValidID(string(o.Tenant.ID)) || ids[o.Tenant.ID] || ips[o.PublicIP] || !isPublic(o.PublicIP) {
			t.Fatalf("org %q (%s): invalid or duplicate id or public IP", o.Tenant.ID, o.PublicIP)
		}
		ids[o.Tenant.ID], ips[o.PublicIP] = true, true
		prefixes = append(prefixes, netip.MustParsePrefix(o.Internal))
	}
	for i := range prefixes {
		for j := range i {
			if prefixes[i].Overlaps(prefixes[j]) {
				t.Fatalf("ranges %s and %s overlap", prefixes[i], prefixes[j])
			}
		}
	}
	for _, s := range g.sites {
		if len(s.netbios) == 0 || len(s.netbios) > 15 {
			t.Fatalf("org %q: NetBIOS name %q", s.Tenant.ID, s.netbios)
		}
	}
}

// TestRecordsWellFormed checks every body of a busy stretch: valid JSON or syslog, the
// time in the body is Record.Time and lies in its Tick, and hosts belong to the org.
func TestRecordsWellFormed(t *testing.T) {
	g := New(Config{Seed: 3})
	orgs := map[tenant.ID]Org{}
	for _, o := range g.Orgs() {
		orgs[o.Tenant.ID] = o
	}
	dt := 500 * time.Millisecond
	transports := map[Transport]int{}
	for i := range 8 {
		from := t0.Add(time.Duration(i) * dt)
		recs := g.Tick(from, dt)
		if !slices.IsSortedFunc(recs, func(a, b Record) int { return a.Time.Compare(b.Time) }) {
			t.Fatalf("tick %d: records not sorted by Time", i)
		}
		for _, d := range decode(t, recs) {
			transports[d.Transport]++
			if !d.Time.After(from) || d.Time.After(from.Add(dt)) {
				t.Fatalf("record at %v outside its tick (%v, %v]: %s", d.Time, from, from.Add(dt), d.Body)
			}
			bt, err := d.bodyTime()
			if err != nil {
				t.Fatalf("%v: %s", err, d.Body)
			}
			if diff := d.Time.Sub(bt); diff < -time.Microsecond || diff >= d.bodyPrecision() { // Zeek's float ts rounds
				t.Fatalf("body time %v, Record.Time %v: %s", bt, d.Time, d.Body)
			}
			o, ok := orgs[d.Org]
			if !ok {
				t.Fatalf("record of unknown org %q", d.Org)
			}
			switch {
			case d.sys != nil:
				if !slices.Contains(o.LinuxHosts, d.sys.host) {
					t.Fatalf("syslog host %q is not one of %q's: %s", d.sys.host, d.Org, d.Body)
				}
			case d.m["winlog"] != nil:
				host := str(d.m, "host.name")
				name, ok := strings.CutSuffix(host, "."+o.Domain)
				if !ok || !slices.Contains(o.Hosts, name) || str(d.m, "winlog.computer_name") != host {
					t.Fatalf("Windows host %q is not one of %q's: %s", host, d.Org, d.Body)
				}
				if str(d.m, "agent.type") != "winlogbeat" || str(d.m, "event.code") != str(d.m, "winlog.event_id") ||
					str(d.m, "event.provider") != str(d.m, "winlog.provider_name") || str(d.m, "winlog.record_id") == "" {
					t.Fatalf("Winlogbeat header: %s", d.Body)
				}
			case str(d.m, "event.dataset") == "nginx.access":
				if str(d.m, "host.name") != o.WebServer || d.Transport != Bulk {
					t.Fatalf("access log of %q from %q: %s", d.Org, str(d.m, "host.name"), d.Body)
				}
			case str(d.m, "event_type") != "":
				if o.Sensor == "" || d.Transport != NDJSON || str(d.m, "src_ip") == "" || str(d.m, "dest_port") == "" {
					t.Fatalf("EVE record of %q (sensor %q): %s", d.Org, o.Sensor, d.Body)
				}
			case str(d.m, "_path") != "":
				if o.Sensor == "" || d.Transport != NDJSON || str(d.m, "uid") == "" || str(d.m, "id.orig_h") == "" {
					t.Fatalf("Zeek record of %q (sensor %q): %s", d.Org, o.Sensor, d.Body)
				}
			default:
				t.Fatalf("record of unknown shape: %s", d.Body)
			}
		}
	}
	for _, tr := range []Transport{Bulk, NDJSON, SyslogUDP, SyslogTCP} {
		if transports[tr] == 0 {
			t.Errorf("no %s records", tr)
		}
	}
}

func TestRates(t *testing.T) {
	f := func(dt time.Duration, n int) {
		t.Helper()
		g := New(Config{Seed: 11})
		recs := ticks(g, n, dt)
		baseline := 0
		perScenario := map[string]int{}
		for _, r := range recs {
			if r.Scenario == "" {
				baseline++
			} else {
				perScenario[r.Scenario]++
			}
		}
		secs := (time.Duration(n) * dt).Seconds()
		if want := 2000 * secs; float64(baseline) < 0.8*want || float64(baseline) > 1.2*want {
			t.Errorf("dt %v: %d baseline records in %.0fs, want %.0f ±20%%", dt, baseline, secs, want)
		}
		// 3000 a day at 1440x: 50 starts a second, Poisson. 500 ± 5.4σ.
		if want := 3000 * 1440 / 86400.0 * secs; float64(g.started) < want-5.4*sqrt(want) || float64(g.started) > want+5.4*sqrt(want) {
			t.Errorf("dt %v: %d scenarios started in %.0fs, want about %.0f", dt, g.started, secs, want)
		}
		for _, sc := range Scenarios() {
			if perScenario[sc.Name] == 0 {
				t.Errorf("dt %v: no %q records in %.0fs", dt, sc.Name, secs)
			}
		}
	}
	f(time.Second, 10)
	f(100*time.Millisecond, 100)

	g := New(Config{Seed: 11, BaselinePerSecond: 300, AttacksPerDay: -1})
	recs := ticks(g, 10, time.Second)
	if len(recs) < 2400 || len(recs) > 3600 || g.started != 0 {
		t.Errorf("BaselinePerSecond 300, no attacks: %d records, %d scenarios in 10s", len(recs), g.started)
	}
	// Nonsense rates fall back to the defaults instead of looping or overflowing.
	g = New(Config{Seed: 11, Speedup: math.Inf(1), BaselinePerSecond: math.NaN()})
	if n := len(g.Tick(t0, time.Second)); n < 1600 || n > 4000 || g.started > 100 {
		t.Errorf("Speedup +Inf, BaselinePerSecond NaN: %d records, %d scenarios in 1s", n, g.started)
	}
	if recs := New(Config{Seed: 1}).Tick(t0, 0); len(recs) != 0 {
		t.Errorf("Tick with dt 0 returned %d records", len(recs))
	}
}

func sqrt(x float64) float64 {
	z := x
	for range 30 {
		z = (z + x/z) / 2
	}
	return z
}

// TestCampaigns checks that attacker infrastructure is shared across organisations
// (TestBaselineClean checks it never shows in baseline traffic).
func TestCampaigns(t *testing.T) {
	g := New(Config{Seed: 5, BaselinePerSecond: 1})
	recs := ticks(g, 5, time.Second)
	orgsByIP := map[string]map[tenant.ID]bool{}
	for _, gr := range g.groups {
		for _, ip := range gr.ips {
			orgsByIP[ip] = map[tenant.ID]bool{}
		}
	}
	for _, r := range recs {
		for ip, orgs := range orgsByIP {
			if bytes.Contains(r.Body, []byte(`"`+ip+`"`)) || bytes.Contains(r.Body, []byte(" "+ip+" ")) || bytes.HasPrefix(r.Body, []byte(`{"@timestamp`)) && bytes.Contains(r.Body, []byte(`"message":"`+ip+" ")) {
				if r.Scenario != "" {
					orgs[r.Org] = true
				}
			}
		}
	}
	best := 0
	for _, orgs := range orgsByIP {
		best = max(best, len(orgs))
	}
	if best < 3 {
		t.Errorf("no attacker address seen at 3 or more organisations in 5s (best %d)", best)
	}
}

func TestScenarioErrors(t *testing.T) {
	g := New(Config{Seed: 1})
	if _, err := g.Scenario("no-such", g.Orgs()[0].Tenant.ID, t0); err == nil || !strings.Contains(err.Error(), `"no-such"`) {
		t.Errorf("unknown scenario: err = %v", err)
	}
	if _, err := g.Scenario("beaconing", "no-such-org", t0); err == nil || !strings.Contains(err.Error(), `"no-such-org"`) {
		t.Errorf("unknown org: err = %v", err)
	}
	names := map[string]bool{}
	for _, sc := range Scenarios() {
		if sc.Description == "" || len(sc.Techniques) == 0 || names[sc.Name] {
			t.Errorf("scenario %+v", sc)
		}
		names[sc.Name] = true
		for _, id := range sc.Techniques {
			if !strings.HasPrefix(id, "T1") {
				t.Errorf("scenario %q: technique %q", sc.Name, id)
			}
		}
	}
	if len(names) != 9 {
		t.Errorf("%d scenarios, want 9", len(names))
	}
}

func TestJSONEscaping(t *testing.T) {
	for _, s := range []string{`C:\Windows\System32\cmd.exe`, `"quoted" \\server\share`, "tab\tnew\nline\r\x01\x1f", "ünïcødé ✓", ""} {
		b := appendEscaped([]byte(`"`), s)
		b = append(b, '"')
		var got string
		if err := json.Unmarshal(b, &got); err != nil || got != s {
			t.Errorf("appendEscaped(%q) = %s, decodes to %q, %v", s, b, got, err)
		}
		b = appendEscapedBytes([]byte(`"`), []byte(s))
		b = append(b, '"')
		if err := json.Unmarshal(b, &got); err != nil || got != s {
			t.Errorf("appendEscapedBytes(%q) = %s, decodes to %q, %v", s, b, got, err)
		}
	}
}

func TestTimeFormats(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 11, 3, 9, 5, 7, 123456789, time.UTC),
		time.Date(2027, 1, 23, 23, 59, 59, 0, time.FixedZone("X", 3600)),
	} {
		u := tm.UTC()
		f := func(name string, fn func([]byte, time.Time) []byte, want string) {
			t.Helper()
			if got := string(fn(nil, tm)); got != want {
				t.Errorf("%s(%v) = %q, want %q", name, tm, got, want)
			}
		}
		f("appendISOMilli", appendISOMilli, u.Format("2006-01-02T15:04:05.000Z"))
		f("appendISOMicro", appendISOMicro, u.Format("2006-01-02T15:04:05.000000Z"))
		f("appendEVE", appendEVE, u.Format("2006-01-02T15:04:05.000000-0700"))
		f("appendSysmonTime", appendSysmonTime, u.Format("2006-01-02 15:04:05.000"))
		f("appendRFC3164", appendRFC3164, u.Format(time.Stamp))
		f("appendCLF", appendCLF, u.Format("02/Jan/2006:15:04:05 -0700"))
		f("appendEpoch", appendEpoch, fmt.Sprintf("%d.%06d", u.Unix(), u.Nanosecond()/1000))
	}
}

// TestSchedule checks a scheduled scenario comes out of the Ticks that cover its steps,
// with the same timeline Scenario returns at once.
func TestSchedule(t *testing.T) {
	g := New(Config{Seed: 2, AttacksPerDay: -1, BaselinePerSecond: -1})
	ref := New(Config{Seed: 2})
	org := g.Orgs()[5].Tenant.ID
	start := t0.Add(1500 * time.Millisecond)
	want := map[string][]time.Time{}
	for _, sc := range Scenarios() {
		if err := g.Schedule(sc.Name, org, start); err != nil {
			t.Fatal(err)
		}
		recs, err := ref.Scenario(sc.Name, org, start)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			want[sc.Name] = append(want[sc.Name], r.Time)
		}
	}
	if err := g.Schedule("no-such", org, start); err == nil {
		t.Error("Schedule of an unknown scenario: no error")
	}
	got := map[string][]time.Time{}
	dt := 700 * time.Millisecond
	for i := range 400 {
		from := t0.Add(time.Duration(i) * dt)
		for _, r := range g.Tick(from, dt) {
			if !r.Time.After(from) || r.Time.After(from.Add(dt)) || r.Org != org {
				t.Fatalf("%s record at %v (org %q) out of tick (%v, +%v]", r.Scenario, r.Time, r.Org, from, dt)
			}
			got[r.Scenario] = append(got[r.Scenario], r.Time)
		}
	}
	for name, w := range want {
		if !slices.EqualFunc(got[name], w, time.Time.Equal) {
			t.Errorf("%s: scheduled %d records, Scenario gave %d (or the times differ)", name, len(got[name]), len(w))
		}
	}
	if len(g.runs) != 0 {
		t.Errorf("%d scenarios still playing after 280s", len(g.runs))
	}
}

// TestKnownIntel: the published part of every group's infrastructure is
// public, non-empty and among what the group really uses.
func TestKnownIntel(t *testing.T) {
	g := New(Config{Seed: 3})
	in := g.KnownIntel()
	if len(in) != len(g.groups) {
		t.Fatalf("%d groups published, want %d", len(in), len(g.groups))
	}
	for i, k := range in {
		gr := g.groups[i]
		if len(k.Domains) == 0 || len(k.C2IPs) == 0 || len(k.IPs) == 0 || len(k.IPs) >= len(gr.ips) && len(gr.ips) > 1 {
			t.Errorf("%s: %+v", k.Group, k)
		}
		for _, ip := range append(append([]string{}, k.IPs...), k.C2IPs...) {
			if !isPublic(ip) || (!slices.Contains(gr.ips, ip) && !slices.Contains(gr.c2IPs, ip)) {
				t.Errorf("%s: published %s is not one of its public addresses", k.Group, ip)
			}
		}
	}
}
