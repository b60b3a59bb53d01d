package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mamori-soc/mamori/internal/event"
	"github.com/mamori-soc/mamori/internal/normalize"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// Config configures the HTTP endpoints.
type Config struct {
	// MaxBody bounds a request body (after decompression). 0 means 100 MiB.
	MaxBody int64
	// MaxLine bounds one record. 0 means 4 MiB.
	MaxLine int
	// MaxInflight bounds concurrent ingest requests; 0 means 64.
	MaxInflight int
	// QueueTimeout is how long a request waits for a slot before 429/503. 0 means 2s.
	QueueTimeout time.Duration
}

// HTTP serves the HTTP ingest endpoints.
type HTTP struct {
	cfg   Config
	sink  Sink
	authn Authenticator
	log   *slog.Logger
	slots chan struct{}
	decs  sync.Pool
	stats Stats
}

// Stats counts what the endpoints did (read with atomic loads through Snapshot).
type Stats struct {
	mu                             sync.Mutex
	Accepted, Rejected, Busy, Reqs int64
}

// Snapshot returns a copy of the counters.
func (s *Stats) Snapshot() (accepted, rejected, busy, reqs int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Accepted, s.Rejected, s.Busy, s.Reqs
}

func (s *Stats) add(acc, rej, busy int64) {
	s.mu.Lock()
	s.Accepted += acc
	s.Rejected += rej
	s.Busy += busy
	s.Reqs++
	s.mu.Unlock()
}

// NewHTTP returns the HTTP ingest endpoints.
func NewHTTP(cfg Config, sink Sink, authn Authenticator, log *slog.Logger) *HTTP {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 100 << 20
	}
	if cfg.MaxLine <= 0 {
		cfg.MaxLine = 4 << 20
	}
	if cfg.MaxInflight <= 0 {
		cfg.MaxInflight = 64
	}
	if cfg.QueueTimeout <= 0 {
		cfg.QueueTimeout = 2 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &HTTP{cfg: cfg, sink: sink, authn: authn, log: log, slots: make(chan struct{}, cfg.MaxInflight)}
	h.decs.New = func() any { return &decoder{json: normalize.NewDecoder()} }
	return h
}

// Stats returns the endpoint counters.
func (h *HTTP) Stats() *Stats { return &h.stats }

// Register adds the endpoints to mux.
func (h *HTTP) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/ingest", h.ndjson)
	mux.HandleFunc("POST /_bulk", h.bulk)
	mux.HandleFunc("PUT /_bulk", h.bulk)
	mux.HandleFunc("POST /{index}/_bulk", h.bulk)
	h.registerProbes(mux)
}

type decoder struct {
	json *normalize.Decoder
	ev   event.Event
}

// credential extracts what the sender authenticated with: a bearer token,
// an Elasticsearch ApiKey (the token, or id:token base64-encoded), or basic
// auth whose password is the token.
func credential(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, rest, _ := strings.Cut(h, " ")
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(scheme) {
	case "bearer":
		return rest
	case "apikey":
		if b, err := base64.StdEncoding.DecodeString(rest); err == nil {
			s := string(b)
			if _, tok, ok := strings.Cut(s, ":"); ok {
				return tok
			}
			return s
		}
		return rest
	case "basic":
		if _, pw, ok := r.BasicAuth(); ok {
			return pw
		}
	}
	return ""
}

func (h *HTTP) tenant(w http.ResponseWriter, r *http.Request, es bool) (tenant.ID, bool) {
	tid, err := h.authn.IngestTenant(r.Context(), credential(r))
	if err != nil {
		if es {
			esError(w, http.StatusUnauthorized, "security_exception", "missing or invalid ingest token")
		} else {
			apiError(w, http.StatusUnauthorized, "unauthenticated", "missing or invalid ingest token")
		}
		return "", false
	}
	return tid, true
}

// acquire waits for an ingest slot; false means the caller was told to back off.
func (h *HTTP) acquire(w http.ResponseWriter, r *http.Request, es bool) bool {
	t := time.NewTimer(h.cfg.QueueTimeout)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return true
	case <-t.C:
	case <-r.Context().Done():
		return false
	}
	h.stats.add(0, 0, 1)
	busy(w, es)
	return false
}

func busy(w http.ResponseWriter, es bool) {
	w.Header().Set("Retry-After", "1")
	if es {
		esError(w, http.StatusTooManyRequests, "es_rejected_execution_exception", "mamori ingest queue is full; retry later")
		return
	}
	apiError(w, http.StatusServiceUnavailable, "busy", "ingest pipeline saturated; retry later")
}

