package ioc

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Store keeps indicators and their sightings in the platform's SQLite
// database (tables ioc_indicators and ioc_sightings). It is safe for
// concurrent use; writes are serialized by the database.
type Store struct {
	db *sql.DB
}

const storeSchema = `
CREATE TABLE IF NOT EXISTS ioc_indicators (
	id          TEXT PRIMARY KEY,
	kind        TEXT NOT NULL,
	value       TEXT NOT NULL,
	source      TEXT NOT NULL,
	source_ref  TEXT NOT NULL,
	producer    TEXT NOT NULL,
	confidence  INTEGER NOT NULL,
	tlp         TEXT NOT NULL,
	valid_from  INTEGER NOT NULL,
	valid_until INTEGER NOT NULL,
	lifetime    INTEGER NOT NULL,
	labels      TEXT NOT NULL,
	description TEXT NOT NULL,
	owner       TEXT NOT NULL,
	created     INTEGER NOT NULL,
	modified    INTEGER NOT NULL,
	stored      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ioc_indicators_value ON ioc_indicators(kind, value);
CREATE INDEX IF NOT EXISTS ioc_indicators_source ON ioc_indicators(source);
CREATE INDEX IF NOT EXISTS ioc_indicators_modified ON ioc_indicators(modified);
CREATE INDEX IF NOT EXISTS ioc_indicators_stored ON ioc_indicators(stored);
CREATE TABLE IF NOT EXISTS ioc_sightings (
	indicator_id TEXT NOT NULL,
	tenant       TEXT NOT NULL,
	at           INTEGER NOT NULL,
	field        TEXT NOT NULL,
	value        TEXT NOT NULL,
	alert_id     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ioc_sightings_indicator ON ioc_sightings(indicator_id, at);
CREATE INDEX IF NOT EXISTS ioc_sightings_tenant ON ioc_sightings(tenant, at);
`

// Open creates the tables in db if needed.
func Open(ctx context.Context, db *sql.DB) (*Store, error) {
	if _, err := db.ExecContext(ctx, storeSchema); err != nil {
		return nil, fmt.Errorf("ioc: create tables: %w", err)
	}
	return &Store{db: db}, nil
}

// Times are stored as Unix nanoseconds, 0 for the zero time; times beyond
// what that can hold (before 1678, after 2262) are clamped.
var (
	minNano = time.Unix(0, math.MinInt64+1)
	maxNano = time.Unix(0, math.MaxInt64)
)

func toNano(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.Before(minNano):
		return math.MinInt64 + 1
	case t.After(maxNano):
		return math.MaxInt64
	}
	if n := t.UnixNano(); n != 0 {
		return n
	}
	return 1 // the epoch itself would read back as "no time"
}

func fromNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// check validates ind for storage, filling in its id when empty.
func check(ind *Indicator) error {
	if !ind.Kind.Valid() {
		return fmt.Errorf("kind %q is not a kind", ind.Kind)
	}
	if !canonical(ind.Kind, ind.Value) {
		if _, err := Normalize(ind.Kind, ind.Value); err != nil {
			return err
		}
		return fmt.Errorf("%s %q is not normalized (see Normalize)", ind.Kind, clip(ind.Value))
	}
	if ind.Source == "" {
		return errors.New("source is empty")
	}
	if ind.Confidence < 0 || ind.Confidence > 100 {
		return fmt.Errorf("confidence %d is not 0-100", ind.Confidence)
	}
	if tlp, ok := ParseTLP(ind.TLP); !ok || tlp != ind.TLP && ind.TLP != "" {
		return fmt.Errorf("TLP %q is not one of clear, green, amber, amber+strict, red", ind.TLP)
	}
	if ind.ID == "" {
		ind.ID = MakeID(ind.Source, ind.Kind, ind.Value)
	}
	if len(ind.ID) > 512 {
		return fmt.Errorf("id of %d bytes is longer than 512", len(ind.ID))
	}
	return nil
}

