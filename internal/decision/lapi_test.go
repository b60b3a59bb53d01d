package decision

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/tenant"
)

func TestBouncerKeys(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := open(t, Options{Now: clk.Now})
	h := s.Handler()
	key := mustBouncer(t, s, "fw-power-a", "power-a")
	if _, err := s.CreateBouncer(ctx, "fw-power-a", "power-b"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a second bouncer of the same name: %v", err)
	}
	if _, err := s.CreateBouncer(ctx, "x", "Not An Org"); err == nil {
		t.Error("CreateBouncer accepted a bad organisation id")
	}
	var stored []byte
	if err := s.db.QueryRow(`SELECT hash FROM decision_bouncers WHERE name = 'fw-power-a'`).Scan(&stored); err != nil || len(stored) != 32 || strings.Contains(key, string(stored)) {
		t.Errorf("stored %x (%v): only the key's sha256 may be stored", stored, err)
	}

	for _, tc := range []struct {
		method, path, key string
		code              int
		body              string
	}{
		{"GET", "/v1/decisions/stream?startup=true", "", 401, `{"message":"missing api key`},
		{"GET", "/v1/decisions", "", 401, `{"message":"missing api key`},
		{"GET", "/v1/decisions/stream?startup=true", "wrong", 403, `{"message":"access forbidden"}`},
		{"GET", "/v1/decisions", key + "x", 403, `{"message":"access forbidden"}`},
		{"GET", "/v1/decisions", key[:len(key)-1] + "A", 403, `{"message":"access forbidden"}`},
		{"HEAD", "/v1/decisions", "wrong", 403, ""},
		{"HEAD", "/v1/decisions", key, 200, ""},
		{"HEAD", "/v1/decisions/stream", key, 200, ""},
		{"GET", "/v1/decisions", key, 200, "null"},
		{"GET", "/v1/decisions/stream", key, 200, `{"new":null,"deleted":null}`},
		{"POST", "/v1/usage-metrics", key, 201, ""},
		{"DELETE", "/v1/decisions", key, 405, ""},
		{"GET", "/v1/decisions?ip=300.1.1.1", key, 400, `{"message":"unable to parse ip`},
		{"GET", "/v1/decisions?ip=192.0.2.1&contains=perhaps", key, 400, `{"message":"invalid contains value`},
	} {
		code, body := call(t, h, tc.method, tc.path, tc.key, "192.0.2.10:5555")
		if code != tc.code || !strings.HasPrefix(body, tc.body) {
			t.Errorf("%s %s with key %.8q = %d %s, want %d %s", tc.method, tc.path, tc.key, code, body, tc.code, tc.body)
		}
		if tc.code >= 400 && tc.code != 405 && tc.method == "GET" && !json.Valid([]byte(body)) {
			t.Errorf("%s %s: error body %q is not JSON", tc.method, tc.path, body)
		}
	}

	bs, err := s.Bouncers(ctx)
	if err != nil || len(bs) != 1 {
		t.Fatalf("Bouncers = %v, %v", bs, err)
	}
	if b := bs[0]; b.Name != "fw-power-a" || b.Org != "power-a" || b.LastIP != "192.0.2.10" || b.LastUserAgent != "test-bouncer/v1.0" || !b.LastPull.Equal(clk.Now()) {
		t.Errorf("bouncer = %+v, want its last pull from 192.0.2.10", b)
	}
	if err := s.DeleteBouncer(ctx, "fw-power-a"); err != nil {
		t.Fatal(err)
	}
	if code, _ := call(t, h, "GET", "/v1/decisions/stream", key, ""); code != 403 {
		t.Errorf("a deleted bouncer's key answered %d, want 403", code)
	}
	if err := s.DeleteBouncer(ctx, "fw-power-a"); err == nil {
		t.Error("deleting twice must fail")
	}
}

