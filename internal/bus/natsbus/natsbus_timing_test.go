package natsbus

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/bus"
)

// benchPayload is a 1 KiB batch, about five stored events.
var benchPayload = make([]byte, 1024)

func benchConfig() Config {
	cfg := testConfig()
	cfg.Partitions = 16
	cfg.Heartbeat = 100 * time.Millisecond
	cfg.MemberTTL = 500 * time.Millisecond
	return cfg
}

// Reproduce: go test ./internal/bus/natsbus -run '^$' -bench . -benchtime 20000x
func BenchmarkPublish(b *testing.B) {
	b.Run("sequential", func(b *testing.B) {
		bs := connectServer(b, startServer(b), benchConfig())
		ctx := context.Background()
		b.ReportAllocs()
		b.SetBytes(int64(len(benchPayload)))
		i := 0
		for b.Loop() {
			i++
			if err := bs.Publish(ctx, "org-"+strconv.Itoa(i%64), "b-"+strconv.Itoa(i), benchPayload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		bs := connectServer(b, startServer(b), benchConfig())
		ctx := context.Background()
		var n atomic.Int64
		b.ReportAllocs()
		b.SetBytes(int64(len(benchPayload)))
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				if err := bs.Publish(ctx, "org-"+strconv.Itoa(int(i%64)), "b-"+strconv.Itoa(int(i)), benchPayload); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkPipeline measures publish-to-commit throughput through 16
// partitions with 1, 2 and 4 workers already holding their partitions; 8
// goroutines publish.
func BenchmarkPipeline(b *testing.B) {
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			s := startServer(b)
			cfg := benchConfig()
			pub := connectServer(b, s, cfg)
			var got atomic.Int64
			h := func(ctx context.Context, m bus.Msg) error {
				got.Add(1)
				return nil
			}
			for w := range workers {
				runWorker(b, connectServer(b, s, cfg), "w"+strconv.Itoa(w), h)
			}
			time.Sleep(5 * cfg.Heartbeat) // let the membership settle
			b.ReportAllocs()
			b.SetBytes(int64(len(benchPayload)))
			b.ResetTimer()
			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						if err := pub.Publish(ctx, "org-"+strconv.Itoa(int(i%64)), "b-"+strconv.Itoa(int(i)), benchPayload); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			for got.Load() < int64(b.N) {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
		})
	}
}

// BenchmarkConsume measures draining a backlog of b.N batches in 16
// partitions with 1, 2 and 4 workers. The timing includes the workers'
// start and first rebalance (a few 100ms heartbeats).
func BenchmarkConsume(b *testing.B) {
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			s := startServer(b)
			cfg := benchConfig()
			pub := connectServer(b, s, cfg)
			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						if err := pub.Publish(ctx, "org-"+strconv.Itoa(int(i%64)), "b-"+strconv.Itoa(int(i)), benchPayload); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			var got atomic.Int64
			h := func(ctx context.Context, m bus.Msg) error {
				got.Add(1)
				return nil
			}
			conns := make([]*Bus, workers)
			for w := range conns {
				conns[w] = connectServer(b, s, cfg)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(benchPayload)))
			b.ResetTimer()
			for w, c := range conns {
				runWorker(b, c, "w"+strconv.Itoa(w), h)
			}
			for got.Load() < int64(b.N) {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
		})
	}
}