// refreshStep is how far ValidFrom must move for an otherwise unchanged
// indicator to be rewritten: lists re-assert their lines at every pull, and
// rewriting a million rows an hour to move them by an hour buys nothing.
const refreshStep = 24 * time.Hour

const (
	insertSQL = `INSERT INTO ioc_indicators(id, kind, value, source, source_ref, producer, confidence, tlp,
	valid_from, valid_until, lifetime, labels, description, owner, created, modified)
	VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
	ON CONFLICT(id) DO NOTHING`
	// updateSQL rewrites a row whose content changed; created stays the first
	// one known.
	updateSQL = `UPDATE ioc_indicators SET kind = ?2, value = ?3, source = ?4, source_ref = ?5, producer = ?6,
	confidence = ?7, tlp = ?8, valid_from = ?9, valid_until = ?10, lifetime = ?11, labels = ?12,
	description = ?13, owner = ?14, modified = ?16,
	created = CASE WHEN created <> 0 AND created < ?15 THEN created ELSE ?15 END
	WHERE id = ?1 AND (kind <> ?2 OR value <> ?3 OR source <> ?4 OR source_ref <> ?5 OR producer <> ?6
	OR confidence <> ?7 OR tlp <> ?8 OR valid_until <> ?10 OR lifetime <> ?11 OR labels <> ?12
	OR description <> ?13 OR owner <> ?14 OR abs(valid_from - ?9) >= ?17)`
)

func rowArgs(ind *Indicator, now time.Time) []any {
	labels := "[]"
	if len(ind.Labels) > 0 {
		b, _ := json.Marshal(ind.Labels)
		labels = string(b)
	}
	created, modified := ind.Created, ind.Modified
	if created.IsZero() {
		created = now
	}
	if modified.IsZero() {
		modified = now
	}
	return []any{ind.ID, string(ind.Kind), ind.Value, ind.Source, ind.SourceRef, ind.Producer,
		ind.Confidence, ind.TLP, toNano(ind.ValidFrom), toNano(ind.ValidUntil), int64(ind.Lifetime),
		labels, ind.Description, ind.Owner, toNano(created), toNano(modified), int64(refreshStep)}
}

// Put adds or updates indicators by id, in one transaction: either all are
// written or none. An indicator without an id gets MakeID's; one that is
// not valid (kind, normalized value, source, confidence, TLP) fails the
// whole call with an error naming it. added counts new ids, updated the
// existing ones whose content changed (a ValidFrom moved by less than a day
// is not a change). Created and Modified default to now; an update keeps
// the earliest Created.
func (s *Store) Put(ctx context.Context, inds []Indicator) (added, updated int, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		added, updated, err = putTx(ctx, tx, inds)
		return err
	})
	return added, updated, err
}

func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ioc: begin: %w", err)
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ioc: commit: %w", err)
	}
	return nil
}

