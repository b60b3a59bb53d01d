package decision

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/mamori-soc/mamori/internal/tenant"
)

// openDB opens a database as the platform's store does: WAL, immediate
// transactions and one connection, so that a query made on the pool while
// a transaction holds it would deadlock the test.
func openDB(t testing.TB) *sql.DB {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "mamori.db") +
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// sectors is a settable organisation → sector map for Options.SectorOf.
type sectors struct {
	mu sync.Mutex
	m  map[tenant.ID]tenant.Sector
}

func newSectors() *sectors {
	return &sectors{m: map[tenant.ID]tenant.Sector{
		"power-a": tenant.EnergyPower,
		"power-b": tenant.EnergyPower,
		"bank-a":  tenant.Finance,
	}}
}

func (s *sectors) Of(id tenant.ID) (tenant.Sector, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, ok := s.m[id]
	return sec, ok
}

func (s *sectors) Set(id tenant.ID, sec tenant.Sector) {
	s.mu.Lock()
	s.m[id] = sec
	s.mu.Unlock()
}

// open returns a service on a fresh database. opts.SectorOf defaults to
// newSectors().Of.
func open(t testing.TB, opts Options) *Service {
	t.Helper()
	if opts.SectorOf == nil {
		opts.SectorOf = newSectors().Of
	}
	s, err := Open(context.Background(), openDB(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mk returns a valid analyst ban of value for target, lasting d from now.
func mk(now time.Time, value string, target Target, d time.Duration) Decision {
	return Decision{Type: Ban, Value: value, Target: target, Reason: "test ban of " + value,
		Origin: OriginAnalyst, OriginRef: "ana", Created: now, Until: now.Add(d)}
}

func mustCreate(t testing.TB, s *Service, d Decision) Decision {
	t.Helper()
	got, err := s.Create(context.Background(), d)
	if err != nil {
		t.Fatalf("Create(%s %s): %v", d.Value, d.Target, err)
	}
	return got
}

func mustBouncer(t testing.TB, s *Service, name string, org tenant.ID) string {
	t.Helper()
	key, err := s.CreateBouncer(context.Background(), name, org)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// call sends one request to h as a bouncer at remote would.
func call(t testing.TB, h http.Handler, method, target, key, remote string) (int, string) {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	if key != "" {
		r.Header.Set("X-Api-Key", key)
	}
	r.Header.Set("User-Agent", "test-bouncer/v1.0")
	if remote != "" {
		r.RemoteAddr = remote
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	body, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(body)
}

// stream is a decoded /v1/decisions/stream answer.
type stream struct {
	New     []lapiDecision `json:"new"`
	Deleted []lapiDecision `json:"deleted"`
}

func (s stream) newValues() []string     { return values(s.New) }
func (s stream) deletedValues() []string { return values(s.Deleted) }

func values(ds []lapiDecision) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Value)
	}
	return out
}

func pull(t testing.TB, h http.Handler, key, remote string, startup bool, extra string) stream {
	t.Helper()
	target := "/v1/decisions/stream"
	if startup {
		target += "?startup=true"
		if extra != "" {
			target += "&" + extra
		}
	} else if extra != "" {
		target += "?" + extra
	}
	code, body := call(t, h, http.MethodGet, target, key, remote)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", target, code, body)
	}
	var st stream
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("GET %s: %v in %s", target, err, body)
	}
	return st
}

func joined(v []string) string { return strings.Join(v, " ") }
