package clickhouse

import (
	"context"
	"testing"

	"github.com/mamori-soc/mamori/internal/store/local"
	"github.com/mamori-soc/mamori/internal/store/storetest"
)

var _ storetest.EventStore = (*Store)(nil)

func TestConformance(t *testing.T) {
	storetest.RunEvents(t, func(t *testing.T) storetest.EventStore { return openTest(t) })
}

// TestConformanceLocal proves the same suite on the embedded store, so
// that both event stores answer alike.
func TestConformanceLocal(t *testing.T) {
	storetest.RunEvents(t, func(t *testing.T) storetest.EventStore {
		s, err := local.Open(context.Background(), local.Config{Dir: t.TempDir()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
