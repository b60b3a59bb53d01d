package local

import (
	"context"
	"testing"

	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), Config{Dir: t.TempDir()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestReadOnlyWhenDiskFull(t *testing.T) {
	s, err := Open(context.Background(), Config{Dir: t.TempDir(), MinFreeDisk: 1 << 62}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.AppendEvents(context.Background(), []store.Event{{ID: "x", Tenant: "a"}}); err != store.ErrReadOnly {
		t.Errorf("AppendEvents with no free disk: %v, want ErrReadOnly", err)
	}
}
