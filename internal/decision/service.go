package decision

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/mamori-soc/mamori/internal/tenant"
)

// Options configures a Service.
type Options struct {
	// SectorOf tells each organisation's sector, so that a sector-wide
	// decision reaches the organisations of that sector. Nil means no
	// organisation has a known sector: only organisation and national
	// decisions reach them. Bouncer pulls call it with the service's write
	// lock held: it must be quick and must not call the Service.
	SectorOf func(tenant.ID) (tenant.Sector, bool)
	// Allowlist holds what may never be blocked (SetAllowlist replaces it).
	Allowlist []Allow
	// Policies make decisions automatically in Apply (SetPolicies replaces them).
	Policies []Policy
	// Log receives warnings; nil discards them.
	Log *slog.Logger
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Service stores decisions, their audit trail and the bouncers' keys, and
// serves decisions to bouncers (see Handler).
//
// Locks: no two of mu, cfgMu and seenMu are ever held together. SectorOf
// is called with mu held: it must not call the Service.
type Service struct {
	db       *sql.DB
	log      *slog.Logger
	now      func() time.Time
	sectorOf func(tenant.ID) (tenant.Sector, bool)

	// mu is held across every write transaction, so that a check and the
	// write it leads to (duplicates, expiry, a bouncer's cursor) are atomic
	// whatever the database's connection pool and locking mode.
	mu sync.Mutex

	cfgMu    sync.RWMutex
	allow    allowlist // under cfgMu
	allowSrc []Allow   // under cfgMu
	policies []Policy  // under cfgMu

	seenMu sync.Mutex
	seen   map[string]time.Time // bouncer id → last time its last pull was written by a live query; under seenMu

	replicate func(ctx context.Context, c Change) (any, error) // see SetReplicate; under cfgMu
}

// Change is one write to the decisions and bouncer keys several nodes
// share, as their state log carries it (see SetReplicate). It holds what
// every node needs to make the same write: the writer's clock, the
// decision already normalized with its UUID, a bouncer key's hash — never
// the key itself.
type Change struct {
	Op       string      `json:"op"` // ChangeCreate, ChangeRevoke, ChangeBouncerAdd or ChangeBouncerDelete
	At       time.Time   `json:"at"`
	Decision *Decision   `json:"decision,omitempty"`
	ID       int64       `json:"id,omitempty"`
	By       string      `json:"by,omitempty"`
	Bouncer  *BouncerKey `json:"bouncer,omitempty"`
	Name     string      `json:"name,omitempty"`
	// Key, when set, identifies the change across nodes: nodes that make
	// the same change (the same policy on the same feed) log it once.
	Key string `json:"key,omitempty"`
}

// Change operations.
const (
	ChangeCreate        = "create"
	ChangeRevoke        = "revoke"
	ChangeBouncerAdd    = "bouncer_add"
	ChangeBouncerDelete = "bouncer_delete"
)

// BouncerKey is a bouncer's registration as stored: its key's SHA-256.
type BouncerKey struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Org     tenant.ID `json:"org,omitempty"`
	Hash    []byte    `json:"hash"`
	Created time.Time `json:"created"`
}

// SetReplicate makes the service share its writes: Create, Revoke,
// CreateBouncer and DeleteBouncer check their input, then hand a Change to
// fn, which must log it for every node and return the outcome of
// ApplyChange on this node. Nil (the default) writes directly.
func (s *Service) SetReplicate(fn func(ctx context.Context, c Change) (any, error)) {
	s.cfgMu.Lock()
	s.replicate = fn
	s.cfgMu.Unlock()
}

func (s *Service) replicator() func(ctx context.Context, c Change) (any, error) {
	s.cfgMu.RLock()
	defer s.cfgMu.RUnlock()
	return s.replicate
}

