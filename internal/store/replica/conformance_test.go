package replica_test

import (
	"context"
	"testing"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/bus/natsbus"
	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/store/replica"
	"github.com/mamori-soc/mamori/internal/store/storetest"
)

// settled is a replica whose detections are applied before CommitDetections
// returns, as the conformance suite reads right after writing (a worker
// does not wait: every node applies the record).
type settled struct{ *replica.Store }

func (s settled) CommitDetections(ctx context.Context, cursor string, seq int64, alerts []alert.Alert) error {
	if err := s.Store.CommitDetections(ctx, cursor, seq, alerts); err != nil {
		return err
	}
	return s.CatchUp(ctx)
}

// TestConformance runs the store suite on a replica over the embedded
// store, through a real JetStream state log.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		srv, err := natsbus.Start(natsbus.ServerOptions{StoreDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Shutdown)
		n := startNode(t, ctx, srv, openLocal(t, t.TempDir()))
		return settled{n.r}
	})
}
