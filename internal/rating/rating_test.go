package rating

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/tenant"
)

var now = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return now.Add(-d) }

const (
	hour = time.Hour
	day  = 24 * time.Hour
)

// wellRun is an organisation that does everything right.
func wellRun() Input {
	var resp []Response
	for i := range 6 {
		o := ago(time.Duration(i+1) * 4 * day)
		resp = append(resp, Response{Opened: o, Acknowledged: o.Add(20 * time.Minute), Resolved: o.Add(6 * hour)})
	}
	return Input{
		Org: "good", Name: "Good Bank", Sector: tenant.Finance,
		Assets: 400, Hosts: 390, Events: 2_000_000,
		Responded: resp,
		Alerts:    map[string]int{"medium": 3, "low": 10, "informational": 40},
		Sources: []Source{
			{Name: "bulk Security", LastSeen: ago(2 * time.Minute), Events: 1_500_000},
			{Name: "bulk Microsoft-Windows-Sysmon/Operational", LastSeen: ago(5 * time.Minute), Events: 450_000},
			{Name: "syslog-udp sshd", LastSeen: ago(hour), Events: 50_000},
		},
	}
}

// weak is an organisation that lets things slide: open criticals for days,
// slow acknowledgement, many alerts, hygiene findings, a silent source.
func weak() Input {
	return Input{
		Org: "weak", Name: "Weak Water", Sector: tenant.Water,
		Assets: 60, Hosts: 50, Events: 300_000,
		OpenIncidents: []OpenIncident{
			{ID: "i1", Severity: "critical", Opened: ago(5 * day)},
			{ID: "i2", Severity: "critical", Opened: ago(3 * day)},
			{ID: "i3", Severity: "high", Opened: ago(2 * day), Acknowledged: true},
			{ID: "i4", Severity: "medium", Opened: ago(6 * hour)},
		},
		Responded: []Response{
			{Opened: ago(5 * day)},
			{Opened: ago(3 * day)},
			{Opened: ago(2 * day), Acknowledged: ago(2*day - 9*hour)},
			{Opened: ago(6 * hour)},
			{Opened: ago(20 * day), Acknowledged: ago(20*day - 10*hour), Resolved: ago(15 * day)},
			{Opened: ago(12 * day), Acknowledged: ago(12*day - 14*hour), Resolved: ago(9 * day)},
		},
		Alerts: map[string]int{"critical": 3, "high": 12, "medium": 40, "low": 80},
		Hygiene: []Finding{
			{Kind: "smbv1", Title: "SMBv1 in use", Hosts: 20, Count: 340, LastSeen: ago(hour)},
			{Kind: "cleartext_logon", Title: "cleartext (basic) logons", Hosts: 5, Count: 80, LastSeen: ago(2 * hour)},
			{Kind: "defender_disabled", Title: "Defender disabled", Hosts: 3, Count: 3, LastSeen: ago(day)},
		},
		IntelHits: 4,
		Sources: []Source{
			{Name: "bulk Security", LastSeen: ago(10 * time.Minute), Events: 250_000},
			{Name: "syslog-udp sshd", LastSeen: ago(3 * day), Events: 50_000},
		},
	}
}

// resolved is weak after it resolved and acknowledged its incidents.
func resolved() Input {
	in := weak()
	in.OpenIncidents = nil
	for i := range in.Responded {
		r := &in.Responded[i]
		if r.Acknowledged.IsZero() {
			r.Acknowledged = r.Opened.Add(30 * time.Minute)
		}
		if r.Resolved.IsZero() {
			r.Resolved = ago(hour)
		}
	}
	return in
}

