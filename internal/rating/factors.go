package rating

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// severities are the incident severities, most severe first.
var severities = []string{"critical", "high", "medium", "low"}

// severityOf normalises an incident severity; unknown ones count as low.
func severityOf(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if slices.Contains(severities, s) {
		return s
	}
	return "low"
}

// incidents prices the open incidents: one deduction per severity.
func incidents(in *Input, now time.Time, m *IncidentModel) []Deduction {
	if len(in.OpenIncidents) == 0 {
		return nil
	}
	type group struct {
		n, old, unack int
		oldest        time.Duration
		points        float64
	}
	var gs [4]group
	for _, oi := range in.OpenIncidents {
		sev := severityOf(oi.Severity)
		g := &gs[slices.Index(severities, sev)]
		age := time.Duration(0)
		if !oi.Opened.IsZero() && now.After(oi.Opened) {
			age = now.Sub(oi.Opened)
		}
		mult := m.AgeMax
		if m.AgeRamp > 0 && age < m.AgeRamp {
			mult = 1 + (m.AgeMax-1)*float64(age)/float64(m.AgeRamp)
		}
		mult = max(mult, 1)
		if !oi.Acknowledged {
			mult *= max(m.Unacknowledged, 1)
			g.unack++
		}
		if age < m.Grace {
			mult = m.Fresh
		}
		g.n++
		if age > m.Old {
			g.old++
		}
		g.oldest = max(g.oldest, age)
		g.points += m.Base[sev] * mult
	}
	var ds []Deduction
	for i, g := range gs {
		if g.n == 0 {
			continue
		}
		sev := severities[i]
		p := g.points
		if c := m.Cap[sev]; c > 0 {
			p = min(p, c)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%d open %s %s", g.n, sev, plural(g.n, "incident"))
		if g.old > 0 {
			if g.old == g.n {
				fmt.Fprintf(&b, " older than %s", dur(m.Old))
			} else {
				fmt.Fprintf(&b, ", %d older than %s", g.old, dur(m.Old))
			}
		}
		fmt.Fprintf(&b, " (oldest %s)", dur(g.oldest))
		if g.unack > 0 {
			if g.unack == g.n {
				b.WriteString(", none acknowledged")
			} else {
				fmt.Fprintf(&b, ", %d not acknowledged", g.unack)
			}
		}
		ds = append(ds, Deduction{Points: p, Factor: FactorIncidents, Reason: b.String()})
	}
	return ds
}

// responseWindow is how far back response times look.
const responseWindow = 30 * 24 * time.Hour

// response prices the time to acknowledge and to resolve the incidents of
// the last 30 days. No incidents, no deduction.
func response(in *Input, now time.Time, m *ResponseModel) []Deduction {
	var ack, res []time.Duration
	unack, open := 0, 0
	for _, r := range in.Responded {
		if r.Opened.IsZero() || now.Sub(r.Opened) > responseWindow {
			continue
		}
		elapsed := func(t time.Time) time.Duration {
			if t.IsZero() || t.After(now) {
				return max(now.Sub(r.Opened), 0)
			}
			return max(t.Sub(r.Opened), 0)
		}
		ack = append(ack, elapsed(r.Acknowledged))
		res = append(res, elapsed(r.Resolved))
		if r.Acknowledged.IsZero() {
			unack++
		}
		if r.Resolved.IsZero() {
			open++
		}
	}
	if len(ack) == 0 {
		return nil
	}
	q := m.Quantile
	if !(q > 0 && q <= 1) {
		q = 0.75
	}
	qname := fmt.Sprintf("p%d", int(math.Round(q*100)))
	n := len(ack)
	var ds []Deduction
	if t := quantile(ack, q); t > m.AckTarget {
		reason := fmt.Sprintf("incidents acknowledged in %s at %s over %d %s in 30 days (target %s)",
			dur(t), qname, n, plural(n, "incident"), dur(m.AckTarget))
		if unack > 0 {
			reason += fmt.Sprintf(", %d still unacknowledged", unack)
		}
		ds = append(ds, Deduction{Points: m.AckPoints * logShare(t, m.AckTarget, m.AckLimit), Factor: FactorResponse, Reason: reason})
	}
	if t := quantile(res, q); t > m.ResolveTarget {
		reason := fmt.Sprintf("incidents resolved in %s at %s over %d %s in 30 days (target %s)",
			dur(t), qname, n, plural(n, "incident"), dur(m.ResolveTarget))
		if open > 0 {
			reason += fmt.Sprintf(", %d still open", open)
		}
		ds = append(ds, Deduction{Points: m.ResolvePoints * logShare(t, m.ResolveTarget, m.ResolveLimit), Factor: FactorResponse, Reason: reason})
	}
	return ds
}

// quantile returns the nearest-rank q-quantile of ds (sorting ds).
func quantile(ds []time.Duration, q float64) time.Duration {
	slices.Sort(ds)
	i := int(math.Ceil(q*float64(len(ds)))) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

// logShare is where t lies between target (0) and limit (1) on a log scale.
func logShare(t, target, limit time.Duration) float64 {
	switch {
	case t <= target:
		return 0
	case t >= limit || target <= 0:
		return 1
	}
	return clamp01(math.Log(float64(t)/float64(target)) / math.Log(float64(limit)/float64(target)))
}

// levels are the alert levels, most severe first.
var levels = []string{"critical", "high", "medium", "low", "informational"}

// detections prices the week's alerts per 100 assets.
func detections(in *Input, m *DetectionModel) []Deduction {
	counts := make(map[string]int, len(levels))
	weighted, total := 0.0, 0
	for lvl, n := range in.Alerts {
		if n <= 0 {
			continue
		}
		lvl = strings.ToLower(strings.TrimSpace(lvl))
		counts[lvl] += n
		total += n
		weighted += float64(n) * m.Levels[lvl]
	}
	if weighted <= 0 {
		return nil
	}
	unit, unitName := float64(size(in))/100, "per 100 assets"
	if in.Assets <= 0 {
		unitName = "per 100 hosts"
	}
	if size(in) == 0 && in.Events > 0 {
		unit, unitName = float64(in.Events)/10000, "per 10,000 events" // 10,000 events a week count as 100 assets
	}
	unit = max(unit, m.MinAssets/100, 1e-9)
	rate := weighted / unit
	var parts []string
	for _, lvl := range levels {
		if counts[lvl] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[lvl], lvl))
		}
	}
	var others []string
	for lvl, n := range counts {
		if !slices.Contains(levels, lvl) {
			others = append(others, fmt.Sprintf("%d %s", n, lvl))
		}
	}
	slices.Sort(others)
	parts = append(parts, others...)
	reason := fmt.Sprintf("%d %s in 7 days (%s): %s weighted %s", total, plural(total, "alert"), strings.Join(parts, ", "), num(rate), unitName)
	return []Deduction{{Points: m.Weight * saturate(rate, m.Half), Factor: FactorDetections, Reason: reason}}
}

