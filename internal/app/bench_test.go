package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/auth"
	"github.com/mamori-soc/mamori/internal/corpus"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// loadOTRF returns the Windows events of an OTRF data set as JSON lines,
// exactly as a log shipper sent them to a SIEM.
func loadOTRF(b *testing.B, n int) [][]byte { return corpus.OTRFLines(b, n) }

// BenchmarkIngestBulk measures the platform end to end: _bulk requests of
// real Windows events (OTRF) from 4 concurrent senders, durably stored,
// matched against the built-in pack and the SigmaHQ corpus, alerts stored.
// It reports events/s (until detection has caught up) and the p99 time from
// a request's start to its events' alerts being stored.
func BenchmarkIngestBulk(b *testing.B) {
	docs := loadOTRF(b, 40000)
	b.Run("rules=sigmahq", func(b *testing.B) {
		benchIngest(b, docs, Config{Rules: []string{filepath.Join(testdataDir(b), "sigma", "rules")}})
	})
	b.Run("rules=none", func(b *testing.B) { benchIngest(b, docs, Config{NoBuiltin: true}) })
	// The same through NATS JetStream (an embedded server) between ingest and detection.
	b.Run("rules=sigmahq,bus=embedded", func(b *testing.B) {
		benchIngest(b, docs, Config{Rules: []string{filepath.Join(testdataDir(b), "sigma", "rules")}, NATS: "embedded"})
	})
}

func benchIngest(b *testing.B, docs [][]byte, cfg Config) {
	b.Setenv("MAMORI_RULES", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg.Listen, cfg.Data = "127.0.0.1:0", b.TempDir()
	srv, err := NewServer(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	srv.store.PutTenant(ctx, tenant.Tenant{ID: "org-a", Name: "Org A", Sector: tenant.EnergyPower})
	srv.refreshTenants(ctx)
	tok, _ := srv.Auth().CreateToken(ctx, "bench", auth.Ingest, "org-a")
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	url := "http://" + srv.Addr()
	if err := waitReady(ctx, url); err != nil {
		b.Fatal(err)
	}
	const batch = 1000
	senders := 4
	if v := os.Getenv("MAMORI_BENCH_SENDERS"); v != "" {
		fmt.Sscan(v, &senders)
	}
	var latencies []time.Duration
	var latMu sync.Mutex
	client := &http.Client{Timeout: time.Minute}
	iter := 0
	type pend struct {
		seq int64
		t0  time.Time
	}
	pending := make(chan pend, 1024)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		var queue []pend
		for {
			select {
			case p, ok := <-pending:
				if !ok {
					return
				}
				queue = append(queue, p)
			case <-time.After(time.Millisecond):
			}
			pos := srv.det.Stats.Position.Load()
			keep := queue[:0]
			for _, p := range queue {
				if pos >= p.seq {
					latMu.Lock()
					latencies = append(latencies, time.Since(p.t0))
					latMu.Unlock()
				} else {
					keep = append(keep, p)
				}
			}
			queue = keep
		}
	}()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		iter++
		type job struct {
			lo, hi int
		}
		jobs := make(chan job)
		var wg sync.WaitGroup
		for w := 0; w < senders; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var buf bytes.Buffer
				for j := range jobs {
					buf.Reset()
					for i := j.lo; i < j.hi; i++ {
						fmt.Fprintf(&buf, "{\"create\":{\"_id\":\"%d-%d\"}}\n", iter, i)
						buf.Write(docs[i])
						buf.WriteByte('\n')
					}
					t0 := time.Now()
					for {
						req, _ := http.NewRequest("POST", url+"/_bulk", bytes.NewReader(buf.Bytes()))
						req.Header.Set("Authorization", "Bearer "+tok)
						resp, err := client.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == http.StatusOK {
							break
						}
						time.Sleep(50 * time.Millisecond) // 429: back off as a shipper does
					}
					// Latency is resolved by the watcher once detection passes these events.
					last, _ := srv.store.LastSeq(ctx)
					pending <- pend{last, t0}
				}
			}()
		}
		for lo := 0; lo < len(docs); lo += batch {
			jobs <- job{lo, min(lo+batch, len(docs))}
		}
		close(jobs)
		wg.Wait()
		// The round ends when detection has caught up with everything stored
		// (on the bus, first with everything JetStream holds).
		for srv.bus != nil {
			lag, err := srv.bus.Lag(ctx)
			if err != nil {
				b.Fatal(err)
			}
			busy := false
			for _, l := range lag {
				busy = busy || l.Pending > 0 || l.Unacked > 0
			}
			if !busy {
				break
			}
			time.Sleep(time.Millisecond)
		}
		last, _ := srv.store.LastSeq(ctx)
		for srv.det.Stats.Position.Load() < last {
			time.Sleep(time.Millisecond)
		}
	}
	elapsed := time.Since(start)
	time.Sleep(5 * time.Millisecond)
	close(pending)
	<-watchDone
	b.StopTimer()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	p99 := latencies[len(latencies)*99/100]
	b.ReportMetric(float64(iter*len(docs))/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(p99.Milliseconds()), "p99-ms-to-alert")
	b.ReportMetric(float64(srv.det.Stats.Hits.Load()), "hits")
	if n := srv.incidents.Alerts.Load(); n > 0 {
		b.ReportMetric(float64(srv.incidents.Nanos.Load())/float64(n)/1e3, "grouping-µs/alert")
		b.ReportMetric(float64(n), "alerts-grouped")
	}
	cancel()
	<-done
}