// checkRating asserts the invariants every rating must hold.
func checkRating(t *testing.T, r Rating) {
	t.Helper()
	if !(r.Score >= 0 && r.Score <= 100) {
		t.Fatalf("Score = %v, want within [0, 100]", r.Score)
	}
	if r.Score != round1(r.Score) {
		t.Fatalf("Score = %v, want one decimal", r.Score)
	}
	if got, want := r.Grade, Grade(r.Score); got != want {
		t.Fatalf("Grade = %q for score %v, want %q", got, r.Score, want)
	}
	if r.Deductions == nil {
		t.Fatalf("Deductions = nil, want a non-nil slice")
	}
	sum := 0.0
	lost := map[string]float64{}
	for i, d := range r.Deductions {
		if !(d.Points > 0) || d.Points != round1(d.Points) {
			t.Fatalf("deduction %d points = %v, want > 0 with one decimal", i, d.Points)
		}
		if i > 0 && d.Points > r.Deductions[i-1].Points {
			t.Fatalf("deductions not largest first: %v", r.Deductions)
		}
		if !slices.Contains(Factors, d.Factor) || d.Reason == "" {
			t.Fatalf("deduction %d = %+v: unknown factor or empty reason", i, d)
		}
		sum += d.Points
		lost[d.Factor] += d.Points
	}
	if math.Abs(sum-(100-r.Score)) > 1e-6 {
		t.Fatalf("deductions add up to %v, want 100 - %v = %v", sum, r.Score, 100-r.Score)
	}
	if len(r.Factors) != len(Factors) {
		t.Fatalf("len(Factors) = %d, want %d", len(r.Factors), len(Factors))
	}
	for i, f := range r.Factors {
		if f.Factor != Factors[i] {
			t.Fatalf("factor %d = %q, want %q", i, f.Factor, Factors[i])
		}
		if math.Abs(f.Lost-lost[f.Factor]) > 1e-6 {
			t.Fatalf("factor %q lost %v, its deductions add up to %v", f.Factor, f.Lost, lost[f.Factor])
		}
		if f.Lost > f.Weight+1e-6 {
			t.Fatalf("factor %q lost %v, more than its weight %v", f.Factor, f.Lost, f.Weight)
		}
		if f.Score < 0 || f.Score > 100 {
			t.Fatalf("factor %q score %v, want within [0, 100]", f.Factor, f.Score)
		}
	}
}

func lostOf(r Rating, factor string) float64 {
	for _, f := range r.Factors {
		if f.Factor == factor {
			return f.Lost
		}
	}
	return math.NaN()
}

func TestRateScenarios(t *testing.T) {
	silentAll := wellRun()
	for i := range silentAll.Sources {
		silentAll.Sources[i].LastSeen = ago(2 * day)
	}
	noSources := wellRun()
	noSources.Sources = nil
	tests := []struct {
		name        string
		in          Input
		min, max    float64
		grade       string
		wantFactors []string // factors that must have a deduction
		noFactors   []string // factors that must not
	}{
		{name: "well-run", in: wellRun(), min: 90, max: 100, grade: "A",
			noFactors: []string{FactorIncidents, FactorResponse, FactorHygiene, FactorIntel, FactorTelemetry}},
		{name: "weak", in: weak(), min: 0, max: 59.9, grade: "F",
			wantFactors: Factors},
		{name: "weak-resolved", in: resolved(), min: 0, max: 100,
			// Incidents resolved late still count against response for 30 days.
			wantFactors: []string{FactorResponse, FactorDetections, FactorHygiene, FactorIntel, FactorTelemetry}, noFactors: []string{FactorIncidents}},
		// Blind for 2 days: 30 of the 40 points of blindness.
		{name: "silent-for-2-days", in: silentAll, min: 69, max: 69.9, grade: "D",
			wantFactors: []string{FactorTelemetry}},
		{name: "no-sources", in: noSources, min: 59, max: 59.9, grade: "F",
			wantFactors: []string{FactorTelemetry}},
		{name: "nothing-measured", in: Input{Org: "x"}, min: 60, max: 60, grade: "D",
			wantFactors: []string{FactorTelemetry}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Rate(tc.in, now, DefaultModel())
			checkRating(t, r)
			for _, d := range r.Deductions {
				t.Logf("%-10s %s", d.Factor, d)
			}
			if r.Score < tc.min || r.Score > tc.max {
				t.Errorf("Score = %v, want within [%v, %v]", r.Score, tc.min, tc.max)
			}
			if tc.grade != "" && r.Grade != tc.grade {
				t.Errorf("Grade = %q, want %q", r.Grade, tc.grade)
			}
			for _, f := range tc.wantFactors {
				if lostOf(r, f) == 0 {
					t.Errorf("no deduction for factor %q, want one", f)
				}
			}
			for _, f := range tc.noFactors {
				if l := lostOf(r, f); l != 0 {
					t.Errorf("factor %q lost %v, want 0", f, l)
				}
			}
			if r.Org != tc.in.Org || r.Name != tc.in.Name || r.Sector != tc.in.Sector || !r.At.Equal(now) {
				t.Errorf("identity = %q %q %q %v, want the input's and now", r.Org, r.Name, r.Sector, r.At)
			}
		})
	}
}

func TestResolvingRaisesScore(t *testing.T) {
	before := Rate(weak(), now, DefaultModel())
	after := Rate(resolved(), now, DefaultModel())
	if after.Score <= before.Score {
		t.Fatalf("score after resolving = %v, want more than %v", after.Score, before.Score)
	}
	if after.Score-before.Score < 30 {
		t.Errorf("resolving everything gained %v points, want at least 30", after.Score-before.Score)
	}
}

