package clickhouse

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

const (
	insertCols = "id, tenant, ts, received, seq, source, host, channel, event_id, field_names, field_values, raw"
	// idChunk bounds the ids of one duplicate check.
	idChunk = 20000
)

// AppendEvents stores events and assigns their Seq, like store.Store's.
// It returns once ClickHouse has written them (an acknowledged INSERT).
// Events whose ID is already stored for the same tenant and time, or that
// repeat an earlier event of evs, are skipped (their Seq stays 0); it
// returns how many were new.
//
// Seq: ClickHouse has no auto-increment, so Seq is the receipt time in
// nanoseconds, raised where needed to stay strictly increasing within
// this Store. It orders events by arrival and is the pagination cursor
// (EventQuery.Before); with several writers it is unique only with high
// probability, and not gap-free. Inserts run concurrently, so a higher Seq
// may become visible before a lower one: Seq is not a consumption cursor
// (EventsAfter has no ClickHouse counterpart; detection reads the bus).
//
// An event that a concurrent call of this Store is inserting counts as a
// duplicate here; should that insert fail, that call's caller gets the
// error and retries it.
func (s *Store) AppendEvents(ctx context.Context, evs []store.Event) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	for i := range evs {
		evs[i].Seq = 0
	}
	s.mu.Lock()
	fresh, err := s.newEvents(ctx, evs)
	if err != nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("clickhouse store: append: check duplicates: %w", err)
	}
	if len(fresh) == 0 {
		s.mu.Unlock()
		return 0, nil
	}
	last := s.lastSeq.Load()
	now := time.Now()
	for _, i := range fresh {
		ev := &evs[i]
		if ev.Received.IsZero() {
			ev.Received = now
		}
		ev.Seq = max(last+1, ev.Received.UnixNano())
		last = ev.Seq
		s.inflight[ev.ID] = true
	}
	s.lastSeq.Store(last)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		for _, i := range fresh {
			delete(s.inflight, evs[i].ID)
		}
		s.mu.Unlock()
	}()

	buf := make([]byte, 0, 512*len(fresh))
	for _, i := range fresh {
		ev := &evs[i]
		seq := ev.Seq
		buf = appendString(buf, ev.ID)
		buf = appendString(buf, string(ev.Tenant))
		buf = appendInt64(buf, ev.Time.UnixMilli())
		buf = appendInt64(buf, ev.Received.UnixMilli())
		buf = appendUint64(buf, uint64(seq))
		buf = appendString(buf, ev.Source)
		buf = appendString(buf, ev.Host)
		buf = appendString(buf, ev.Channel)
		buf = appendString(buf, ev.EventID)
		buf = appendUvarintLen(buf, len(ev.Fields))
		for _, f := range ev.Fields {
			buf = appendString(buf, f.Name)
		}
		buf = appendUvarintLen(buf, len(ev.Fields))
		for _, f := range ev.Fields {
			buf = appendString(buf, f.Value)
		}
		buf = appendBytes(buf, ev.Raw)
	}
	if err := s.insert(ctx, insertCols, buf); err != nil {
		for _, i := range fresh {
			evs[i].Seq = 0
		}
		return 0, fmt.Errorf("clickhouse store: append %d events: %w", len(fresh), err)
	}
	return len(fresh), nil
}

// newEvents returns the indexes of the events of evs not yet stored and
// not repeating an earlier one of evs. Stored copies are looked up by
// tenant, time range and id: a retried event carries the same tenant and
// time, so the primary key narrows the lookup to a few granules.
func (s *Store) newEvents(ctx context.Context, evs []store.Event) ([]int, error) {
	seen := make(map[string]bool, len(evs))
	var fresh []int
	for i := range evs {
		if !seen[evs[i].ID] && !s.inflight[evs[i].ID] {
			seen[evs[i].ID] = true
			fresh = append(fresh, i)
		}
	}
	stored := map[string]bool{}
	for start := 0; start < len(fresh); start += idChunk {
		chunk := fresh[start:min(start+idChunk, len(fresh))]
		var tenants []tenant.ID
		ids := make([]string, len(chunk))
		lo, hi := evs[chunk[0]].Time.UnixMilli(), evs[chunk[0]].Time.UnixMilli()
		for j, i := range chunk {
			ids[j] = evs[i].ID
			tenants = append(tenants, evs[i].Tenant)
			ms := evs[i].Time.UnixMilli()
			lo, hi = min(lo, ms), max(hi, ms)
		}
		slices.Sort(tenants)
		tenants = slices.Compact(tenants)
		r, err := s.rowsWith(ctx, "SELECT DISTINCT id FROM "+s.table+" WHERE tenant IN ("+quoteList(tenants)+") AND ts >= "+num(lo)+" AND ts <= "+num(hi)+" AND id IN _ids", "_ids", ids)
		if err != nil {
			return nil, err
		}
		for r.more() {
			stored[r.string()] = true
		}
		if r.err != nil {
			return nil, r.err
		}
	}
	if len(stored) == 0 {
		return fresh, nil
	}
	out := fresh[:0]
	for _, i := range fresh {
		if !stored[evs[i].ID] {
			out = append(out, i)
		}
	}
	return out, nil
}

