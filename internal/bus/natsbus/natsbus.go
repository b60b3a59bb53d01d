// Package natsbus implements bus.Publisher and bus.Consumer on NATS
// JetStream, and embeds nats-server for single-node and test use.
//
// # Layout
//
// One stream, MAMORI_EVENTS, holds subjects mamori.events.<p> for partitions
// p in [0, Partitions), p = bus.Partition(tenant, Partitions). A batch is one
// message: the subject carries the partition, header Mamori-Tenant the
// tenant, header Nats-Msg-Id the batch ID. The stream keeps messages for
// MaxAge (limits retention, file storage, Replicas copies) whether consumed or
// not, so a partition can be replayed; its duplicate window drops a retried
// publish of a batch ID it has already stored.
//
// Each partition has its own durable pull consumer, mamori-p<NN>, filtered on
// its subject, with MaxAckPending 1, explicit acks, and the priority policy
// "pinned_client" (nats-server 2.11+): the server delivers only to the one
// client it has pinned, and moves the pin to another client only when the
// pinned client has sent no pull request for PinnedTTL, or when it is
// explicitly unpinned.
//
// # Ordering
//
// MaxAckPending 1 means the server hands out a partition's next message only
// after the previous one is acknowledged (or, after AckWait without an ack,
// redelivers the same one). With the pin this gives one active worker per
// partition and strict publish order per partition, hence per tenant, even
// across naks, redeliveries, node failures and worker failover. The cost is
// one round trip per batch per partition; throughput scales with the number
// of partitions and with batch size.
//
// # Membership and rebalancing
//
// Pins make ownership safe; they do not spread partitions. Workers therefore
// heartbeat into the JetStream KV bucket mamori_workers (keys expire after
// MemberTTL), and every worker computes the same assignment from the sorted
// live set: partition p belongs to live[p mod len(live)]. A worker pulls only
// its own partitions. When the set changes, a worker that loses a partition
// finishes its current pull, unpins the consumer and stops; the new owner,
// already pulling, gets pinned at once. A worker that dies stops pulling: its
// key expires after MemberTTL, its pin after PinnedTTL, its unacknowledged
// batch is redelivered after AckWait, and the new owner continues from there.
// While views of the live set disagree a partition may be idle for up to a
// heartbeat, but never handled by two workers in parallel. While a handler
// runs, the worker marks its batch in progress every AckWait/2, so a slow
// handler does not cause a redelivery; a hung handler stalls its partition
// (and shows in Lag) until its worker stops.
//
// # Delivery
//
// Publish returns after JetStream's PubAck, so an acknowledged batch is
// stored on a quorum of replicas. Consume is at least once: the handler's nil
// return acks, an error naks with exponential backoff (RetryMin..RetryMax),
// a bus.ErrDiscard error terminates the message. Handlers must commit
// idempotently before returning nil.
package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mamori-soc/mamori/internal/bus"
)

// Names in JetStream. They are part of the deployment: changing them orphans
// the stored stream.
const (
	StreamName    = "MAMORI_EVENTS"
	SubjectPrefix = "mamori.events."
	MembersBucket = "mamori_workers"
	ConsumerGroup = "mamori"
	tenantHeader  = "Mamori-Tenant"
)