// hygiene prices the week's hygiene findings, one deduction per kind.
func hygiene(in *Input, now time.Time, m *HygieneModel) []Deduction {
	type kind struct {
		kind, title string
		hosts, top  int // hosts affected in all findings, in the largest one
	}
	var ks []*kind
	byKind := map[string]*kind{}
	for _, f := range in.Hygiene {
		if !f.LastSeen.IsZero() && now.Sub(f.LastSeen) > window {
			continue
		}
		k := byKind[f.Kind]
		if k == nil {
			k = &kind{kind: f.Kind}
			byKind[f.Kind] = k
			ks = append(ks, k)
		}
		h := max(f.Hosts, 1)
		k.hosts += h
		// The reason names the finding with the most hosts (ties: the first title in order).
		if h > k.top || h == k.top && f.Title != "" && (k.title == "" || f.Title < k.title) {
			k.top, k.title = h, f.Title
		}
	}
	slices.SortFunc(ks, func(a, b *kind) int { return cmp.Compare(a.kind, b.kind) })
	n := size(in)
	var ds []Deduction
	for _, k := range ks {
		w, ok := m.Kinds[k.kind]
		if !ok {
			w = m.Default
		}
		title := k.title
		if title == "" {
			title = kindTitles[k.kind]
		}
		if title == "" {
			title = cmp.Or(k.kind, "hygiene finding")
		}
		share := 1.0
		var reason string
		if n > 0 {
			hosts := min(k.hosts, n)
			share = float64(hosts) / float64(n)
			reason = fmt.Sprintf("%s on %d of %d %s (%s)", title, hosts, n, plural(n, "host"), pct(share))
		} else {
			reason = fmt.Sprintf("%s on %d %s", title, k.hosts, plural(k.hosts, "host"))
		}
		floor := clamp01(m.Floor)
		ds = append(ds, Deduction{Points: w * (floor + (1-floor)*math.Sqrt(share)), Factor: FactorHygiene, Reason: reason})
	}
	return ds
}

