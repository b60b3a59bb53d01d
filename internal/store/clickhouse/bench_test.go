package clickhouse

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/store/local"
	"github.com/mamori-soc/mamori/internal/store/storetest"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// benchStore is what the benchmark needs of both stores.
type benchStore interface {
	storetest.EventStore
}

// benchGen generates the benchmark's events: 20 tenants, 500 hosts, 100
// users, times in arrival order over the 24 hours before base, ~400-byte
// raw records; 1 event in 1,000 mentions mimikatz.
type benchGen struct {
	base  time.Time
	total int
	next  atomic.Int64
}

func (g *benchGen) batch(n int) []store.Event {
	start := int(g.next.Add(int64(n))) - n
	evs := make([]store.Event, n)
	for j := range evs {
		i := start + j
		r := rand.New(rand.NewPCG(uint64(i), 42))
		at := g.base.Add(-24 * time.Hour).Add(time.Duration(float64(i%g.total) / float64(g.total) * float64(24*time.Hour)))
		host, user := fmt.Sprintf("ws-%03d.corp.example", r.IntN(500)), fmt.Sprintf("user%d", r.IntN(100))
		cmd := fmt.Sprintf(`C:\Windows\System32\cmd.exe /c dir C:\Users\%s\AppData\Local\Temp\%x`, user, r.Uint32())
		if r.IntN(1000) == 0 {
			cmd = `C:\Temp\mimikatz.exe "privilege::debug" "sekurlsa::logonpasswords" exit`
		}
		evs[j] = store.Event{
			ID:       fmt.Sprintf("%016x%016x", uint64(i)*0x9E3779B97F4A7C15, uint64(i)),
			Tenant:   tenant.ID(fmt.Sprintf("org-%02d", r.IntN(20))),
			Time:     at,
			Received: at.Add(2 * time.Second),
			Source:   "bulk",
			Host:     host,
			Channel:  "Microsoft-Windows-Sysmon/Operational",
			EventID:  "1",
			Fields: []store.Field{
				{Name: "Computer", Value: host}, {Name: "User", Value: user}, {Name: "Image", Value: `C:\Windows\System32\cmd.exe`},
				{Name: "CommandLine", Value: cmd}, {Name: "ProcessId", Value: strconv.Itoa(r.IntN(60000))},
				{Name: "ParentImage", Value: `C:\Windows\explorer.exe`}, {Name: "Channel", Value: "Microsoft-Windows-Sysmon/Operational"}, {Name: "EventID", Value: "1"},
			},
		}
		evs[j].Raw = fmt.Appendf(nil, `{"EventTime":%q,"Hostname":%q,"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"User":%q,"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":%q,"ParentImage":"C:\\Windows\\explorer.exe"}`,
			at.Format(time.RFC3339Nano), host, user, cmd)
	}
	return evs
}

// load appends n events with 4 writers of 10,000-event batches and returns events/s.
func load(tb testing.TB, s benchStore, g *benchGen, n int) float64 {
	const batch, writers = 10_000, 4
	start := time.Now()
	var wg sync.WaitGroup
	var left atomic.Int64
	left.Store(int64(n))
	for range writers {
		wg.Go(func() {
			for {
				k := min(int64(batch), left.Add(-batch)+batch)
				if k <= 0 {
					return
				}
				if _, err := s.AppendEvents(context.Background(), g.batch(int(k))); err != nil {
					tb.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkEventStore compares the ClickHouse and the embedded event
// stores in the same run: loading MAMORI_BENCH_EVENTS events (default
// 1,000,000; the target is 10,000,000), appending more, and the
// console's main queries on one tenant (1/20 of the events).
//
//	go test ./internal/store/clickhouse -run '^$' -bench EventStore -benchtime 20x
func BenchmarkEventStore(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("MAMORI_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	base := time.Now().UTC().Truncate(time.Hour)
	for _, engine := range []string{"clickhouse", "local"} {
		b.Run("engine="+engine, func(b *testing.B) {
			var s benchStore
			if engine == "clickhouse" {
				s = openTest(b)
			} else {
				ls, err := local.Open(context.Background(), local.Config{Dir: b.TempDir()}, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { ls.Close() })
				s = ls
			}
			g := &benchGen{base: base, total: n}
			rate := load(b, s, g, n)
			b.Logf("%s: loaded %d events at %.0f events/s", engine, n, rate)
			if cs, ok := s.(*Store); ok {
				// Let the merges of the load finish: they would otherwise
				// compete with the queries for the same two cores.
				settle := time.Now()
				for time.Since(settle) < 2*time.Minute {
					r, err := cs.rows(context.Background(), "SELECT toUInt64(count()) FROM system.merges")
					if err != nil || r.uint64() == 0 {
						break
					}
					time.Sleep(200 * time.Millisecond)
				}
				r, _ := cs.rows(context.Background(), "SELECT toUInt64(count()), toUInt64(sum(bytes_on_disk)) FROM system.parts WHERE active AND database = "+quote(cs.db))
				b.Logf("clickhouse: merges settled in %v; %d parts, %d MiB on disk", time.Since(settle).Round(time.Millisecond), r.uint64(), r.uint64()>>20)
			}
			ctx := context.Background()
			org := []tenant.ID{"org-07"}
			day := store.EventQuery{Tenants: org, Since: base.Add(-24 * time.Hour), Until: base}
			queries := []struct {
				name string
				run  func() (int, error)
			}{
				{"search-newest", func() (int, error) {
					p, err := s.SearchEvents(ctx, store.EventQuery{Tenants: org, Limit: 100})
					return p.Total, err
				}},
				{"search-filter", func() (int, error) {
					q := day
					q.Filters, q.Limit = []store.Filter{{Field: "User", Value: "USER42"}}, 100
					p, err := s.SearchEvents(ctx, q)
					return p.Total, err
				}},
				{"search-text", func() (int, error) {
					q := day
					q.Text, q.Limit = "MimiKatz", 100
					p, err := s.SearchEvents(ctx, q)
					return p.Total, err
				}},
				{"histogram-24h", func() (int, error) {
					h, err := s.EventHistogram(ctx, store.HistogramQuery{EventQuery: day, Buckets: 96})
					sum := 0
					for _, b := range h.Buckets {
						sum += b.Count
					}
					return sum, err
				}},
				{"histogram-24h-all-tenants", func() (int, error) {
					q := day
					q.Tenants = nil
					for i := range 20 {
						q.Tenants = append(q.Tenants, tenant.ID(fmt.Sprintf("org-%02d", i)))
					}
					h, err := s.EventHistogram(ctx, store.HistogramQuery{EventQuery: q, Buckets: 96})
					sum := 0
					for _, b := range h.Buckets {
						sum += b.Count
					}
					return sum, err
				}},
			}
			for _, q := range queries {
				b.Run("op="+q.name, func(b *testing.B) {
					var matched int
					for b.Loop() {
						var err error
						if matched, err = q.run(); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(matched), "matched")
				})
			}
			b.Run("op=append-10k", func(b *testing.B) {
				start, total := time.Now(), 0
				for b.Loop() {
					if _, err := s.AppendEvents(ctx, g.batch(10_000)); err != nil {
						b.Fatal(err)
					}
					total += 10_000
				}
				b.ReportMetric(float64(total)/time.Since(start).Seconds(), "events/s")
			})
		})
	}
}