func TestReasons(t *testing.T) {
	m := DefaultModel()
	tests := []struct {
		name string
		in   Input
		want []string // reasons, largest deduction first
	}{
		{
			name: "incidents",
			in: Input{OpenIncidents: []OpenIncident{
				{Severity: "critical", Opened: ago(3 * day)},
				{Severity: "Critical", Opened: ago(2 * hour), Acknowledged: true},
				{Severity: "high", Opened: ago(30 * hour)},
				{Severity: "bogus", Opened: ago(10 * time.Minute), Acknowledged: true},
			}},
			want: []string{
				"2 open critical incidents, 1 older than 24 h (oldest 3 d), 1 not acknowledged",
				"1 open high incident older than 24 h (oldest 30 h), none acknowledged",
				"1 open low incident (oldest 10 min)",
			},
		},
		{
			name: "response",
			in: Input{Responded: []Response{
				{Opened: ago(10 * day), Acknowledged: ago(10*day - 2*hour), Resolved: ago(5 * day)},
				{Opened: ago(8 * day), Acknowledged: ago(8*day - 30*time.Minute), Resolved: ago(7 * day)},
				{Opened: ago(6 * hour)},
				{Opened: ago(2 * day), Acknowledged: ago(2*day - 3*hour)},
			}},
			want: []string{
				"incidents acknowledged in 3 h at p75 over 4 incidents in 30 days (target 1 h), 1 still unacknowledged",
				"incidents resolved in 2 d at p75 over 4 incidents in 30 days (target 24 h), 2 still open",
			},
		},
		{
			name: "detections",
			in:   Input{Assets: 200, Alerts: map[string]int{"high": 5, "critical": 1, "medium": 12, "informational": 100}},
			want: []string{"118 alerts in 7 days (1 critical, 5 high, 12 medium, 100 informational): 21 weighted per 100 assets"},
		},
		{
			name: "detections-by-events",
			in:   Input{Events: 50_000, Alerts: map[string]int{"high": 5}},
			want: []string{"5 alerts in 7 days (5 high): 4 weighted per 10,000 events"},
		},
		{
			name: "hygiene",
			in: Input{Hosts: 40, Hygiene: []Finding{
				{Kind: "smbv1", Title: "SMBv1 in use", Hosts: 12},
				{Kind: "rdp_exposed", Hosts: 1},
				{Kind: "smbv1", Title: "SMBv1 client", Hosts: 2},
				{Kind: "stale", Title: "old finding", Hosts: 40, LastSeen: ago(8 * day)},
			}},
			want: []string{"SMBv1 in use on 14 of 40 hosts (35 %)", "RDP exposed on 1 of 40 hosts (2.5 %)"},
		},
		{
			name: "intel",
			in:   Input{IntelHits: 1},
			want: []string{"1 threat-intelligence match in 7 days"},
		},
		{
			name: "telemetry-silent-and-narrow",
			in: Input{Assets: 100, Hosts: 45, Sources: []Source{
				{Name: "bulk Security", LastSeen: ago(time.Minute)},
				{Name: "agent Security", LastSeen: ago(3 * day)},
				{Name: "gone Security", LastSeen: ago(8 * day)},
			}},
			want: []string{
				`source "agent Security" silent for 3 d`,
				"telemetry from 45 of 100 declared assets (45 %) in 7 days (target 90 %)",
				"only 1 telemetry channel (Security): add another, e.g. Sysmon, PowerShell, firewall or DNS logs",
			},
		},
		{
			name: "telemetry-blind",
			in:   Input{Sources: []Source{{Name: "bulk Security", LastSeen: time.Date(2026, 3, 8, 9, 30, 0, 0, time.UTC)}}},
			want: []string{"no telemetry received for 2.1 d (last 2026-03-08 09:30 UTC)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.HasPrefix(tc.name, "telemetry") {
				tc.in.Sources = wellRun().Sources
				if tc.in.Hosts == 0 && tc.in.Assets > 0 {
					tc.in.Hosts = tc.in.Assets
				}
			}
			r := Rate(tc.in, now, m)
			checkRating(t, r)
			var got []string
			for _, d := range r.Deductions {
				got = append(got, d.Reason)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("reasons =\n  %q\nwant\n  %q", got, tc.want)
			}
		})
	}
}

func TestNoIncidentsNoResponseDeduction(t *testing.T) {
	in := wellRun()
	in.Responded = nil
	if l := lostOf(Rate(in, now, DefaultModel()), FactorResponse); l != 0 {
		t.Fatalf("response lost %v with no incidents, want 0", l)
	}
	// A fresh incident nobody acknowledged yet is still within its targets.
	in.Responded = []Response{{Opened: ago(30 * time.Minute)}}
	if l := lostOf(Rate(in, now, DefaultModel()), FactorResponse); l != 0 {
		t.Fatalf("response lost %v for a 30 min old incident, want 0", l)
	}
}