func putTx(ctx context.Context, tx *sql.Tx, inds []Indicator) (added, updated int, err error) {
	ins, err := tx.PrepareContext(ctx, insertSQL)
	if err != nil {
		return 0, 0, fmt.Errorf("ioc: prepare insert: %w", err)
	}
	defer ins.Close()
	upd, err := tx.PrepareContext(ctx, updateSQL)
	if err != nil {
		return 0, 0, fmt.Errorf("ioc: prepare update: %w", err)
	}
	defer upd.Close()
	now := time.Now().UTC()
	// stored is when a row was written or last changed, strictly growing,
	// so that "what changed since t" (TAXII added_after) misses nothing.
	var stored int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(stored), 0) FROM ioc_indicators`).Scan(&stored); err != nil {
		return 0, 0, fmt.Errorf("ioc: stored: %w", err)
	}
	stamp := func(id string) error {
		stored = max(stored+1, now.UnixNano())
		if _, err := tx.ExecContext(ctx, `UPDATE ioc_indicators SET stored = ? WHERE id = ?`, stored, id); err != nil {
			return fmt.Errorf("ioc: stamp %q: %w", id, err)
		}
		return nil
	}
	for i := range inds {
		ind := inds[i]
		if err := check(&ind); err != nil {
			return 0, 0, fmt.Errorf("ioc: indicator %d %q: %w", i, ind.ID, err)
		}
		args := rowArgs(&ind, now)
		res, err := ins.ExecContext(ctx, args[:16]...)
		if err != nil {
			return 0, 0, fmt.Errorf("ioc: insert %q: %w", ind.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			added++
			if err := stamp(ind.ID); err != nil {
				return 0, 0, err
			}
			continue
		}
		res, err = upd.ExecContext(ctx, args...)
		if err != nil {
			return 0, 0, fmt.Errorf("ioc: update %q: %w", ind.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			updated++
			if err := stamp(ind.ID); err != nil {
				return 0, 0, err
			}
		}
	}
	return added, updated, nil
}

// StoredSince returns the indicators written or changed after t (all when t
// is zero), with when that was, oldest first.
func (s *Store) StoredSince(ctx context.Context, t time.Time) ([]Indicator, []time.Time, error) {
	var after int64
	if !t.IsZero() {
		after = t.UnixNano()
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+`, stored FROM ioc_indicators WHERE stored > ? ORDER BY stored`, after)
	if err != nil {
		return nil, nil, fmt.Errorf("ioc: stored since: %w", err)
	}
	defer rows.Close()
	var inds []Indicator
	var at []time.Time
	for rows.Next() {
		var ns int64
		ind, err := scanIndicator(scanPlus{rows, &ns})
		if err != nil {
			return nil, nil, fmt.Errorf("ioc: stored since: %w", err)
		}
		inds = append(inds, ind)
		at = append(at, time.Unix(0, ns).UTC())
	}
	return inds, at, rows.Err()
}

// scanPlus scans the columns scanIndicator reads and one more.
type scanPlus struct {
	rows  *sql.Rows
	extra any
}

func (p scanPlus) Scan(dest ...any) error { return p.rows.Scan(append(dest, p.extra)...) }

// Sync makes the indicators of source exactly inds: it puts them (as Put)
// and deletes the other indicators of that source, in one transaction.
// Indicators with an empty Source get source; another Source is an error.
func (s *Store) Sync(ctx context.Context, source string, inds []Indicator) (added, updated, removed int, err error) {
	if source == "" {
		return 0, 0, 0, errors.New("ioc: sync: source is empty")
	}
	keep := make(map[string]struct{}, len(inds))
	own := make([]Indicator, len(inds))
	for i := range inds {
		own[i] = inds[i]
		switch own[i].Source {
		case "":
			own[i].Source = source
		case source:
		default:
			return 0, 0, 0, fmt.Errorf("ioc: sync %q: indicator %d %q is from source %q", source, i, inds[i].ID, inds[i].Source)
		}
		if own[i].ID == "" {
			own[i].ID = MakeID(source, own[i].Kind, own[i].Value)
		}
		keep[own[i].ID] = struct{}{}
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if added, updated, err = putTx(ctx, tx, own); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT id FROM ioc_indicators WHERE source = ?`, source)
		if err != nil {
			return fmt.Errorf("ioc: sync %q: %w", source, err)
		}
		var gone []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("ioc: sync %q: %w", source, err)
			}
			if _, ok := keep[id]; !ok {
				gone = append(gone, id)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("ioc: sync %q: %w", source, err)
		}
		removed, err = deleteTx(ctx, tx, gone)
		return err
	})
	if err != nil {
		return 0, 0, 0, err
	}
	return added, updated, removed, nil
}

// Delete removes indicators by id (their sightings stay) and returns how
// many existed.
func (s *Store) Delete(ctx context.Context, ids []string) (int, error) {
	var n int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = deleteTx(ctx, tx, ids)
		return err
	})
	return n, err
}