// body returns the request body, decompressed and size-limited.
func (h *HTTP) body(w http.ResponseWriter, r *http.Request) (io.Reader, func(), error) {
	var rd io.Reader = http.MaxBytesReader(w, r.Body, h.cfg.MaxBody)
	closeFn := func() {}
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, closeFn, fmt.Errorf("gzip body: %w", err)
		}
		closeFn = func() { zr.Close() }
		rd = &limitedReader{r: zr, n: h.cfg.MaxBody}
	}
	return rd, closeFn, nil
}

// limitedReader fails (rather than truncating) past n bytes.
type limitedReader struct {
	r io.Reader
	n int64
}

var errTooLarge = errors.New("request body too large")

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

func isTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe) || errors.Is(err, errTooLarge)
}

// LineError reports one rejected record.
type LineError struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

type ingestResponse struct {
	Accepted int         `json:"accepted"`
	Rejected int         `json:"rejected"`
	Errors   []LineError `json:"errors,omitempty"`
}

// ndjson serves POST /api/v1/ingest: one record per line. ?format= selects
// the line format: json (default), syslog or access (web server access log).
func (h *HTTP) ndjson(w http.ResponseWriter, r *http.Request) {
	tid, ok := h.tenant(w, r, false)
	if !ok {
		return
	}
	format := r.URL.Query().Get("format")
	switch format {
	case "", "json", "syslog", "access", "zeek-tsv":
	default:
		apiError(w, http.StatusBadRequest, "bad_format", fmt.Sprintf("unknown format %q (want json, syslog, access or zeek-tsv)", format))
		return
	}
	if !h.acquire(w, r, false) {
		return
	}
	defer func() { <-h.slots }()
	body, closeFn, err := h.body(w, r)
	defer closeFn()
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad_body", err.Error())
		return
	}
	dec := h.decs.Get().(*decoder)
	defer h.decs.Put(dec)
	now := time.Now().UTC()
	var recs []Record
	resp := ingestResponse{}
	if format == "zeek-tsv" {
		h.zeekTSV(w, r, tid, body, now)
		return
	}
	br := bufio.NewReaderSize(body, 1<<16)
	occ := occurrences{}
	line := 0
	for {
		raw, err := readLine(br, h.cfg.MaxLine)
		if len(raw) > 0 || err == nil {
			line++
		}
		if errors.Is(err, errLineTooLong) {
			resp.Errors = appendErr(resp.Errors, line, fmt.Sprintf("record longer than %d bytes", h.cfg.MaxLine))
			resp.Rejected++
			continue
		}
		if err != nil && err != io.EOF {
			if isTooLarge(err) {
				apiError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body exceeds %d bytes; nothing was stored", h.cfg.MaxBody))
			} else {
				apiError(w, http.StatusBadRequest, "bad_body", fmt.Sprintf("reading body at line %d: %v; nothing was stored", line, err))
			}
			return
		}
		if t := bytes.TrimSpace(raw); len(t) > 0 {
			rec, derr := dec.decodeOwned(format, tid, "", t, occ.next(t), now)
			if derr != nil {
				resp.Errors = appendErr(resp.Errors, line, derr.Error())
				resp.Rejected++
			} else {
				rec.Source = SourceName("ndjson", format)
				recs = append(recs, rec)
			}
		}
		if err == io.EOF {
			break
		}
	}
	if err := h.publish(r.Context(), recs); err != nil {
		h.stats.add(0, 0, 1)
		if errors.Is(err, ErrBusy) {
			busy(w, false)
			return
		}
		h.log.Error("ingest publish failed", "org", tid, "records", len(recs), "err", err)
		apiError(w, http.StatusServiceUnavailable, "store_unavailable", "could not store the records; nothing was acknowledged: "+err.Error())
		return
	}
	resp.Accepted = len(recs)
	h.stats.add(int64(resp.Accepted), int64(resp.Rejected), 0)
	writeJSON(w, http.StatusOK, resp)
}