// randomInput returns an organisation with random measures, some absurd.
func randomInput(rng *rand.Rand) Input {
	in := Input{Org: tenant.ID("o" + string(rune('a'+rng.IntN(26)))), Sector: tenant.Sectors[rng.IntN(len(tenant.Sectors))]}
	pick := func(n int) int { return rng.IntN(n+1) - rng.IntN(2) } // occasionally negative
	in.Assets, in.Hosts, in.Events = pick(5000), pick(5000), int64(pick(1_000_000))
	sevs := []string{"critical", "high", "medium", "low", "", "HIGH"}
	for range rng.IntN(30) {
		in.OpenIncidents = append(in.OpenIncidents, OpenIncident{Severity: sevs[rng.IntN(len(sevs))],
			Opened: ago(time.Duration(rng.Int64N(int64(40 * day)))), Acknowledged: rng.IntN(2) == 0})
	}
	for range rng.IntN(40) {
		o := ago(time.Duration(rng.Int64N(int64(30 * day))))
		r := Response{Opened: o}
		if rng.IntN(3) > 0 {
			r.Acknowledged = o.Add(time.Duration(rng.Int64N(int64(3 * day))))
		}
		if rng.IntN(3) > 0 {
			r.Resolved = o.Add(time.Duration(rng.Int64N(int64(10 * day))))
		}
		in.Responded = append(in.Responded, r)
	}
	in.Alerts = map[string]int{}
	for _, l := range []string{"critical", "high", "medium", "low", "informational", "weird"} {
		in.Alerts[l] = pick(1000)
	}
	kinds := []string{"smbv1", "cleartext_logon", "defender_disabled", "logging_disabled", "powershell_v2", "rdp_exposed", "outdated_agent", "other"}
	for range rng.IntN(12) {
		in.Hygiene = append(in.Hygiene, Finding{Kind: kinds[rng.IntN(len(kinds))], Hosts: pick(6000), Count: pick(100),
			LastSeen: ago(time.Duration(rng.Int64N(int64(9 * day))))})
	}
	in.IntelHits = pick(200)
	for i := range rng.IntN(6) {
		in.Sources = append(in.Sources, Source{Name: []string{"bulk Security", "syslog-udp sshd", "ndjson", "bulk Sysmon", "x y"}[i%5],
			LastSeen: ago(time.Duration(rng.Int64N(int64(9*day))) - hour)})
	}
	return in
}

func TestRateBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := DefaultModel()
	for range 3000 {
		checkRating(t, Rate(randomInput(rng), now, m))
	}
	// A model whose weights add up to far more than 100 still scores within bounds.
	big := DefaultModel()
	big.Incidents.Weight, big.Hygiene.Weight = 90, 90
	for range 500 {
		checkRating(t, Rate(randomInput(rng), now, big))
	}
}

func FuzzRate(f *testing.F) {
	f.Add(400, 390, int64(2_000_000), 2, 3*24, true, 5, 12, 40, 20, 3, 4, 2, 72)
	f.Add(0, 0, int64(0), 0, 0, false, 0, 0, 0, 0, 0, 0, 0, 0)
	f.Add(-5, 1, int64(-1), 50, 1000, false, 1000, -1, 1<<30, 1<<30, 1<<20, 1<<30, 9, -5)
	f.Fuzz(func(t *testing.T, assets, hosts int, events int64, crit, critAgeHours int, acked bool,
		high, medium, alertsCrit, findingHosts, intelHits, sources, silentSources, silentHours int) {
		in := Input{Assets: assets, Hosts: hosts, Events: events, IntelHits: intelHits,
			Alerts: map[string]int{"critical": alertsCrit, "high": high, "medium": medium}}
		for range min(max(crit, 0), 100) {
			in.OpenIncidents = append(in.OpenIncidents, OpenIncident{Severity: "critical", Opened: ago(time.Duration(critAgeHours) * hour), Acknowledged: acked})
			in.Responded = append(in.Responded, Response{Opened: ago(time.Duration(critAgeHours) * hour)})
		}
		in.Hygiene = []Finding{{Kind: "smbv1", Hosts: findingHosts}}
		for i := range min(max(sources, 0), 50) {
			last := ago(time.Minute)
			if i < silentSources {
				last = ago(time.Duration(silentHours) * hour)
			}
			in.Sources = append(in.Sources, Source{Name: "p ch" + string(rune('a'+i%26)), LastSeen: last})
		}
		checkRating(t, Rate(in, now, DefaultModel()))
	})
}

