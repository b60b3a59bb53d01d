package simulate

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/tenant"
)

// TestMaturity checks the spread of maturity across and within sectors, and that the
// rest of the profile follows it.
func TestMaturity(t *testing.T) {
	all := New(Config{Seed: 3, Orgs: maxOrgs}).Orgs()
	bySector := map[tenant.Sector][]float64{}
	sum := 0.0
	for _, o := range all {
		bySector[o.Tenant.Sector] = append(bySector[o.Tenant.Sector], o.Maturity)
		sum += o.Maturity
		if o.Maturity < 0 || o.Maturity > 1 {
			t.Fatalf("%s: maturity %v", o.Tenant.ID, o.Maturity)
		}
	}
	if avg := sum / float64(len(all)); avg < 0.45 || avg > 0.62 {
		t.Errorf("national mean maturity %.3f, want about 0.53", avg)
	}
	mean := func(secs ...tenant.Sector) float64 {
		s, n := 0.0, 0
		for _, sec := range secs {
			for _, m := range bySector[sec] {
				s += m
				n++
			}
		}
		return s / float64(n)
	}
	strong := mean(tenant.Finance, tenant.Defence, tenant.Telecom)
	weak := mean(tenant.Transport, tenant.Medical, tenant.Welfare, tenant.Education, tenant.Water)
	if strong < weak+0.2 {
		t.Errorf("finance, defence and telecom average %.3f, transport, medical, welfare, education and water %.3f", strong, weak)
	}
	if fin, tr := mean(tenant.Finance), mean(tenant.Transport); fin < tr+0.3 {
		t.Errorf("finance %.3f, transport %.3f", fin, tr)
	}
	for sec, ms := range bySector {
		lo, hi := slices.Min(ms), slices.Max(ms)
		if hi-lo < 0.2 {
			t.Errorf("sector %s: maturity only spans %.2f..%.2f", sec, lo, hi)
		}
	}

	// The default 40: a few well run, many middling, some weak.
	for _, seed := range []int64{1, 2, 3} {
		var strong, middling, weak int
		for _, o := range New(Config{Seed: seed}).Orgs() {
			switch {
			case o.Maturity >= 0.75:
				strong++
			case o.Maturity >= 0.35:
				middling++
			default:
				weak++
			}
		}
		if strong < 2 || weak < 3 || middling < 20 {
			t.Errorf("seed %d: %d strong, %d middling, %d weak organisations", seed, strong, middling, weak)
		}
	}

	// The rest of the profile.
	var ackStrong, ackWeak []float64
	kinds := map[HygieneKind]int{}
	findings := [2]int{} // below 0.4, 0.4 and over
	orgs := [2]int{}
	for _, o := range all {
		band := btoi(o.Maturity >= 0.4)
		orgs[band]++
		findings[band] += len(o.Hygiene)
		if o.Maturity >= 0.7 && len(o.Hygiene) > 0 {
			t.Errorf("%s (maturity %.2f) has findings %v", o.Tenant.ID, o.Maturity, o.Hygiene)
		}
		outdated := false
		for i, f := range o.Hygiene {
			kinds[f.Kind]++
			outdated = outdated || f.Kind == OutdatedAgent
			if len(f.Hosts) == 0 || (i > 0 && slices.Index(HygieneKinds(), f.Kind) <= slices.Index(HygieneKinds(), o.Hygiene[i-1].Kind)) {
				t.Errorf("%s: finding %d %+v", o.Tenant.ID, i, f)
			}
			for _, h := range f.Hosts {
				if !slices.Contains(o.Hosts, h) {
					t.Errorf("%s: %s host %q is not one of its hosts", o.Tenant.ID, f.Kind, h)
				}
			}
			if f.Kind == RDPExposed && o.Sensor == "" {
				t.Errorf("%s: RDP exposure found without a sensor to see it", o.Tenant.ID)
			}
		}
		if old := strings.HasPrefix(o.AgentVersion, "7."); old != outdated || o.AgentVersion == "" {
			t.Errorf("%s: agent %q, outdated finding %v", o.Tenant.ID, o.AgentVersion, outdated)
		}
		if o.AckAfter <= 0 || o.ResolveAfter <= 0 || (o.AckAfter != Never && o.ResolveAfter != Never && o.ResolveAfter < o.AckAfter) {
			t.Errorf("%s: acknowledged after %v, resolved after %v", o.Tenant.ID, o.AckAfter, o.ResolveAfter)
		}
		if o.AckAfter == Never && o.Maturity >= 0.3 || o.ResolveAfter == Never && o.Maturity >= 0.4 {
			t.Errorf("%s (maturity %.2f) never responds", o.Tenant.ID, o.Maturity)
		}
		switch {
		case o.Maturity >= 0.8:
			ackStrong = append(ackStrong, o.AckAfter.Minutes())
			if o.AckAfter > 30*time.Minute || o.ResolveAfter > 4*time.Hour {
				t.Errorf("%s (maturity %.2f): acknowledged after %v, resolved after %v", o.Tenant.ID, o.Maturity, o.AckAfter, o.ResolveAfter)
			}
		case o.Maturity < 0.3:
			if o.AckAfter != Never {
				ackWeak = append(ackWeak, o.AckAfter.Minutes())
			}
		}
	}
	if len(kinds) != len(HygieneKinds()) {
		t.Errorf("finding kinds %v, want all of %v", kinds, HygieneKinds())
	}
	if below, above := float64(findings[0])/float64(orgs[0]), float64(findings[1])/float64(orgs[1]); below < 2*above {
		t.Errorf("%.2f findings per organisation below maturity 0.4, %.2f above", below, above)
	}
	if slices.Max(ackStrong) >= slices.Min(ackWeak) {
		t.Errorf("strong organisations acknowledge within %v min, weak ones from %v min", slices.Max(ackStrong), slices.Min(ackWeak))
	}
}