// ApplyChange makes a change logged by a node (see SetReplicate) and
// returns its outcome: the Decision of a create, nil otherwise. The same
// change gives the same rows on every node (decision ids follow the log's
// order); refusals are the same everywhere too.
func (s *Service) ApplyChange(ctx context.Context, c Change) (any, error) {
	switch c.Op {
	case ChangeCreate:
		if c.Decision == nil {
			return nil, invalid("decision: create change without a decision")
		}
		// The writer normalized it (normalizing again would lose the slack
		// a decision without a creation time gets); the allowlist is
		// checked again where it is applied.
		d := *c.Decision
		if err := s.CheckAllowlist(d.Scope, d.Value); err != nil {
			return nil, err
		}
		if d.UUID == "" || d.Created.IsZero() || !d.Until.After(d.Created) {
			return nil, invalid("decision: create change with an incomplete decision")
		}
		return s.create(ctx, d, c.At)
	case ChangeRevoke:
		return nil, s.revoke(ctx, c.ID, c.By, c.At)
	case ChangeBouncerAdd:
		if c.Bouncer == nil {
			return nil, invalid("decision: bouncer change without a bouncer")
		}
		return nil, s.addBouncer(ctx, *c.Bouncer)
	case ChangeBouncerDelete:
		return nil, s.deleteBouncer(ctx, c.Name)
	}
	return nil, invalid("decision: unknown change %q", c.Op)
}

const schema = `
CREATE TABLE IF NOT EXISTS decisions (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	uuid        TEXT NOT NULL,
	type        TEXT NOT NULL,
	scope       TEXT NOT NULL,
	value       TEXT NOT NULL,
	ip_first    BLOB,
	ip_last     BLOB,
	t_org       TEXT NOT NULL,
	t_sector    TEXT NOT NULL,
	t_national  INTEGER NOT NULL,
	reason      TEXT NOT NULL,
	origin      TEXT NOT NULL,
	origin_ref  TEXT NOT NULL,
	created     INTEGER NOT NULL,
	until       INTEGER NOT NULL,
	created_by  TEXT NOT NULL,
	deleted     INTEGER NOT NULL DEFAULT 0,
	deleted_by  TEXT NOT NULL DEFAULT '',
	expired     INTEGER NOT NULL DEFAULT 0,
	dry_run     INTEGER NOT NULL,
	created_seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS decisions_key ON decisions(value, type, scope);
CREATE INDEX IF NOT EXISTS decisions_ip ON decisions(ip_first, ip_last);
CREATE INDEX IF NOT EXISTS decisions_live ON decisions(until) WHERE deleted = 0;
CREATE TABLE IF NOT EXISTS decision_log (
	seq      INTEGER PRIMARY KEY AUTOINCREMENT,
	decision INTEGER NOT NULL,
	at       INTEGER NOT NULL,
	by_user  TEXT NOT NULL,
	action   TEXT NOT NULL,
	detail   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decision_log_decision ON decision_log(decision, seq);
CREATE TABLE IF NOT EXISTS decision_bouncers (
	id        TEXT PRIMARY KEY,
	name      TEXT NOT NULL UNIQUE,
	org       TEXT NOT NULL,
	hash      BLOB NOT NULL,
	created   INTEGER NOT NULL,
	last_pull INTEGER NOT NULL DEFAULT 0,
	last_ip   TEXT NOT NULL DEFAULT '',
	last_ua   TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS decision_cursors (
	bouncer TEXT NOT NULL,
	ip      TEXT NOT NULL,
	seq     INTEGER NOT NULL,
	sector  TEXT NOT NULL,
	pulled  INTEGER NOT NULL,
	PRIMARY KEY (bouncer, ip)
);
`

// Open creates the tables in db if needed and returns the service. db is
// the platform's SQLite database; the service never closes it.
func Open(ctx context.Context, db *sql.DB, opts Options) (*Service, error) {
	s := &Service{db: db, log: opts.Log, now: opts.Now, sectorOf: opts.SectorOf, seen: map[string]time.Time{}}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.sectorOf == nil {
		s.sectorOf = func(tenant.ID) (tenant.Sector, bool) { return "", false }
	}
	if err := s.SetAllowlist(opts.Allowlist); err != nil {
		return nil, err
	}
	if err := s.SetPolicies(opts.Policies); err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return nil, fmt.Errorf("decision: schema: %w", err)
	}
	return s, nil
}

