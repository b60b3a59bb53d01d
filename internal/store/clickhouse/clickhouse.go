// Package clickhouse is Mamori's scale-out event store: events in a
// ClickHouse table, written and read over ClickHouse's HTTP interface.
//
// It works with every ClickHouse from 18.16 (Debian 12's clickhouse-server)
// on: SQL is limited to what 18.16 understands, newer features are used
// only where version() shows them, and there is no driver dependency
// (clickhouse-go cannot write to 18.16). Values are quoted client-side
// (18.16 has no query parameters) and rows travel as RowBinary.
//
// Only events live here; alerts, incidents and users stay in the embedded
// store. See Store for the schema and its trade-offs.
package clickhouse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures the store.
type Config struct {
	// URL is the HTTP interface and the database, e.g.
	// "http://127.0.0.1:8123/mamori". The database is created if needed;
	// its name is letters, digits and underscores. Required.
	URL string
	// User and Password authenticate (HTTP basic auth); an empty User is ClickHouse's "default".
	User     string
	Password string
	// Timeout bounds each HTTP request. 0 means 60 s.
	Timeout time.Duration
}

// Store is an event store over ClickHouse. It is safe for concurrent use.
//
// Schema (one table, `events`):
//
//   - ReplacingMergeTree(seq) ORDER BY (tenant, ts, id): the console's
//     queries name tenants and a time range, so the sparse primary index
//     prunes by both; id last makes (tenant, ts, id) the deduplication key,
//     so a retried event that slipped past AppendEvents' check (two
//     Mamori nodes racing) collapses at the next merge, keeping the copy
//     with the highest seq. Until then reads deduplicate themselves
//     (LIMIT 1 BY id, uniqExact(id)) and show what the merge will keep.
//     Exact counts cost: over 1M rows uniqExact(id) took ~140 ms where
//     count() took ~30 ms, FINAL ~220 ms and LIMIT 1 BY id ~380 ms.
//   - PARTITION BY toYYYYMMDD(received): retention drops whole days
//     (DROP PARTITION, instant) instead of deleting rows. By receipt, not
//     event time: one insert then lands in one partition even when it
//     carries late or back-filled events, and retention means what it
//     means in the embedded store (events received before t).
//   - ts and received are Int64 milliseconds: 18.16 has no DateTime64 and
//     the store keeps millisecond times.
//   - fields are two parallel arrays, field_names and field_values, in
//     their original order (repeated names kept).
type Store struct {
	cfg     Config
	log     *slog.Logger
	base    string // scheme://host:port/
	db      string // database name (validated identifier)
	table   string // `db`.`events`
	client  *http.Client
	version string
	major   int

	// mu serialises the duplicate check and the seq assignment of
	// AppendEvents; the inserts themselves run concurrently. inflight holds
	// the ids being inserted, so that a concurrent append of the same id
	// skips it rather than store it twice. Both must be held under mu.
	mu       sync.Mutex
	inflight map[string]bool
	lastSeq  atomic.Int64 // highest seq assigned or found at Open; written under mu
	closed   atomic.Bool
}

// Open connects to cfg.URL, creates the database and the events table if
// needed, and returns the store.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("clickhouse store: URL %q: want http://host:port/database", cfg.URL)
	}
	db := strings.Trim(u.Path, "/")
	if !validIdent(db) {
		return nil, fmt.Errorf("clickhouse store: URL %q: database name %q must be letters, digits and underscores (not \"system\")", cfg.URL, db)
	}
	s := &Store{
		cfg:      cfg,
		log:      log,
		base:     u.Scheme + "://" + u.Host + "/",
		db:       db,
		table:    "`" + db + "`.`events`",
		client:   &http.Client{Timeout: cfg.Timeout},
		inflight: map[string]bool{},
	}
	body, err := s.query(ctx, "SELECT version() FORMAT TabSeparated")
	if err != nil {
		return nil, fmt.Errorf("clickhouse store: cannot reach %s (is clickhouse-server running?): %w", s.base, err)
	}
	s.version = strings.TrimSpace(string(body))
	s.major, _ = strconv.Atoi(strings.SplitN(s.version, ".", 2)[0])
	if err := s.exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+db+"`"); err != nil {
		return nil, fmt.Errorf("clickhouse store: create database %q: %w", db, err)
	}
	if err := s.exec(ctx, s.schema()); err != nil {
		return nil, fmt.Errorf("clickhouse store: create table %s: %w", s.table, err)
	}
	r, err := s.rows(ctx, "SELECT toInt64(max(seq)) FROM "+s.table)
	if err != nil {
		return nil, fmt.Errorf("clickhouse store: last seq: %w", err)
	}
	s.lastSeq.Store(r.int64())
	log.Info("clickhouse event store open", "url", s.base, "database", db, "version", s.version)
	return s, nil
}

