package natsbus

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestStateLogAppendFollow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := connectServer(t, startServer(t), testConfig())
	l, err := b.StateLog(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, "", []byte("x")); err == nil {
		t.Error("an empty record id was accepted")
	}
	var seqs []uint64
	for i := range 5 {
		seq, err := l.Append(ctx, "r"+strconv.Itoa(i), []byte(strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	// A record appended again under its id is stored once.
	again, err := l.Append(ctx, "r2", []byte("other"))
	if err != nil || again != seqs[2] {
		t.Fatalf("duplicate append = %d, %v; want the first sequence %d", again, err, seqs[2])
	}
	if last, err := l.Last(ctx); err != nil || last != seqs[4] {
		t.Fatalf("Last = %d, %v; want %d", last, err, seqs[4])
	}
	// Following after the second record gives the other three, in order.
	fctx, fcancel := context.WithCancel(ctx)
	var got []string
	var mores []bool
	err = l.Follow(fctx, seqs[1], func(seq uint64, at time.Time, rec []byte, more bool) error {
		if at.IsZero() {
			t.Errorf("record %d has no time", seq)
		}
		got = append(got, string(rec))
		mores = append(mores, more)
		if len(got) == 3 {
			fcancel()
		}
		return nil
	})
	if fmt.Sprint(got) != "[2 3 4]" || fctx.Err() == nil {
		t.Fatalf("followed %v (%v), want [2 3 4]", got, err)
	}
	// Each record says whether more were waiting behind it.
	if fmt.Sprint(mores) != "[true true false]" {
		t.Errorf("more = %v, want [true true false]", mores)
	}
	// An apply error stops Follow with that error.
	boom := fmt.Errorf("boom")
	if err := l.Follow(ctx, 0, func(uint64, time.Time, []byte, bool) error { return boom }); err != boom {
		t.Fatalf("Follow returned %v, want the apply error", err)
	}
}

// TestStateLogClusterNodeFailure appends to an R3 state log while the
// stream's leader is stopped: a follower applies every acknowledged record
// once, in order, without a gap.
func TestStateLogClusterNodeFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := StartCluster(ctx, 3, t.TempDir(), nil)
	if err != nil {
		t.Fatalf("StartCluster: %v", err)
	}
	t.Cleanup(c.Shutdown)
	cfg := testConfig()
	cfg.Replicas = 3
	cfg.PublishTimeout = time.Second
	connect := func() *StateLog {
		b, err := Connect(ctx, c.URL(), cfg)
		if err != nil {
			t.Fatalf("Connect: %v", err)
		}
		t.Cleanup(func() { b.Close() })
		l, err := b.StateLog(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	writer, reader := connect(), connect()

	var mu sync.Mutex
	var applied []int
	last := uint64(0)
	fctx, fcancel := context.WithCancel(ctx)
	defer fcancel()
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		for fctx.Err() == nil {
			_ = reader.Follow(fctx, last, func(seq uint64, _ time.Time, rec []byte, _ bool) error {
				n, _ := strconv.Atoi(string(rec))
				mu.Lock()
				applied = append(applied, n)
				mu.Unlock()
				last = seq
				return nil
			})
		}
	}()

	const total = 300
	stopped := false
	for i := range total {
		if i == total/3 {
			si, err := writer.stream.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for j, s := range c.Servers {
				if s.Name() == si.Cluster.Leader {
					c.Stop(j)
					stopped = true
					defer func() {
						if err := c.Restart(j); err != nil {
							t.Errorf("Restart: %v", err)
						}
					}()
				}
			}
		}
		// A failed attempt is retried under the same id: stored once.
		if _, err := writer.Append(ctx, "rec-"+strconv.Itoa(i), []byte(strconv.Itoa(i))); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
	if !stopped {
		t.Fatal("the stream leader was not found")
	}
	checkFor(t, 30*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(applied) < total {
			return fmt.Errorf("%d of %d records followed", len(applied), total)
		}
		return nil
	})
	fcancel()
	<-followed
	for i, n := range applied {
		if n != i {
			t.Fatalf("record %d is %d: out of order, duplicated or missing", i, n)
		}
	}
	if len(applied) != total {
		t.Fatalf("%d records followed, want %d", len(applied), total)
	}
}
