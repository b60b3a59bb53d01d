package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/bus"
	"github.com/mamori-soc/mamori/internal/bus/batch"
	"github.com/mamori-soc/mamori/internal/bus/natsbus"
	"github.com/mamori-soc/mamori/internal/detect"
	"github.com/mamori-soc/mamori/internal/event"
	"github.com/mamori-soc/mamori/internal/ingest"
	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/store/replica"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// The bus path (config nats:): ingest publishes each request's records to
// JetStream, one message per organisation, and answers the sender once
// JetStream has acknowledged them; a worker consumes the organisation's
// partition, stores the events (idempotent by id), runs detection and
// commits the alerts together with a marker of the batch, then acknowledges
// the message. A batch redelivered after a crash is either marked (its
// alerts are stored: it is acknowledged again and nothing else happens) or
// not (it is stored and detected again; nothing of it was committed).

// batchMarker names the cursor that marks a batch as done; its value is
// when it was done (Unix ms), so that retention can drop old markers.
const batchMarker = "batch:"

// openBus starts or connects the JetStream bus.
func (s *Server) openBus(ctx context.Context) error {
	// A short ack wait: a batch a dead worker held is redelivered after 10 s
	// (a live worker's slow batch is kept alive by the bus meanwhile).
	cfg := natsbus.Config{Logger: s.log, AckWait: 10 * time.Second, PinnedTTL: 5 * time.Second, Replicas: s.cfg.NATSReplicas}
	url := s.cfg.NATS
	if strings.EqualFold(url, "embedded") {
		dir := filepath.Join(s.cfg.Data, "nats")
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return err
		}
		srv, err := natsbus.Start(natsbus.ServerOptions{StoreDir: dir, Name: "mamori"})
		if err != nil {
			return fmt.Errorf("embedded nats: %w", err)
		}
		s.natsServer = srv
		b, err := srv.Connect(ctx, cfg)
		if err != nil {
			srv.Shutdown()
			return err
		}
		s.bus = b
		return nil
	}
	b, err := natsbus.Connect(ctx, url, cfg)
	if err != nil {
		return fmt.Errorf("nats %s: %w", url, err)
	}
	s.bus = b
	return nil
}

// publishBatches sends stored-form events to the bus, one message per
// organisation, and returns once JetStream has acknowledged all of them.
// The batch id is a hash of the events' ids, so a sender's retry of the
// same records is one message.
func (s *Server) publishBatches(ctx context.Context, evs []store.Event) error {
	by := map[tenant.ID][]store.Event{}
	var order []tenant.ID
	for _, e := range evs {
		if _, ok := by[e.Tenant]; !ok {
			order = append(order, e.Tenant)
		}
		by[e.Tenant] = append(by[e.Tenant], e)
	}
	for _, t := range order {
		for _, batch := range chunks(by[t]) {
			if err := s.publishBatch(ctx, t, batch); err != nil {
				return err
			}
		}
	}
	return nil
}

// maxBatchBytes keeps a message well under NATS's default 1 MiB payload
// limit (package batch encodes the raw records as they are).
const maxBatchBytes = 512 << 10

// chunks cuts one organisation's events into messages of at most
// maxBatchBytes encoded (an event larger than that goes alone).
func chunks(evs []store.Event) [][]store.Event {
	var out [][]store.Event
	start, size := 0, batch.HeaderSize
	for i := range evs {
		n := batch.EventSize(&evs[i])
		if i > start && size+n > maxBatchBytes {
			out = append(out, evs[start:i])
			start, size = i, batch.HeaderSize
		}
		size += n
	}
	if start < len(evs) {
		out = append(out, evs[start:])
	}
	return out
}

// publishBatch sends one message, evs in package batch's encoding; its id
// is a hash of the events' ids, so a sender's retry of the same records is
// stored once.
func (s *Server) publishBatch(ctx context.Context, t tenant.ID, evs []store.Event) error {
	var ids []byte
	for i := range evs {
		ids = append(append(ids, evs[i].ID...), 0)
	}
	sum := sha256.Sum256(ids)
	payload := batch.Append(nil, evs)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.bus.Publish(pctx, string(t), hex.EncodeToString(sum[:16]), payload); err != nil {
		return fmt.Errorf("publish to the bus: %v: %w", err, ingest.ErrBusy)
	}
	return nil
}

// consumeBus runs the worker until ctx ends.
func (s *Server) consumeBus(ctx context.Context) {
	// The same name after a restart: the node takes its partitions back at
	// once instead of waiting for its old membership to expire.
	name, _ := os.Hostname()
	h := sha256.Sum256([]byte(s.cfg.Data))
	worker := sanitizeWorker(name) + "-" + hex.EncodeToString(h[:4])
	for ctx.Err() == nil {
		if err := s.bus.Consume(ctx, worker, s.handleBatch); err != nil && ctx.Err() == nil {
			s.log.Error("bus: consuming", "err", err)
			time.Sleep(time.Second)
		}
	}
}

func sanitizeWorker(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, s)
}

