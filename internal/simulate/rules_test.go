package simulate

import (
	"strings"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/event"
	"github.com/mamori-soc/mamori/internal/normalize"
	"github.com/mamori-soc/mamori/internal/rulepack"
	"github.com/mamori-soc/mamori/internal/sigma"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// detector runs records through the real decoders and Mamori's built-in rule pack, with
// one correlator per organisation as the platform keeps them.
type detector struct {
	set  *sigma.Set
	m    *sigma.Matcher
	d    *normalize.Decoder
	corr map[tenant.ID]*sigma.Correlator
	ev   event.Event
	hits []int
}

// detection is a rule (or correlation) of the built-in pack that fired on a record.
type detection struct {
	rec   *Record
	title string
	kind  HygieneKind // the rule's mamori.hygiene.<kind> tag; "" for attack rules
	host  string      // the event's host (normalize.HostOf)
}

func newDetector(t testing.TB) *detector {
	t.Helper()
	rules, errs := sigma.LoadFS(rulepack.Rules(), "rules")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	set, errs := sigma.Compile(rules, sigma.CompileOptions{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	d := normalize.NewDecoder()
	d.Now = func() time.Time { return t0.Add(24 * time.Hour) }
	return &detector{set: set, m: set.NewMatcher(), d: d, corr: map[tenant.ID]*sigma.Correlator{}}
}

// hygieneKind returns the kind of a rule's mamori.hygiene.<kind> tag, or "".
func hygieneKind(r *sigma.Rule) HygieneKind {
	for _, tag := range r.Tags {
		if k, ok := strings.CutPrefix(tag, "mamori.hygiene."); ok {
			return HygieneKind(k)
		}
	}
	return ""
}

// run decodes and matches recs (in time order) and calls fn for every detection the
// platform would report: rules not hidden behind a correlation, and correlations.
func (dt *detector) run(t testing.TB, recs []Record, fn func(det detection)) {
	t.Helper()
	for i := range recs {
		r := &recs[i]
		var err error
		switch r.Transport {
		case Bulk, NDJSON:
			err = dt.d.JSON(r.Body, &dt.ev)
		default:
			err = dt.d.Syslog(r.Body, &dt.ev)
		}
		if err != nil {
			t.Fatalf("decode: %v\n%s", err, r.Body)
		}
		host := normalize.HostOf(&dt.ev)
		dt.hits = dt.m.Match(&dt.ev, dt.hits[:0])
		for _, ri := range dt.hits {
			rule := dt.set.Rules[ri]
			if !dt.set.Suppressed(ri) {
				fn(detection{rec: r, title: rule.Title, kind: hygieneKind(rule), host: host})
			}
			c := dt.corr[r.Org]
			if c == nil {
				c = dt.set.NewCorrelator()
				dt.corr[r.Org] = c
			}
			if !c.Wants(ri) {
				continue
			}
			for _, h := range c.Observe(ri, dt.ev.Time, func(f string) (string, bool) {
				v, ok := dt.ev.Get(f)
				return string(v), ok
			}) {
				fn(detection{rec: r, title: dt.set.Correlations[h.Corr].Title, host: host})
			}
		}
	}
}