const sqlChunk = 500

func deleteTx(ctx context.Context, tx *sql.Tx, ids []string) (int, error) {
	n := 0
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), sqlChunk)]
		ids = ids[len(chunk):]
		res, err := tx.ExecContext(ctx, `DELETE FROM ioc_indicators WHERE id IN (`+placeholders(len(chunk))+`)`, anys(chunk)...)
		if err != nil {
			return n, fmt.Errorf("ioc: delete: %w", err)
		}
		k, _ := res.RowsAffected()
		n += int(k)
	}
	return n, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

const columns = `id, kind, value, source, source_ref, producer, confidence, tlp, valid_from, valid_until,
	lifetime, labels, description, owner, created, modified`

func scanIndicator(rows interface{ Scan(...any) error }) (Indicator, error) {
	var ind Indicator
	var kind, labels string
	var vf, vu, lt, created, modified int64
	err := rows.Scan(&ind.ID, &kind, &ind.Value, &ind.Source, &ind.SourceRef, &ind.Producer, &ind.Confidence,
		&ind.TLP, &vf, &vu, &lt, &labels, &ind.Description, &ind.Owner, &created, &modified)
	if err != nil {
		return ind, err
	}
	ind.Kind = Kind(kind)
	ind.ValidFrom, ind.ValidUntil = fromNano(vf), fromNano(vu)
	ind.Created, ind.Modified = fromNano(created), fromNano(modified)
	ind.Lifetime = time.Duration(lt)
	if labels != "" && labels != "[]" {
		if err := json.Unmarshal([]byte(labels), &ind.Labels); err != nil {
			return ind, fmt.Errorf("labels of %q: %w", ind.ID, err)
		}
	}
	return ind, nil
}

// Get returns one indicator by id.
func (s *Store) Get(ctx context.Context, id string) (Indicator, bool, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM ioc_indicators WHERE id = ?`, id)
	ind, err := scanIndicator(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Indicator{}, false, nil
	}
	if err != nil {
		return Indicator{}, false, fmt.Errorf("ioc: get %q: %w", id, err)
	}
	return ind, true, nil
}

// Query selects indicators for List. Zero fields do not filter.
type Query struct {
	Kind   Kind
	Source string
	// Text is a case-insensitive substring of the value, description,
	// labels, producer or id.
	Text   string
	Limit  int // 0 means 100; at most 10000
	Offset int
	// Active keeps the indicators active at Now (EffectiveConfidence > 0).
	Active bool
	Now    time.Time // zero means time.Now()
}

// activeSQL is true for rows whose EffectiveConfidence at ?1 is above 0: the
// same rules as Indicator.EffectiveConfidence, in SQL.
var activeSQL = fmt.Sprintf(`(confidence > 0 AND (valid_from = 0 OR valid_from <= ?1) AND (CASE
	WHEN valid_until <> 0 THEN valid_until > ?1
	ELSE (%[1]s) < 0 OR (%[2]s) = 0 OR (%[2]s) + (%[1]s) > ?1 END))`,
	fmt.Sprintf(`CASE WHEN lifetime <> 0 THEN lifetime WHEN kind = 'ip' THEN %d WHEN kind = 'url' THEN %d
		WHEN kind = 'domain' THEN %d WHEN kind = 'cidr' THEN %d ELSE %d END`,
		DefaultLifetime(IP), DefaultLifetime(URL), DefaultLifetime(Domain), DefaultLifetime(CIDR), DefaultLifetime(MD5)),
	`CASE WHEN valid_from <> 0 THEN valid_from ELSE created END`)

// List returns one page of the indicators q selects, most recently modified
// first, and how many it selects in all.
func (s *Store) List(ctx context.Context, q Query) ([]Indicator, int, error) {
	now := q.Now
	if now.IsZero() {
		now = time.Now()
	}
	where := []string{"1"}
	args := []any{toNano(now)}
	if q.Kind != "" {
		args = append(args, string(q.Kind))
		where = append(where, fmt.Sprintf("kind = ?%d", len(args)))
	}
	if q.Source != "" {
		args = append(args, q.Source)
		where = append(where, fmt.Sprintf("source = ?%d", len(args)))
	}
	if q.Text != "" {
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q.Text)
		args = append(args, "%"+esc+"%")
		n := len(args)
		where = append(where, fmt.Sprintf(`(value LIKE ?%[1]d ESCAPE '\' OR description LIKE ?%[1]d ESCAPE '\'
			OR labels LIKE ?%[1]d ESCAPE '\' OR producer LIKE ?%[1]d ESCAPE '\' OR id LIKE ?%[1]d ESCAPE '\')`, n))
	}
	if q.Active {
		where = append(where, activeSQL)
	} else {
		where = append(where, "?1 = ?1") // keep ?1 bound
	}
	cond := strings.Join(where, " AND ")
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM ioc_indicators WHERE `+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("ioc: count: %w", err)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	args = append(args, limit, max(q.Offset, 0))
	rows, err := s.db.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM ioc_indicators WHERE %s
		ORDER BY modified DESC, id LIMIT ?%d OFFSET ?%d`, columns, cond, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("ioc: list: %w", err)
	}
	defer rows.Close()
	out := []Indicator{}
	for rows.Next() {
		ind, err := scanIndicator(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("ioc: list: %w", err)
		}
		out = append(out, ind)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("ioc: list: %w", err)
	}
	return out, total, nil
}

