package natsbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The state log: one stream, MAMORI_STATE, one subject, mamori.state,
// holding the ordered record of changes to the state every node shares
// (alerts, triage, organisations). Nodes append to it and each applies all
// of it, in order, to its own store (see package replica). It has the
// events stream's replica count, keeps records for StateMaxAge, and
// remembers record IDs for an hour so that a batch's alerts, appended
// again by a worker that took over a dead worker's batch, are stored once.
const (
	StateStream  = "MAMORI_STATE"
	StateSubject = "mamori.state"
)

// StateLog appends to and follows the state stream. It is safe for
// concurrent use.
type StateLog struct {
	b      *Bus
	stream jetstream.Stream
}

// stateDuplicateWindow bounds how late a redelivered batch's alerts are
// still recognised: far beyond AckWait and pin failover.
const stateDuplicateWindow = time.Hour

// StateLog creates or updates the state stream and returns its log. maxAge
// is how long records are kept (0 means 30 days); a node that starts with an
// empty store replays what is kept.
func (b *Bus) StateLog(ctx context.Context, maxAge time.Duration) (*StateLog, error) {
	if maxAge <= 0 {
		maxAge = 30 * 24 * time.Hour
	}
	for {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := b.js.CreateOrUpdateStream(sctx, jetstream.StreamConfig{
			Name:        StateStream,
			Description: "Mamori shared state: alerts, triage, organisations, in the order every node applies them",
			Subjects:    []string{StateSubject},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    b.cfg.Replicas,
			MaxAge:      maxAge,
			Discard:     jetstream.DiscardOld,
			Duplicates:  min(stateDuplicateWindow, maxAge),
		})
		cancel()
		if err == nil {
			return &StateLog{b: b, stream: st}, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("natsbus: cannot create stream %q: %w", StateStream, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Append stores rec and returns its sequence number once JetStream has
// acknowledged it. A record whose id was appended within the duplicate
// window is not stored again: Append returns the sequence of the first.
// Failed attempts are retried with the same id until ctx is done.
func (l *StateLog) Append(ctx context.Context, id string, rec []byte) (uint64, error) {
	if id == "" {
		return 0, errors.New("natsbus: state log: empty record id")
	}
	m := &nats.Msg{Subject: StateSubject, Data: rec}
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, l.b.cfg.PublishTimeout)
		ack, err := l.b.js.PublishMsg(actx, m, jetstream.WithMsgID(id), jetstream.WithExpectStream(StateStream))
		cancel()
		if err == nil {
			if ack.Sequence == 0 { // a duplicate whose first copy is still being replicated
				return l.Last(ctx)
			}
			return ack.Sequence, nil
		}
		if permanentPublishError(err) || ctx.Err() != nil {
			return 0, fmt.Errorf("natsbus: state log: append %q after %d attempts: %w", id, attempt, err)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("natsbus: state log: append %q after %d attempts: %w", id, attempt, err)
		case <-time.After(min(time.Duration(attempt)*50*time.Millisecond, time.Second)):
		}
	}
}

// Last returns the sequence number of the newest record (0 when empty).
func (l *StateLog) Last(ctx context.Context) (uint64, error) {
	info, err := l.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("natsbus: state log: %w", err)
	}
	return info.State.LastSeq, nil
}

// Follow calls apply for every record after sequence after, in order, with
// the time JetStream stored it and whether more records are already waiting
// (so the caller can group its commits), until ctx is done or apply fails; it returns
// that error (records after a failed one are not applied). An ordered
// consumer survives reconnections and node failures by itself.
func (l *StateLog) Follow(ctx context.Context, after uint64, apply func(seq uint64, at time.Time, rec []byte, more bool) error) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{StateSubject}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if after > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, after+1
	}
	cons, err := l.b.js.OrderedConsumer(ctx, StateStream, cfg)
	if err != nil {
		return fmt.Errorf("natsbus: state log: follow: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("natsbus: state log: follow: %w", err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("natsbus: state log: follow: %w", err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("natsbus: state log: follow: %w", err)
		}
		seq := md.Sequence.Stream
		if seq <= after {
			continue
		}
		if err := apply(seq, md.Timestamp, msg.Data(), md.NumPending > 0); err != nil {
			return err
		}
		after = seq
	}
}