func TestMonotonic(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m := DefaultModel()
	for i := range 1000 {
		base := randomInput(rng)
		r0 := Rate(base, now, m)

		// Adding an open critical never raises the score.
		more := base
		more.OpenIncidents = append(slices.Clone(base.OpenIncidents), OpenIncident{Severity: "critical", Opened: ago(time.Duration(rng.Int64N(int64(10 * day))))})
		if r1 := Rate(more, now, m); r1.Score > r0.Score || lostOf(r1, FactorIncidents) < lostOf(r0, FactorIncidents) {
			t.Fatalf("case %d: adding an open critical raised the score %v → %v", i, r0.Score, r1.Score)
		}

		// An older incident never costs less than a younger one.
		sev := []string{"critical", "high", "medium", "low"}[rng.IntN(4)]
		young, old := rng.Int64N(int64(5*day)), rng.Int64N(int64(5*day))
		young, old = min(young, old), max(young, old)
		withAge := func(age int64) Rating {
			in := base
			in.OpenIncidents = append(slices.Clone(base.OpenIncidents), OpenIncident{Severity: sev, Opened: ago(time.Duration(age))})
			return Rate(in, now, m)
		}
		ry, ro := withAge(young), withAge(old)
		if ro.Score > ry.Score || lostOf(ro, FactorIncidents) < lostOf(ry, FactorIncidents) {
			t.Fatalf("case %d: a %s incident %v old scores %v, one %v old scores %v", i, sev, time.Duration(old), ro.Score, time.Duration(young), ry.Score)
		}

		// More hosts affected by a hygiene finding never costs less.
		h1 := rng.IntN(300) + 1
		h2 := h1 + rng.IntN(300)
		withHosts := func(h int) Rating {
			in := base
			in.Hygiene = append(slices.Clone(base.Hygiene), Finding{Kind: "defender_disabled", Hosts: h})
			return Rate(in, now, m)
		}
		rf, rm := withHosts(h1), withHosts(h2)
		if rm.Score > rf.Score || lostOf(rm, FactorHygiene) < lostOf(rf, FactorHygiene) {
			t.Fatalf("case %d: a finding on %d hosts scores %v, on %d hosts %v", i, h2, rm.Score, h1, rf.Score)
		}
	}
}

func TestAgeRaisesCost(t *testing.T) {
	cost := func(sev string, age time.Duration) float64 {
		in := wellRun()
		in.OpenIncidents = []OpenIncident{{Severity: sev, Opened: ago(age)}}
		return lostOf(Rate(in, now, DefaultModel()), FactorIncidents)
	}
	for _, sev := range []string{"critical", "high", "medium", "low"} {
		if fresh, old := cost(sev, time.Hour), cost(sev, 30*hour); !(old > fresh) {
			t.Errorf("%s open 30 h costs %v, open 1 h %v; want the older to cost more", sev, old, fresh)
		}
	}
	if c, h := cost("critical", 2*day), cost("high", 2*day); !(c > h) {
		t.Errorf("critical costs %v, high %v; want critical to cost more", c, h)
	}
	if h, med := cost("high", 2*day), cost("medium", 2*day); !(h > med) {
		t.Errorf("high costs %v, medium %v; want high to cost more", h, med)
	}
}

func TestDetectionsNormalisedBySize(t *testing.T) {
	alerts := map[string]int{"critical": 2, "high": 10, "medium": 30}
	tests := []struct {
		name        string
		small, big  Input
		wantSmaller bool
	}{
		{name: "assets", small: Input{Assets: 50, Alerts: alerts}, big: Input{Assets: 500, Alerts: alerts}, wantSmaller: true},
		{name: "hosts", small: Input{Hosts: 100, Alerts: alerts}, big: Input{Hosts: 1000, Alerts: alerts}, wantSmaller: true},
		{name: "events", small: Input{Events: 100_000, Alerts: alerts}, big: Input{Events: 1_000_000, Alerts: alerts}, wantSmaller: true},
		// Below the minimum size, a tiny network counts as 10 assets: 2 and 5 hosts rate alike.
		{name: "tiny", small: Input{Hosts: 2, Alerts: alerts}, big: Input{Hosts: 5, Alerts: alerts}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := lostOf(Rate(tc.small, now, DefaultModel()), FactorDetections)
			b := lostOf(Rate(tc.big, now, DefaultModel()), FactorDetections)
			if tc.wantSmaller && !(b < s) {
				t.Errorf("10x size loses %v, want less than %v", b, s)
			}
			if !tc.wantSmaller && b != s {
				t.Errorf("loses %v and %v, want the same", s, b)
			}
			if s == 0 {
				t.Errorf("no detection deduction for %v", alerts)
			}
		})
	}
}