// handleBatch stores, detects and commits one batch (see the file comment).
func (s *Server) handleBatch(ctx context.Context, m bus.Msg) error {
	marker := batchMarker + m.BatchID
	if done, err := s.store.Cursor(ctx, marker); err != nil {
		return err
	} else if done != 0 {
		return nil // committed before: acknowledged again
	}
	// Binary batches, and JSON ones an older version published. The events
	// do not alias m.Data.
	evs, err := batch.Decode(m.Data)
	if err != nil {
		s.log.Error("bus: undecodable batch dropped", "batch", m.BatchID, "err", err)
		return fmt.Errorf("%w: %v", bus.ErrDiscard, err)
	}
	// The fields detection needs: those the batch carries, else derived
	// from the raw record again. ClickHouse also stores them (the embedded
	// store derives them from the raw record when it reads).
	inCH := s.cfg.ClickHouse != ""
	fieldsOf := make([][]store.Field, len(evs))
	for i := range evs {
		e := &evs[i]
		fieldsOf[i] = e.Fields
		if len(e.Fields) == 0 && len(e.Raw) > 0 {
			if f, err := decodeRaw(e.Source, e.Raw); err == nil {
				fieldsOf[i] = f
			}
		}
		if inCH {
			e.Fields = fieldsOf[i]
		}
	}
	if _, err := s.data.AppendEvents(ctx, evs); err != nil {
		return err
	}
	items := make([]detect.Item, 0, len(evs))
	var last int64
	for i := range evs {
		e := &evs[i]
		fields := fieldsOf[i]
		if len(fields) == 0 {
			continue
		}
		ev := &event.Event{Time: e.Time}
		for _, f := range fields {
			ev.AddString(f.Name, f.Value)
		}
		items = append(items, detect.Item{Seq: e.Seq, Tenant: e.Tenant, Event: ev})
		last = max(last, e.Seq)
	}
	hits := s.det.Process(items)
	if len(hits) > 0 && s.replica != nil {
		// Fold onto what every worker logged before: this partition may
		// have been another worker's until a moment ago.
		if err := s.replica.CatchUp(ctx); err != nil {
			return err
		}
	}
	sink := &alertSink{srv: s, cursor: marker}
	// The marker's value is when the batch was received (retention drops
	// old markers by it): the same on every delivery of the batch, so a
	// worker that detects it again logs the same record (see replica).
	var received int64 = 1
	for i := range evs {
		received = max(received, evs[i].Received.UnixMilli())
	}
	if err := sink.Commit(ctx, received, hits); err != nil {
		return err
	}
	if last > s.det.Stats.Position.Load() {
		s.det.Stats.Position.Store(last)
	}
	return nil
}

// closeBus stops the bus connection and the embedded server.
func (s *Server) closeBus() {
	if s.bus != nil {
		s.bus.Close()
	}
	if s.natsServer != nil {
		s.natsServer.Shutdown()
	}
}

// openShared connects the bus and the shared state: with several nodes,
// alerts, triage and organisations go through the JetStream state log
// and every node applies it to its own store (package replica).
func (s *Server) openShared(ctx context.Context) error {
	if err := s.openBus(ctx); err != nil {
		return err
	}
	sl, err := s.bus.StateLog(ctx, time.Duration(s.cfg.Retention))
	if err != nil {
		s.closeBus()
		return err
	}
	r, err := replica.New(ctx, s.data, sl, replica.Hooks{
		Detections: func(ctx context.Context, alerts []alert.Alert, at time.Time) {
			for i := range alerts {
				s.folder.Remember(&alerts[i]) // a worker taking over this organisation continues its alerts
			}
			s.broker.publish(alerts)
			if err := s.incidents.add(ctx, alerts, at.UTC()); err != nil {
				s.log.Warn("incidents not stored", "err", err)
			}
			s.intel.sight(ctx, alerts)
		},
		Triaged: func(ctx context.Context, alerts []alert.Alert) {
			for i := range alerts {
				s.folder.Update(&alerts[i])
			}
			s.broker.publish(alerts)
		},
		Tenants: func(ctx context.Context) {
			if err := s.refreshTenants(ctx); err != nil {
				s.log.Warn("organisations not refreshed", "err", err)
			}
		},
	}, s.log)
	if err != nil {
		s.closeBus()
		return err
	}
	s.replica, s.data = r, r
	return nil
}

// syncState waits until this node has applied the state log as it stood
// at start, then announces the organisations created on this node's data
// directory. It returns false when ctx ended first.
func (s *Server) syncState(ctx context.Context) bool {
	for {
		err := s.replica.CatchUp(ctx)
		if err == nil {
			var ts []tenant.Tenant
			if ts, err = s.store.Tenants(ctx); err == nil {
				err = s.replica.Announce(ctx, ts)
			}
		}
		if err == nil {
			err = s.announceAuth(ctx)
		}
		if err == nil {
			s.caughtUp.Store(true)
			s.log.Info("shared state applied", "records", s.replica.Applied())
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		s.log.Warn("shared state: catching up", "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Second):
		}
	}
}

// shared is where writes of shared state go: the state log when there is
// one, else the node's own store.
func (s *Server) shared() store.Store {
	if s.replica != nil {
		return s.replica
	}
	return s.store
}