// zeekTSV ingests a Zeek log in its native TSV format (with its #header lines).
func (h *HTTP) zeekTSV(w http.ResponseWriter, r *http.Request, tid tenant.ID, body io.Reader, now time.Time) {
	var recs []Record
	resp := ingestResponse{}
	occ := occurrences{}
	var lineBuf []byte
	err := normalize.ZeekTSV(body, func(line int, ev *event.Event) error {
		e := ev.Clone()
		e.Tenant = string(tid)
		if e.Time.IsZero() {
			e.Time = now
		}
		// The record's identity is its rendered fields (the TSV line itself is not kept by the reader).
		lineBuf = lineBuf[:0]
		for i := 0; i < e.Len(); i++ {
			lineBuf = append(append(append(lineBuf, e.Name(i)...), '='), e.Value(i)...)
			lineBuf = append(lineBuf, '\t')
		}
		raw := bytes.Clone(lineBuf)
		recs = append(recs, Record{Tenant: tid, ID: RecordID(tid, "", raw, occ.next(raw), e.Time), Raw: raw, Event: e, Received: now, Source: "ndjson-zeek-tsv"})
		return nil
	}, func(line int, err error) {
		resp.Errors = appendErr(resp.Errors, line, err.Error())
		resp.Rejected++
	})
	if err != nil {
		if isTooLarge(err) {
			apiError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body exceeds %d bytes; nothing was stored", h.cfg.MaxBody))
			return
		}
		apiError(w, http.StatusBadRequest, "bad_body", err.Error()+"; nothing was stored")
		return
	}
	if err := h.publish(r.Context(), recs); err != nil {
		h.stats.add(0, 0, 1)
		busy(w, false)
		return
	}
	resp.Accepted = len(recs)
	h.stats.add(int64(resp.Accepted), int64(resp.Rejected), 0)
	writeJSON(w, http.StatusOK, resp)
}

// SourceName names where a record came from and, for text formats, how it
// is decoded: the store may re-derive fields from the raw record with it.
func SourceName(path, format string) string {
	switch format {
	case "syslog", "access", "zeek-tsv":
		return path + "-" + format
	}
	return path
}

func appendErr(errs []LineError, line int, msg string) []LineError {
	if len(errs) < 100 {
		errs = append(errs, LineError{Line: line, Error: msg})
	}
	return errs
}

func (h *HTTP) publish(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	// The sender is acknowledged only after Publish; a cancelled request
	// still completes its publish so that stored and acknowledged agree.
	return h.sink.Publish(context.WithoutCancel(ctx), recs)
}

var errLineTooLong = errors.New("line too long")

// readLine reads one line without its newline; a line over max is
// discarded and reported. The line is the caller's: it never aliases br's
// buffer (decodeOwned relies on this).
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > max+1 {
			// Skip the rest of the line.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				return nil, err
			}
			return nil, errLineTooLong
		}
		buf = append(buf, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimRight(buf, "\r\n"), err
	}
}

// decode normalizes one record and wraps it with a copy of raw.
func (d *decoder) decode(format string, tid tenant.ID, senderID string, raw []byte, occurrence int, now time.Time) (Record, error) {
	rec, err := d.decodeOwned(format, tid, senderID, raw, occurrence, now)
	if err == nil {
		rec.Raw = bytes.Clone(raw)
	}
	return rec, err
}

// decodeOwned is decode for a raw record the caller hands over (readLine
// allocates each line afresh): the record keeps raw itself, sparing a copy
// of every record.
func (d *decoder) decodeOwned(format string, tid tenant.ID, senderID string, raw []byte, occurrence int, now time.Time) (Record, error) {
	var err error
	switch format {
	case "syslog":
		err = d.json.Syslog(raw, &d.ev)
	case "access":
		err = d.json.AccessLog(raw, &d.ev)
	default:
		err = d.json.JSON(raw, &d.ev)
	}
	if err != nil {
		return Record{}, err
	}
	ev := d.ev.Clone()
	ev.Tenant = string(tid)
	if ev.Time.IsZero() {
		ev.Time = now
	}
	return Record{Tenant: tid, ID: RecordID(tid, senderID, raw, occurrence, ev.Time), Raw: raw, Event: ev, Received: now}, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type apiErr struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func apiError(w http.ResponseWriter, status int, code, msg string) {
	var e apiErr
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(w, status, e)
}

func esError(w http.ResponseWriter, status int, typ, reason string) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	cause := map[string]string{"type": typ, "reason": reason}
	writeJSON(w, status, map[string]any{"error": map[string]any{"root_cause": []any{cause}, "type": typ, "reason": reason}, "status": status})
}

func itoa(n int) string { return strconv.Itoa(n) }