func TestStreamFormat(t *testing.T) {
	clk := newClock()
	s := open(t, Options{Now: clk.Now})
	h := s.Handler()
	d := mk(clk.Now(), "2001:db8::7", Target{Org: "power-a"}, 4*time.Hour)
	d.Reason = "scanning the SCADA gateway"
	d = mustCreate(t, s, d)
	key := mustBouncer(t, s, "fw", "power-a")
	clk.Advance(48*time.Second + 300*time.Millisecond)

	code, body := call(t, h, "GET", "/v1/decisions/stream?startup=true", key, "")
	if code != 200 {
		t.Fatal(code, body)
	}
	var raw map[string][]map[string]any
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw["new"]) != 1 || raw["deleted"] != nil || !strings.Contains(body, `"deleted":null`) {
		t.Fatalf("startup stream = %s", body)
	}
	got := raw["new"][0]
	want := map[string]any{
		"id": float64(d.ID), "uuid": d.UUID, "origin": "analyst", "type": "ban", "scope": "Ip", "value": "2001:db8::7",
		"duration": "3h59m12s", "scenario": "mamori: scanning the SCADA gateway", "simulated": false,
	}
	if !maps.Equal(got, want) {
		t.Errorf("decision = %v\nwant       %v", got, want)
	}
	// CrowdSec's field order, as its models.Decision marshals it.
	if !strings.Contains(body, `{"duration":"3h59m12s","id":1,"origin":"analyst","scenario":"mamori: scanning the SCADA gateway","scope":"Ip","simulated":false,"type":"ban","uuid":"`) {
		t.Errorf("field order differs from CrowdSec's: %s", body)
	}
	code, body = call(t, h, "GET", "/v1/decisions?ip=2001:db8::7", key, "")
	if code != 200 || !strings.HasPrefix(body, `[{"duration":"3h59m12s","id":1,`) {
		t.Errorf("live query = %d %s", code, body)
	}
}

// TestStreamCursor follows one bouncer through the life of decisions.
func TestStreamCursor(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	secs := newSectors()
	s := open(t, Options{Now: clk.Now, SectorOf: secs.Of})
	h := s.Handler()
	now := clk.Now()
	org := mustCreate(t, s, mk(now, "192.0.2.1", Target{Org: "power-a"}, time.Hour))
	mustCreate(t, s, mk(now, "198.51.100.0/24", Target{Sector: tenant.EnergyPower}, 2*time.Hour))
	national := mustCreate(t, s, mk(now, "203.0.113.3", Target{National: true}, 3*time.Hour))
	mustCreate(t, s, mk(now, "192.0.2.99", Target{Org: "bank-a"}, time.Hour))
	mustCreate(t, s, mk(now, "192.0.2.98", Target{Sector: tenant.Finance}, time.Hour))
	domain := mustCreate(t, s, mk(now, "evil.example", Target{National: true}, time.Hour))
	key := mustBouncer(t, s, "fw", "power-a")
	const fw = "192.0.2.200:4000"

	expect := func(st stream, wantNew, wantDeleted string) {
		t.Helper()
		if joined(st.newValues()) != wantNew || joined(st.deletedValues()) != wantDeleted {
			t.Errorf("stream new [%s] deleted [%s], want new [%s] deleted [%s]", joined(st.newValues()), joined(st.deletedValues()), wantNew, wantDeleted)
		}
	}
	expect(pull(t, h, key, fw, true, ""), "192.0.2.1 198.51.100.0/24 203.0.113.3", "")
	expect(pull(t, h, key, fw, false, ""), "", "")

	// Another machine with the same key has its own cursor: its first pull
	// is a full one, and it does not consume the first machine's changes.
	late := mustCreate(t, s, mk(now, "192.0.2.2", Target{Org: "power-a"}, time.Hour))
	expect(pull(t, h, key, "192.0.2.201:4000", false, ""), "192.0.2.1 198.51.100.0/24 203.0.113.3 192.0.2.2", "")
	expect(pull(t, h, key, fw, false, ""), "192.0.2.2", "")
	expect(pull(t, h, key, fw, false, ""), "", "")

	// Revocation, extension, a decision for another organisation.
	if err := s.Revoke(ctx, late.ID, "ana"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, mk(now, "192.0.2.1", Target{Org: "power-a"}, 5*time.Hour))
	mustCreate(t, s, mk(now, "192.0.2.97", Target{Org: "power-b"}, time.Hour))
	st := pull(t, h, key, fw, false, "")
	expect(st, "192.0.2.1", "192.0.2.2")
	if st.New[0].ID != org.ID || st.New[0].Duration != "5h0m0s" {
		t.Errorf("extended decision = %+v, want decision %d with 5h left", st.New[0], org.ID)
	}
	if d, err := time.ParseDuration(st.Deleted[0].Duration); err != nil || d > 0 {
		t.Errorf("a revoked decision's duration = %q, want zero or negative", st.Deleted[0].Duration)
	}

	// Created and revoked between two pulls: the bouncer never had it.
	brief := mustCreate(t, s, mk(now, "192.0.2.3", Target{Org: "power-a"}, time.Hour))
	if err := s.Revoke(ctx, brief.ID, "ana"); err != nil {
		t.Fatal(err)
	}
	expect(pull(t, h, key, fw, false, ""), "", "")

	// A value held by two decisions stays blocked until both end.
	both := mustCreate(t, s, mk(now, "203.0.113.3", Target{Org: "power-a"}, 10*time.Hour))
	expect(pull(t, h, key, fw, false, ""), "203.0.113.3", "")
	if err := s.Revoke(ctx, both.ID, "ana"); err != nil {
		t.Fatal(err)
	}
	st = pull(t, h, key, fw, false, "")
	expect(st, "203.0.113.3", "") // the national one again, with its own time left
	if st.New[0].ID != national.ID {
		t.Errorf("re-sent %+v, want the national decision", st.New[0])
	}
	if err := s.Revoke(ctx, national.ID, "ana"); err != nil {
		t.Fatal(err)
	}
	expect(pull(t, h, key, fw, false, ""), "", "203.0.113.3")

	// Expiry reaches the bouncer as a deletion, and is audited once.
	clk.Advance(2*time.Hour + time.Second)
	expect(pull(t, h, key, fw, false, ""), "", "198.51.100.0/24")
	expect(pull(t, h, key, fw, false, ""), "", "")
	audit, _ := s.Audit(ctx, domain.ID)
	if len(audit) != 2 || audit[1].Action != "expired" {
		t.Errorf("a pull must record expiries: %+v", audit)
	}

	// Scopes: domains only when asked for; filters on origin and scenario.
	now = clk.Now()
	mustCreate(t, s, mk(now, "phish.example", Target{Org: "power-a"}, time.Hour))
	expect(pull(t, h, key, fw, true, ""), "192.0.2.1", "")
	expect(pull(t, h, key, fw, true, "scopes=ip,range,domain"), "192.0.2.1 phish.example", "")
	expect(pull(t, h, key, fw, true, "scopes=Domain"), "phish.example", "")
	expect(pull(t, h, key, fw, true, "origins=feed,rule"), "", "")
	expect(pull(t, h, key, fw, true, "origins=analyst&scenarios_containing=NOTHING,of+192.0.2.1"), "192.0.2.1", "")
	expect(pull(t, h, key, fw, true, "scenarios_not_containing=mamori"), "", "")

	// The organisation moves to another sector: a full list, and the former
	// sector's decisions as deleted.
	mustCreate(t, s, mk(now, "198.51.100.128/25", Target{Sector: tenant.EnergyPower}, time.Hour))
	expect(pull(t, h, key, fw, false, ""), "198.51.100.128/25", "")
	secs.Set("power-a", tenant.Finance)
	expect(pull(t, h, key, fw, false, ""), "192.0.2.1", "198.51.100.128/25")
	mustCreate(t, s, mk(now, "192.0.2.96", Target{Sector: tenant.Finance}, time.Hour))
	expect(pull(t, h, key, fw, false, ""), "192.0.2.96", "")

	// A national enforcement point receives national decisions only.
	natKey := mustBouncer(t, s, "national-gw", "")
	mustCreate(t, s, mk(now, "203.0.113.50", Target{National: true}, time.Hour))
	expect(pull(t, h, natKey, "", true, ""), "203.0.113.50", "")
}