// All returns every stored indicator, for Compile (which leaves out the
// inactive ones).
func (s *Store) All(ctx context.Context) ([]Indicator, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM ioc_indicators`).Scan(&n); err != nil {
		return nil, fmt.Errorf("ioc: all: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM ioc_indicators`)
	if err != nil {
		return nil, fmt.Errorf("ioc: all: %w", err)
	}
	defer rows.Close()
	out := make([]Indicator, 0, n)
	for rows.Next() {
		ind, err := scanIndicator(rows)
		if err != nil {
			return nil, fmt.Errorf("ioc: all: %w", err)
		}
		out = append(out, ind)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ioc: all: %w", err)
	}
	return out, nil
}

// Sources returns how many indicators each source has.
func (s *Store) Sources(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT source, COUNT(*) FROM ioc_indicators GROUP BY source`)
	if err != nil {
		return nil, fmt.Errorf("ioc: sources: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var src string
		var n int
		if err := rows.Scan(&src, &n); err != nil {
			return nil, fmt.Errorf("ioc: sources: %w", err)
		}
		out[src] = n
	}
	return out, rows.Err()
}

// Sighting is one time an indicator was seen in an organisation's events.
type Sighting struct {
	IndicatorID string    `json:"indicator_id"`
	Tenant      string    `json:"org_id"`
	At          time.Time `json:"at"`
	Field       string    `json:"field"`
	Value       string    `json:"value"`
	AlertID     string    `json:"alert_id,omitempty"`
}

// AddSighting records a sighting. IndicatorID and Tenant are required.
func (s *Store) AddSighting(ctx context.Context, sg Sighting) error {
	if sg.IndicatorID == "" || sg.Tenant == "" {
		return errors.New("ioc: sighting needs an indicator id and an organisation")
	}
	if sg.At.IsZero() {
		sg.At = time.Now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO ioc_sightings(indicator_id, tenant, at, field, value, alert_id)
		VALUES (?, ?, ?, ?, ?, ?)`, sg.IndicatorID, sg.Tenant, toNano(sg.At), sg.Field, clip2(sg.Value, 4096), sg.AlertID)
	if err != nil {
		return fmt.Errorf("ioc: add sighting of %q: %w", sg.IndicatorID, err)
	}
	return nil
}

