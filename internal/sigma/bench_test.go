package sigma

import (
	"path/filepath"
	"testing"
)

func BenchmarkCompileCorpus(b *testing.B) {
	rules := loadCorpus(b)
	b.ReportAllocs()
	for b.Loop() {
		Compile(rules, CompileOptions{Placeholders: validatePlaceholders{}})
	}
}

func BenchmarkLoadCorpus(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		loadCorpus(b)
	}
}

func BenchmarkMatchMamori(b *testing.B) {
	rules := loadCorpus(b)
	set, _ := Compile(rules, CompileOptions{Placeholders: validatePlaceholders{}})
	events := loadEVTXEvents(b, filepath.Join(testdataDir(b), "evtx", "hayabusa-sample-evtx"))
	m := set.NewMatcher()
	var dst []int
	hits := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		hits = 0
		for _, ev := range events {
			dst = m.Match(ev, dst[:0])
			hits += len(dst)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/event")
	b.ReportMetric(float64(hits), "hits")
}
