package local

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/store/storetest"
	"github.com/mamori-soc/mamori/internal/tenant"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), Config{Dir: t.TempDir()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestReadOnlyWhenDiskFull(t *testing.T) {
	s, err := Open(context.Background(), Config{Dir: t.TempDir(), MinFreeDisk: 1 << 62}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.AppendEvents(context.Background(), []store.Event{{ID: "x", Tenant: "a"}}); err != store.ErrReadOnly {
		t.Errorf("AppendEvents with no free disk: %v, want ErrReadOnly", err)
	}
}

// TestMigrateOldDatabase: a database written before triage and event
// counts opens with its alerts untriaged (updated = first_seen) and its
// stored events counted.
func TestMigrateOldDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "mamori.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, tenant TEXT NOT NULL, ts INTEGER NOT NULL, received INTEGER NOT NULL,
			source TEXT NOT NULL, host TEXT NOT NULL, channel TEXT NOT NULL, event_id TEXT NOT NULL, fields TEXT NOT NULL, raw BLOB)`,
		`CREATE UNIQUE INDEX events_id ON events(id)`,
		`CREATE TABLE alerts (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, sector TEXT NOT NULL, rule_id TEXT NOT NULL, rule_title TEXT NOT NULL,
			rule_author TEXT NOT NULL, level TEXT NOT NULL, techniques TEXT NOT NULL, tactics TEXT NOT NULL, host TEXT NOT NULL, user TEXT NOT NULL,
			src_ip TEXT NOT NULL, count INTEGER NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, status TEXT NOT NULL,
			correlation INTEGER NOT NULL, event_seq INTEGER NOT NULL, event TEXT NOT NULL)`,
		`INSERT INTO events VALUES (1, 'e1', 'org-a', 1000, 3600000, 'test', '', '', '', '{}', NULL), (2, 'e2', 'org-a', 1000, 3600500, 'test', '', '', '', '{}', NULL)`,
		`INSERT INTO alerts VALUES ('a1', 'org-a', 'finance', 'r', 'R', 'me', 'high', '[]', '[]', 'h', 'u', '', 1, 5000, 6000, 'acknowledged', 0, 1, '{}')`,
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	old.Close()
	s, err := Open(ctx, Config{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, err := s.Alert(ctx, []tenant.ID{"org-a"}, "a1")
	if err != nil || a.Status != "acknowledged" || a.Assignee != "" || a.Updated.UnixMilli() != 5000 {
		t.Fatalf("migrated alert: %+v, %v", a, err)
	}
	st, err := s.OrgStats(ctx, store.OrgStatsQuery{Tenants: []tenant.ID{"org-a"}, Now: time.UnixMilli(3600000 + 10*60000)})
	if err != nil || len(st) != 1 || st[0].Events24h != 2 || st[0].LastEvent.UnixMilli() != 3600500 {
		t.Errorf("migrated event counts: %+v, %v", st, err)
	}
	// Opening again changes nothing.
	s.Close()
	if s, err = Open(ctx, Config{Dir: dir}, nil); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st, _ := s.OrgStats(ctx, store.OrgStatsQuery{Tenants: []tenant.ID{"org-a"}, Now: time.UnixMilli(3600000)}); st[0].Events24h != 2 {
		t.Errorf("second open counted again: %+v", st)
	}
}

// rawOnly stores every event as raw-only: the fields travel inside the raw
// record (after a NUL) and come back through Config.Decode, so the whole
// conformance suite exercises derived fields, in reads and in searches.
type rawOnly struct {
	store.Store
}

func (r rawOnly) AppendEvents(ctx context.Context, evs []store.Event) (int, error) {
	for i := range evs {
		evs[i].Raw = append(append(append([]byte{}, evs[i].Raw...), 0), appendFieldsJSON(nil, evs[i].Fields)...)
	}
	n, err := r.Store.AppendEvents(ctx, evs)
	for i := range evs {
		evs[i].Raw = stripFields(evs[i].Raw)
	}
	return n, err
}

func stripFields(raw []byte) []byte {
	if i := bytes.IndexByte(raw, 0); i >= 0 {
		return raw[:i]
	}
	return raw
}

func (r rawOnly) EventsAfter(ctx context.Context, seq int64, limit int) ([]store.Event, error) {
	evs, err := r.Store.EventsAfter(ctx, seq, limit)
	for i := range evs {
		evs[i].Raw = stripFields(evs[i].Raw)
	}
	return evs, err
}

func (r rawOnly) SearchEvents(ctx context.Context, q store.EventQuery) (*store.EventPage, error) {
	p, err := r.Store.SearchEvents(ctx, q)
	if p != nil {
		for i := range p.Events {
			p.Events[i].Raw = stripFields(p.Events[i].Raw)
		}
	}
	return p, err
}

func TestConformanceRawOnly(t *testing.T) {
	decode := func(source string, raw []byte) ([]store.Field, error) {
		i := bytes.IndexByte(raw, 0)
		if i < 0 {
			return nil, errors.New("no fields in raw")
		}
		return parseFieldsJSON(string(raw[i+1:]))
	}
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), Config{Dir: t.TempDir(), Decode: decode}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		// Prove the fields column really is empty: searches must go through mamori_fields.
		t.Cleanup(func() {
			var n int
			s.rdb.QueryRow(`SELECT COUNT(*) FROM events WHERE fields != ''`).Scan(&n)
			if n != 0 {
				t.Errorf("%d events stored their fields although Decode is set", n)
			}
		})
		return rawOnly{s}
	})
}

// TestRetentionCut: the binary search finds the last event received before
// the cut whatever the number of events and gaps in seq.
func TestRetentionCut(t *testing.T) {
	s, err := Open(context.Background(), Config{Dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []store.Event
	for i := 0; i < 1000; i++ {
		evs = append(evs, store.Event{ID: fmt.Sprint(i), Tenant: "a", Time: t0, Received: t0.Add(time.Duration(i) * time.Second), Source: "test"})
	}
	if _, err := s.AppendEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	// Punch a hole in seq, as an earlier retention would.
	s.db.Exec(`DELETE FROM events WHERE seq BETWEEN 100 AND 300`)
	for _, tc := range []struct {
		before time.Duration
		want   int64
	}{{0, 0}, {50 * time.Second, 50}, {150 * time.Second, 99}, {301 * time.Second, 301}, {999 * time.Second, 999}, {5000 * time.Second, 1000}} {
		got, err := s.receivedCut(context.Background(), t0.Add(tc.before).UnixMilli())
		if err != nil || got != tc.want {
			t.Errorf("cut before +%v = %d, %v; want %d", tc.before, got, err, tc.want)
		}
	}
	n, err := s.DeleteBefore(context.Background(), t0.Add(500*time.Second))
	if err != nil || n != 299 { // seqs 1-99 and 301-500
		t.Errorf("DeleteBefore removed %d rows (%v), want 299", n, err)
	}
	// Even when everything is old, the newest event stays, so that seq never goes back.
	s.DeleteBefore(context.Background(), t0.Add(time.Hour))
	var left, maxSeq int64
	s.db.QueryRow(`SELECT COUNT(*), MAX(seq) FROM events`).Scan(&left, &maxSeq)
	if left != 1 || maxSeq != 1000 {
		t.Errorf("after retention of everything: %d events, max seq %d; want the newest (1000) kept", left, maxSeq)
	}
	more := []store.Event{{ID: "next", Tenant: "a", Time: t0, Received: t0, Source: "test"}}
	s.AppendEvents(context.Background(), more)
	if more[0].Seq != 1001 {
		t.Errorf("next event got seq %d, want 1001", more[0].Seq)
	}
}