func clip2(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// SightingQuery selects sightings. The organisations are a required scope:
// Tenants lists them, or AllTenants says every one (national roles); with
// neither nothing is selected.
type SightingQuery struct {
	Tenants    []string
	AllTenants bool
	// IndicatorIDs limits to these indicators; nil means all.
	IndicatorIDs []string
	Since        time.Time // zero: no bound
	Limit        int       // Sightings only: 0 means 100, at most 10000
}

// SightingStat sums up the sightings of one indicator.
type SightingStat struct {
	Count   int       `json:"count"`
	Tenants int       `json:"orgs"` // distinct organisations
	First   time.Time `json:"first_seen"`
	Last    time.Time `json:"last_seen"`
}

func (q SightingQuery) where() (string, []any, bool) {
	if !q.AllTenants && len(q.Tenants) == 0 {
		return "", nil, false
	}
	where := []string{"1"}
	var args []any
	if !q.AllTenants {
		where = append(where, "tenant IN ("+placeholders(len(q.Tenants))+")")
		args = append(args, anys(q.Tenants)...)
	}
	if q.IndicatorIDs != nil {
		if len(q.IndicatorIDs) == 0 {
			return "", nil, false
		}
		where = append(where, "indicator_id IN ("+placeholders(len(q.IndicatorIDs))+")")
		args = append(args, anys(q.IndicatorIDs)...)
	}
	if !q.Since.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, toNano(q.Since))
	}
	return strings.Join(where, " AND "), args, true
}

// SightingStats returns, per indicator with sightings in scope, their count,
// organisations and first and last time. Queries with many indicator ids
// are split.
func (s *Store) SightingStats(ctx context.Context, q SightingQuery) (map[string]SightingStat, error) {
	out := map[string]SightingStat{}
	ids := q.IndicatorIDs
	for first := true; first || len(ids) > 0; first = false {
		sub := q
		if ids != nil {
			sub.IndicatorIDs = ids[:min(len(ids), sqlChunk)]
			ids = ids[len(sub.IndicatorIDs):]
		}
		cond, args, ok := sub.where()
		if !ok {
			return out, nil
		}
		rows, err := s.db.QueryContext(ctx, `SELECT indicator_id, COUNT(*), COUNT(DISTINCT tenant), MIN(at), MAX(at)
			FROM ioc_sightings WHERE `+cond+` GROUP BY indicator_id`, args...)
		if err != nil {
			return nil, fmt.Errorf("ioc: sighting stats: %w", err)
		}
		for rows.Next() {
			var id string
			var st SightingStat
			var first, last int64
			if err := rows.Scan(&id, &st.Count, &st.Tenants, &first, &last); err != nil {
				rows.Close()
				return nil, fmt.Errorf("ioc: sighting stats: %w", err)
			}
			st.First, st.Last = fromNano(first), fromNano(last)
			out[id] = st
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("ioc: sighting stats: %w", err)
		}
	}
	return out, nil
}

// Sightings returns the most recent sightings in scope, newest first.
func (s *Store) Sightings(ctx context.Context, q SightingQuery) ([]Sighting, error) {
	if len(q.IndicatorIDs) > sqlChunk {
		return nil, fmt.Errorf("ioc: sightings: at most %d indicator ids", sqlChunk)
	}
	cond, args, ok := q.where()
	if !ok {
		return []Sighting{}, nil
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, min(limit, 10000))
	rows, err := s.db.QueryContext(ctx, `SELECT indicator_id, tenant, at, field, value, alert_id FROM ioc_sightings
		WHERE `+cond+` ORDER BY at DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("ioc: sightings: %w", err)
	}
	defer rows.Close()
	out := []Sighting{}
	for rows.Next() {
		var sg Sighting
		var at int64
		if err := rows.Scan(&sg.IndicatorID, &sg.Tenant, &at, &sg.Field, &sg.Value, &sg.AlertID); err != nil {
			return nil, fmt.Errorf("ioc: sightings: %w", err)
		}
		sg.At = fromNano(at)
		out = append(out, sg)
	}
	return out, rows.Err()
}
