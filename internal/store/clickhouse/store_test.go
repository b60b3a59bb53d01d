package clickhouse

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func ev(id string, tid tenant.ID, at time.Duration, kv ...string) store.Event {
	e := store.Event{ID: id, Tenant: tid, Time: t0.Add(at), Received: t0.Add(at + time.Second), Source: "test", Raw: []byte("raw " + id)}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Fields = append(e.Fields, store.Field{Name: kv[i], Value: kv[i+1]})
	}
	return e
}

func mustAppend(t *testing.T, s *Store, evs ...store.Event) int {
	t.Helper()
	n, err := s.AppendEvents(context.Background(), evs)
	if err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}
	return n
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	f := func(cfg Config, want string) {
		t.Helper()
		s, err := Open(ctx, cfg, nil)
		if err == nil {
			s.Close()
			t.Fatalf("Open(%+v) succeeded, want %q", cfg, want)
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%+v) = %v, want %q", cfg, err, want)
		}
	}
	f(Config{}, "want http://host:port/database")
	f(Config{URL: "ftp://x/y"}, "want http://host:port/database")
	f(Config{URL: serverURL}, "database name")
	f(Config{URL: serverURL + "a-b"}, "database name")
	f(Config{URL: serverURL + "x`; DROP DATABASE system"}, "database name")
	f(Config{URL: serverURL + "system"}, "database name")
	f(Config{URL: "http://127.0.0.1:1/mamori", Timeout: time.Second}, "cannot reach")
	f(Config{URL: serverURL + "mamori", User: "nobody", Password: "x"}, "cannot reach")
}

func TestOpenTwiceKeepsData(t *testing.T) {
	s := openTest(t)
	evs := []store.Event{ev("a", "org-a", 0)}
	mustAppend(t, s, evs...)
	s2, err := Open(context.Background(), Config{URL: serverURL + s.db}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if last, _ := s2.LastSeq(context.Background()); last != evs[0].Seq {
		t.Errorf("reopened LastSeq = %d, want %d", last, evs[0].Seq)
	}
	if n := mustAppend(t, s2, ev("a", "org-a", 0)); n != 0 {
		t.Errorf("reopened store stored a duplicate")
	}
	if s2.Version() == "" {
		t.Error("no version")
	}
	t.Logf("server version %s", s2.Version())
	s2.Close()
	if _, err := s2.SearchEvents(context.Background(), store.EventQuery{Tenants: []tenant.ID{"org-a"}}); err == nil {
		t.Error("a closed store answered")
	}
}

// TestCopiesBeforeMerge inserts the same event twice behind
// AppendEvents' back (as two racing nodes could) and checks that no read
// counts it twice before ClickHouse merges the copies, nor after.
func TestCopiesBeforeMerge(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	mustAppend(t, s, ev("a", "org-a", 0, "User", "x"), ev("b", "org-a", time.Minute, "User", "x"))
	other, err := Open(ctx, Config{URL: serverURL + s.db}, nil) // a second writer
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.mu.Lock() // bypass the duplicate check: insert directly
	dup := ev("a", "org-a", 0, "User", "x")
	dup.Received = dup.Received.Add(time.Hour)
	var buf []byte
	buf = appendString(buf, dup.ID)
	buf = appendString(buf, string(dup.Tenant))
	buf = appendInt64(buf, dup.Time.UnixMilli())
	buf = appendInt64(buf, dup.Received.UnixMilli())
	buf = appendUint64(buf, uint64(dup.Received.UnixNano()))
	for range 4 {
		buf = appendString(buf, "")
	}
	buf = appendUvarintLen(buf, 1)
	buf = appendString(buf, "User")
	buf = appendUvarintLen(buf, 1)
	buf = appendString(buf, "x")
	buf = appendString(buf, "copy")
	err = other.insert(ctx, insertCols, buf)
	other.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		r, err := s.rows(ctx, "SELECT count() FROM "+s.table)
		if err != nil {
			t.Fatal(err)
		}
		rows := r.uint64()
		all := []tenant.ID{"org-a"}
		p, err := s.SearchEvents(ctx, store.EventQuery{Tenants: all, Filters: []store.Filter{{Field: "User", Value: "x"}}})
		if err != nil || p.Total != 2 || len(p.Events) != 2 || p.Events[0].ID != "a" || string(p.Events[0].Raw) != "copy" {
			t.Errorf("%s (%d rows): search = %+v, %v; want a (the newer copy), b", when, rows, p, err)
		}
		h, err := s.EventHistogram(ctx, store.HistogramQuery{EventQuery: store.EventQuery{Tenants: all, Since: t0, Until: t0.Add(time.Hour)}, Buckets: 1})
		if err != nil || h.Buckets[0].Count != 2 {
			t.Errorf("%s (%d rows): histogram %+v, %v", when, rows, h, err)
		}
		c, err := s.EventCounts(ctx, all, t0)
		if err != nil || c[0].Events != 2 {
			t.Errorf("%s (%d rows): counts %+v, %v", when, rows, c, err)
		}
	}
	check("before merge")
	if err := s.exec(ctx, "OPTIMIZE TABLE "+s.table+" FINAL"); err != nil {
		t.Fatal(err)
	}
	check("after merge")
}