func TestFactorCaps(t *testing.T) {
	in := wellRun()
	for range 50 {
		in.OpenIncidents = append(in.OpenIncidents, OpenIncident{Severity: "critical", Opened: ago(10 * day)})
	}
	for _, k := range []string{"smbv1", "cleartext_logon", "defender_disabled", "logging_disabled", "powershell_v2", "rdp_exposed", "outdated_agent"} {
		in.Hygiene = append(in.Hygiene, Finding{Kind: k, Hosts: in.Assets})
	}
	in.Alerts = map[string]int{"critical": 1_000_000}
	in.IntelHits = 1_000_000
	r := Rate(in, now, DefaultModel())
	checkRating(t, r)
	m := DefaultModel()
	for _, f := range []string{FactorIncidents, FactorHygiene} {
		if got, want := lostOf(r, f), m.weight(f); got != want {
			t.Errorf("factor %q lost %v, want its weight %v", f, got, want)
		}
	}
	for _, f := range []string{FactorDetections, FactorIntel} {
		if got, want := lostOf(r, f), m.weight(f); got < want-0.1 || got > want {
			t.Errorf("factor %q lost %v, want about its weight %v", f, got, want)
		}
	}
	// Everything at once, and blind: the total is capped at 100.
	in.Sources = nil
	r = Rate(in, now, DefaultModel())
	checkRating(t, r)
	if r.Score != 0 {
		t.Errorf("Score = %v, want 0", r.Score)
	}
}

func TestGrade(t *testing.T) {
	tests := []struct {
		score float64
		want  string
	}{
		{100, "A"}, {90, "A"}, {89.9, "B"}, {80, "B"}, {79.9, "C"}, {70, "C"},
		{69.9, "D"}, {60, "D"}, {59.9, "F"}, {0, "F"}, {math.NaN(), "F"},
	}
	for _, tc := range tests {
		if got := Grade(tc.score); got != tc.want {
			t.Errorf("Grade(%v) = %q, want %q", tc.score, got, tc.want)
		}
	}
}

func TestZeroModelIsDefault(t *testing.T) {
	a, err1 := json.Marshal(Rate(weak(), now, Model{}))
	b, err2 := json.Marshal(Rate(weak(), now, DefaultModel()))
	if err1 != nil || err2 != nil || string(a) != string(b) {
		t.Fatalf("Rate with the zero Model differs from DefaultModel:\n%s\n%s", a, b)
	}
}

func TestDeterministic(t *testing.T) {
	in := weak()
	want, _ := json.Marshal(Rate(in, now, DefaultModel()))
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		rng.Shuffle(len(in.Hygiene), func(i, j int) { in.Hygiene[i], in.Hygiene[j] = in.Hygiene[j], in.Hygiene[i] })
		rng.Shuffle(len(in.Sources), func(i, j int) { in.Sources[i], in.Sources[j] = in.Sources[j], in.Sources[i] })
		rng.Shuffle(len(in.OpenIncidents), func(i, j int) { in.OpenIncidents[i], in.OpenIncidents[j] = in.OpenIncidents[j], in.OpenIncidents[i] })
		rng.Shuffle(len(in.Responded), func(i, j int) { in.Responded[i], in.Responded[j] = in.Responded[j], in.Responded[i] })
		if got, _ := json.Marshal(Rate(in, now, DefaultModel())); string(got) != string(want) {
			t.Fatalf("rating depends on input order:\n%s\nwant\n%s", got, want)
		}
	}
}

func TestJSON(t *testing.T) {
	b, err := json.Marshal(Rate(wellRun(), now, DefaultModel()))
	if err != nil {
		t.Fatal(err)
	}
	in := wellRun()
	in.Alerts = nil
	perfect, _ := json.Marshal(Rate(in, now, DefaultModel()))
	if !strings.Contains(string(perfect), `"score":100,`) || !strings.Contains(string(perfect), `"deductions":[]`) {
		t.Errorf("perfect rating JSON = %s, want score 100 and an empty deductions list", perfect)
	}
	for _, key := range []string{`"org":"good"`, `"sector":"finance"`, `"grade":"A"`, `"factors":[{"factor":"incidents","weight":30,"lost":0,"score":100}`, `"points":`, `"reason":`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("rating JSON = %s, want it to contain %s", b, key)
		}
	}
}

