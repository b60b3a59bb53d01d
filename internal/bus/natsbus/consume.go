package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mamori-soc/mamori/internal/bus"
)

// pinHeader carries the pin ID on messages of a pinned consumer.
const pinHeader = "Nats-Pin-Id"

// partitionRun is one running partition loop, owned by Consume.
type partitionRun struct {
	release  chan struct{} // closed by Consume when the worker loses the partition
	released bool          // release is closed
	done     chan struct{} // closed by the loop when it has returned
}

// Consume runs worker until ctx is done: it heartbeats the worker's
// membership, pulls the partitions assigned to it and calls handle for their
// batches, one at a time per partition (partitions run in parallel). It
// returns nil when ctx is done, after its partition loops have stopped and
// unpinned; only an invalid worker name is an error. Transient NATS errors
// are logged and retried.
func (b *Bus) Consume(ctx context.Context, worker string, handle bus.Handler) error {
	if !validWorker(worker) {
		return fmt.Errorf("natsbus: worker name %q: use 1-64 characters of [A-Za-z0-9_-]", worker)
	}
	log := b.cfg.Logger.With("worker", worker)
	var wg sync.WaitGroup
	running := map[int]*partitionRun{}
	defer func() {
		wg.Wait() // loops stop on ctx
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := b.members.Delete(dctx, worker); err != nil {
			log.Debug("natsbus: cannot remove membership", "err", err)
		}
	}()
	tick := time.NewTicker(b.cfg.Heartbeat)
	defer tick.Stop()
	for {
		for p, r := range running {
			select {
			case <-r.done:
				delete(running, p)
			default:
			}
		}
		live, err := b.heartbeat(ctx, worker)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.Warn("natsbus: membership heartbeat failed; keeping current partitions", "err", err)
		} else {
			want := assign(live, worker, b.cfg.Partitions)
			for p, r := range running {
				if !want[p] && !r.released {
					log.Debug("natsbus: releasing partition", "partition", p, "live", live)
					close(r.release)
					r.released = true
				}
			}
			for p := range b.cfg.Partitions {
				if want[p] && running[p] == nil {
					log.Debug("natsbus: taking partition", "partition", p, "live", live)
					r := &partitionRun{release: make(chan struct{}), done: make(chan struct{})}
					running[p] = r
					wg.Add(1)
					go func() {
						defer wg.Done()
						defer close(r.done)
						b.runPartition(ctx, p, r.release, handle, log.With("partition", p))
					}()
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func validWorker(w string) bool {
	if w == "" || len(w) > 64 {
		return false
	}
	for _, c := range []byte(w) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// heartbeat refreshes worker's key and returns the sorted live workers.
func (b *Bus) heartbeat(ctx context.Context, worker string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Heartbeat)
	defer cancel()
	if _, err := b.members.Put(ctx, worker, []byte(time.Now().UTC().Format(time.RFC3339Nano))); err != nil {
		return nil, fmt.Errorf("put %q: %w", worker, err)
	}
	keys, err := b.members.Keys(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, fmt.Errorf("list members: %w", err)
	}
	if !slices.Contains(keys, worker) {
		keys = append(keys, worker)
	}
	slices.Sort(keys)
	return keys, nil
}

// assign returns the partitions of worker: partition p belongs to
// live[p mod len(live)], live sorted. Every worker computes the same answer
// from the same live set.
func assign(live []string, worker string, partitions int) map[int]bool {
	i := slices.Index(live, worker)
	want := map[int]bool{}
	if i < 0 {
		return want
	}
	for p := i; p < partitions; p += len(live) {
		want[p] = true
	}
	return want
}

// runPartition pulls partition p and hands its batches to handle until ctx is
// done or release is closed. Before returning it unpins the consumer if this
// loop holds the pin, and naks batches it received but did not handle, so
// the next owner starts at once and in order.
func (b *Bus) runPartition(ctx context.Context, p int, release <-chan struct{}, handle bus.Handler, log *slog.Logger) {
	name := consumerName(p)
	stopped := func() bool {
		select {
		case <-release:
			return true
		case <-ctx.Done():
			return true
		default:
			return false
		}
	}
	pause := func(d time.Duration) {
		select {
		case <-release:
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
	var cons jetstream.Consumer // per loop: the handle keeps the pin ID
	var pin string              // the pin ID of the last batch we were given
	keep := newKeepAlive(b.cfg.AckWait / 2)
	defer keep.stop()
	for !stopped() {
		if cons == nil {
			c, err := b.stream.Consumer(ctx, name)
			if err != nil {
				log.Debug("natsbus: cannot look up consumer; retrying", "err", err)
				pause(250 * time.Millisecond)
				continue
			}
			cons = c
		}
		batch, err := cons.Fetch(b.cfg.FetchBatch, jetstream.FetchMaxWait(b.cfg.FetchWait), jetstream.FetchPriorityGroup(ConsumerGroup))
		if err != nil {
			log.Debug("natsbus: fetch failed; retrying", "err", err)
			pause(250 * time.Millisecond)
			continue
		}
		var leftovers []jetstream.Msg
		for msg := range batch.Messages() {
			if stopped() {
				leftovers = append(leftovers, msg)
				break
			}
			if id := msg.Headers().Get(pinHeader); id != "" {
				pin = id
			}
			keep.start(msg)
			b.deliver(ctx, p, msg, handle, log)
			keep.stop()
		}
		if stopped() {
			b.unpinIfHeld(p, pin, log)
			for msg := range batch.Messages() { // ends at once if our request carried the pin
				leftovers = append(leftovers, msg)
			}
			for _, msg := range leftovers {
				if id := msg.Headers().Get(pinHeader); id != "" && id != pin {
					pin = id
					defer b.unpinIfHeld(p, pin, log)
				}
				_ = msg.Nak()
			}
			return
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrPinIDMismatch) && !errors.Is(err, nats.ErrTimeout) {
			log.Debug("natsbus: pull ended with error", "err", err)
			pause(100 * time.Millisecond)
		}
	}
	b.unpinIfHeld(p, pin, log)
}

// deliver calls handle for msg and acks, naks with backoff, or terminates it.
func (b *Bus) deliver(ctx context.Context, p int, msg jetstream.Msg, handle bus.Handler, log *slog.Logger) {
	h := msg.Headers()
	m := bus.Msg{
		Tenant:    h.Get(tenantHeader),
		Partition: p,
		BatchID:   h.Get(jetstream.MsgIDHeader),
		Data:      msg.Data(),
		Delivery:  1,
	}
	if md, err := msg.Metadata(); err == nil {
		m.Delivery = md.NumDelivered
	}
	err := handle(ctx, m)
	switch {
	case err == nil:
		err = msg.Ack()
	case errors.Is(err, bus.ErrDiscard):
		log.Warn("natsbus: handler discarded batch", "tenant", m.Tenant, "batch", m.BatchID, "err", err)
		err = msg.Term()
	default:
		d := b.backoff(m.Delivery)
		log.Debug("natsbus: handler failed; batch will be redelivered", "tenant", m.Tenant, "batch", m.BatchID, "delivery", m.Delivery, "retry_in", d, "err", err)
		err = msg.NakWithDelay(d)
	}
	if err != nil {
		// The batch stays unacknowledged and is redelivered after AckWait.
		log.Debug("natsbus: cannot settle batch", "batch", m.BatchID, "err", err)
	}
}

// backoff returns RetryMin doubled per earlier delivery, capped at RetryMax.
func (b *Bus) backoff(delivery uint64) time.Duration {
	d := b.cfg.RetryMin
	for i := uint64(1); i < delivery && d < b.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, b.cfg.RetryMax)
}

// unpinIfHeld unpins partition p's consumer if pin is still its pinned
// client, so the next owner is pinned without waiting for PinnedTTL.
func (b *Bus) unpinIfHeld(p int, pin string, log *slog.Logger) {
	if pin == "" || b.nc.IsClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := b.stream.Consumer(ctx, consumerName(p))
	if err != nil {
		log.Debug("natsbus: cannot check pin", "err", err)
		return
	}
	for _, g := range c.CachedInfo().PriorityGroups {
		if g.Group == ConsumerGroup && g.PinnedClientID == pin {
			if err := b.stream.UnpinConsumer(ctx, consumerName(p), ConsumerGroup); err != nil {
				log.Debug("natsbus: cannot unpin", "err", err)
			}
		}
	}
}

// keepAlive tells the server a batch is still being worked on, every
// interval, while its handler runs: a slow handler keeps its batch instead of
// having it redelivered after AckWait (possibly to another worker, in
// parallel with the slow handler).
type keepAlive struct {
	every time.Duration
	t     *time.Timer

	mu  sync.Mutex
	msg jetstream.Msg // the batch being handled, or nil; under mu
}

func newKeepAlive(every time.Duration) *keepAlive {
	k := &keepAlive{every: every}
	k.t = time.AfterFunc(time.Hour, k.tick)
	k.t.Stop()
	return k
}

func (k *keepAlive) tick() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.msg != nil {
		_ = k.msg.InProgress()
		k.t.Reset(k.every)
	}
}

func (k *keepAlive) start(msg jetstream.Msg) {
	k.mu.Lock()
	k.msg = msg
	k.t.Reset(k.every)
	k.mu.Unlock()
}

func (k *keepAlive) stop() {
	k.mu.Lock()
	k.msg = nil
	k.t.Stop()
	k.mu.Unlock()
}