// Config configures the stream, the consumers and the client. The zero value
// is usable; zero fields take the documented defaults. Every node must use
// the same Partitions, AckWait and PinnedTTL: Connect updates the stream and
// consumers to its own Config.
type Config struct {
	// Partitions is the number of partitions; 0 means 16.
	Partitions int
	// Replicas is the stream's replica count (3 in a 3-node cluster); 0 means 1.
	Replicas int
	// MaxAge drops stored batches older than this, consumed or not; 0 means 7 days.
	MaxAge time.Duration
	// MaxBytes caps the stream; publishes beyond it fail (so ingest can
	// answer 503) rather than dropping unconsumed batches. 0 means no cap.
	MaxBytes int64
	// DuplicateWindow is how long a batch ID is remembered for
	// deduplication; 0 means 2 minutes.
	DuplicateWindow time.Duration
	// AckWait is how long a delivered batch may stay unacknowledged before it
	// is redelivered; 0 means 30s.
	AckWait time.Duration
	// PinnedTTL is how long a worker that stopped pulling keeps its pin;
	// 0 means 10s. It must exceed FetchWait.
	PinnedTTL time.Duration
	// FetchWait is how long one pull request waits; 0 means 1s.
	FetchWait time.Duration
	// FetchBatch is the number of batches one pull request asks for; 0 means 256.
	FetchBatch int
	// Heartbeat is how often a worker refreshes its membership and
	// rebalances; 0 means 2s. MemberTTL expires silent workers; 0 means
	// 3 heartbeats.
	Heartbeat time.Duration
	MemberTTL time.Duration
	// RetryMin and RetryMax bound the backoff before a batch whose handler
	// failed is delivered again; 0 means 250ms and 30s.
	RetryMin time.Duration
	RetryMax time.Duration
	// PublishTimeout bounds one publish attempt; Publish retries attempts
	// until its ctx is done. 0 means 2s.
	PublishTimeout time.Duration
	// Logger receives warnings and debug messages; nil discards them.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Partitions <= 0 {
		c.Partitions = 16
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.FetchBatch <= 0 {
		c.FetchBatch = 256
	}
	def(&c.MaxAge, 7*24*time.Hour)
	def(&c.DuplicateWindow, 2*time.Minute)
	def(&c.AckWait, 30*time.Second)
	def(&c.PinnedTTL, 10*time.Second)
	def(&c.FetchWait, time.Second)
	def(&c.Heartbeat, 2*time.Second)
	def(&c.MemberTTL, 3*c.Heartbeat)
	def(&c.RetryMin, 250*time.Millisecond)
	def(&c.RetryMax, 30*time.Second)
	def(&c.PublishTimeout, 2*time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Bus is a connection to JetStream with the Mamori stream and consumers set
// up. It is safe for concurrent use.
type Bus struct {
	cfg      Config
	nc       *nats.Conn
	js       jetstream.JetStream
	stream   jetstream.Stream
	members  jetstream.KeyValue
	subjects []string // subjects[p] is partition p's subject
}

var (
	_ bus.Publisher = (*Bus)(nil)
	_ bus.Consumer  = (*Bus)(nil)
)

// Connect connects to the NATS servers at url (comma-separated for a
// cluster), then creates or updates the stream, the partition consumers and
// the membership bucket. It retries the setup until ctx is done, so it can be
// called while a cluster is still electing leaders.
func Connect(ctx context.Context, url string, cfg Config) (*Bus, error) {
	return connect(ctx, url, cfg)
}

func inProcess(ns *server.Server) nats.Option { return nats.InProcessServer(ns) }

func connect(ctx context.Context, url string, cfg Config, extra ...nats.Option) (*Bus, error) {
	cfg.setDefaults()
	if cfg.PinnedTTL <= cfg.FetchWait {
		return nil, fmt.Errorf("natsbus: PinnedTTL %s must exceed FetchWait %s, or live workers lose their pins", cfg.PinnedTTL, cfg.FetchWait)
	}
	log := cfg.Logger
	opts := append([]nats.Option{
		nats.Name("mamori"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			log.Debug("nats async error", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "url", nc.ConnectedUrl()) }),
	}, extra...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("natsbus: cannot connect to %q: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsbus: %w", err)
	}
	b := &Bus{cfg: cfg, nc: nc, js: js}
	for p := range cfg.Partitions {
		b.subjects = append(b.subjects, SubjectPrefix+strconv.Itoa(p))
	}
	for attempt := 1; ; attempt++ {
		err := b.setup(ctx)
		if err == nil {
			return b, nil
		}
		if attempt%25 == 0 {
			// Every few seconds, so that an operator sees why the node
			// waits (no leader yet, or more replicas than servers).
			log.Warn("natsbus: setting up JetStream; retrying", "attempt", attempt, "replicas", cfg.Replicas, "err", err)
		} else {
			log.Debug("natsbus setup failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			nc.Close()
			return nil, fmt.Errorf("natsbus: cannot set up JetStream (is JetStream enabled, and does the cluster have a leader?): %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (b *Bus) setup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cfg := b.cfg
	maxBytes := cfg.MaxBytes
	if maxBytes <= 0 {
		maxBytes = -1
	}
	st, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "Mamori accepted ingest batches, partitioned by tenant",
		Subjects:    []string{SubjectPrefix + ">"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		MaxAge:      cfg.MaxAge,
		MaxBytes:    maxBytes,
		Discard:     jetstream.DiscardNew,
		Duplicates:  cfg.DuplicateWindow,
	})
	if err != nil {
		return fmt.Errorf("cannot create stream %q: %w", StreamName, err)
	}
	b.stream = st
	for p := range cfg.Partitions {
		_, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable:        consumerName(p),
			FilterSubject:  b.subjects[p],
			AckPolicy:      jetstream.AckExplicitPolicy,
			AckWait:        cfg.AckWait,
			MaxAckPending:  1,
			MaxDeliver:     -1,
			DeliverPolicy:  jetstream.DeliverAllPolicy,
			PriorityPolicy: jetstream.PriorityPolicyPinned,
			PriorityGroups: []string{ConsumerGroup},
			PinnedTTL:      cfg.PinnedTTL,
		})
		if err != nil {
			return fmt.Errorf("cannot create consumer %q: %w", consumerName(p), err)
		}
	}
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      MembersBucket,
		Description: "Mamori live detection workers",
		TTL:         cfg.MemberTTL,
		Storage:     jetstream.MemoryStorage,
		Replicas:    cfg.Replicas,
		History:     1,
	})
	if err != nil {
		return fmt.Errorf("cannot create KV bucket %q: %w", MembersBucket, err)
	}
	b.members = kv
	return nil
}

