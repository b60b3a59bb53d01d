package sigma

import (
	"path/filepath"
	"testing"
)

// BenchmarkScanKeywords isolates Matcher.scan: every keyword automaton of the
// corpus runs over every value of every sample event, as keyword rules do.
func BenchmarkScanKeywords(b *testing.B) {
	rules := loadCorpus(b)
	set, _ := Compile(rules, CompileOptions{Placeholders: validatePlaceholders{}})
	events := loadEVTXEvents(b, filepath.Join(testdataDir(b), "evtx", "hayabusa-sample-evtx"))
	var kw []*gfield
	seen := map[*acAutomaton]bool{}
	add := func(g *group) {
		for i := range g.fields {
			if gf := &g.fields[i]; gf.id < 0 && !seen[gf.ac] {
				seen[gf.ac] = true
				kw = append(kw, gf)
			}
		}
	}
	if set.global != nil {
		add(set.global)
	}
	for _, cg := range set.channels {
		if cg.any != nil {
			add(cg.any)
		}
		for _, g := range cg.byEID {
			add(g)
		}
	}
	m := set.NewMatcher()
	var bytes int
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		bytes = 0
		for _, ev := range events {
			m.Match(ev, nil) // sizes the per-event scratch
			m.ev = ev
			for _, gf := range kw {
				m.cands = m.cands[:0]
				for i := 0; i < ev.Len(); i++ {
					m.scan(gf, i)
					bytes += len(ev.Value(i))
				}
			}
			m.ev = nil
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/event")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*bytes), "ns/byte")
}

// BenchmarkMatchOnly is BenchmarkScanKeywords' baseline: Match alone.
func BenchmarkMatchOnly(b *testing.B) {
	rules := loadCorpus(b)
	set, _ := Compile(rules, CompileOptions{Placeholders: validatePlaceholders{}})
	events := loadEVTXEvents(b, filepath.Join(testdataDir(b), "evtx", "hayabusa-sample-evtx"))
	m := set.NewMatcher()
	b.ResetTimer()
	for b.Loop() {
		for _, ev := range events {
			m.Match(ev, nil)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/event")
}