func TestLiveQuery(t *testing.T) {
	clk := newClock()
	s := open(t, Options{Now: clk.Now})
	h := s.Handler()
	now := clk.Now()
	mustCreate(t, s, mk(now, "192.0.2.1", Target{Org: "power-a"}, time.Hour))
	mustCreate(t, s, mk(now, "198.51.100.0/24", Target{Sector: tenant.EnergyPower}, time.Hour))
	c := mk(now, "198.51.100.7", Target{National: true}, time.Hour)
	c.Type = Captcha
	mustCreate(t, s, c)
	mustCreate(t, s, mk(now, "2001:db8::/32", Target{National: true}, time.Hour))
	mustCreate(t, s, mk(now, "192.0.2.99", Target{Org: "bank-a"}, time.Hour))
	mustCreate(t, s, mk(now, "evil.example", Target{National: true}, time.Hour))
	key := mustBouncer(t, s, "nginx", "power-a")

	f := func(query, want string) {
		t.Helper()
		code, body := call(t, h, "GET", "/v1/decisions?"+query, key, "")
		if code != 200 {
			t.Fatalf("GET /v1/decisions?%s = %d %s", query, code, body)
		}
		if want == "null" {
			if body != "null\n" {
				t.Errorf("GET /v1/decisions?%s = %s, want null", query, body)
			}
			return
		}
		var ds []lapiDecision
		if err := json.Unmarshal([]byte(body), &ds); err != nil {
			t.Fatal(err)
		}
		if got := joined(values(ds)); got != want {
			t.Errorf("GET /v1/decisions?%s = [%s], want [%s]", query, got, want)
		}
	}
	f("ip=192.0.2.1", "192.0.2.1")
	f("ip=192.0.2.99", "null") // bank-a's, not ours
	f("ip=198.51.100.7", "198.51.100.0/24 198.51.100.7")
	f("ip=198.51.100.7&type=captcha", "198.51.100.7")
	f("ip=198.51.100.8", "198.51.100.0/24")
	f("ip=::ffff:198.51.100.8", "198.51.100.0/24")
	f("ip=2001:db8:1::5", "2001:db8::/32")
	f("ip=192.0.3.1", "null")
	f("range=198.51.100.0/25", "198.51.100.0/24")
	f("range=198.51.100.0/24&contains=false", "198.51.100.0/24 198.51.100.7")
	f("range=198.0.0.0/8&contains=false", "198.51.100.0/24 198.51.100.7")
	f("scope=range", "198.51.100.0/24 2001:db8::/32")
	f("scope=ip&value=192.0.2.1", "192.0.2.1")
	f("value=EVIL.example", "evil.example")
	f("scope=domain", "evil.example")
	f("", "192.0.2.1 198.51.100.0/24 198.51.100.7 2001:db8::/32 evil.example")
	clk.Advance(2 * time.Hour)
	f("ip=192.0.2.1", "null")
}