// SetAllowlist replaces the allowlist. Decisions already made are kept:
// revoke those the new entries cover.
func (s *Service) SetAllowlist(entries []Allow) error {
	l, err := parseAllowlist(entries)
	if err != nil {
		return err
	}
	s.cfgMu.Lock()
	s.allow, s.allowSrc = l, append([]Allow(nil), entries...)
	s.cfgMu.Unlock()
	return nil
}

// Allowlist returns the allowlist's entries.
func (s *Service) Allowlist() []Allow {
	s.cfgMu.RLock()
	defer s.cfgMu.RUnlock()
	return append([]Allow(nil), s.allowSrc...)
}

// CheckAllowlist returns an *AllowlistError when a normalized value may
// not be blocked (see ParseValue), and nil otherwise.
func (s *Service) CheckAllowlist(scope, value string) error {
	s.cfgMu.RLock()
	defer s.cfgMu.RUnlock()
	return s.allow.check(scope, value)
}

// sectorFor returns org's sector, or "" when unknown.
func (s *Service) sectorFor(org tenant.ID) tenant.Sector {
	if org == "" {
		return ""
	}
	if sec, ok := s.sectorOf(org); ok {
		return sec
	}
	return ""
}

// write runs fn in a transaction under mu.
func (s *Service) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("decision: begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("decision: commit: %w", err)
	}
	return nil
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// row is a stored decision with the sequence number of its creation.
type row struct {
	Decision
	createdSeq int64
}

const cols = `id, uuid, type, scope, value, t_org, t_sector, t_national, reason, origin, origin_ref,
	created, until, created_by, deleted, deleted_by, dry_run, created_seq`

type scanner interface{ Scan(dest ...any) error }

func scanRow(sc scanner) (row, error) {
	var r row
	var org, sector string
	var national, dry int
	var created, until, deleted int64
	err := sc.Scan(&r.ID, &r.UUID, &r.Type, &r.Scope, &r.Value, &org, &sector, &national, &r.Reason, &r.Origin, &r.OriginRef,
		&created, &until, &r.CreatedBy, &deleted, &r.DeletedBy, &dry, &r.createdSeq)
	if err != nil {
		return r, err
	}
	r.Target = Target{Org: tenant.ID(org), Sector: tenant.Sector(sector), National: national == 1}
	r.Created, r.Until, r.Deleted = fromMS(created), fromMS(until), fromMS(deleted)
	r.DryRun = dry == 1
	return r, nil
}

