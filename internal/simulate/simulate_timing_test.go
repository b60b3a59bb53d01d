package simulate

import (
	"runtime"
	"testing"
	"time"
)

// BenchmarkTick measures the default national load in 100 ms Ticks (one op is one Tick
// of about 200 baseline records plus the attack scenarios playing).
//
// Reproduce: go test ./internal/simulate -run '^$' -bench Tick -count 6 -benchmem
func BenchmarkTick(b *testing.B) {
	g := New(Config{Seed: 1})
	const dt = 100 * time.Millisecond
	now := t0
	for range 600 { // a minute in: scenarios in every phase
		g.Tick(now, dt)
		now = now.Add(dt)
	}
	var records, bytes int
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	for b.Loop() {
		recs := g.Tick(now, dt)
		now = now.Add(dt)
		records += len(recs)
		for i := range recs {
			bytes += len(recs[i].Body)
		}
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(records), "allocs/record")
	b.ReportMetric(float64(bytes)/float64(records), "B/record")
}