func appendUvarintLen(dst []byte, n int) []byte { return binary.AppendUvarint(dst, uint64(n)) }

// LastSeq returns the highest Seq this Store assigned or found at Open
// (0 when empty). Events appended by other writers since Open are not seen.
func (s *Store) LastSeq(ctx context.Context) (int64, error) { return s.lastSeq.Load(), nil }

// where renders the conditions of q (tenants, time range, filters, text;
// not Before). Every value is quoted. Field names are compared as data
// (elements of field_names), never used as identifiers.
func where(q store.EventQuery) string {
	var w []string
	w = append(w, "tenant IN ("+quoteList(q.Tenants)+")")
	if !q.Since.IsZero() {
		w = append(w, "ts >= "+num(q.Since.UnixMilli()))
	}
	if !q.Until.IsZero() {
		w = append(w, "ts < "+num(q.Until.UnixMilli()))
	}
	for _, f := range q.Filters {
		v := quote(f.Value)
		switch f.Field {
		case "host", "channel":
			w = append(w, "lowerUTF8("+f.Field+") = lowerUTF8("+v+")")
		case "event_id":
			w = append(w, "event_id = "+v)
		default:
			w = append(w, "arrayExists((n, v) -> n = "+quote(f.Field)+" AND lowerUTF8(v) = lowerUTF8("+v+"), field_names, field_values)")
		}
	}
	if q.Text != "" {
		// positionCaseInsensitiveUTF8 never matches invalid UTF-8; the
		// byte-wise (ASCII case-folding) variant finds such texts.
		fn, t := "positionCaseInsensitiveUTF8", quote(q.Text)
		if !utf8.ValidString(q.Text) {
			fn = "positionCaseInsensitive"
		}
		w = append(w, "(arrayExists(x -> "+fn+"(x, "+t+") > 0, field_values) OR arrayExists(x -> "+fn+"(x, "+t+") > 0, field_names))")
	}
	return strings.Join(w, " AND ")
}

const eventCols = "toInt64(seq), id, tenant, ts, received, source, host, channel, event_id, field_names, field_values, raw"

func readEvent(r *reader) store.Event {
	var ev store.Event
	ev.Seq = r.int64()
	ev.ID = r.string()
	ev.Tenant = tenant.ID(r.string())
	ev.Time = time.UnixMilli(r.int64()).UTC()
	ev.Received = time.UnixMilli(r.int64()).UTC()
	ev.Source = r.string()
	ev.Host = r.string()
	ev.Channel = r.string()
	ev.EventID = r.string()
	names, values := r.strings(), r.strings()
	if len(names) == len(values) && len(names) > 0 {
		ev.Fields = make([]store.Field, len(names))
		for i := range names {
			ev.Fields[i] = store.Field{Name: names[i], Value: values[i]}
		}
	}
	ev.Raw = r.bytes()
	return ev
}