func queryRows(ctx context.Context, q querier, query string, args ...any) ([]row, error) {
	rs, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("decision: query: %w", err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		r, err := scanRow(rs)
		if err != nil {
			return nil, fmt.Errorf("decision: scan: %w", err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("decision: query: %w", err)
	}
	return out, nil
}

func get(ctx context.Context, q querier, id int64) (row, error) {
	r, err := scanRow(q.QueryRowContext(ctx, `SELECT `+cols+` FROM decisions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("decision %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("decision %d: %w", id, err)
	}
	return r, nil
}

// logChange appends to the audit trail and returns the entry's sequence
// number. The trail is also the change log that bouncers' cursors follow.
func logChange(ctx context.Context, tx *sql.Tx, id int64, at time.Time, by, action, detail string) (int64, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO decision_log(decision, at, by_user, action, detail) VALUES (?, ?, ?, ?, ?)`,
		id, ms(at), by, action, detail)
	if err != nil {
		return 0, fmt.Errorf("decision %d: audit: %w", id, err)
	}
	return res.LastInsertId()
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func describe(d Decision) string {
	s := fmt.Sprintf("%s %s %s for %s until %s: %s", d.Type, d.Scope, d.Value, d.Target, d.Until.UTC().Format(time.RFC3339), d.Reason)
	if d.DryRun {
		s += " (dry run: not enforced)"
	}
	return s
}

// Create records a decision and returns it as stored. It is normalized and
// checked first (see Normalize; errors match ErrInvalid), and refused with
// an *AllowlistError when the allowlist covers its value. A decision
// identical to an active one (same type, scope, value, target and dry-run
// flag) does not make a second one: the active one is extended to the
// later Until and returned.
func (s *Service) Create(ctx context.Context, d Decision) (Decision, error) {
	return s.createKeyed(ctx, d, "")
}

// createKeyed is Create; key identifies the change across nodes (see Change.Key).
func (s *Service) createKeyed(ctx context.Context, d Decision, key string) (Decision, error) {
	now := s.now()
	d, err := s.prepare(d, now)
	if err != nil {
		return Decision{}, err
	}
	if fn := s.replicator(); fn != nil {
		v, err := fn(ctx, Change{Op: ChangeCreate, At: now, Decision: &d, Key: key})
		if err != nil {
			return Decision{}, err
		}
		out, _ := v.(Decision) // zero when another node logged the same keyed change first
		return out, nil
	}
	return s.create(ctx, d, now)
}

// prepare normalizes d at now, checks it against the allowlist and gives
// it a UUID if it has none.
func (s *Service) prepare(d Decision, now time.Time) (Decision, error) {
	d, err := Normalize(d, now)
	if err != nil {
		return Decision{}, err
	}
	if err := s.CheckAllowlist(d.Scope, d.Value); err != nil {
		return Decision{}, err
	}
	if d.UUID == "" {
		d.UUID = newUUID()
	}
	return d, nil
}

// create stores a normalized decision at now (see Create).
func (s *Service) create(ctx context.Context, d Decision, now time.Time) (Decision, error) {
	var out row
	err := s.write(ctx, func(tx *sql.Tx) error {
		old, err := scanRow(tx.QueryRowContext(ctx, `SELECT `+cols+` FROM decisions
			WHERE value = ? AND type = ? AND scope = ? AND t_org = ? AND t_sector = ? AND t_national = ? AND dry_run = ?
			AND deleted = 0 AND until > ? ORDER BY until DESC LIMIT 1`,
			d.Value, d.Type, d.Scope, string(d.Target.Org), string(d.Target.Sector), b2i(d.Target.National), b2i(d.DryRun), ms(now)))
		switch {
		case err == nil:
			if ms(d.Until) > ms(old.Until) {
				if _, err := tx.ExecContext(ctx, `UPDATE decisions SET until = ? WHERE id = ?`, ms(d.Until), old.ID); err != nil {
					return fmt.Errorf("decision %d: extend: %w", old.ID, err)
				}
				detail := fmt.Sprintf("until %s instead of %s: %s", d.Until.UTC().Format(time.RFC3339), old.Until.UTC().Format(time.RFC3339), d.Reason)
				if _, err := logChange(ctx, tx, old.ID, now, d.CreatedBy, "extended", detail); err != nil {
					return err
				}
			}
			out, err = get(ctx, tx, old.ID)
			return err
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("decision: look for a duplicate: %w", err)
		}
		var first, last any // NULL for domains
		if f, l, ok := addrRange(d.Scope, d.Value); ok {
			first, last = f, l
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO decisions(uuid, type, scope, value, ip_first, ip_last, t_org, t_sector, t_national,
			reason, origin, origin_ref, created, until, created_by, dry_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.UUID, d.Type, d.Scope, d.Value, first, last, string(d.Target.Org), string(d.Target.Sector), b2i(d.Target.National),
			d.Reason, d.Origin, d.OriginRef, ms(d.Created), ms(d.Until), d.CreatedBy, b2i(d.DryRun))
		if err != nil {
			return fmt.Errorf("decision: insert: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("decision: insert: %w", err)
		}
		seq, err := logChange(ctx, tx, id, d.Created, d.CreatedBy, "created", describe(d))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE decisions SET created_seq = ? WHERE id = ?`, seq, id); err != nil {
			return fmt.Errorf("decision %d: %w", id, err)
		}
		out, err = get(ctx, tx, id)
		return err
	})
	return out.Decision, err
}

// Revoke ends an active decision now; by names who revoked it. Bouncers
// receive it among their deleted decisions at their next pull. It fails
// with ErrNotFound for an unknown id and ErrNotActive for a decision
// already revoked or expired.
func (s *Service) Revoke(ctx context.Context, id int64, by string) error {
	by = strings.TrimSpace(by)
	if by == "" {
		return invalid("decision %d: revoking needs the name of who revokes", id)
	}
	now := s.now()
	if fn := s.replicator(); fn != nil {
		_, err := fn(ctx, Change{Op: ChangeRevoke, At: now, ID: id, By: by})
		return err
	}
	return s.revoke(ctx, id, by, now)
}

// revoke ends decision id at now (see Revoke).
func (s *Service) revoke(ctx context.Context, id int64, by string, now time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		r, err := get(ctx, tx, id)
		if err != nil {
			return err
		}
		switch {
		case !r.Deleted.IsZero():
			return fmt.Errorf("decision %d was revoked by %s at %s: %w", id, r.DeletedBy, r.Deleted.Format(time.RFC3339), ErrNotActive)
		case !now.Before(r.Until):
			return fmt.Errorf("decision %d expired at %s: %w", id, r.Until.Format(time.RFC3339), ErrNotActive)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE decisions SET deleted = ?, deleted_by = ? WHERE id = ?`, ms(now), by, id); err != nil {
			return fmt.Errorf("decision %d: revoke: %w", id, err)
		}
		_, err = logChange(ctx, tx, id, now, by, "revoked", fmt.Sprintf("%s %s %s for %s", r.Type, r.Scope, r.Value, r.Target))
		return err
	})
}

// Get returns one decision, or an error matching ErrNotFound.
func (s *Service) Get(ctx context.Context, id int64) (Decision, error) {
	r, err := get(ctx, s.db, id)
	return r.Decision, err
}

// Expire records in the audit trail, once, the expiry of every decision
// whose Until is not after now and that was not revoked, and returns how
// many it recorded. A decision stops being active at Until whether or not
// Expire has run; the server calls Expire periodically, and bouncer pulls
// call it too so that expired decisions reach them as deleted.
func (s *Service) Expire(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = expire(ctx, tx, now)
		return err
	})
	return n, err
}

func expire(ctx context.Context, tx *sql.Tx, now time.Time) (int, error) {
	rs, err := tx.QueryContext(ctx, `SELECT id, until FROM decisions WHERE deleted = 0 AND expired = 0 AND until <= ? ORDER BY until, id`, ms(now))
	if err != nil {
		return 0, fmt.Errorf("decision: expire: %w", err)
	}
	type due struct{ id, until int64 }
	var todo []due
	for rs.Next() {
		var d due
		if err := rs.Scan(&d.id, &d.until); err != nil {
			rs.Close()
			return 0, fmt.Errorf("decision: expire: %w", err)
		}
		todo = append(todo, d)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return 0, fmt.Errorf("decision: expire: %w", err)
	}
	for _, d := range todo {
		if _, err := tx.ExecContext(ctx, `UPDATE decisions SET expired = 1 WHERE id = ?`, d.id); err != nil {
			return 0, fmt.Errorf("decision %d: expire: %w", d.id, err)
		}
		if _, err := logChange(ctx, tx, d.id, fromMS(d.until), "system", "expired", "reached its end time"); err != nil {
			return 0, err
		}
	}
	return len(todo), nil
}

// AuditEntry is one line of a decision's audit trail.
type AuditEntry struct {
	At   time.Time `json:"at"`
	User string    `json:"user"`
	// Action is "created", "extended" (a duplicate pushed Until later),
	// "revoked" or "expired".
	Action string `json:"action"`
	Detail string `json:"detail"`
}

// Audit returns a decision's audit trail, oldest first, or an error
// matching ErrNotFound.
func (s *Service) Audit(ctx context.Context, id int64) ([]AuditEntry, error) {
	if _, err := get(ctx, s.db, id); err != nil {
		return nil, err
	}
	rs, err := s.db.QueryContext(ctx, `SELECT at, by_user, action, detail FROM decision_log WHERE decision = ? ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("decision %d: audit: %w", id, err)
	}
	defer rs.Close()
	var out []AuditEntry
	for rs.Next() {
		var e AuditEntry
		var at int64
		if err := rs.Scan(&at, &e.User, &e.Action, &e.Detail); err != nil {
			return nil, fmt.Errorf("decision %d: audit: %w", id, err)
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	return out, rs.Err()
}

// Query selects decisions for List.
type Query struct {
	// All selects decisions whatever their target (national roles).
	// Without it, only decisions whose target covers one of Orgs, Sectors
	// or the nation are selected, and a Query that names none of them
	// selects nothing.
	All bool
	// Orgs: decisions that apply to one of these organisations (their own,
	// their sector's and national ones).
	Orgs []tenant.ID
	// Sectors: decisions that apply to a whole sector (the sector's and
	// national ones).
	Sectors []tenant.Sector
	// National: national decisions.
	National bool
	// Active keeps only decisions in force now (dry-run ones included).
	Active bool
	// Value keeps decisions about this value: for an IP address or range,
	// every ip or range decision that overlaps it; for a domain, that
	// exact domain.
	Value string
	// Limit is the page size (0 means 100, at most 1000); Offset skips.
	Limit, Offset int
}

// List returns a page of decisions, newest first, and how many match in all.
func (s *Service) List(ctx context.Context, q Query) ([]Decision, int, error) {
	var where []string
	var args []any
	if !q.All {
		var or []string
		for _, org := range q.Orgs {
			or = append(or, "t_org = ?")
			args = append(args, string(org))
			if sec := s.sectorFor(org); sec != "" {
				or = append(or, "t_sector = ?")
				args = append(args, string(sec))
			}
		}
		for _, sec := range q.Sectors {
			or = append(or, "t_sector = ?")
			args = append(args, string(sec))
		}
		if len(or) == 0 && !q.National {
			return nil, 0, nil
		}
		or = append(or, "t_national = 1")
		where = append(where, "("+strings.Join(or, " OR ")+")")
	}
	if q.Active {
		where = append(where, "deleted = 0 AND until > ?")
		args = append(args, ms(s.now()))
	}
	if v := strings.TrimSpace(q.Value); v != "" {
		if p, ok := parseIPOrPrefix(v); ok {
			first, last := p.Masked().Addr().AsSlice(), lastAddr(p).AsSlice()
			where = append(where, "length(ip_first) = ? AND ip_first <= ? AND ip_last >= ?")
			args = append(args, len(first), last, first)
		} else {
			where = append(where, "value = ?")
			args = append(args, strings.TrimSuffix(strings.ToLower(v), "."))
		}
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM decisions`+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("decision: count: %w", err)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	rows, err := queryRows(ctx, s.db, `SELECT `+cols+` FROM decisions`+cond+` ORDER BY id DESC LIMIT ? OFFSET ?`,
		append(args, limit, max(q.Offset, 0))...)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Decision, len(rows))
	for i, r := range rows {
		out[i] = r.Decision
	}
	return out, total, nil
}

// parseIPOrPrefix parses an address (as a single-address prefix) or a range.
func parseIPOrPrefix(v string) (netip.Prefix, bool) {
	if a, err := netip.ParseAddr(v); err == nil && a.Zone() == "" {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	if p, err := netip.ParsePrefix(v); err == nil {
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), true
	}
	return netip.Prefix{}, false
}
