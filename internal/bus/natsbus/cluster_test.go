package natsbus

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestClusterNodeFailure publishes to and consumes from an R3 stream on a
// 3-node loopback cluster while the stream's leader node is shut down, then
// restarts it. Every batch whose Publish returned nil must be committed.
func TestClusterNodeFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	c, err := StartCluster(ctx, 3, t.TempDir(), nil)
	if err != nil {
		t.Fatalf("StartCluster: %v", err)
	}
	t.Cleanup(c.Shutdown) // after the workers' cleanups, which need the cluster
	cfg := testConfig()
	cfg.Replicas = 3
	cfg.AckWait = 2 * time.Second
	cfg.PinnedTTL = 2 * time.Second
	cfg.PublishTimeout = time.Second
	connect := func() *Bus {
		t.Helper()
		b, err := Connect(ctx, c.URL(), cfg)
		if err != nil {
			t.Fatalf("Connect: %v", err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	pub := connect()
	l := newLedger(t)
	runWorker(t, connect(), "w1", l.handler("w1", nil))
	runWorker(t, connect(), "w2", l.handler("w2", nil))

	const total, tenants = 600, 12
	var (
		mu     sync.Mutex
		acked  []string
		failed int
	)
	published := make(chan int, total)
	go func() {
		defer close(published)
		seq := map[string]int{}
		for i := range total {
			tenant := fmt.Sprintf("org-%d", i%tenants)
			id := fmt.Sprintf("b-%d", i)
			pctx, pcancel := context.WithTimeout(ctx, 15*time.Second)
			err := pub.Publish(pctx, tenant, id, payload(tenant, seq[tenant]))
			pcancel()
			mu.Lock()
			if err == nil {
				acked = append(acked, id)
				seq[tenant]++
			} else {
				// Unknown outcome: the batch may or may not be stored. The
				// sequence numbers would no longer be contiguous, so stop.
				failed++
				mu.Unlock()
				t.Errorf("Publish(%q): %v", id, err)
				return
			}
			mu.Unlock()
			published <- i
		}
	}()

	// Shut down the stream leader once a third is published.
	for i := range published {
		if i == total/3 {
			break
		}
	}
	si, err := pub.stream.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	leader := -1
	for i, s := range c.Servers {
		if s.Name() == si.Cluster.Leader {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatalf("stream leader %q not found", si.Cluster.Leader)
	}
	start := time.Now()
	c.Stop(leader)
	t.Logf("stopped stream leader %s", si.Cluster.Leader)
	for i := range published {
		if i == 2*total/3 {
			break
		}
	}
	t.Logf("published another third %s after the leader stopped", time.Since(start).Round(time.Millisecond))
	if err := c.Restart(leader); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	for range published {
	}
	mu.Lock()
	want := append([]string(nil), acked...)
	mu.Unlock()
	if len(want) != total {
		t.Fatalf("%d of %d publishes acknowledged, %d failed", len(want), total, failed)
	}
	checkFor(t, 30*time.Second, func() error {
		if miss := l.missing(want); len(miss) > 0 {
			return fmt.Errorf("%d acknowledged batches not committed, e.g. %v", len(miss), miss[0])
		}
		return nil
	})
	if n := l.count(); n != total {
		t.Fatalf("%d batches committed, want %d", n, total)
	}
	// The restarted node catches up as a current replica.
	checkFor(t, 20*time.Second, func() error {
		si, err := pub.stream.Info(ctx)
		if err != nil {
			return err
		}
		if si.State.Msgs != total {
			return fmt.Errorf("stream holds %d messages, want %d", si.State.Msgs, total)
		}
		if si.Cluster == nil || len(si.Cluster.Replicas) != 2 {
			return fmt.Errorf("stream cluster info %+v, want a leader and 2 replicas", si.Cluster)
		}
		for _, r := range si.Cluster.Replicas {
			if !r.Current || r.Offline {
				return fmt.Errorf("replica %s current=%v offline=%v", r.Name, r.Current, r.Offline)
			}
		}
		return nil
	})
	t.Logf("acked %d, committed %d (by worker %v), duplicate deliveries %d, in %s", len(want), l.count(), l.byWorker(), l.dups, time.Since(start).Round(time.Millisecond))
}