func TestEventCounts(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	now := t0.Add(30 * time.Minute)
	from := now.Truncate(time.Hour).Add(-23 * time.Hour)
	rcv := func(id string, tid tenant.ID, ago time.Duration) store.Event {
		e := ev(id, tid, 0)
		e.Time, e.Received = now.Add(-ago-time.Second), now.Add(-ago)
		return e
	}
	mustAppend(t, s, rcv("e1", "org-a", 10*time.Minute), rcv("e2", "org-a", 2*time.Hour), rcv("e3", "org-b", 30*time.Hour))
	mustAppend(t, s, rcv("e1", "org-a", 10*time.Minute))
	got, err := s.EventCounts(ctx, []tenant.ID{"org-c", "org-b", "org-a", "org-b"}, from)
	if err != nil {
		t.Fatal(err)
	}
	want := []EventCount{
		{Tenant: "org-a", Events: 2, LastEvent: now.Add(-10 * time.Minute)},
		{Tenant: "org-b", Events: 0, LastEvent: now.Add(-30 * time.Hour)},
		{Tenant: "org-c"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EventCounts:\n got %+v\nwant %+v", got, want)
	}
	if got, err := s.EventCounts(ctx, nil, from); err != nil || got != nil {
		t.Errorf("EventCounts(no tenant) = %+v, %v", got, err)
	}
	if got, err := s.EventCounts(ctx, []tenant.ID{"org-a') OR 1=1 OR ('"}, from); err != nil || len(got) != 1 || got[0].Events != 0 {
		t.Errorf("EventCounts(hostile) = %+v, %v", got, err)
	}
}

func partitions(t *testing.T, s *Store) string {
	t.Helper()
	r, err := s.rows(context.Background(), "SELECT DISTINCT partition FROM system.parts WHERE database = "+quote(s.db)+" AND table = 'events' AND active ORDER BY partition")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for r.more() {
		out = append(out, r.string())
	}
	return fmt.Sprint(out)
}

func TestDeleteBeforeDropsWholeDays(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	day := 24 * time.Hour
	midnight := t0.Truncate(day)
	at := func(id string, rcv time.Time) store.Event {
		e := ev(id, "org-a", 0)
		e.Received = rcv
		return e
	}
	mustAppend(t, s, at("d1", midnight.Add(-2*day)), at("d2", midnight.Add(-day)), at("d2b", midnight.Add(-time.Millisecond)), at("d3", midnight), at("d3b", t0))
	if got := partitions(t, s); got != "[20261121 20261122 20261123]" {
		t.Fatalf("partitions %s", got)
	}
	f := func(cut time.Time, wantN int64, wantParts string) {
		t.Helper()
		n, err := s.DeleteBefore(ctx, cut)
		if err != nil || n != wantN {
			t.Errorf("DeleteBefore(%v) = %d, %v; want %d", cut, n, err, wantN)
		}
		if got := partitions(t, s); got != wantParts {
			t.Errorf("after DeleteBefore(%v): partitions %s, want %s", cut, got, wantParts)
		}
	}
	f(midnight.Add(-day-time.Millisecond), 0, "[20261121 20261122 20261123]") // 21st not over yet
	f(midnight.Add(-day), 1, "[20261122 20261123]")                           // 21st over: dropped
	f(t0, 2, "[20261123]")                                                    // today stays whole
	f(t0, 0, "[20261123]")
	p, _ := s.SearchEvents(ctx, store.EventQuery{Tenants: []tenant.ID{"org-a"}})
	if p.Total != 2 {
		t.Errorf("%d events left, want 2", p.Total)
	}
}

// TestHostileEverywhere stores and finds every hostile string as a field
// name and as search text (the embedded store cannot, see storetest).
func TestHostileEverywhere(t *testing.T) {
	s := openTest(t)
	hostile := []string{`x" OR 1=1 --`, `\' OR 1=1 --`, "a\x00b", "line\nbreak", "\\", "'", "\xff\xfe", `\x27`, `'); DROP TABLE events; --`}
	for i, x := range hostile {
		mustAppend(t, s, ev(fmt.Sprint("h", i), "org-a", time.Duration(i)*time.Second, x, "v"+x))
	}
	mustAppend(t, s, ev("other", "org-b", 0, "x", "v"))
	for i, x := range hostile {
		want := fmt.Sprint("[h", i, "]")
		for _, q := range []store.EventQuery{
			{Tenants: []tenant.ID{"org-a"}, Filters: []store.Filter{{Field: x, Value: "V" + x}}},
			{Tenants: []tenant.ID{"org-a"}, Text: "v" + x},
		} {
			p, err := s.SearchEvents(context.Background(), q)
			if err != nil {
				t.Fatalf("query %q: %v", fmt.Sprintf("%+v", q), err)
			}
			var got []string
			for _, e := range p.Events {
				got = append(got, e.ID)
			}
			// Texts that are substrings of others may find those too; an exact field must find only its own.
			if q.Text == "" && fmt.Sprint(got) != want || q.Text != "" && !strings.Contains(fmt.Sprint(got), want[1:len(want)-1]) {
				t.Errorf("query %q = %v, want %s", fmt.Sprintf("%+v", q), got, want)
			}
		}
	}
}

func TestSeqMonotonic(t *testing.T) {
	s := openTest(t)
	var last int64
	for i := range 5 {
		evs := []store.Event{ev(fmt.Sprint("s", i, "a"), "org-a", 0), ev(fmt.Sprint("s", i, "b"), "org-a", -time.Hour)}
		evs[1].Received = time.Time{} // filled with now
		mustAppend(t, s, evs...)
		for _, e := range evs {
			if e.Seq <= last {
				t.Fatalf("seq %d after %d", e.Seq, last)
			}
			last = e.Seq
		}
	}
}

// TestConcurrentAppends: writers appending overlapping batches at once
// store each event once and count it new exactly once.
func TestConcurrentAppends(t *testing.T) {
	s := openTest(t)
	const writers, perBatch, batches = 4, 200, 5
	var mu sync.Mutex
	stored := 0
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				var evs []store.Event
				for i := range perBatch {
					// Writers 0 and 1, and 2 and 3, append the same events.
					k := (w/2)*perBatch*batches + b*perBatch + i
					evs = append(evs, ev(fmt.Sprint("c", k), "org-a", time.Duration(k)*time.Millisecond))
				}
				n, err := s.AppendEvents(context.Background(), evs)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				stored += n
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	want := (writers / 2) * perBatch * batches
	r, err := s.rows(context.Background(), "SELECT toUInt64(count()) FROM "+s.table)
	if err != nil {
		t.Fatal(err)
	}
	if rows := r.uint64(); stored != want || rows != uint64(want) {
		t.Errorf("stored %d new, %d rows; want %d", stored, rows, want)
	}
}

// TestTelemetry: sources and hosts per organisation, duplicates counted once.
func TestTelemetry(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	a1 := ev("t1", "org-a", 0, "Channel", "Security", "Computer", "WS1")
	a1.Host, a1.Channel, a1.Source = "WS1", "Security", "bulk"
	a2 := ev("t2", "org-a", time.Minute, "Channel", "Security", "Computer", "WS2")
	a2.Host, a2.Channel, a2.Source = "WS2", "Security", "bulk"
	b1 := ev("t3", "org-b", 0, "Channel", "sshd")
	b1.Channel, b1.Source = "sshd", "syslog-udp"
	mustAppend(t, s, a1, a2, b1)
	mustAppend(t, s, a1) // a retry
	tel, err := s.Telemetry(ctx, store.TelemetryQuery{Tenants: []tenant.ID{"org-a"}, Since: t0.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(tel.Sources) != 1 || tel.Sources[0].Events != 2 || tel.Sources[0].Channel != "Security" || tel.Hosts["org-a"] != 2 || tel.Hosts["org-b"] != 0 {
		t.Errorf("telemetry of org-a = %+v", tel)
	}
	if !tel.Sources[0].LastSeen.After(tel.Sources[0].FirstSeen) {
		t.Errorf("first/last = %v/%v", tel.Sources[0].FirstSeen, tel.Sources[0].LastSeen)
	}
}
