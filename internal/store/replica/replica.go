// Package replica keeps the state several Mamori nodes share — alerts, their
// triage, incident triage, organisations and rule settings — the same on
// every node, without a shared database: a write becomes a record in one
// ordered, replicated log (JetStream's MAMORI_STATE stream), and every node
// applies every record, in log order, to its own embedded store. Reads stay
// local and fast; the console's rich alert queries run on SQLite.
//
// Applying is deterministic: a triage change is checked against the state
// the log's earlier records made, so two analysts changing one alert on two
// nodes at once are ordered by the log, and every node records the same
// outcome and audit trail. A node that writes waits until it has applied
// its own record, so it reads its writes and returns the change's outcome.
// State derived from alerts (incidents, campaigns) is not logged: each node
// derives it from the alerts it applies (Hooks.Detections), at the time the
// log stored them.
//
// A node remembers the last record it applied (cursor "replica") and
// resumes after it; a new node replays the whole log. Records are applied
// idempotently, except that a crash between applying a triage record and
// saving the cursor applies its comment twice on that node.
package replica

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// Log is the shared, ordered log of records.
type Log interface {
	// Append stores rec and returns its sequence number once it is durable.
	// A record whose id was appended before (within the log's duplicate
	// window) is not stored again; the first one's sequence is returned.
	Append(ctx context.Context, id string, rec []byte) (uint64, error)
	// Last returns the newest sequence number.
	Last(ctx context.Context) (uint64, error)
	// Follow calls apply for every record after sequence after, in order,
	// until ctx is done or apply fails; more says that further records are
	// already waiting (so that the replica can group their commits).
	Follow(ctx context.Context, after uint64, apply func(seq uint64, at time.Time, rec []byte, more bool) error) error
}

// Hooks let the node react to applied records; they run on the apply
// loop, one record at a time.
type Hooks struct {
	// Detections follows a record of detected alerts, with the time the
	// log stored it (the same on every node).
	Detections func(ctx context.Context, alerts []alert.Alert, at time.Time)
	// Triaged follows a triage record, with the alerts it changed.
	Triaged func(ctx context.Context, alerts []alert.Alert)
	// Tenants follows a change to an organisation or its rule settings.
	Tenants func(ctx context.Context)
}

// CursorName is the store cursor holding the last applied sequence.
const CursorName = "replica"

// Record operations.
const (
	opDetections     = "detections"
	opAlertTriage    = "alert_triage"
	opIncidentTriage = "incident_triage"
	opTenant         = "tenant"
	opRule           = "rule"
)

// record is one logged write.
type record struct {
	ID string `json:"id"`
	Op string `json:"op"`
	// detections
	Cursor string          `json:"cursor,omitempty"`
	Seq    int64           `json:"seq,omitempty"`
	Alerts []alert.Alert   `json:"alerts,omitempty"`
	Events [][]alert.Field `json:"events,omitempty"` // Alerts[i].Event, which Alert's JSON leaves out
	// triage
	Tenants []tenant.ID        `json:"tenants,omitempty"`
	IDs     []string           `json:"ids,omitempty"`
	Change  *store.AlertChange `json:"change,omitempty"`
	// organisations and rules
	Tenant  *tenant.Tenant `json:"tenant,omitempty"`
	Org     tenant.ID      `json:"org,omitempty"`
	Rule    string         `json:"rule,omitempty"`
	Enabled bool           `json:"enabled,omitempty"`
	// a kind registered with Handle
	Data json.RawMessage `json:"data,omitempty"`
}

// Applier applies a record of a kind registered with Handle and returns
// its outcome. Its errors are outcomes (refusals, the same on every node):
// the record is not applied again.
type Applier func(ctx context.Context, data json.RawMessage) (any, error)

type outcome struct {
	val any
	err error
}