// TestProfileDeterminism checks profiles are a function of the seed and the
// organisation alone.
func TestProfileDeterminism(t *testing.T) {
	a, b := New(Config{Seed: 7}).Orgs(), New(Config{Seed: 7}).Orgs()
	if !reflect.DeepEqual(a, b) {
		t.Fatal("seed 7 built different organisations twice")
	}
	// The same organisation has the same profile among 40 or among all.
	byID := map[tenant.ID]Org{}
	for _, o := range New(Config{Seed: 7, Orgs: maxOrgs}).Orgs() {
		byID[o.Tenant.ID] = o
	}
	for _, o := range a {
		w := byID[o.Tenant.ID]
		if o.Maturity != w.Maturity || o.AgentVersion != w.AgentVersion || o.AckAfter != w.AckAfter || o.ResolveAfter != w.ResolveAfter {
			t.Errorf("%s: profile differs between 40 and %d organisations", o.Tenant.ID, maxOrgs)
		}
	}
	c := New(Config{Seed: 8, Orgs: maxOrgs}).Orgs()
	same := 0
	for _, o := range c {
		if byID[o.Tenant.ID].Maturity == o.Maturity {
			same++
		}
	}
	if same > len(c)/20 {
		t.Errorf("seeds 7 and 8 give %d of %d organisations the same maturity", same, len(c))
	}
}