func TestAggregate(t *testing.T) {
	r := func(id string, s tenant.Sector, score float64) Rating {
		return Rating{Org: tenant.ID(id), Sector: s, Score: score, Grade: Grade(score)}
	}
	rs := []Rating{
		r("bank-b", tenant.Finance, 70),
		r("water-a", tenant.Water, 95),
		r("bank-a", tenant.Finance, 90),
		r("odd", "space", 40),
		r("gov-a", tenant.Government, 82.5),
		r("water-b", tenant.Water, 55),
	}
	t.Run("equal-weights", func(t *testing.T) {
		nat, secs := Aggregate(rs, nil)
		// Mean of 70, 95, 90, 40, 82.5, 55 = 432.5/6 = 72.083…
		want := Group{Score: 72.1, Grade: "C", Orgs: 6, Min: 40, Max: 95, StdDev: 19.5,
			Grades:  map[string]int{"A": 2, "B": 1, "C": 1, "D": 0, "F": 2},
			Weakest: []tenant.ID{"odd", "water-b", "bank-b"}}
		checkGroup(t, "national", nat, want)
		var order []tenant.Sector
		for _, s := range secs {
			order = append(order, s.Sector)
		}
		if wantOrder := []tenant.Sector{tenant.Government, tenant.Water, tenant.Finance, "space"}; !slices.Equal(order, wantOrder) {
			t.Fatalf("sector order = %v, want %v (tenant.Sectors order, unknown last)", order, wantOrder)
		}
		checkGroup(t, "finance", secs[2].Group, Group{Score: 80, Grade: "B", Orgs: 2, Min: 70, Max: 90, StdDev: 10,
			Grades: map[string]int{"A": 1, "B": 0, "C": 1, "D": 0, "F": 0}, Weakest: []tenant.ID{"bank-b", "bank-a"}})
		if got := secs[2].WithoutOrgs(); got.Weakest != nil || got.Score != 80 {
			t.Errorf("WithoutOrgs() = %+v, want the group without Weakest", got)
		}
	})
	t.Run("weighted", func(t *testing.T) {
		w := map[tenant.ID]float64{"bank-a": 3, "bank-b": 1, "water-a": 1, "water-b": 0, "gov-a": -2}
		nat, secs := Aggregate(rs, func(id tenant.ID) float64 { return w[id] })
		// (70·1 + 95·1 + 90·3) / 5 = 87; the zero and negative weights drop out of the mean.
		// Variance: (17² + 8² + 3²·3) / 5 = 76 → 8.7.
		checkGroup(t, "national", nat, Group{Score: 87, Grade: "B", Orgs: 6, Min: 40, Max: 95, StdDev: 8.7,
			Grades: map[string]int{"A": 2, "B": 1, "C": 1, "D": 0, "F": 2}, Weakest: []tenant.ID{"odd", "water-b", "bank-b"}})
		// Finance: (70 + 270) / 4 = 85.
		if secs[2].Sector != tenant.Finance || secs[2].Score != 85 {
			t.Errorf("finance = %+v, want score 85", secs[2])
		}
		// Government: its only weight is negative, so its mean is unweighted.
		if secs[0].Sector != tenant.Government || secs[0].Score != 82.5 {
			t.Errorf("government = %+v, want score 82.5", secs[0])
		}
	})
	t.Run("empty", func(t *testing.T) {
		nat, secs := Aggregate(nil, nil)
		if nat.Orgs != 0 || nat.Score != 0 || nat.Grade != "" || nat.Weakest != nil {
			t.Errorf("national = %+v, want an empty group", nat)
		}
		if secs == nil || len(secs) != 0 {
			t.Errorf("sectors = %#v, want an empty non-nil slice", secs)
		}
		b, _ := json.Marshal(struct {
			N Group          `json:"national"`
			S []SectorRating `json:"sectors"`
		}{nat, secs})
		if want := `{"national":{"score":0,"grade":"","orgs":0,"min":0,"max":0,"stddev":0,"grades":{"A":0,"B":0,"C":0,"D":0,"F":0}},"sectors":[]}`; string(b) != want {
			t.Errorf("JSON = %s, want %s", b, want)
		}
	})
	t.Run("json-inline", func(t *testing.T) {
		_, secs := Aggregate(rs[:1], nil)
		b, _ := json.Marshal(secs)
		if want := `[{"sector":"finance","score":70,"grade":"C","orgs":1,"min":70,"max":70,"stddev":0,"grades":{"A":0,"B":0,"C":1,"D":0,"F":0},"weakest":["bank-b"]}]`; string(b) != want {
			t.Errorf("JSON = %s, want %s", b, want)
		}
	})
}

func checkGroup(t *testing.T, name string, got, want Group) {
	t.Helper()
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Errorf("%s = %s, want %s", name, gb, wb)
	}
}

