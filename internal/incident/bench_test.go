package incident

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// benchAlerts builds n alerts shaped like the demo's national traffic: 40
// organisations in 14 sectors, a few hundred hosts and users each, most
// alerts from internal activity, a third from a pool of 300 attacker
// addresses that hit several organisations, with domains and hashes in
// some events, spread over a day.
func benchAlerts(n int) []alert.Alert {
	r := rand.New(rand.NewPCG(1, 2))
	levels := []string{"low", "medium", "medium", "high", "high", "critical"}
	tactics := []string{"initial-access", "execution", "persistence", "credential-access", "discovery", "lateral-movement", "command-and-control", "exfiltration", "impact"}
	attackers := make([]string, 300)
	for i := range attackers {
		attackers[i] = fmt.Sprintf("198.%d.%d.%d", 18+r.IntN(2), r.IntN(256), 1+r.IntN(254))
	}
	t0 := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	out := make([]alert.Alert, n)
	for i := range out {
		org := r.IntN(40)
		at := t0.Add(time.Duration(i) * 24 * time.Hour / time.Duration(n))
		a := alert.Alert{
			ID: fmt.Sprintf("a%07d", i), Tenant: tenant.ID(fmt.Sprintf("org-%02d", org)), Sector: tenant.Sectors[org%len(tenant.Sectors)],
			RuleID: fmt.Sprintf("rule-%03d", r.IntN(400)), Level: levels[r.IntN(len(levels))],
			Tactics: []string{tactics[r.IntN(len(tactics))]}, Techniques: []string{fmt.Sprintf("T1%03d", r.IntN(600))},
			Host: fmt.Sprintf("WS-%04d", r.IntN(400)), User: fmt.Sprintf("user%03d", r.IntN(300)), Count: 1, FirstSeen: at, LastSeen: at,
		}
		if r.IntN(3) == 0 {
			a.SrcIP = attackers[r.IntN(len(attackers))]
		} else {
			a.SrcIP = fmt.Sprintf("10.%d.%d.%d", org, r.IntN(4), 1+r.IntN(250))
		}
		if r.IntN(5) == 0 {
			a.Event = []alert.Field{{Name: "QueryName", Value: fmt.Sprintf("c2-%d.example.net", r.IntN(50))}}
		}
		if r.IntN(7) == 0 {
			a.Event = append(a.Event, alert.Field{Name: "Hashes", Value: fmt.Sprintf("SHA256=%064x", r.IntN(80))})
		}
		out[i] = a
	}
	return out
}

// chainAlerts builds n alerts as attacks produce them: chains of 3-8 alerts
// over half an hour on 1-3 hosts and one user of one of 40 organisations,
// 40% of them from one of 300 attacker addresses (which therefore hit
// several organisations), in time order over a day.
func chainAlerts(n int) []alert.Alert {
	r := rand.New(rand.NewPCG(3, 4))
	levels := []string{"low", "medium", "medium", "high", "high", "critical"}
	tactics := []string{"initial-access", "execution", "persistence", "credential-access", "discovery", "lateral-movement", "command-and-control", "exfiltration", "impact"}
	attackers := make([]string, 300)
	for i := range attackers {
		attackers[i] = fmt.Sprintf("198.%d.%d.%d", 18+r.IntN(2), r.IntN(256), 1+r.IntN(254))
	}
	t0 := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	out := make([]alert.Alert, 0, n)
	for c := 0; len(out) < n; c++ {
		org := r.IntN(40)
		start := t0.Add(time.Duration(r.Int64N(int64(24 * time.Hour))))
		hosts := []string{fmt.Sprintf("WS-%04d", r.IntN(400)), fmt.Sprintf("SRV-%02d", r.IntN(30)), fmt.Sprintf("WS-%04d", r.IntN(400))}[:1+r.IntN(3)]
		user := fmt.Sprintf("user%03d", r.IntN(300))
		src := ""
		if r.IntN(5) < 2 {
			src = attackers[r.IntN(len(attackers))]
		}
		k := r.IntN(len(tactics) - 3)
		for i := range 3 + r.IntN(6) {
			at := start.Add(time.Duration(i) * 4 * time.Minute)
			a := alert.Alert{
				ID: fmt.Sprintf("c%06d-%d", c, i), Tenant: tenant.ID(fmt.Sprintf("org-%02d", org)), Sector: tenant.Sectors[org%len(tenant.Sectors)],
				RuleID: fmt.Sprintf("rule-%03d", r.IntN(400)), Level: levels[r.IntN(len(levels))],
				Tactics: []string{tactics[min(k+i/2, len(tactics)-1)]}, Techniques: []string{fmt.Sprintf("T1%03d", r.IntN(600))},
				Host: hosts[i%len(hosts)], User: user, SrcIP: src, Count: 1, FirstSeen: at, LastSeen: at,
			}
			out = append(out, a)
		}
	}
	out = out[:n]
	slices.SortFunc(out, func(x, y alert.Alert) int { return x.FirstSeen.Compare(y.FirstSeen) })
	return out
}

// BenchmarkGroupAndLink measures the incident/campaign stage per alert: a
// Grouper and a Campaigns tracker fed a day of national alerts in attack
// chains (chainAlerts).
func BenchmarkGroupAndLink(b *testing.B) { benchGroupAndLink(b, chainAlerts(100_000)) }

// BenchmarkGroupAndLinkDense is the worst case: every alert pairs a random
// host with a random user of its organisation, so everything links and
// incidents grow to MaxAlerts.
func BenchmarkGroupAndLinkDense(b *testing.B) { benchGroupAndLink(b, benchAlerts(100_000)) }

func benchGroupAndLink(b *testing.B, alerts []alert.Alert) {
	b.ReportAllocs()
	b.ResetTimer()
	var g *Grouper
	var cs *Campaigns
	for i := 0; i < b.N; i++ {
		if i%len(alerts) == 0 {
			g, cs = NewGrouper(0), NewCampaigns(0, 0)
		}
		a := alerts[i%len(alerts)]
		inc, _ := g.Add(a)
		if inc != nil {
			cs.Link(inc, a)
		}
	}
	b.StopTimer()
	c, inds := cs.Len()
	b.ReportMetric(float64(g.Len()), "open-incidents")
	b.ReportMetric(float64(c), "campaigns")
	_ = inds
}
