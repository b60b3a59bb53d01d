package replica_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/bus/natsbus"
	"github.com/mamori-soc/mamori/internal/store"
)

// BenchmarkStateLog measures the shared state's two costs: a worker
// logging a batch's alerts (one record of one alert: JetStream's ack), and
// a node applying such records to its store (the rate every node must
// sustain). Triage writes: log, apply, answer.
func BenchmarkStateLog(b *testing.B) {
	ctx := context.Background()
	srv, err := natsbus.Start(natsbus.ServerOptions{StoreDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown()
	now := time.Now().UTC()
	b.Run("log-detections", func(b *testing.B) {
		n := startBenchNode(b, ctx, srv)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			a := testAlert(fmt.Sprintf("log-%d", i), "ws1", 1, now)
			if err := n.r.CommitDetections(ctx, fmt.Sprintf("batch:log-%d", i), 1, []alert.Alert{a}); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if err := n.r.CatchUp(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("apply-detections", func(b *testing.B) {
		w := startBenchNode(b, ctx, srv)
		for i := range b.N {
			a := testAlert(fmt.Sprintf("apply-%d", i), "ws1", 1, now)
			if err := w.r.CommitDetections(ctx, fmt.Sprintf("batch:apply-%d", i), 1, []alert.Alert{a}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		n := startBenchNode(b, ctx, srv) // a new node replays the log
		if err := n.r.CatchUp(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		b.ReportMetric(float64(n.r.Records.Load())/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("triage", func(b *testing.B) {
		n := startBenchNode(b, ctx, srv)
		if err := n.r.CatchUp(ctx); err != nil {
			b.Fatal(err)
		}
		ack, open := alert.StatusAcknowledged, alert.StatusNew
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			st := &ack
			if i%2 == 1 {
				st = &open
			}
			if _, err := n.r.UpdateAlerts(ctx, orgs, []string{"log-0"}, store.AlertChange{Status: st, User: "bench"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func startBenchNode(b *testing.B, ctx context.Context, srv *natsbus.Server) *node {
	b.Helper()
	return startNode(b, ctx, srv, openLocal(b, b.TempDir()))
}