// TestConcurrentPulls has two bouncers of different sectors pull while
// decisions are created and revoked; each must end up holding exactly the
// active decisions that cover its organisation. Run with -race.
func TestConcurrentPulls(t *testing.T) {
	ctx := context.Background()
	s := open(t, Options{})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	orgs := []tenant.ID{"power-a", "bank-a"}
	keys := map[tenant.ID]string{}
	for _, o := range orgs {
		keys[o] = mustBouncer(t, s, "fw-"+string(o), o)
	}
	targets := []Target{{Org: "power-a"}, {Org: "bank-a"}, {Org: "power-b"}, {Sector: tenant.EnergyPower}, {Sector: tenant.Finance}, {National: true}}

	type held map[string]bool
	get := func(key, query string) (stream, error) {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/decisions/stream"+query, nil)
		req.Header.Set("X-Api-Key", key)
		resp, err := srv.Client().Do(req)
		if err != nil {
			return stream{}, err
		}
		defer resp.Body.Close()
		var st stream
		if resp.StatusCode != 200 {
			return st, fmt.Errorf("status %s", resp.Status)
		}
		return st, json.NewDecoder(resp.Body).Decode(&st)
	}
	apply := func(h held, st stream) {
		for _, d := range st.Deleted {
			delete(h, d.Value)
		}
		for _, d := range st.New {
			h[d.Value] = true
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var pulls atomic.Int64
	state := map[tenant.ID]held{}
	errs := make(chan error, 4)
	for _, o := range orgs {
		h := held{}
		state[o] = h
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := get(keys[o], "?startup=true")
			if err != nil {
				errs <- err
				return
			}
			apply(h, st)
			for {
				select {
				case <-stop:
					return
				default:
				}
				st, err := get(keys[o], "")
				if err != nil {
					errs <- err
					return
				}
				apply(h, st)
				pulls.Add(1)
			}
		}()
	}
	var made []Decision
	// At least 150 changes, and more until the bouncers have pulled often
	// enough in between (a loaded machine schedules them late).
	for i := 0; i < 150 || pulls.Load() < 20 && i < 20000; i++ {
		now := time.Now()
		if i%3 == 2 && len(made) > 0 {
			d := made[(i*7)%len(made)]
			if err := s.Revoke(ctx, d.ID, "ana"); err != nil && !strings.Contains(err.Error(), "revoked") {
				t.Fatal(err)
			}
			continue
		}
		d := mk(now, fmt.Sprintf("192.0.2.%d", i%40+1), targets[i%len(targets)], time.Hour)
		made = append(made, mustCreate(t, s, d))
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := pulls.Load(); n < 20 {
		t.Errorf("the bouncers pulled %d times while decisions changed; the test needs more overlap", n)
	}
	for _, o := range orgs {
		st, err := get(keys[o], "")
		if err != nil {
			t.Fatal(err)
		}
		apply(state[o], st)
		active, _, err := s.List(ctx, Query{Orgs: []tenant.ID{o}, Active: true, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		want := held{}
		for _, d := range active {
			want[d.Value] = true
		}
		if !maps.Equal(state[o], want) {
			t.Errorf("bouncer of %s holds %v\nwant %v", o, slices.Sorted(maps.Keys(state[o])), slices.Sorted(maps.Keys(want)))
		}
		if len(want) == 0 {
			t.Errorf("%s: no decision left to compare", o)
		}
	}
}
