package detect

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/corpus"
	"github.com/mamori-soc/mamori/internal/event"
	"github.com/mamori-soc/mamori/internal/ioc"
	"github.com/mamori-soc/mamori/internal/normalize"
	"github.com/mamori-soc/mamori/internal/rulepack"
	"github.com/mamori-soc/mamori/internal/sigma"
)

// otrfItems decodes up to n real Windows events (OTRF) into detection items.
func otrfItems(b *testing.B, n int) []Item {
	b.Helper()
	dec := normalize.NewDecoder()
	var items []Item
	for _, line := range corpus.OTRFLines(b, n) {
		ev := &event.Event{}
		if err := dec.JSON(line, ev); err != nil {
			continue
		}
		items = append(items, Item{Seq: int64(len(items) + 1), Tenant: "org", Event: ev})
	}
	return items
}

// indicators generates n indicators of mixed kinds.
func indicators(n int) []ioc.Indicator {
	r := rand.New(rand.NewPCG(5, 6))
	out := make([]ioc.Indicator, 0, n)
	for i := range n {
		ind := ioc.Indicator{Source: "bench", Confidence: 80}
		switch i % 4 {
		case 0:
			ind.Kind, ind.Value = ioc.IP, fmt.Sprintf("%d.%d.%d.%d", 1+r.IntN(222), r.IntN(256), r.IntN(256), 1+r.IntN(254))
		case 1:
			ind.Kind, ind.Value = ioc.Domain, fmt.Sprintf("h%x.example%d.net", r.Uint64(), r.IntN(1000))
		case 2:
			ind.Kind, ind.Value = ioc.SHA256, fmt.Sprintf("%016x%016x%016x%016x", r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64())
		default:
			ind.Kind, ind.Value = ioc.MD5, fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64())
		}
		ind.ID = ioc.MakeID(ind.Source, ind.Kind, ind.Value)
		out = append(out, ind)
	}
	return out
}

// BenchmarkProcess measures detection per event over real Windows events
// with the built-in rules, without indicators and with 1M indicators
// matched in the same pass: the cost the indicators add.
func BenchmarkProcess(b *testing.B) {
	items := otrfItems(b, 20000)
	rules, errs := sigma.LoadFS(rulepack.Rules(), "rules")
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	set, errs := sigma.Compile(rules, sigma.CompileOptions{})
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	inds := indicators(1_000_000)
	for _, n := range []int{0, 1_000_000} {
		b.Run(fmt.Sprintf("indicators=%d", n), func(b *testing.B) {
			d := New(Config{Workers: 1}, set, nil, nil, nil)
			if n > 0 {
				d.SetIndicators(ioc.Compile(inds[:n], time.Now()))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d.Process(items)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(items)), "ns/event")
		})
	}
}