// intel prices the week's threat-intelligence matches.
func intel(in *Input, m *IntelModel) []Deduction {
	if in.IntelHits <= 0 {
		return nil
	}
	reason := "1 threat-intelligence match in 7 days"
	if in.IntelHits != 1 {
		reason = fmt.Sprintf("%d threat-intelligence matches in 7 days", in.IntelHits)
	}
	return []Deduction{{Points: m.Weight * saturate(float64(in.IntelHits), m.Half), Factor: FactorIntel, Reason: reason}}
}

// channel is the channel part of a source name: "bulk Security" → "Security".
func channel(name string) string {
	name = strings.TrimSpace(name)
	if _, ch, ok := strings.Cut(name, " "); ok && strings.TrimSpace(ch) != "" {
		return strings.TrimSpace(ch)
	}
	return name
}

// telemetry prices blind spots: nothing received, silent sources, assets
// that send nothing, a single channel.
func telemetry(in *Input, now time.Time, m *TelemetryModel) []Deduction {
	var srcs []Source
	var last time.Time
	for _, s := range in.Sources {
		if s.LastSeen.IsZero() || now.Sub(s.LastSeen) > window {
			continue
		}
		srcs = append(srcs, s)
		if s.LastSeen.After(last) {
			last = s.LastSeen
		}
	}
	if len(srcs) == 0 {
		return []Deduction{{Points: m.Blind, Factor: FactorTelemetry, Reason: "no telemetry received in the last 7 days"}}
	}
	if quiet := now.Sub(last); quiet > m.Silent {
		return []Deduction{{Points: m.Blind * silentRamp(quiet, m.Silent), Factor: FactorTelemetry,
			Reason: fmt.Sprintf("no telemetry received for %s (last %s)", dur(now.Sub(last)), last.UTC().Format("2006-01-02 15:04 UTC"))}}
	}
	var ds []Deduction
	slices.SortFunc(srcs, func(a, b Source) int { return cmp.Compare(a.Name, b.Name) })
	silentSum := 0.0
	var silent []Deduction
	for _, s := range srcs {
		quiet, limit := now.Sub(s.LastSeen), m.silentAfter(s.Gap)
		if quiet <= limit {
			continue
		}
		p := m.SilentSource * silentRamp(quiet, limit)
		silentSum += p
		silent = append(silent, Deduction{Points: p, Factor: FactorTelemetry,
			Reason: fmt.Sprintf("source %q silent for %s", s.Name, dur(quiet))})
	}
	if silentSum > m.SilentCap && m.SilentCap >= 0 {
		for i := range silent {
			silent[i].Points *= m.SilentCap / silentSum
		}
	}
	ds = append(ds, silent...)
	if in.Assets > 0 && m.CoverageTarget > 0 {
		share := clamp01(float64(in.Hosts) / float64(in.Assets))
		if share < m.CoverageTarget {
			ds = append(ds, Deduction{Points: m.Coverage * (m.CoverageTarget - share) / m.CoverageTarget, Factor: FactorTelemetry,
				Reason: fmt.Sprintf("telemetry from %d of %d declared assets (%s) in 7 days (target %s)", max(in.Hosts, 0), in.Assets, pct(share), pct(m.CoverageTarget))})
		}
	}
	var chans []string
	for _, s := range srcs {
		if ch := channel(s.Name); !slices.Contains(chans, ch) {
			chans = append(chans, ch)
		}
	}
	if len(chans) < m.MinChannels {
		slices.Sort(chans)
		ds = append(ds, Deduction{Points: m.Narrow, Factor: FactorTelemetry,
			Reason: fmt.Sprintf("only %d telemetry %s (%s): add another, e.g. Sysmon, PowerShell, firewall or DNS logs",
				len(chans), plural(len(chans), "channel"), strings.Join(chans, ", "))})
	}
	return ds
}

// silentAfter is how long a source whose usual gap between events is gap
// may stay quiet before it counts as silent: SilentGaps gaps, within
// [SilentMin, Silent]; Silent when the gap is unknown.
func (m *TelemetryModel) silentAfter(gap time.Duration) time.Duration {
	if gap <= 0 || m.SilentGaps <= 0 {
		return m.Silent
	}
	d := time.Duration(float64(gap) * m.SilentGaps)
	return min(max(d, m.SilentMin), m.Silent)
}

// silentRamp is the share of a silence deduction after quiet: ½ at silent,
// growing linearly to 1 at 3 × silent.
func silentRamp(quiet, silent time.Duration) float64 {
	if silent <= 0 {
		return 1
	}
	return 0.5 + 0.5*clamp01(float64(quiet-silent)/float64(2*silent))
}