// Version returns the server's version() as found by Open.
func (s *Store) Version() string { return s.version }

// schema returns the CREATE TABLE of the events table. Servers from 20.1
// on get LowCardinality for the few-valued columns (18.16 has it only as
// an experimental setting); the layout is otherwise the same everywhere.
func (s *Store) schema() string {
	lc := "String"
	if s.major >= 20 {
		lc = "LowCardinality(String)"
	}
	return `CREATE TABLE IF NOT EXISTS ` + s.table + ` (
	id           String,
	tenant       ` + lc + `,
	ts           Int64,
	received     Int64,
	seq          UInt64,
	source       ` + lc + `,
	host         String,
	channel      ` + lc + `,
	event_id     String,
	field_names  Array(String),
	field_values Array(String),
	raw          String
) ENGINE = ReplacingMergeTree(seq)
PARTITION BY toYYYYMMDD(toDateTime(intDiv(received, 1000)))
ORDER BY (tenant, ts, id)`
}

// Close marks the store closed; later calls fail. It never fails itself.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.client.CloseIdleConnections()
	return nil
}

var errClosed = errors.New("clickhouse store: closed")

// do sends one request. params are URL parameters (query, for an INSERT
// whose data is body); otherwise body is the SQL. wait_end_of_query makes
// the server buffer the result, so that an error mid-query is an HTTP
// error rather than a truncated 200 response.
func (s *Store) do(ctx context.Context, params url.Values, body io.Reader, contentType string) ([]byte, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	if params == nil {
		params = url.Values{}
	}
	params.Set("wait_end_of_query", "1")
	params.Set("max_query_size", "16777216") // duplicate checks and page fetches list many ids
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"?"+params.Encode(), body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if s.cfg.User != "" || s.cfg.Password != "" {
		req.SetBasicAuth(orDefault(s.cfg.User, "default"), s.cfg.Password)
	}
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if s.log.Enabled(ctx, slog.LevelDebug) {
		sql := params.Get("query")
		if sql == "" {
			if sr, ok := body.(*strings.Reader); ok && sr.Size() < 1<<20 {
				b := make([]byte, min(sr.Size(), 200))
				sr.ReadAt(b, 0)
				sql = string(b)
			}
		}
		s.log.Debug("clickhouse request", "sql", sql, "status", resp.StatusCode, "bytes", len(out), "took", time.Since(start))
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(out))
		if len(msg) > 2000 {
			msg = msg[:2000] + "..."
		}
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
	}
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	return out, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// exec runs a statement without a result.
func (s *Store) exec(ctx context.Context, sql string) error {
	_, err := s.do(ctx, nil, strings.NewReader(sql), "")
	return err
}

// query runs sql (which names its own FORMAT) and returns the response body.
func (s *Store) query(ctx context.Context, sql string) ([]byte, error) {
	return s.do(ctx, nil, strings.NewReader(sql), "")
}

// rows runs a SELECT and returns its result as RowBinary.
func (s *Store) rows(ctx context.Context, sql string) (*reader, error) {
	b, err := s.query(ctx, sql+" FORMAT RowBinary")
	if err != nil {
		return nil, err
	}
	return &reader{b: b}, nil
}

// insert posts RowBinary rows into the events table.
func (s *Store) insert(ctx context.Context, cols string, data []byte) error {
	_, err := s.do(ctx, url.Values{"query": {"INSERT INTO " + s.table + " (" + cols + ") FORMAT RowBinary"}}, bytes.NewReader(data), "")
	return err
}

// rowsWith runs a SELECT that reads the external table `name` (one String
// column `id`, sent along as RowBinary in a multipart body): a large set
// of values the server does not have to parse as SQL literals (parsing
// 10,000 literals takes 18.16 about 0.2 s; this, a few ms).
func (s *Store) rowsWith(ctx context.Context, sql, name string, ids []string) (*reader, error) {
	var data []byte
	for _, id := range ids {
		data = appendString(data, id)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile(name, name)
	if err == nil {
		_, err = fw.Write(data)
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		return nil, err
	}
	params := url.Values{"query": {sql + " FORMAT RowBinary"}, name + "_structure": {"id String"}, name + "_format": {"RowBinary"}}
	b, err := s.do(ctx, params, &body, mw.FormDataContentType())
	if err != nil {
		return nil, err
	}
	return &reader{b: b}, nil
}