// Store is a store.Store whose shared writes go through the log. Reads,
// and the writes of node-local or derived state (events, incidents,
// ratings, cursors), go to the node's own store.
type Store struct {
	store.Store
	log    Log
	hooks  Hooks
	logger *slog.Logger

	mu      sync.Mutex
	applied uint64
	changed chan struct{}             // closed and replaced when applied moves
	pending map[string][]chan outcome // writers waiting for a record id's outcome
	group   []grouped                 // detection records waiting to be committed together (apply loop only)
	kinds   map[string]Applier

	// Records counts records applied; Skipped those skipped as undecodable
	// or refused (the same on every node).
	Records atomic.Int64
	Skipped atomic.Int64
}

var _ store.Store = (*Store)(nil)

// WaitLimit bounds how long a write waits for its record to be applied.
const WaitLimit = 30 * time.Second

// New returns a replica over the node's own store. Run applies the log.
func New(ctx context.Context, own store.Store, log Log, hooks Hooks, logger *slog.Logger) (*Store, error) {
	pos, err := own.Cursor(ctx, CursorName)
	if err != nil {
		return nil, fmt.Errorf("replica: cursor: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Store{Store: own, log: log, hooks: hooks, logger: logger,
		applied: uint64(pos), changed: make(chan struct{}), pending: map[string][]chan outcome{}, kinds: map[string]Applier{}}, nil
}

// Run applies the log until ctx is done, resuming after failures.
func (s *Store) Run(ctx context.Context) {
	for ctx.Err() == nil {
		err := s.log.Follow(ctx, s.Applied(), func(seq uint64, at time.Time, rec []byte, more bool) error {
			return s.apply(ctx, seq, at, rec, more)
		})
		s.group = s.group[:0] // redelivered from Applied() on
		if ctx.Err() != nil {
			return
		}
		s.logger.Warn("replica: following the state log", "after", s.Applied(), "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// Applied returns the sequence of the last record applied here.
func (s *Store) Applied() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied
}

// WaitApplied waits until the record seq has been applied here.
func (s *Store) WaitApplied(ctx context.Context, seq uint64) error {
	for {
		s.mu.Lock()
		done, ch := s.applied >= seq, s.changed
		s.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("replica: waiting for record %d (applied %d): %w", seq, s.Applied(), ctx.Err())
		}
	}
}

// CatchUp waits until every record logged before the call is applied here.
// A worker calls it before folding hits of a partition another worker may
// have handled, so that it continues that worker's alerts.
func (s *Store) CatchUp(ctx context.Context) error {
	last, err := s.log.Last(ctx)
	if err != nil {
		return err
	}
	return s.WaitApplied(ctx, last)
}

// Lag returns how many logged records this node has not applied yet.
func (s *Store) Lag(ctx context.Context) (uint64, error) {
	last, err := s.log.Last(ctx)
	if err != nil {
		return 0, err
	}
	return last - min(last, s.Applied()), nil
}

// apply applies one record and moves the cursor. An error leaves the
// record to be applied again (storage failures); a record that can never
// apply is skipped, the same way on every node.
func (s *Store) apply(ctx context.Context, seq uint64, at time.Time, data []byte, more bool) error {
	var r record
	var res outcome
	if err := json.Unmarshal(data, &r); err != nil {
		if err := s.flush(ctx); err != nil {
			return err
		}
		s.logger.Error("replica: undecodable record skipped", "seq", seq, "err", err)
		s.Skipped.Add(1)
		return s.advance(ctx, seq, "", res, false)
	}
	if r.Op == opDetections {
		for i := range r.Alerts {
			if i < len(r.Events) {
				r.Alerts[i].Event = r.Events[i]
			}
		}
		if _, ok := s.Store.(cursorsCommitter); ok {
			// Detections waiting in the log are committed together: one
			// transaction for their alerts, their batches' markers and
			// this node's position in the log.
			s.group = append(s.group, grouped{seq: seq, at: at, r: r})
			if more && len(s.group) < maxGroup {
				return nil
			}
			return s.flush(ctx)
		}
	} else if err := s.flush(ctx); err != nil {
		return err
	}
	switch r.Op {
	case opDetections:
		if err := s.Store.CommitDetections(ctx, r.Cursor, r.Seq, r.Alerts); err != nil {
			return err
		}
		if s.hooks.Detections != nil {
			s.hooks.Detections(ctx, r.Alerts, at)
		}
	case opAlertTriage:
		if r.Change == nil {
			res.err = errors.New("replica: triage record without a change")
			break
		}
		out, err := s.Store.UpdateAlerts(ctx, r.Tenants, r.IDs, *r.Change)
		if retry(ctx, err) {
			return err
		}
		res = outcome{out, err}
		if err == nil && s.hooks.Triaged != nil {
			var changed []alert.Alert
			for _, u := range out {
				if u.Err == nil && u.Alert != nil && len(u.Audit) > 0 {
					changed = append(changed, u.Alert.Alert)
				}
			}
			if len(changed) > 0 {
				s.hooks.Triaged(ctx, changed)
			}
		}
	case opIncidentTriage:
		if r.Change == nil {
			res.err = errors.New("replica: triage record without a change")
			break
		}
		out, err := s.Store.UpdateIncidents(ctx, r.Tenants, r.IDs, *r.Change)
		if retry(ctx, err) {
			return err
		}
		res = outcome{out, err}
	case opTenant:
		if r.Tenant == nil || !tenant.ValidID(string(r.Tenant.ID)) {
			res.err = errors.New("replica: organisation record without a valid organisation")
			break
		}
		err := s.Store.PutTenant(ctx, *r.Tenant)
		if retry(ctx, err) {
			return err
		}
		res.err = err
		if err == nil && s.hooks.Tenants != nil {
			s.hooks.Tenants(ctx)
		}
	case opRule:
		err := s.Store.SetRuleEnabled(ctx, r.Org, r.Rule, r.Enabled)
		if retry(ctx, err) {
			return err
		}
		res.err = err
		if err == nil && s.hooks.Tenants != nil {
			s.hooks.Tenants(ctx)
		}
	default:
		s.mu.Lock()
		apply := s.kinds[r.Op]
		s.mu.Unlock()
		if apply != nil {
			v, err := apply(ctx, r.Data)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			res = outcome{v, err}
			break
		}
		// A record of a newer version: every node of this version skips it.
		s.logger.Warn("replica: record of an unknown kind skipped", "seq", seq, "op", r.Op)
		s.Skipped.Add(1)
	}
	return s.advance(ctx, seq, r.ID, res, false)
}

// maxGroup bounds the detection records committed together.
const maxGroup = 256

// grouped is a detections record waiting for its group's commit.
type grouped struct {
	seq uint64
	at  time.Time
	r   record
}

// flush commits the waiting detection records in one transaction, then
// runs their hooks in log order and moves applied past them.
func (s *Store) flush(ctx context.Context) error {
	if len(s.group) == 0 {
		return nil
	}
	m := s.Store.(cursorsCommitter)
	cursors := make([]store.CursorPos, 0, len(s.group)+1)
	var alerts []alert.Alert
	for _, g := range s.group {
		cursors = append(cursors, store.CursorPos{Name: g.r.Cursor, Seq: g.r.Seq})
		alerts = append(alerts, g.r.Alerts...) // in log order: a later fold of an alert wins
	}
	last := s.group[len(s.group)-1].seq
	cursors = append(cursors, store.CursorPos{Name: CursorName, Seq: int64(last)})
	if err := m.CommitDetectionsAt(ctx, cursors, alerts); err != nil {
		return err
	}
	for _, g := range s.group {
		if s.hooks.Detections != nil {
			s.hooks.Detections(ctx, g.r.Alerts, g.at)
		}
		if err := s.advance(ctx, g.seq, g.r.ID, outcome{}, true); err != nil {
			return err
		}
	}
	s.group = s.group[:0]
	return nil
}

// retry reports whether a write failed for a reason of this node (storage,
// shutdown) rather than of the record: the record must then be applied
// again rather than skipped, or this node would diverge.
func retry(ctx context.Context, err error) bool {
	if err == nil {
		return false
	}
	if ctx.Err() != nil || errors.Is(err, store.ErrReadOnly) {
		return true
	}
	// Refusals (not found, invalid change or organisation) are the same on
	// every node; anything else is this node's storage failing.
	return !errors.Is(err, store.ErrInvalidChange) && !errors.Is(err, store.ErrNotFound)
}

// cursorsCommitter is a store that moves several cursors with a batch of
// alerts in one transaction (the embedded store).
type cursorsCommitter interface {
	CommitDetectionsAt(ctx context.Context, cursors []store.CursorPos, alerts []alert.Alert) error
}

func (s *Store) advance(ctx context.Context, seq uint64, id string, res outcome, moved bool) error {
	if !moved {
		if err := s.Store.CommitDetections(ctx, CursorName, int64(seq), nil); err != nil {
			return err
		}
	}
	s.Records.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	// The outcome is handed over before applied moves: a writer that sees
	// its record applied finds its outcome waiting.
	for _, ch := range s.pending[id] {
		ch <- res // buffered, one per writer
	}
	delete(s.pending, id)
	s.applied = seq
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// submit appends r and waits until this node has applied it.
func (s *Store) submit(ctx context.Context, r *record) (any, error) {
	if r.ID == "" {
		r.ID = newID()
	}
	data, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("replica: encode %s: %w", r.Op, err)
	}
	ch := make(chan outcome, 1)
	s.mu.Lock()
	s.pending[r.ID] = append(s.pending[r.ID], ch)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		chs := s.pending[r.ID]
		for i := range chs {
			if chs[i] == ch {
				chs = append(chs[:i], chs[i+1:]...)
				break
			}
		}
		if len(chs) == 0 {
			delete(s.pending, r.ID)
		} else {
			s.pending[r.ID] = chs
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, WaitLimit)
	defer cancel()
	seq, err := s.log.Append(ctx, r.ID, data)
	if err != nil {
		return nil, fmt.Errorf("replica: %s: %w", r.Op, err)
	}
	for {
		s.mu.Lock()
		applied, changed := s.applied, s.changed
		s.mu.Unlock()
		select {
		case res := <-ch:
			return res.val, res.err
		default:
		}
		if applied >= seq {
			// Applied before this writer waited: a keyed record another
			// node logged first (Append returned its sequence).
			return nil, nil
		}
		select {
		case res := <-ch:
			return res.val, res.err
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("replica: %s logged as record %d but not applied here yet (applied %d): %w", r.Op, seq, s.Applied(), ctx.Err())
		}
	}
}

// CommitDetections logs the alerts; it returns once the log has them (every
// node, this one included, stores them when it applies the record). The
// record's id is the cursor and its position, so a batch redelivered to
// another worker and detected again (the same marker at the same position)
// is logged once. The cursor is set when the record is applied.
func (s *Store) CommitDetections(ctx context.Context, cursor string, seq int64, alerts []alert.Alert) error {
	if len(alerts) == 0 {
		return nil // nothing shared; a batch without alerts is simply done again if redelivered
	}
	id := cursor + "@" + strconv.FormatInt(seq, 10)
	r := &record{ID: id, Op: opDetections, Cursor: cursor, Seq: seq, Alerts: alerts, Events: make([][]alert.Field, len(alerts))}
	for i := range alerts {
		r.Events[i] = alerts[i].Event
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("replica: encode detections: %w", err)
	}
	if _, err := s.log.Append(ctx, id, data); err != nil {
		return fmt.Errorf("replica: detections: %w", err)
	}
	return nil
}

// UpdateAlerts logs a triage change and returns its outcome on this node.
func (s *Store) UpdateAlerts(ctx context.Context, tenants []tenant.ID, ids []string, c store.AlertChange) ([]store.UpdateResult, error) {
	if c.At.IsZero() {
		c.At = time.Now().UTC() // the same stamp on every node
	}
	v, err := s.submit(ctx, &record{Op: opAlertTriage, Tenants: tenants, IDs: ids, Change: &c})
	if err != nil {
		return nil, err
	}
	out, _ := v.([]store.UpdateResult)
	return out, nil
}

// UpdateIncidents logs an incident triage change and returns its outcome here.
func (s *Store) UpdateIncidents(ctx context.Context, tenants []tenant.ID, ids []string, c store.AlertChange) ([]store.IncidentUpdateResult, error) {
	if c.At.IsZero() {
		c.At = time.Now().UTC()
	}
	v, err := s.submit(ctx, &record{Op: opIncidentTriage, Tenants: tenants, IDs: ids, Change: &c})
	if err != nil {
		return nil, err
	}
	out, _ := v.([]store.IncidentUpdateResult)
	return out, nil
}

// PutTenant logs an organisation's creation or change.
func (s *Store) PutTenant(ctx context.Context, t tenant.Tenant) error {
	if !tenant.ValidID(string(t.ID)) {
		return fmt.Errorf("replica: invalid organisation id %q", t.ID)
	}
	_, err := s.submit(ctx, &record{Op: opTenant, Tenant: &t})
	return err
}

// SetRuleEnabled logs a rule setting of an organisation.
func (s *Store) SetRuleEnabled(ctx context.Context, t tenant.ID, ruleID string, enabled bool) error {
	_, err := s.submit(ctx, &record{Op: opRule, Org: t, Rule: ruleID, Enabled: enabled})
	return err
}

// Announce logs organisations this node knows that the log may not (those
// created with the command line on this node's data directory). Their ids
// are a hash of their content, so announcing unchanged organisations again
// within the log's duplicate window adds nothing.
func (s *Store) Announce(ctx context.Context, ts []tenant.Tenant) error {
	for i := range ts {
		r := &record{Op: opTenant, Tenant: &ts[i]}
		data, err := json.Marshal(r)
		if err != nil {
			return err
		}
		h := sha256.Sum256(data)
		r.ID = "tenant:" + hex.EncodeToString(h[:16])
		data, _ = json.Marshal(r)
		if _, err := s.log.Append(ctx, r.ID, data); err != nil {
			return fmt.Errorf("replica: announce organisation %s: %w", ts[i].ID, err)
		}
	}
	return nil
}

// Handle registers the applier of records of kind op; register every kind
// before Run. Packages whose state every node shares (users and tokens,
// decisions, indicators) describe their changes as records and apply them
// with their own code.
func (s *Store) Handle(op string, apply Applier) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kinds[op] = apply
}

// Submit logs v (encoded as JSON) as a record of kind op and returns its
// outcome on this node once applied here.
func (s *Store) Submit(ctx context.Context, op string, v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("replica: encode %s: %w", op, err)
	}
	return s.submit(ctx, &record{Op: op, Data: data})
}

// SubmitKeyed is Submit under a record id of the caller's: writers on
// several nodes that submit the same key within the log's duplicate window
// log one record. A writer whose record another node logged first gets
// that record's outcome if it was applied after it started waiting, and
// (nil, nil) if before.
func (s *Store) SubmitKeyed(ctx context.Context, op, key string, v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("replica: encode %s: %w", op, err)
	}
	return s.submit(ctx, &record{ID: op + ":" + key, Op: op, Data: data})
}

// Publish logs v as a record of kind op under id without waiting for it
// to be applied; a record of the same id logged within the log's
// duplicate window is not logged again. For announcing state created
// outside the log (the command line on one node's data directory).
func (s *Store) Publish(ctx context.Context, op, id string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("replica: encode %s: %w", op, err)
	}
	rec, err := json.Marshal(&record{ID: id, Op: op, Data: data})
	if err != nil {
		return err
	}
	_, err = s.log.Append(ctx, id, rec)
	return err
}