// SearchEvents runs an event search like store.Store's: newest (highest
// Seq) first, Total counting distinct events.
//
// It reads in two steps: the page's (seq, id, ts) from the narrow columns,
// then the whole rows of that page only, by primary key. 18.16 would
// otherwise read fields and raw of every matching row to sort them.
func (s *Store) SearchEvents(ctx context.Context, q store.EventQuery) (*store.EventPage, error) {
	page := &store.EventPage{}
	if len(q.Tenants) == 0 {
		return page, nil
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	cond := where(q)
	// The total and the page's keys are independent: ask for both at once.
	var total *reader
	var totalErr error
	done := make(chan struct{})
	countSQL := "SELECT toUInt64(uniqExact(id)) FROM " + s.table + " WHERE " + cond
	go func() {
		defer close(done)
		total, totalErr = s.rows(ctx, countSQL)
	}()
	pageCond := cond
	if q.Before > 0 {
		pageCond += " AND seq < " + num(q.Before)
	}
	r, err := s.rows(ctx, "SELECT toInt64(seq), id, ts FROM "+s.table+" WHERE "+pageCond+" ORDER BY seq DESC LIMIT 1 BY id LIMIT "+strconv.Itoa(limit+1))
	<-done
	if totalErr == nil {
		page.Total = int(total.uint64())
		totalErr = total.err
	}
	if totalErr != nil {
		return nil, fmt.Errorf("clickhouse store: count events: %w", totalErr)
	}
	if err != nil {
		return nil, fmt.Errorf("clickhouse store: search events: %w", err)
	}
	type key struct {
		seq int64
		id  string
	}
	var keys []key
	var lo, hi int64
	for r.more() {
		k := key{r.int64(), r.string()}
		ts := r.int64()
		if len(keys) == 0 {
			lo, hi = ts, ts
		}
		lo, hi = min(lo, ts), max(hi, ts)
		keys = append(keys, k)
	}
	if r.err != nil {
		return nil, fmt.Errorf("clickhouse store: search events: %w", r.err)
	}
	if len(keys) > limit {
		keys = keys[:limit]
		page.Next = keys[limit-1].seq
	}
	if len(keys) == 0 {
		return page, nil
	}
	var pairs []byte
	for i, k := range keys {
		if i > 0 {
			pairs = append(pairs, ", "...)
		}
		pairs = append(pairs, '(')
		pairs = strconv.AppendInt(pairs, k.seq, 10)
		pairs = append(pairs, ", "...)
		pairs = appendQuoted(pairs, k.id)
		pairs = append(pairs, ')')
	}
	r, err = s.rows(ctx, "SELECT "+eventCols+" FROM "+s.table+" WHERE tenant IN ("+quoteList(q.Tenants)+") AND ts >= "+num(lo)+" AND ts <= "+num(hi)+
		" AND (seq, id) IN ("+string(pairs)+") ORDER BY seq DESC LIMIT 1 BY seq, id")
	if err != nil {
		return nil, fmt.Errorf("clickhouse store: read events: %w", err)
	}
	for r.more() {
		page.Events = append(page.Events, readEvent(r))
	}
	if r.err != nil {
		return nil, fmt.Errorf("clickhouse store: read events: %w", r.err)
	}
	if len(page.Events) != len(keys) {
		// A merge or a retention drop between the two reads.
		return nil, fmt.Errorf("clickhouse store: read events: %d of %d rows found; retry", len(page.Events), len(keys))
	}
	return page, nil
}

// EventHistogram counts distinct events per time bucket, like store.Store's.
func (s *Store) EventHistogram(ctx context.Context, q store.HistogramQuery) (*store.Histogram, error) {
	h, err := q.Empty()
	if err != nil {
		return nil, fmt.Errorf("clickhouse store: %w", err)
	}
	since, step, n := q.Since.UnixMilli(), h.Interval.Milliseconds(), int64(len(h.Buckets))
	if len(q.Tenants) == 0 {
		return h, nil
	}
	eq := q.EventQuery
	eq.Since, eq.Until = q.Since, q.Until
	r, err := s.rows(ctx, "SELECT toInt64(intDiv(ts - "+num(since)+", "+num(step)+")) AS b, toUInt64(uniqExact(id)) FROM "+s.table+" WHERE "+where(eq)+" GROUP BY b")
	if err != nil {
		return nil, fmt.Errorf("clickhouse store: histogram: %w", err)
	}
	for r.more() {
		b, c := r.int64(), r.uint64()
		if b >= 0 && b < n {
			h.Buckets[b].Count += int(c)
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("clickhouse store: histogram: %w", r.err)
	}
	return h, nil
}

// EventCount is what OrgStats needs from the event store for one tenant.
type EventCount struct {
	Tenant    tenant.ID
	Events    int       // distinct events received at or after the query's since
	LastEvent time.Time // receipt of the newest event kept; zero when none
}

// EventCounts returns one EventCount for each named tenant (also those
// without events), ordered by tenant id; nothing when none is named. For
// store.OrgStats, since is the start of the hour 23 hours before now.
func (s *Store) EventCounts(ctx context.Context, tenants []tenant.ID, since time.Time) ([]EventCount, error) {
	if len(tenants) == 0 {
		return nil, nil
	}
	ids := slices.Clone(tenants)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := make([]EventCount, len(ids))
	for i, id := range ids {
		out[i].Tenant = id
	}
	r, err := s.rows(ctx, "SELECT tenant, toUInt64(uniqExactIf(id, received >= "+num(since.UnixMilli())+")), max(received) FROM "+s.table+
		" WHERE tenant IN ("+quoteList(ids)+") GROUP BY tenant")
	if err != nil {
		return nil, fmt.Errorf("clickhouse store: event counts: %w", err)
	}
	for r.more() {
		id, n, last := tenant.ID(r.string()), r.uint64(), r.int64()
		if i, ok := slices.BinarySearch(ids, id); ok {
			out[i].Events, out[i].LastEvent = int(n), time.UnixMilli(last).UTC()
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("clickhouse store: event counts: %w", r.err)
	}
	return out, nil
}

// DeleteBefore drops the events of every UTC day (by receipt) that ended
// at or before t, with ALTER TABLE ... DROP PARTITION: instant, no
// rewrite. Events of t's own day stay until that whole day is past, so
// retention keeps up to one day more than asked. It returns the rows
// dropped (counted before merges, so retried copies count).
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	r, err := s.rows(ctx, "SELECT partition, toUInt64(sum(rows)) FROM system.parts WHERE database = "+quote(s.db)+" AND table = 'events' AND active GROUP BY partition")
	if err != nil {
		return 0, fmt.Errorf("clickhouse store: retention: list partitions: %w", err)
	}
	type part struct {
		name string
		rows int64
	}
	var drop []part
	for r.more() {
		name, rows := r.string(), int64(r.uint64())
		day, err := time.Parse("20060102", name)
		if err != nil {
			return 0, fmt.Errorf("clickhouse store: retention: unexpected partition %q", name)
		}
		if !day.Add(24 * time.Hour).After(t) {
			drop = append(drop, part{name, rows})
		}
	}
	if r.err != nil {
		return 0, fmt.Errorf("clickhouse store: retention: list partitions: %w", r.err)
	}
	var n int64
	var errs []error
	for _, p := range drop {
		// The name parsed as a date, so it is eight digits.
		if err := s.exec(ctx, "ALTER TABLE "+s.table+" DROP PARTITION "+p.name); err != nil {
			errs = append(errs, fmt.Errorf("drop partition %s: %w", p.name, err))
			continue
		}
		n += p.rows
		s.log.Info("clickhouse retention: dropped a day of events", "day", p.name, "rows", p.rows)
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("clickhouse store: retention: %w", err)
	}
	return n, nil
}

// Telemetry describes the sources (ingest path and channel) and the hosts
// the named tenants sent events from since a time, as store.Store's
// Telemetry does (the rating reads it).
func (s *Store) Telemetry(ctx context.Context, q store.TelemetryQuery) (*store.Telemetry, error) {
	out := &store.Telemetry{Hosts: map[tenant.ID]int{}}
	if len(q.Tenants) == 0 {
		return out, nil
	}
	ids := slices.Clone(q.Tenants)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	where := " WHERE tenant IN (" + quoteList(ids) + ") AND received >= " + num(q.Since.UnixMilli())
	r, err := s.rows(ctx, "SELECT tenant, source, channel, toUInt64(uniqExact(id)), min(received), max(received) FROM "+s.table+where+
		" GROUP BY tenant, source, channel ORDER BY tenant, source, channel")
	if err != nil {
		return nil, fmt.Errorf("clickhouse store: telemetry: %w", err)
	}
	for r.more() {
		src := store.TelemetrySource{Tenant: tenant.ID(r.string()), Source: r.string(), Channel: r.string()}
		src.Events = int64(r.uint64())
		src.FirstSeen, src.LastSeen = time.UnixMilli(r.int64()).UTC(), time.UnixMilli(r.int64()).UTC()
		out.Sources = append(out.Sources, src)
	}
	if r.err != nil {
		return nil, fmt.Errorf("clickhouse store: telemetry: %w", r.err)
	}
	h, err := s.rows(ctx, "SELECT tenant, toUInt64(uniqExact(host)) FROM "+s.table+where+" AND host != '' GROUP BY tenant")
	if err != nil {
		return nil, fmt.Errorf("clickhouse store: telemetry hosts: %w", err)
	}
	for h.more() {
		id, n := tenant.ID(h.string()), h.uint64()
		out.Hosts[id] = int(n)
	}
	if h.err != nil {
		return nil, fmt.Errorf("clickhouse store: telemetry hosts: %w", h.err)
	}
	return out, nil
}
