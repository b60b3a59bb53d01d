// Package bus is the seam between ingest and detection when Mamori runs on
// more than one node.
//
// Ingest publishes each accepted batch with Publisher.Publish and answers the
// sender only after Publish returns nil: from then on the batch is durable in
// the bus. Detection workers call Consumer.Consume on any number of nodes.
//
// # Partitioning
//
// Correlation is per organisation (tenant), so every batch of one tenant goes
// to one partition, Partition(tenant, n) = FNV-1a(tenant) mod n. Changing the
// partition count moves tenants between partitions; do it only with an empty
// backlog, or per-tenant order is lost for the batches in flight.
//
// # Ordering and ownership
//
// At any time at most one worker handles a partition, and it sees the
// partition's batches in publish order, one at a time: the next batch of a
// partition is handed out only after the previous one was acknowledged. So all
// batches of one tenant reach one worker, in order, also across redelivery
// and failover.
//
// # Delivery
//
// Delivery is at least once. A handler's nil return acknowledges the batch; an
// error makes the bus deliver the same batch again after a backoff, and
// nothing later in its partition is delivered before it. A worker that dies
// before acknowledging loses its partitions to the other workers, which get
// the unacknowledged batch again. Handlers must therefore commit idempotently,
// keyed by stable event IDs (or the batch ID), before returning nil.
package bus

import (
	"context"
	"errors"
	"hash/fnv"
)

// Msg is one published batch as a worker receives it.
//
// Data is only valid until the handler returns; copy it to keep it.
type Msg struct {
	Tenant    string
	Partition int
	BatchID   string
	Data      []byte
	// Delivery counts deliveries of this batch, starting at 1; more than 1
	// means a redelivery, after a handler error or a failover.
	Delivery uint64
}

// Handler processes one batch. Returning nil acknowledges it, so the handler
// must have committed its effects first. An error schedules a redelivery
// with backoff, unless it wraps ErrDiscard.
type Handler func(ctx context.Context, m Msg) error

// ErrDiscard, wrapped in a handler's error, drops a batch that can never be
// processed (a poison batch) instead of retrying it forever and blocking its
// partition. The caller should have logged or quarantined it.
var ErrDiscard = errors.New("discard batch")

// Publisher accepts batches from ingest.
type Publisher interface {
	// Publish stores payload as one batch of tenant under batchID and returns
	// nil only once it is durable. A retried Publish with the same batchID
	// (within the bus's duplicate window) stores the batch once.
	// Publish does not retain payload after it returns.
	Publish(ctx context.Context, tenant, batchID string, payload []byte) error
}

// Consumer hands batches to detection workers.
type Consumer interface {
	// Consume runs worker until ctx is done, calling handle for each batch of
	// the partitions the worker currently owns, one batch at a time per
	// partition. Worker names must be unique among live workers.
	Consume(ctx context.Context, worker string, handle Handler) error
}

// PartitionLag is the backlog of one partition.
type PartitionLag struct {
	Partition int
	// Pending counts batches not yet delivered to any worker.
	Pending uint64
	// Unacked counts batches delivered but not yet acknowledged.
	Unacked int
	// Redelivered counts unacknowledged batches delivered more than once.
	Redelivered int
	// Owned is true when a worker currently holds the partition.
	Owned bool
}

// Partition returns the partition, in [0, n), of tenant's batches.
// It is part of the stored format: changing it remaps tenants.
func Partition(tenant string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(tenant))
	return int(h.Sum32() % uint32(n))
}
