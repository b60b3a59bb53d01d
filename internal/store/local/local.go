// Package local is Mamori's embedded store: one SQLite database (pure Go,
// WAL mode) holding events, alerts, organisations and detection cursors.
// Writers are grouped: concurrent AppendEvents calls share one transaction
// and one fsync, and each returns only after that commit.
package local

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/klauspost/compress/s2"
	"modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// Config configures the store.
type Config struct {
	// Dir holds mamori.db. Required.
	Dir string
	// MinFreeDisk: below this many free bytes writes fail with
	// store.ErrReadOnly instead of filling the disk. 0 means 256 MiB.
	MinFreeDisk int64
	// MaxBatch bounds the events of one grouped transaction. 0 means 20000.
	MaxBatch int
	// Decode, when set, rebuilds an event's fields from its raw record and
	// source. The store then keeps only the raw record of events that have
	// one (half the bytes to write) and derives their fields when read or
	// searched. It must be deterministic, safe for concurrent use, and the
	// same for every store of the process (SQL calls it as mamori_fields).
	Decode func(source string, raw []byte) ([]store.Field, error)
}

// decodeRaw is the decoder behind the SQL function mamori_fields(source, raw).
var (
	decodeRaw    atomic.Pointer[func(string, []byte) ([]store.Field, error)]
	registerOnce sync.Once
)

// registerFieldsFunc makes mamori_fields(source, raw) available to SQL: the
// JSON fields of a raw-only event, so that searches see them.
func registerFieldsFunc() {
	registerOnce.Do(func() {
		sqlite.MustRegisterDeterministicScalarFunction("mamori_fields", 2, func(ctx *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			dec := decodeRaw.Load()
			if dec == nil {
				return "{}", nil
			}
			src, _ := args[0].(string)
			var raw []byte
			switch v := args[1].(type) {
			case []byte:
				raw = v
			case string:
				raw = []byte(v)
			}
			raw, err := decompressRaw(raw)
			if err != nil {
				return "{}", nil
			}
			fields, err := (*dec)(src, raw)
			if err != nil {
				return "{}", nil
			}
			return string(appendFieldsJSON(nil, fields)), nil
		})
	})
}

// fieldsExpr is the SQL of an event's fields, stored or derived.
const fieldsExpr = `(CASE WHEN events.fields = '' THEN mamori_fields(events.source, events.raw) ELSE events.fields END)`

// Store is the embedded store.
type Store struct {
	cfg  Config
	log  *slog.Logger
	db   *sql.DB // writer: one connection
	rdb  *sql.DB // readers
	reqs chan *appendReq

	lastSeq atomic.Int64 // highest committed seq; 0 until known
	done    chan struct{}
	wg      sync.WaitGroup

	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

type appendReq struct {
	evs  []store.Event
	json [][]byte // fields of each event as JSON, rendered by the caller (off the writer's path)
	raw  [][]byte // raw records, compressed by the caller
	n    int
	err  error
	done chan struct{}
}

// schema creates the tables of a new database. Columns added since the
// first release are also added to older databases by migrate.
//
// event_counts counts stored events per tenant and hour of receipt (with
// the newest receipt), maintained by the same transactions that store the
// events: organisation freshness is read from it rather than by counting
// millions of event rows.
const schema = `
CREATE TABLE IF NOT EXISTS events (
	seq      INTEGER PRIMARY KEY,
	id       TEXT NOT NULL,
	tenant   TEXT NOT NULL,
	ts       INTEGER NOT NULL,
	received INTEGER NOT NULL,
	source   TEXT NOT NULL,
	host     TEXT NOT NULL,
	channel  TEXT NOT NULL,
	event_id TEXT NOT NULL,
	fields   TEXT NOT NULL,
	raw      BLOB
);
CREATE UNIQUE INDEX IF NOT EXISTS events_id ON events(id);
DROP INDEX IF EXISTS events_ts;
CREATE INDEX IF NOT EXISTS events_tenant_ts ON events(tenant, ts);
CREATE TABLE IF NOT EXISTS alerts (
	id          TEXT PRIMARY KEY,
	tenant      TEXT NOT NULL,
	sector      TEXT NOT NULL,
	rule_id     TEXT NOT NULL,
	rule_title  TEXT NOT NULL,
	rule_author TEXT NOT NULL,
	level       TEXT NOT NULL,
	techniques  TEXT NOT NULL,
	tactics     TEXT NOT NULL,
	host        TEXT NOT NULL,
	user        TEXT NOT NULL,
	src_ip      TEXT NOT NULL,
	src_country TEXT NOT NULL DEFAULT '',
	src_asn     INTEGER NOT NULL DEFAULT 0,
	src_as_org  TEXT NOT NULL DEFAULT '',
	src_scope   TEXT NOT NULL DEFAULT '',
	dst_ip      TEXT NOT NULL DEFAULT '',
	dst_country TEXT NOT NULL DEFAULT '',
	dst_asn     INTEGER NOT NULL DEFAULT 0,
	dst_as_org  TEXT NOT NULL DEFAULT '',
	count       INTEGER NOT NULL,
	first_seen  INTEGER NOT NULL,
	last_seen   INTEGER NOT NULL,
	status      TEXT NOT NULL,
	correlation INTEGER NOT NULL,
	event_seq   INTEGER NOT NULL,
	event       TEXT NOT NULL,
	assignee    TEXT NOT NULL DEFAULT '',
	resolution  TEXT NOT NULL DEFAULT '',
	updated     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS alerts_tenant_seen ON alerts(tenant, last_seen);
CREATE INDEX IF NOT EXISTS alerts_seen ON alerts(last_seen);
CREATE INDEX IF NOT EXISTS alerts_tenant_first ON alerts(tenant, first_seen);
CREATE INDEX IF NOT EXISTS alerts_tenant_status ON alerts(tenant, status, level);
CREATE TABLE IF NOT EXISTS alert_audit (
	id         INTEGER PRIMARY KEY,
	alert_id   TEXT NOT NULL,
	tenant     TEXT NOT NULL,
	at         INTEGER NOT NULL,
	user       TEXT NOT NULL,
	action     TEXT NOT NULL,
	from_value TEXT NOT NULL,
	to_value   TEXT NOT NULL,
	comment    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_audit_alert ON alert_audit(alert_id, id);
CREATE TABLE IF NOT EXISTS event_counts (
	tenant TEXT NOT NULL,
	hour   INTEGER NOT NULL,
	n      INTEGER NOT NULL,
	last   INTEGER NOT NULL,
	PRIMARY KEY (tenant, hour)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tenants (
	id     TEXT PRIMARY KEY,
	name   TEXT NOT NULL UNIQUE,
	sector TEXT NOT NULL,
	assets INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS cursors (
	name TEXT PRIMARY KEY,
	seq  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rule_overrides (
	tenant  TEXT NOT NULL,
	rule_id TEXT NOT NULL,
	enabled INTEGER NOT NULL,
	PRIMARY KEY (tenant, rule_id)
);
`

// Open opens (creating if needed) the store in cfg.Dir.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Store, error) {
	if cfg.Dir == "" {
		return nil, errors.New("local store: Dir is empty")
	}
	if cfg.MinFreeDisk == 0 {
		cfg.MinFreeDisk = 256 << 20
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 20000
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	registerFieldsFunc()
	if cfg.Decode != nil {
		decodeRaw.Store(&cfg.Decode)
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("local store: %w", err)
	}
	path := filepath.Join(cfg.Dir, "mamori.db")
	// synchronous(FULL): a commit is on disk before AppendEvents returns, so
	// what was acknowledged survives a crash or power loss.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=wal_autocheckpoint(16384)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("local store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("local store: schema: %w", err)
	}
	rdb, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(ON)")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("local store: open %s: %w", path, err)
	}
	rdb.SetMaxOpenConns(4)
	s := &Store{cfg: cfg, log: log, db: db, rdb: rdb, reqs: make(chan *appendReq, 1024), done: make(chan struct{})}
	s.wg.Add(1)
	go s.writer()
	return s, nil
}

