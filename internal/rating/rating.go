// Package rating turns what Mamori measures about an organisation into a
// security score from 0 to 100, a grade (A-F) and the list of deductions
// that explain it, and aggregates organisations into sector and national
// scores. The model (docs/RATING.md) has six factors: open incidents,
// response times, detections per asset, hygiene findings, threat-intel
// matches, and telemetry coverage and freshness.
//
// It is pure: the caller gathers an Input from the store and passes the
// time; nothing here reads a clock, a store or a tenant scope. Output is
// deterministic for a given Input, time and Model.
package rating

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mamori-soc/mamori/internal/tenant"
)

// Input is what was measured about one organisation at the rating time.
// The windows (7 days, 30 days) are the caller's to apply; Rate also
// ignores sources and findings whose LastSeen is older than 7 days and
// responses opened more than 30 days ago.
type Input struct {
	Org    tenant.ID
	Name   string
	Sector tenant.Sector
	Assets int   // declared asset count; 0 = unknown (then Hosts is the size)
	Hosts  int   // distinct hosts seen sending telemetry in the last 7 days
	Events int64 // events received in the last 7 days

	OpenIncidents []OpenIncident // incidents not closed, whatever their age
	Responded     []Response     // incidents opened in the last 30 days, closed or not
	Alerts        map[string]int // alerts first seen in the last 7 days by level (critical, high, medium, low, informational), hygiene and intel alerts excluded
	Hygiene       []Finding      // hygiene findings seen in the last 7 days
	IntelHits     int            // threat-intelligence (IOC) matches in the last 7 days
	Sources       []Source       // telemetry sources (ingest path + channel) seen in the last 7 days
}

// OpenIncident is an incident that is not closed.
type OpenIncident struct {
	ID           string
	Severity     string // low, medium, high, critical
	Opened       time.Time
	Acknowledged bool
}

// Response is the timeline of one incident opened in the last 30 days.
type Response struct {
	Opened       time.Time
	Acknowledged time.Time // zero if not yet acknowledged
	Resolved     time.Time // zero if not yet resolved
}

// Finding is one hygiene finding of the last 7 days.
type Finding struct {
	Kind     string // e.g. "cleartext_logon", "smbv1", "defender_disabled", "logging_disabled", "powershell_v2", "rdp_exposed", "outdated_agent"
	Title    string // what the reason says, e.g. "SMBv1 in use"; empty means the kind's default title
	Hosts    int    // hosts affected; 0 counts as 1
	Count    int
	LastSeen time.Time
}

// Source is one telemetry source (ingest path and channel) seen in the last 7 days.
type Source struct {
	Name     string // "<path> <channel>", e.g. "bulk Security", "syslog-udp sshd"
	LastSeen time.Time
	Events   int64
	// Gap is the source's usual interval between events (its observed
	// span divided by its events); 0 when unknown. A chatty source is
	// declared silent sooner than one that sends a few events a day.
	Gap time.Duration
}

// Deduction is points taken off 100 for one reason.
type Deduction struct {
	Points float64 `json:"points"` // > 0, one decimal: the amount subtracted
	Factor string  `json:"factor"` // one of Factors
	Reason string  `json:"reason"` // a short sentence with numbers, without the points
}

// String formats d as "-12.0: reason".
func (d Deduction) String() string {
	return "-" + strconv.FormatFloat(d.Points, 'f', 1, 64) + ": " + d.Reason
}

// FactorScore is how one factor fared.
type FactorScore struct {
	Factor string  `json:"factor"`
	Weight float64 `json:"weight"` // the most points the factor can take
	Lost   float64 `json:"lost"`   // the points it took: the sum of its deductions
	Score  float64 `json:"score"`  // 100 × (1 − Lost/Weight), one decimal; 100 when Weight is 0
}

// Rating is the score of one organisation at one time.
type Rating struct {
	Org        tenant.ID     `json:"org"`
	Name       string        `json:"name"`
	Sector     tenant.Sector `json:"sector"`
	Score      float64       `json:"score"` // 0-100, one decimal; exactly 100 minus the sum of Deductions
	Grade      string        `json:"grade"`
	Deductions []Deduction   `json:"deductions"` // largest first; never nil
	Factors    []FactorScore `json:"factors"`    // every factor, in the order of Factors
	At         time.Time     `json:"at"`
}

// Point returns the rating as a point of the daily history.
func (r Rating) Point() Point {
	return Point{Day: Day(r.At), Score: r.Score, Grade: r.Grade}
}

// Grade maps a score to its grade: A from 90, B from 80, C from 70, D from
// 60, F below 60 (and for NaN).
func Grade(score float64) string {
	switch {
	case score >= 90:
		return "A"
	case score >= 80:
		return "B"
	case score >= 70:
		return "C"
	case score >= 60:
		return "D"
	}
	return "F"
}

// window is how far back the 7-day measures look.
const window = 7 * 24 * time.Hour