func consumerName(p int) string { return fmt.Sprintf("mamori-p%02d", p) }

// Partitions returns the number of partitions.
func (b *Bus) Partitions() int { return b.cfg.Partitions }

// Publish stores payload as one batch and returns after JetStream's ack.
// Failed attempts (no leader during a failover, timeouts) are retried with
// the same batch ID until ctx is done, so the batch is stored once.
func (b *Bus) Publish(ctx context.Context, tenant, batchID string, payload []byte) error {
	if tenant == "" {
		return errors.New("natsbus: publish: empty tenant")
	}
	if batchID == "" {
		return errors.New("natsbus: publish: empty batch ID")
	}
	m := &nats.Msg{
		Subject: b.subjects[bus.Partition(tenant, b.cfg.Partitions)],
		Header:  nats.Header{tenantHeader: []string{tenant}},
		Data:    payload,
	}
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
		_, err := b.js.PublishMsg(actx, m, jetstream.WithMsgID(batchID), jetstream.WithExpectStream(StreamName))
		cancel()
		if err == nil {
			return nil
		}
		if permanentPublishError(err) || ctx.Err() != nil {
			return fmt.Errorf("natsbus: publish batch %q of tenant %q after %d attempts: %w", batchID, tenant, attempt, err)
		}
		b.cfg.Logger.Debug("natsbus publish failed; retrying", "batch", batchID, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("natsbus: publish batch %q of tenant %q after %d attempts: %w", batchID, tenant, attempt, err)
		case <-time.After(min(time.Duration(attempt)*50*time.Millisecond, time.Second)):
		}
	}
}

func permanentPublishError(err error) bool {
	if errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, nats.ErrConnectionClosed) {
		return true
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		// 10054: message too large; 10060: wrong stream; 10077: store
		// failed, e.g. MaxBytes reached (retrying would only delay ingest's 503).
		switch apiErr.ErrorCode {
		case 10054, 10077, 10060:
			return true
		}
	}
	return false
}

// Lag returns the backlog of every partition. The server updates pending
// counts asynchronously, so Lag can trail the latest publishes briefly.
func (b *Bus) Lag(ctx context.Context) ([]bus.PartitionLag, error) {
	lags := make([]bus.PartitionLag, b.cfg.Partitions)
	for p := range lags {
		c, err := b.stream.Consumer(ctx, consumerName(p))
		if err != nil {
			return nil, fmt.Errorf("natsbus: lag of partition %d: %w", p, err)
		}
		ci := c.CachedInfo()
		lags[p] = bus.PartitionLag{
			Partition:   p,
			Pending:     ci.NumPending,
			Unacked:     ci.NumAckPending,
			Redelivered: ci.NumRedelivered,
		}
		for _, g := range ci.PriorityGroups {
			if g.PinnedClientID != "" {
				lags[p].Owned = true
			}
		}
	}
	return lags, nil
}

// Close closes the connection. Stop consumers (cancel their ctx) first.
func (b *Bus) Close() error {
	b.nc.Close()
	return nil
}