// migrate creates the schema and brings an older database up to it, in
// one transaction: a crash leaves the database as it was.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var hadEvents, hadCounts int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(CASE WHEN name = 'events' THEN 1 END), COUNT(CASE WHEN name = 'event_counts' THEN 1 END)
		FROM sqlite_master WHERE type = 'table'`).Scan(&hadEvents, &hadCounts); err != nil {
		return err
	}
	// Triage columns of alerts (older databases lack them; CREATE TABLE IF
	// NOT EXISTS keeps their table as it is).
	cols := map[string]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT name FROM pragma_table_info('alerts')`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		cols[name] = true
	}
	rows.Close()
	if len(cols) > 0 {
		for _, c := range []struct{ name, def string }{
			{"assignee", "TEXT NOT NULL DEFAULT ''"},
			{"resolution", "TEXT NOT NULL DEFAULT ''"},
			{"updated", "INTEGER NOT NULL DEFAULT 0"},
			{"src_country", "TEXT NOT NULL DEFAULT ''"},
			{"src_asn", "INTEGER NOT NULL DEFAULT 0"},
			{"src_as_org", "TEXT NOT NULL DEFAULT ''"},
			{"src_scope", "TEXT NOT NULL DEFAULT ''"},
			{"dst_ip", "TEXT NOT NULL DEFAULT ''"},
			{"dst_country", "TEXT NOT NULL DEFAULT ''"},
			{"dst_asn", "INTEGER NOT NULL DEFAULT 0"},
			{"dst_as_org", "TEXT NOT NULL DEFAULT ''"},
		} {
			if !cols[c.name] {
				if _, err := tx.ExecContext(ctx, `ALTER TABLE alerts ADD COLUMN `+c.name+` `+c.def); err != nil {
					return fmt.Errorf("add alerts.%s: %w", c.name, err)
				}
			}
		}
		if !cols["updated"] {
			if _, err := tx.ExecContext(ctx, `UPDATE alerts SET updated = first_seen`); err != nil {
				return err
			}
		}
	}
	// Declared assets of organisations (older databases lack the column).
	var hasAssets int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_table_info('tenants') WHERE name = 'assets'`).Scan(&hasAssets); err != nil {
		return err
	}
	var hasTenants int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'tenants'`).Scan(&hasTenants); err != nil {
		return err
	}
	if hasTenants == 1 && hasAssets == 0 {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE tenants ADD COLUMN assets INTEGER NOT NULL DEFAULT 0`); err != nil {
			return fmt.Errorf("add tenants.assets: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, incidentSchema); err != nil {
		return err
	}
	if hadEvents == 1 && hadCounts == 0 {
		// One pass over the events of a database from before event_counts.
		if _, err := tx.ExecContext(ctx, `INSERT INTO event_counts(tenant, hour, n, last)
			SELECT tenant, received - received % 3600000, COUNT(*), MAX(received) FROM events GROUP BY 1, 2`); err != nil {
			return fmt.Errorf("count stored events: %w", err)
		}
	}
	return tx.Commit()
}

// DB returns the writer connection, for packages that keep their own tables
// in the same database file (auth).
func (s *Store) DB() *sql.DB { return s.db }

// Close stops the writer and closes the database.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		s.wg.Wait()
		err = errors.Join(s.db.Close(), s.rdb.Close())
	})
	return err
}

// freeDisk returns the free bytes of the store's file system.
func (s *Store) freeDisk() int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.cfg.Dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// AppendEvents implements store.Store.
func (s *Store) AppendEvents(ctx context.Context, evs []store.Event) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	if free := s.freeDisk(); free >= 0 && free < s.cfg.MinFreeDisk {
		return 0, store.ErrReadOnly
	}
	r := &appendReq{evs: evs, json: make([][]byte, len(evs)), raw: make([][]byte, len(evs)), done: make(chan struct{})}
	// Render and compress here, in the caller's goroutine: the single writer
	// only binds and inserts.
	var slab []byte
	for i := range evs {
		r.raw[i], slab = compressRaw(slab, evs[i].Raw)
		if s.cfg.Decode != nil && len(evs[i].Raw) > 0 {
			continue // raw-only: fields are derived from the raw record when read
		}
		r.json[i] = appendFieldsJSON(nil, evs[i].Fields)
	}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-s.done:
		return 0, errors.New("local store: closed")
	}
	// Once queued the request is committed or failed by the writer; wait for
	// it even if ctx ends, so the caller never acknowledges an unknown state.
	<-r.done
	return r.n, r.err
}

// writer groups queued appends into transactions.
func (s *Store) writer() {
	defer s.wg.Done()
	for {
		var batch []*appendReq
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case <-s.done:
			// Fail whatever is still queued.
			for {
				select {
				case r := <-s.reqs:
					r.err = errors.New("local store: closed")
					close(r.done)
				default:
					return
				}
			}
		}
		n := len(batch[0].evs)
	gather:
		for n < s.cfg.MaxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
				n += len(r.evs)
			default:
				break gather
			}
		}
		err := s.commitEvents(batch)
		for _, r := range batch {
			if err != nil {
				r.err, r.n = err, 0
			}
			close(r.done)
		}
	}
}

func (s *Store) commitEvents(batch []*appendReq) error {
	tx, err := s.db.Begin()
	if err != nil {
		return fmt.Errorf("local store: begin: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.Prepare(`INSERT INTO events(id, tenant, ts, received, source, host, channel, event_id, fields, raw)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`)
	if err != nil {
		return fmt.Errorf("local store: prepare: %w", err)
	}
	defer stmt.Close()
	var maxSeq int64
	type hourKey struct {
		tenant tenant.ID
		hour   int64
	}
	type hourCount struct{ n, first, last int64 }
	counts := map[hourKey]*hourCount{}
	type srcKey struct {
		tenant          tenant.ID
		day             int64
		source, channel string
	}
	srcs := map[srcKey]*hourCount{}
	type hostKey struct {
		tenant tenant.ID
		host   string
	}
	hosts := map[hostKey]int64{}
	var lastSrc *hourCount
	var lastKey srcKey
	var lastHost hostKey
	for _, r := range batch {
		r.n = 0
		for i := range r.evs {
			ev := &r.evs[i]
			rcv := ev.Received.UnixMilli()
			res, err := stmt.Exec(ev.ID, string(ev.Tenant), ev.Time.UnixMilli(), rcv, ev.Source, ev.Host, ev.Channel, ev.EventID, unsafeString(r.json[i]), r.raw[i])
			if err != nil {
				return fmt.Errorf("local store: insert event: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				ev.Seq, _ = res.LastInsertId()
				maxSeq = max(maxSeq, ev.Seq)
				r.n++
				k := hourKey{ev.Tenant, rcv - rcv%3600000}
				c := counts[k]
				if c == nil {
					c = &hourCount{}
					counts[k] = c
				}
				c.n++
				c.last = max(c.last, rcv)
				// Batches come from one shipper at a time: the previous
				// event's source is usually this one's, so skip the map.
				sk := srcKey{ev.Tenant, rcv - rcv%dayMillis, ev.Source, ev.Channel}
				sc := lastSrc
				if sc == nil || sk != lastKey {
					if sc = srcs[sk]; sc == nil {
						sc = &hourCount{}
						srcs[sk] = sc
					}
					lastSrc, lastKey = sc, sk
				}
				if sc.n == 0 || rcv < sc.first {
					sc.first = rcv
				}
				sc.n++
				sc.last = max(sc.last, rcv)
				if ev.Host != "" {
					if hk := (hostKey{ev.Tenant, ev.Host}); hk != lastHost {
						hosts[hk] = max(hosts[hk], rcv)
						lastHost = hk
					} else if rcv > hosts[hk] {
						hosts[hk] = rcv
					}
				}
			}
		}
	}
	for k, c := range counts {
		if _, err := tx.Exec(`INSERT INTO event_counts(tenant, hour, n, last) VALUES (?, ?, ?, ?)
			ON CONFLICT(tenant, hour) DO UPDATE SET n = n + excluded.n, last = max(last, excluded.last)`, string(k.tenant), k.hour, c.n, c.last); err != nil {
			return fmt.Errorf("local store: count events: %w", err)
		}
	}
	for k, c := range srcs {
		if _, err := tx.Exec(`INSERT INTO telemetry(tenant, day, source, channel, n, first, last) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(tenant, day, source, channel) DO UPDATE SET n = n + excluded.n, first = min(first, excluded.first), last = max(last, excluded.last)`,
			string(k.tenant), k.day, k.source, k.channel, c.n, c.first, c.last); err != nil {
			return fmt.Errorf("local store: count telemetry: %w", err)
		}
	}
	for k, last := range hosts {
		if _, err := tx.Exec(`INSERT INTO telemetry_hosts(tenant, host, last) VALUES (?, ?, ?)
			ON CONFLICT(tenant, host) DO UPDATE SET last = max(last, excluded.last)`, string(k.tenant), k.host, last); err != nil {
			return fmt.Errorf("local store: count hosts: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("local store: commit: %w", err)
	}
	if maxSeq > s.lastSeq.Load() {
		s.lastSeq.Store(maxSeq) // only the writer stores, so no race between load and store
	}
	return nil
}

// appendFieldsJSON renders fields as a JSON object; repeated names become arrays.
func appendFieldsJSON(dst []byte, fields []store.Field) []byte {
	dst = append(dst, '{')
	done := make(map[string]bool, 0)
	for i, f := range fields {
		if done[f.Name] {
			continue
		}
		multi := false
		for _, g := range fields[i+1:] {
			if g.Name == f.Name {
				multi = true
				break
			}
		}
		if len(dst) > 1 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, f.Name)
		dst = append(dst, ':')
		if !multi {
			dst = appendJSONString(dst, f.Value)
			continue
		}
		done[f.Name] = true
		dst = append(dst, '[')
		first := true
		for _, g := range fields[i:] {
			if g.Name != f.Name {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendJSONString(dst, g.Value)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string (RFC 8259 escaping; invalid
// UTF-8 is kept byte for byte, as SQLite stores it).
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Raw records are stored S2-compressed (fast enough for the ingest path;
// Windows events shrink 3-5x), behind a marker byte that plain text never
// starts with, so that rows written before compression still read.
const compressedMark = 0xFF

// slabSize is the usual capacity of a compressRaw slab.
const slabSize = 256 << 10

// compressRaw returns the stored form of raw, compressed into slab's spare
// capacity, and the slab grown by it. The records of one append share a
// slab: one allocation (and one zeroing) per few hundred records instead of
// one of the worst-case size per record.
func compressRaw(slab, raw []byte) (out, grown []byte) {
	if len(raw) < 64 {
		return raw, slab
	}
	if need := 1 + s2.MaxEncodedLen(len(raw)); cap(slab)-len(slab) < need {
		// A new slab rather than a grown one: the records already in the
		// old one stay where they are, nothing is copied.
		slab = make([]byte, 0, max(need, slabSize))
	}
	start := len(slab)
	slab = append(slab, compressedMark)
	dst := slab[len(slab) : len(slab)+s2.MaxEncodedLen(len(raw))]
	// enc is dst[:n]: dst can hold the worst case.
	enc := s2.Encode(dst, raw)
	slab = slab[:len(slab)+len(enc)]
	// The full slice expression keeps a later append from reaching the
	// records after this one.
	return slab[start:len(slab):len(slab)], slab
}

func decompressRaw(b []byte) ([]byte, error) {
	if len(b) == 0 || b[0] != compressedMark {
		return b, nil
	}
	return s2.Decode(nil, b[1:])
}

// unsafeString views b as a string; b must not change while the string is used.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func parseFieldsJSON(s string) ([]store.Field, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("fields: not an object")
	}
	var out []store.Field
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := kt.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case []any:
			for _, y := range x {
				out = append(out, store.Field{Name: name, Value: fmt.Sprint(y)})
			}
		default:
			out = append(out, store.Field{Name: name, Value: fmt.Sprint(x)})
		}
	}
	return out, nil
}

const eventCols = `seq, id, tenant, ts, received, source, host, channel, event_id, fields, raw`

func (s *Store) scanEvent(rows *sql.Rows) (store.Event, error) {
	var ev store.Event
	var tid, fields string
	var ts, rcv int64
	if err := rows.Scan(&ev.Seq, &ev.ID, &tid, &ts, &rcv, &ev.Source, &ev.Host, &ev.Channel, &ev.EventID, &fields, &ev.Raw); err != nil {
		return ev, err
	}
	raw, err := decompressRaw(ev.Raw)
	if err != nil {
		return ev, fmt.Errorf("event %d: raw record: %w", ev.Seq, err)
	}
	ev.Raw = raw
	ev.Tenant = tenant.ID(tid)
	ev.Time, ev.Received = time.UnixMilli(ts).UTC(), time.UnixMilli(rcv).UTC()
	if fields == "" && s.cfg.Decode != nil {
		ev.Fields, err = s.cfg.Decode(ev.Source, ev.Raw)
		return ev, err
	}
	ev.Fields, err = parseFieldsJSON(fields)
	return ev, err
}

// EventsAfter implements store.Store.
func (s *Store) EventsAfter(ctx context.Context, seq int64, limit int) ([]store.Event, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+eventCols+` FROM events WHERE seq > ? ORDER BY seq LIMIT ?`, seq, limit)
	if err != nil {
		return nil, fmt.Errorf("local store: events after %d: %w", seq, err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		ev, err := s.scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("local store: events after %d: %w", seq, err)
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

// LastSeq implements store.Store.
//
// It is kept in memory by the writer (ingest asks on every request).
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	if n := s.lastSeq.Load(); n > 0 {
		return n, nil
	}
	var n sql.NullInt64
	err := s.rdb.QueryRowContext(ctx, `SELECT MAX(seq) FROM events`).Scan(&n)
	if err == nil {
		s.lastSeq.CompareAndSwap(0, n.Int64)
	}
	return n.Int64, err
}

// inList renders "?, ?, ?" and appends the values to args.
func inList[T ~string](vals []T, args []any) (string, []any) {
	ph := make([]string, len(vals))
	for i, v := range vals {
		ph[i] = "?"
		args = append(args, string(v))
	}
	return strings.Join(ph, ", "), args
}

// SearchEvents implements store.Store.
func (s *Store) SearchEvents(ctx context.Context, q store.EventQuery) (*store.EventPage, error) {
	if len(q.Tenants) == 0 {
		return &store.EventPage{}, nil
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	cond, args := eventWhere(q)
	page := &store.EventPage{}
	if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE `+cond, args...).Scan(&page.Total); err != nil {
		return nil, fmt.Errorf("local store: count events: %w", err)
	}
	if q.Before > 0 {
		cond += " AND seq < ?"
		args = append(args, q.Before)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+eventCols+` FROM events WHERE `+cond+` ORDER BY seq DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, fmt.Errorf("local store: search events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		ev, err := s.scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("local store: search events: %w", err)
		}
		page.Events = append(page.Events, ev)
	}
	if len(page.Events) > limit {
		page.Events = page.Events[:limit]
		page.Next = page.Events[limit-1].Seq
	}
	return page, rows.Err()
}

// eventWhere renders the conditions of q (tenants, time range, filters,
// text; not Before) as SQL over the events table.
func eventWhere(q store.EventQuery) (string, []any) {
	var where []string
	var args []any
	ph, args := inList(q.Tenants, args)
	where = append(where, "tenant IN ("+ph+")")
	if !q.Since.IsZero() {
		where, args = append(where, "ts >= ?"), append(args, q.Since.UnixMilli())
	}
	if !q.Until.IsZero() {
		where, args = append(where, "ts < ?"), append(args, q.Until.UnixMilli())
	}
	for _, f := range q.Filters {
		switch f.Field {
		case "host":
			where, args = append(where, "host = ? COLLATE NOCASE"), append(args, f.Value)
		case "channel":
			where, args = append(where, "channel = ? COLLATE NOCASE"), append(args, f.Value)
		case "event_id":
			where, args = append(where, "event_id = ?"), append(args, f.Value)
		default:
			if strings.ContainsAny(f.Field, "\"\\") || strings.ContainsFunc(f.Field, func(r rune) bool { return r < 0x20 }) {
				// Names a JSON path cannot quote: match the top-level key itself.
				where = append(where, `EXISTS (SELECT 1 FROM json_each(`+fieldsExpr+`) WHERE key = ? AND lower(value) = lower(?))`)
				args = append(args, f.Field, f.Value)
				continue
			}
			// A field may hold one value or an array of them.
			where = append(where, `EXISTS (SELECT 1 FROM json_each(`+fieldsExpr+`, ?) WHERE lower(value) = lower(?))`)
			args = append(args, `$."`+f.Field+`"`, f.Value)
		}
	}
	if q.Text != "" {
		// The fields are searched in their JSON form: search for the text as
		// JSON writes it (C:\Windows is stored as C:\\Windows).
		esc := appendJSONString(nil, q.Text)
		where, args = append(where, "instr(lower("+fieldsExpr+"), lower(?)) > 0"), append(args, string(esc[1:len(esc)-1]))
	}
	return strings.Join(where, " AND "), args
}

// CommitDetections implements store.Store.
func (s *Store) CommitDetections(ctx context.Context, cursor string, seq int64, alerts []alert.Alert) error {
	return s.CommitDetectionsAt(ctx, []store.CursorPos{{Name: cursor, Seq: seq}}, alerts)
}

// CommitDetectionsAt stores alerts as CommitDetections does and moves
// several cursors, in one transaction (a replica moves its log position
// and a batch's marker with the batch's alerts).
func (s *Store) CommitDetectionsAt(ctx context.Context, cursors []store.CursorPos, alerts []alert.Alert) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("local store: begin: %w", err)
	}
	defer tx.Rollback()
	if len(alerts) > 0 {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO alerts(id, tenant, sector, rule_id, rule_title, rule_author, level, techniques, tactics,
			host, user, src_ip, count, first_seen, last_seen, status, correlation, event_seq, event, updated, src_country, src_asn, src_as_org, src_scope,
			dst_ip, dst_country, dst_asn, dst_as_org)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(id) DO UPDATE SET count = excluded.count, first_seen = excluded.first_seen, last_seen = excluded.last_seen`)
		// Detection only ever moves count and the seen times of a stored
		// alert: its triage state (status, assignee, resolution, updated)
		// belongs to UpdateAlerts.
		if err != nil {
			return fmt.Errorf("local store: prepare: %w", err)
		}
		defer stmt.Close()
		for i := range alerts {
			a := &alerts[i]
			tech, _ := json.Marshal(nonNil(a.Techniques))
			tac, _ := json.Marshal(nonNil(a.Tactics))
			var fields []store.Field
			for _, f := range a.Event {
				fields = append(fields, store.Field{Name: f.Name, Value: f.Value})
			}
			ev := appendFieldsJSON(nil, fields)
			corr := 0
			if a.Correlation {
				corr = 1
			}
			if _, err := stmt.ExecContext(ctx, a.ID, string(a.Tenant), string(a.Sector), a.RuleID, a.RuleTitle, a.RuleAuthor, a.Level, string(tech), string(tac),
				a.Host, a.User, a.SrcIP, a.Count, a.FirstSeen.UnixMilli(), a.LastSeen.UnixMilli(), string(a.Status), corr, a.EventSeq, string(ev), a.FirstSeen.UnixMilli(), a.SrcCountry, a.SrcASN, a.SrcASOrg, a.SrcScope,
				a.DstIP, a.DstCountry, a.DstASN, a.DstASOrg); err != nil {
				return fmt.Errorf("local store: store alert %s: %w", a.ID, err)
			}
		}
	}
	for _, c := range cursors {
		if _, err := tx.ExecContext(ctx, `INSERT INTO cursors(name, seq) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET seq = excluded.seq`, c.Name, c.Seq); err != nil {
			return fmt.Errorf("local store: cursor %s: %w", c.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("local store: commit detections: %w", err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Cursor implements store.Store.
func (s *Store) Cursor(ctx context.Context, name string) (int64, error) {
	var seq int64
	err := s.rdb.QueryRowContext(ctx, `SELECT seq FROM cursors WHERE name = ?`, name).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return seq, err
}

const alertCols = `id, tenant, sector, rule_id, rule_title, rule_author, level, techniques, tactics, host, user, src_ip, count, first_seen, last_seen, status, correlation, event_seq, assignee, resolution, updated, src_country, src_asn, src_as_org, src_scope, dst_ip, dst_country, dst_asn, dst_as_org`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanAlert reads alertCols (and event when withEvent).
func scanAlert(sc scanner, withEvent bool) (store.Alert, error) {
	var a store.Alert
	var tid, sector, tech, tac, status, ev string
	var first, last, updated int64
	var corr int
	dest := []any{&a.ID, &tid, &sector, &a.RuleID, &a.RuleTitle, &a.RuleAuthor, &a.Level, &tech, &tac, &a.Host, &a.User, &a.SrcIP, &a.Count, &first, &last, &status, &corr, &a.EventSeq,
		&a.Assignee, &a.Resolution, &updated, &a.SrcCountry, &a.SrcASN, &a.SrcASOrg, &a.SrcScope, &a.DstIP, &a.DstCountry, &a.DstASN, &a.DstASOrg}
	if withEvent {
		dest = append(dest, &ev)
	}
	if err := sc.Scan(dest...); err != nil {
		return a, err
	}
	a.Tenant, a.Sector, a.Status, a.Correlation = tenant.ID(tid), tenant.Sector(sector), alert.Status(status), corr == 1
	a.FirstSeen, a.LastSeen, a.Updated = time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC(), time.UnixMilli(updated).UTC()
	_ = json.Unmarshal([]byte(tech), &a.Techniques)
	_ = json.Unmarshal([]byte(tac), &a.Tactics)
	if withEvent {
		fields, err := parseFieldsJSON(ev)
		if err != nil {
			return a, err
		}
		for _, f := range fields {
			a.Event = append(a.Event, alert.Field{Name: f.Name, Value: f.Value})
		}
	}
	return a, nil
}

// levelRankSQL orders Sigma levels as sigma.LevelRank does.
const levelRankSQL = `(CASE level WHEN 'critical' THEN 5 WHEN 'high' THEN 4 WHEN 'medium' THEN 3 WHEN 'low' THEN 2 WHEN 'informational' THEN 1 ELSE 0 END)`

func levelRank(l string) int64 {
	switch l {
	case "critical":
		return 5
	case "high":
		return 4
	case "medium":
		return 3
	case "low":
		return 2
	case "informational":
		return 1
	}
	return 0
}

// alertOrder is a sort of alerts: integer keys compared together, then id.
type alertOrder struct {
	name  string                       // the sort as requested, "" for the default
	exprs []string                     // SQL of the keys
	vals  func(a *store.Alert) []int64 // the keys of a stored alert
	desc  bool
}

func orderFor(sort string) (alertOrder, error) {
	if !store.ValidAlertSort(sort) {
		return alertOrder{}, fmt.Errorf("bad sort %q (want last_seen, first_seen, level or count, optionally preceded by -)", sort)
	}
	o := alertOrder{name: sort, desc: !strings.HasPrefix(sort, "-")}
	if sort == store.SortLastSeen {
		o.name = ""
	}
	switch strings.TrimPrefix(sort, "-") {
	case "", store.SortLastSeen:
		o.exprs = []string{"last_seen"}
		o.vals = func(a *store.Alert) []int64 { return []int64{a.LastSeen.UnixMilli()} }
	case store.SortFirstSeen:
		o.exprs = []string{"first_seen"}
		o.vals = func(a *store.Alert) []int64 { return []int64{a.FirstSeen.UnixMilli()} }
	case store.SortLevel:
		o.exprs = []string{levelRankSQL, "last_seen"}
		o.vals = func(a *store.Alert) []int64 { return []int64{levelRank(a.Level), a.LastSeen.UnixMilli()} }
	case store.SortCount:
		o.exprs = []string{"count", "last_seen"}
		o.vals = func(a *store.Alert) []int64 { return []int64{int64(a.Count), a.LastSeen.UnixMilli()} }
	}
	return o, nil
}

// orderBy renders the ORDER BY clause.
func (o alertOrder) orderBy() string {
	dir := " ASC"
	if o.desc {
		dir = " DESC"
	}
	var b strings.Builder
	for _, e := range o.exprs {
		b.WriteString(e + dir + ", ")
	}
	return b.String() + "id" + dir
}

// cursor renders the position after a: "<keys>.<id>", prefixed with
// "<sort>:" for other sorts than the default (whose cursors stay as they were).
func (o alertOrder) cursor(a *store.Alert) string {
	var b strings.Builder
	if o.name != "" {
		b.WriteString(o.name + ":")
	}
	for _, v := range o.vals(a) {
		b.WriteString(strconv.FormatInt(v, 10) + ".")
	}
	return b.String() + a.ID
}

// after parses a cursor into the condition selecting what follows it.
func (o alertOrder) after(cursor string, args []any) (string, []any, error) {
	bad := fmt.Errorf("bad cursor %q", cursor)
	rest := cursor
	if o.name != "" {
		var ok bool
		if rest, ok = strings.CutPrefix(cursor, o.name+":"); !ok {
			return "", nil, bad
		}
	}
	parts := strings.SplitN(rest, ".", len(o.exprs)+1)
	if len(parts) != len(o.exprs)+1 || parts[len(o.exprs)] == "" {
		return "", nil, bad
	}
	for _, p := range parts[:len(o.exprs)] {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return "", nil, bad
		}
		args = append(args, v)
	}
	args = append(args, parts[len(o.exprs)])
	op := ">"
	if o.desc {
		op = "<"
	}
	ph := strings.Repeat("?, ", len(o.exprs)) + "?"
	return "(" + strings.Join(o.exprs, ", ") + ", id) " + op + " (" + ph + ")", args, nil
}

// SearchAlerts implements store.Store.
func (s *Store) SearchAlerts(ctx context.Context, q store.AlertQuery) (*store.AlertPage, error) {
	if len(q.Tenants) == 0 {
		return &store.AlertPage{}, nil
	}
	order, err := orderFor(q.Sort)
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	var where []string
	var args []any
	ph, args := inList(q.Tenants, args)
	where = append(where, "tenant IN ("+ph+")")
	if len(q.Sectors) > 0 {
		ph, args = inList(q.Sectors, args)
		where = append(where, "sector IN ("+ph+")")
	}
	if len(q.Levels) > 0 {
		ph, args = inList(q.Levels, args)
		where = append(where, "level IN ("+ph+")")
	}
	if len(q.Statuses) > 0 {
		ph, args = inList(q.Statuses, args)
		where = append(where, "status IN ("+ph+")")
	}
	if q.RuleID != "" {
		where, args = append(where, "rule_id = ?"), append(args, q.RuleID)
	}
	if q.Technique != "" {
		where, args = append(where, "instr(techniques, ?) > 0"), append(args, `"`+strings.ToUpper(q.Technique))
	}
	if q.Assignee != "" {
		where, args = append(where, "assignee = ? COLLATE NOCASE"), append(args, q.Assignee)
	}
	if q.Unassigned {
		where = append(where, "assignee = ''")
	}
	if q.Text != "" {
		where = append(where, "(instr(lower(rule_title), lower(?)) > 0 OR instr(lower(host), lower(?)) > 0 OR instr(lower(user), lower(?)) > 0 OR instr(lower(src_ip), lower(?)) > 0)")
		args = append(args, q.Text, q.Text, q.Text, q.Text)
	}
	if !q.Since.IsZero() {
		where, args = append(where, "last_seen >= ?"), append(args, q.Since.UnixMilli())
	}
	if !q.Until.IsZero() {
		where, args = append(where, "first_seen < ?"), append(args, q.Until.UnixMilli())
	}
	cond := strings.Join(where, " AND ")
	page := &store.AlertPage{}
	if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM alerts WHERE `+cond, args...).Scan(&page.Total); err != nil {
		return nil, fmt.Errorf("local store: count alerts: %w", err)
	}
	if q.Cursor != "" {
		var after string
		if after, args, err = order.after(q.Cursor, args); err != nil {
			return nil, err
		}
		cond += " AND " + after
	}
	cols := alertCols
	if q.WithEvents {
		cols += ", event"
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+cols+` FROM alerts WHERE `+cond+` ORDER BY `+order.orderBy()+` LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, fmt.Errorf("local store: search alerts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAlert(rows, q.WithEvents)
		if err != nil {
			return nil, fmt.Errorf("local store: search alerts: %w", err)
		}
		page.Alerts = append(page.Alerts, a)
	}
	if len(page.Alerts) > limit {
		page.Alerts = page.Alerts[:limit]
		page.Next = order.cursor(&page.Alerts[limit-1])
	}
	return page, rows.Err()
}

// RecentAlerts implements store.Store.
func (s *Store) RecentAlerts(ctx context.Context, since time.Time) ([]alert.Alert, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+alertCols+` FROM alerts WHERE last_seen >= ?`, since.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("local store: recent alerts: %w", err)
	}
	defer rows.Close()
	var out []alert.Alert
	for rows.Next() {
		a, err := scanAlert(rows, false)
		if err != nil {
			return nil, err
		}
		out = append(out, a.Alert)
	}
	return out, rows.Err()
}

// PutTenant implements store.Store.
func (s *Store) PutTenant(ctx context.Context, t tenant.Tenant) error {
	if !tenant.ValidID(string(t.ID)) {
		return fmt.Errorf("local store: invalid organisation id %q", t.ID)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO tenants(id, name, sector, assets) VALUES (?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET name = excluded.name, sector = excluded.sector, assets = excluded.assets`, string(t.ID), t.Name, string(t.Sector), max(t.Assets, 0))
	if err != nil {
		return fmt.Errorf("local store: put organisation %s: %w", t.ID, err)
	}
	return nil
}

// Tenants implements store.Store.
func (s *Store) Tenants(ctx context.Context) ([]tenant.Tenant, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, name, sector, assets FROM tenants ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("local store: organisations: %w", err)
	}
	defer rows.Close()
	var out []tenant.Tenant
	for rows.Next() {
		var t tenant.Tenant
		var id, sector string
		if err := rows.Scan(&id, &t.Name, &sector, &t.Assets); err != nil {
			return nil, err
		}
		t.ID, t.Sector = tenant.ID(id), tenant.Sector(sector)
		out = append(out, t)
	}
	return out, rows.Err()
}

// SetRuleEnabled implements store.Store.
func (s *Store) SetRuleEnabled(ctx context.Context, t tenant.ID, ruleID string, enabled bool) error {
	e := 0
	if enabled {
		e = 1
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO rule_overrides(tenant, rule_id, enabled) VALUES (?, ?, ?)
		ON CONFLICT(tenant, rule_id) DO UPDATE SET enabled = excluded.enabled`, string(t), ruleID, e)
	return err
}

// DisabledRules implements store.Store.
func (s *Store) DisabledRules(ctx context.Context) (map[tenant.ID]map[string]bool, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT tenant, rule_id FROM rule_overrides WHERE enabled = 0`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[tenant.ID]map[string]bool{}
	for rows.Next() {
		var t, r string
		if err := rows.Scan(&t, &r); err != nil {
			return nil, err
		}
		if out[tenant.ID(t)] == nil {
			out[tenant.ID(t)] = map[string]bool{}
		}
		out[tenant.ID(t)][r] = true
	}
	return out, rows.Err()
}

// receivedCut returns the highest seq of an event received before ms (0: none).
func (s *Store) receivedCut(ctx context.Context, ms int64) (int64, error) {
	// at returns the first event at or after seq: its seq and received time.
	at := func(seq int64) (int64, int64, bool, error) {
		var got, rcv int64
		err := s.db.QueryRowContext(ctx, `SELECT seq, received FROM events WHERE seq >= ? ORDER BY seq LIMIT 1`, seq).Scan(&got, &rcv)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, 0, false, nil
		}
		return got, rcv, err == nil, err
	}
	var last sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(seq) FROM events`).Scan(&last); err != nil || !last.Valid {
		return 0, err
	}
	first, rcv, ok, err := at(0)
	if err != nil || !ok || rcv >= ms {
		return 0, err
	}
	// Invariant: the event at lo was received before ms; none after hi was.
	lo, hi := first, last.Int64
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		seq, rcv, ok, err := at(mid)
		if err != nil {
			return 0, err
		}
		if ok && rcv < ms {
			lo = seq
			if seq >= hi {
				break
			}
		} else {
			hi = mid - 1
		}
	}
	return lo, nil
}

// DeleteBefore implements store.Store.
//
// Events are dropped by the time Mamori received them: received grows with
// seq (both are assigned at ingest), so the cut is found by a binary search
// over seq and deleted as one range, with no time index to maintain on
// every insert.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	ms := t.UnixMilli()
	cut, err := s.receivedCut(ctx, ms)
	if err != nil {
		return 0, fmt.Errorf("local store: retention: %w", err)
	}
	var n int64
	if cut > 0 {
		// The newest event always stays: SQLite would otherwise reuse its seq
		// for the next insert, behind detection's cursor.
		res, err := s.db.ExecContext(ctx, `DELETE FROM events WHERE seq <= ? AND seq < (SELECT MAX(seq) FROM events)`, cut)
		if err != nil {
			return 0, fmt.Errorf("local store: retention: %w", err)
		}
		n, _ = res.RowsAffected()
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM alerts WHERE last_seen < ?`, ms)
	if err != nil {
		return n, fmt.Errorf("local store: retention: %w", err)
	}
	m, _ := res.RowsAffected()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM alert_audit WHERE NOT EXISTS (SELECT 1 FROM alerts WHERE alerts.id = alert_audit.alert_id)`); err != nil {
		return n + m, fmt.Errorf("local store: retention: %w", err)
	}
	for _, q := range []string{
		`DELETE FROM event_counts WHERE hour + 3600000 <= ?`,
		`DELETE FROM incidents WHERE last_seen < ?`,
		`DELETE FROM incident_audit WHERE NOT EXISTS (SELECT 1 FROM incidents WHERE incidents.id = incident_audit.incident_id) AND ? > 0`,
		`DELETE FROM campaigns WHERE last_seen < ?`,
		`DELETE FROM campaign_orgs WHERE NOT EXISTS (SELECT 1 FROM campaigns WHERE campaigns.id = campaign_orgs.campaign_id) AND ? > 0`,
		`DELETE FROM telemetry WHERE day + 86400000 <= ?`,
		`DELETE FROM telemetry_hosts WHERE last < ?`,
		`DELETE FROM cursors WHERE name LIKE 'batch:%' AND seq < ?`, // done-markers of bus batches (Unix ms)
	} {
		if _, err := s.db.ExecContext(ctx, q, ms); err != nil {
			return n + m, fmt.Errorf("local store: retention: %w", err)
		}
	}
	return n + m, nil
}