// TestSilence checks that a silenced source stops at its time and the organisation's
// other sources go on, for every kind of feed, and that some weak organisation of the
// default demo has one.
func TestSilence(t *testing.T) {
	var silent int
	for _, seed := range []int64{1, 2, 3, 4, 5} {
		for _, o := range New(Config{Seed: seed}).Orgs() {
			for _, q := range o.Silent {
				silent++
				if q.After < 5*time.Minute || q.After > 25*time.Minute || o.Maturity > 0.55 {
					t.Errorf("seed %d, %s (maturity %.2f): silence %+v", seed, o.Tenant.ID, o.Maturity, q)
				}
				switch q.Feed {
				case FeedSyslog:
					if q.Host != "" {
						t.Errorf("%s: syslog silence names host %q", o.Tenant.ID, q.Host)
					}
				case FeedSensor:
					if q.Host != o.Sensor || o.Sensor == "" {
						t.Errorf("%s: sensor silence of %q, sensor %q", o.Tenant.ID, q.Host, o.Sensor)
					}
				case FeedHost:
					if !slices.Contains(o.Hosts, q.Host) {
						t.Errorf("%s: silence of unknown host %q", o.Tenant.ID, q.Host)
					}
				default:
					t.Errorf("%s: silence of feed %q", o.Tenant.ID, q.Feed)
				}
			}
		}
	}
	if silent < 5 {
		t.Errorf("%d silent sources over five seeds of 40 organisations", silent)
	}

	// The mechanics, for each feed: three organisations with a sensor lose one source each
	// after a minute, with attacks playing.
	g := New(Config{Seed: 6, BaselinePerSecond: 300, AttacksPerDay: 100})
	var picked []*site
	for _, s := range g.sites {
		if s.Sensor != "" && len(picked) < 3 {
			picked = append(picked, s)
		}
	}
	feeds := []Feed{FeedSyslog, FeedSensor, FeedHost}
	for i, s := range picked {
		q := Silence{Feed: feeds[i], After: time.Minute}
		switch q.Feed {
		case FeedSensor:
			q.Host = s.Sensor
		case FeedHost:
			q.Host = s.win[s.dc].name
		}
		s.Silent = []Silence{q}
		g.Schedule("beaconing", s.Tenant.ID, t0.Add(50*time.Second)) // sensor and host records on both sides
	}
	recs := ticks(g, 120, time.Second)
	if !g.Started().Equal(t0) {
		t.Fatalf("Started() = %v, want %v", g.Started(), t0)
	}
	for _, s := range picked {
		q := s.Silent[0]
		cut := g.Started().Add(q.After)
		var before, after, others int
		for _, r := range recs {
			if r.Org != s.Tenant.ID {
				continue
			}
			var of bool
			switch q.Feed {
			case FeedSyslog:
				of = r.Transport == SyslogUDP || r.Transport == SyslogTCP
			case FeedSensor:
				of = r.Transport == NDJSON
			case FeedHost:
				var m map[string]any
				of = r.Transport == Bulk && bytes.Contains(r.Body, []byte(`"winlog"`)) && json.Unmarshal(r.Body, &m) == nil &&
					str(m, "host.name") == q.Host+"."+s.Domain
			}
			switch {
			case of && r.Time.Before(cut):
				before++
			case of:
				after++
			case !r.Time.Before(cut):
				others++
			}
		}
		if before == 0 || after != 0 || others == 0 {
			t.Errorf("%s, %s silent after %v: %d records before, %d after; %d from its other sources after",
				s.Tenant.ID, q.Feed, q.After, before, after, others)
		}
	}
}

// TestAttackWeights checks weaker organisations draw more of the attacks.
func TestAttackWeights(t *testing.T) {
	g := New(Config{Seed: 2})
	r := g.base
	for _, gr := range g.groups {
		weakest, strongest := gr.targets[0], gr.targets[0]
		for _, j := range gr.targets {
			if g.sites[j].Maturity < g.sites[weakest].Maturity {
				weakest = j
			}
			if g.sites[j].Maturity > g.sites[strongest].Maturity {
				strongest = j
			}
		}
		n := map[int]int{}
		for range 2000 * len(gr.targets) {
			n[gr.target(r)]++
		}
		if len(n) != len(gr.targets) {
			t.Errorf("%s: attacked %d of its %d targets", gr.name, len(n), len(gr.targets))
		}
		mw, ms := g.sites[weakest].Maturity, g.sites[strongest].Maturity
		want := float64(attackWeight(mw)) / float64(attackWeight(ms))
		if got := float64(n[weakest]) / float64(n[strongest]); ms-mw > 0.3 && (want < 1.3 || got < 1+(want-1)/2) {
			t.Errorf("%s: weakest target (%.2f) drew %d attacks, strongest (%.2f) %d", gr.name, mw, n[weakest], ms, n[strongest])
		}
	}
	if w, s := attackWeight(0.05), attackWeight(0.97); math.Abs(float64(w)/float64(s)-2) > 0.3 {
		t.Errorf("attack weights %d (weakest) and %d (strongest): want about 2:1", w, s)
	}
}