func TestTrend(t *testing.T) {
	p := func(day string, score float64) Point { return Point{Day: day, Score: score, Grade: Grade(score)} }
	tests := []struct {
		name    string
		history []Point
		want    Change
		wantOK  bool
	}{
		{name: "empty"},
		{name: "one-day", history: []Point{p("2026-03-10", 80)}},
		{name: "full-week", wantOK: true,
			history: []Point{p("2026-03-01", 50), p("2026-03-02", 60), p("2026-03-03", 62), p("2026-03-06", 70), p("2026-03-10", 75.5)},
			want:    Change{Day: "2026-03-10", Score: 75.5, FromDay: "2026-03-03", From: 62, Delta: 13.5, Days: 7}},
		{name: "shorter-than-a-week", wantOK: true,
			history: []Point{p("2026-03-08", 90), p("2026-03-10", 81.2)},
			want:    Change{Day: "2026-03-10", Score: 81.2, FromDay: "2026-03-08", From: 90, Delta: -8.8, Days: 2}},
		{name: "gap-before-the-week", wantOK: true,
			history: []Point{p("2026-03-01", 40), p("2026-03-05", 60), p("2026-03-10", 70)},
			want:    Change{Day: "2026-03-10", Score: 70, FromDay: "2026-03-01", From: 40, Delta: 30, Days: 9}},
		{name: "unsorted-duplicates-future-invalid", wantOK: true,
			history: []Point{p("2026-03-09", 70), p("2026-03-11", 99), p("bad", 1), p("2026-03-02", 50), p("2026-03-09", 72)},
			want:    Change{Day: "2026-03-09", Score: 72, FromDay: "2026-03-02", From: 50, Delta: 22, Days: 7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Trend(tc.history, now)
			if ok != tc.wantOK || got != tc.want {
				t.Errorf("Trend() = %+v, %v; want %+v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestAddPoint(t *testing.T) {
	var h []Point
	for _, p := range []Point{{Day: "2026-03-03", Score: 3}, {Day: "2026-03-01", Score: 1}, {Day: "2026-03-02", Score: 2}, {Day: "2026-03-03", Score: 33}, {Day: "2026-03-04", Score: 4}} {
		h = AddPoint(h, p, 3)
	}
	want := []Point{{Day: "2026-03-02", Score: 2}, {Day: "2026-03-03", Score: 33}, {Day: "2026-03-04", Score: 4}}
	if !slices.Equal(h, want) {
		t.Fatalf("history = %v, want %v", h, want)
	}
	if got := Rate(wellRun(), now, DefaultModel()).Point(); got.Day != "2026-03-10" || got.Grade != "A" {
		t.Errorf("Point() = %+v, want day 2026-03-10 grade A", got)
	}
}

func BenchmarkRate(b *testing.B) {
	in, m := weak(), DefaultModel()
	b.ReportAllocs()
	for b.Loop() {
		Rate(in, now, m)
	}
}

// TestSilentByCadence: a source that sends every few seconds is silent
// after SilentMin, one that sends a few events a day only after Silent.
func TestSilentByCadence(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	m := DefaultModel()
	for _, tc := range []struct {
		name   string
		gap    time.Duration
		quiet  time.Duration
		silent bool
	}{
		{"chatty, quiet 20 min", 5 * time.Second, 20 * time.Minute, true},
		{"chatty, quiet 5 min", 5 * time.Second, 5 * time.Minute, false},
		{"hourly, quiet 20 h", time.Hour, 20 * time.Hour, false},
		{"hourly, quiet 30 h", time.Hour, 30 * time.Hour, true},
		{"unknown gap, quiet 20 h", 0, 20 * time.Hour, false},
	} {
		in := Input{Org: "o", Sector: tenant.IT, Hosts: 10, Sources: []Source{
			{Name: "bulk Security", LastSeen: now, Events: 1000, Gap: time.Second},
			{Name: "syslog-udp sshd", LastSeen: now.Add(-tc.quiet), Events: 100, Gap: tc.gap},
		}}
		r := Rate(in, now, m)
		got := false
		for _, d := range r.Deductions {
			got = got || strings.Contains(d.Reason, `"syslog-udp sshd" silent`)
		}
		if got != tc.silent {
			t.Errorf("%s: silent = %v, want %v (%v)", tc.name, got, tc.silent, r.Deductions)
		}
	}
}

// TestFreshIncidentGrace: an incident younger than the grace period costs
// a quarter of its base; once past it, the full price with its penalties.
func TestFreshIncidentGrace(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	cost := func(age time.Duration) float64 {
		in := Input{Org: "o", Sector: tenant.IT, Hosts: 100, Sources: []Source{{Name: "bulk Security", LastSeen: now}, {Name: "bulk Sysmon", LastSeen: now}},
			OpenIncidents: []OpenIncident{{ID: "i", Severity: "critical", Opened: now.Add(-age)}}}
		r := Rate(in, now, DefaultModel())
		for _, f := range r.Factors {
			if f.Factor == FactorIncidents {
				return f.Lost
			}
		}
		return 0
	}
	fresh, due := cost(10*time.Minute), cost(2*time.Hour)
	if fresh != 2 || due <= fresh*4 {
		t.Errorf("critical incident: fresh costs %v (want 2 = ¼ of 8), 2 h old %v (want > 4× fresh)", fresh, due)
	}
}