// Rate computes the rating of in at now with model m (the zero Model means
// DefaultModel).
//
// Each factor's deductions are capped at the factor's Weight (scaled down
// together when they exceed it), all deductions at 100 (likewise), and
// then rounded to one decimal so that they add up exactly to 100 − Score.
func Rate(in Input, now time.Time, m Model) Rating {
	if m.zero() {
		m = DefaultModel()
	}
	var ds []Deduction // raw points, not yet rounded
	ds = capFactor(ds, incidents(&in, now, &m.Incidents), m.Incidents.Weight)
	ds = capFactor(ds, response(&in, now, &m.Response), m.Response.Weight)
	ds = capFactor(ds, detections(&in, &m.Detections), m.Detections.Weight)
	ds = capFactor(ds, hygiene(&in, now, &m.Hygiene), m.Hygiene.Weight)
	ds = capFactor(ds, intel(&in, &m.Intel), m.Intel.Weight)
	ds = capFactor(ds, telemetry(&in, now, &m.Telemetry), m.Telemetry.Weight)

	total := 0.0
	for _, d := range ds {
		total += d.Points
	}
	if total > 100 {
		for i := range ds {
			ds[i].Points *= 100 / total
		}
		total = 100
	}
	tenths := roundTenths(ds, total)

	r := Rating{Org: in.Org, Name: in.Name, Sector: in.Sector, Deductions: make([]Deduction, 0, len(ds)), At: now}
	lost := make(map[string]int, len(Factors))
	sum := 0
	for i, d := range ds {
		if tenths[i] <= 0 {
			continue
		}
		d.Points = float64(tenths[i]) / 10
		r.Deductions = append(r.Deductions, d)
		lost[d.Factor] += tenths[i]
		sum += tenths[i]
	}
	slices.SortStableFunc(r.Deductions, func(a, b Deduction) int {
		if c := cmp.Compare(b.Points, a.Points); c != 0 {
			return c
		}
		if c := cmp.Compare(slices.Index(Factors, a.Factor), slices.Index(Factors, b.Factor)); c != 0 {
			return c
		}
		return strings.Compare(a.Reason, b.Reason)
	})
	r.Score = float64(1000-sum) / 10
	r.Grade = Grade(r.Score)
	r.Factors = make([]FactorScore, len(Factors))
	for i, f := range Factors {
		fs := FactorScore{Factor: f, Weight: m.weight(f), Lost: float64(lost[f]) / 10, Score: 100}
		if fs.Weight > 0 {
			fs.Score = round1(100 * max(0, 1-fs.Lost/fs.Weight))
		}
		r.Factors[i] = fs
	}
	return r
}

// capFactor appends a factor's deductions to dst, dropping those that cost
// nothing and scaling the rest down together when they exceed weight.
func capFactor(dst, ds []Deduction, weight float64) []Deduction {
	sum := 0.0
	n := 0
	for _, d := range ds {
		if d.Points > 0 && !math.IsNaN(d.Points) && !math.IsInf(d.Points, 0) {
			ds[n] = d
			n++
			sum += d.Points
		}
	}
	ds = ds[:n]
	weight = max(weight, 0)
	if sum > weight {
		for i := range ds {
			ds[i].Points *= weight / sum
		}
	}
	return append(dst, ds...)
}

// roundTenths rounds the points of ds to tenths so that they add up to
// total rounded to tenths, and each factor's to its own total rounded
// within that sum: factor totals first, then each factor's deductions, by
// largest remainder (ties go to the earlier). A factor never rounds above
// its capped total rounded up, so never above a weight with one decimal.
func roundTenths(ds []Deduction, total float64) []int {
	byFactor := make([]float64, len(Factors))
	for _, d := range ds {
		byFactor[slices.Index(Factors, d.Factor)] += d.Points
	}
	factorTenths := apportion(byFactor, int(math.Round(total*10)))
	out := make([]int, len(ds))
	for f, name := range Factors {
		var idx []int
		var pts []float64
		for i, d := range ds {
			if d.Factor == name {
				idx = append(idx, i)
				pts = append(pts, d.Points)
			}
		}
		for k, t := range apportion(pts, factorTenths[f]) {
			out[idx[k]] = t
		}
	}
	return out
}

// apportion rounds xs to tenths adding up to want tenths: each gets the
// floor of its tenths, and the largest remainders one more until the sum is
// reached (ties go to the earlier).
func apportion(xs []float64, want int) []int {
	out := make([]int, len(xs))
	type rem struct {
		i int
		r float64
	}
	rems := make([]rem, len(xs))
	got := 0
	for i, x := range xs {
		x *= 10
		f := math.Floor(x)
		out[i] = int(f)
		got += out[i]
		rems[i] = rem{i, x - f}
	}
	slices.SortStableFunc(rems, func(a, b rem) int { return cmp.Compare(b.r, a.r) })
	for k := 0; got < want && k < len(rems); k++ {
		out[rems[k].i]++
		got++
	}
	return out
}

// size is the organisation's size: its declared assets, else the hosts seen.
func size(in *Input) int {
	if in.Assets > 0 {
		return in.Assets
	}
	return max(in.Hosts, 0)
}

// round1 rounds x to one decimal.
func round1(x float64) float64 { return math.Round(x*10) / 10 }

// clamp01 limits x to [0, 1] (NaN gives 0).
func clamp01(x float64) float64 {
	if !(x > 0) {
		return 0
	}
	return min(x, 1)
}

// saturate is 1 − 2^(−x/half): 0 at 0, ½ at half, approaching 1.
func saturate(x, half float64) float64 {
	if !(x > 0) || !(half > 0) {
		return 0
	}
	return 1 - math.Exp2(-x/half)
}

// num formats x with at most one decimal: 3, 2.5, 18.4.
func num(x float64) string {
	return strconv.FormatFloat(round1(x), 'f', -1, 64)
}

// dur formats a duration for a reason: "45 min", "5.5 h", "3.2 d".
func dur(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(max(d, 0)/time.Minute))
	case d < 48*time.Hour:
		return num(d.Hours()) + " h"
	}
	return num(d.Hours()/24) + " d"
}

// plural returns word, or word+"s" when n != 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// pct formats a share as a percentage: "30 %".
func pct(share float64) string {
	return num(100*share) + " %"
}
