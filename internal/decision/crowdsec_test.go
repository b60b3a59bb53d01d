package decision

// These tests speak to Mamori with CrowdSec's own bouncer library
// (github.com/crowdsecurity/go-cs-bouncer), the one the firewall, nginx and
// custom bouncers are built on: if it understands us, they do.

import (
	"context"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	csbouncer "github.com/crowdsecurity/go-cs-bouncer"

	"github.com/mamori-soc/mamori/internal/tenant"
)

// waitFor polls cond until it holds or 15 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// seen is what one StreamBouncer was told.
type seen struct {
	mu      sync.Mutex
	pulls   int
	held    map[string]string // value → scope, as a bouncer applies new and deleted
	ever    map[string]bool   // every value ever received as new
	deleted map[string]bool   // every value ever received as deleted
	bad     []string          // malformed decisions
	closed  bool
}

func (s *seen) holds(v ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range v {
		if _, ok := s.held[x]; !ok {
			return false
		}
	}
	return true
}

func (s *seen) heldValues() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.held))
}

// runStream starts a CrowdSec StreamBouncer against url and records what
// it receives. It stops when the test ends.
func runStream(t *testing.T, url, key string, scopes []string) *seen {
	t.Helper()
	b := &csbouncer.StreamBouncer{APIKey: key, APIUrl: url, TickerInterval: "100ms", Scopes: scopes, UserAgent: "mamori-test/1.0"}
	if err := b.Init(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone, consumed := make(chan struct{}), make(chan struct{})
	go func() {
		b.Run(ctx)
		close(runDone)
	}()
	st := &seen{held: map[string]string{}, ever: map[string]bool{}, deleted: map[string]bool{}}
	go func() {
		defer close(consumed)
		for {
			select {
			case <-runDone: // Run returned (gave up, or was cancelled); it may not close Stream.
				st.mu.Lock()
				st.closed = true
				st.mu.Unlock()
				return
			case resp, ok := <-b.Stream:
				st.mu.Lock()
				if !ok {
					st.closed = true
					st.mu.Unlock()
					return
				}
				st.pulls++
				for _, d := range resp.Deleted {
					delete(st.held, *d.Value)
					st.deleted[*d.Value] = true
				}
				for _, d := range resp.New {
					dur, err := time.ParseDuration(*d.Duration)
					if err != nil || dur <= 0 || d.ID == 0 || d.UUID == "" || *d.Type != Ban || *d.Origin != OriginAnalyst ||
						!strings.HasPrefix(*d.Scenario, "mamori: ") || d.Simulated == nil || *d.Simulated {
						st.bad = append(st.bad, *d.Value)
					}
					st.held[*d.Value] = *d.Scope
					st.ever[*d.Value] = true
				}
				st.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-consumed
	})
	return st
}

func TestCrowdSecStreamBouncer(t *testing.T) {
	ctx := context.Background()
	s := open(t, Options{})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	now := time.Now()
	mustCreate(t, s, mk(now, "192.0.2.1", Target{Org: "power-a"}, time.Hour))
	energy := mustCreate(t, s, mk(now, "198.51.100.0/24", Target{Sector: tenant.EnergyPower}, time.Hour))
	mustCreate(t, s, mk(now, "203.0.113.3", Target{National: true}, time.Hour))
	mustCreate(t, s, mk(now, "192.0.2.99", Target{Org: "bank-a"}, time.Hour))
	mustCreate(t, s, mk(now, "evil.example", Target{National: true}, time.Hour))
	dry := mk(now, "203.0.113.66", Target{National: true}, time.Hour)
	dry.DryRun = true
	mustCreate(t, s, dry)

	powerA := runStream(t, srv.URL, mustBouncer(t, s, "fw-power-a", "power-a"), nil)
	powerB := runStream(t, srv.URL, mustBouncer(t, s, "fw-power-b", "power-b"), nil)
	bankA := runStream(t, srv.URL, mustBouncer(t, s, "fw-bank-a", "bank-a"), nil)
	dns := runStream(t, srv.URL, mustBouncer(t, s, "dns-power-a", "power-a"), []string{"ip", "range", "domain"})

	// Startup: the active decisions covering each organisation, nothing else.
	for _, c := range []struct {
		name string
		st   *seen
		want string
	}{
		{"power-a", powerA, "192.0.2.1 198.51.100.0/24 203.0.113.3"},
		{"power-b", powerB, "198.51.100.0/24 203.0.113.3"},
		{"bank-a", bankA, "192.0.2.99 203.0.113.3"},
		{"power-a asking for domains", dns, "192.0.2.1 198.51.100.0/24 203.0.113.3 evil.example"},
	} {
		waitFor(t, c.name+"'s startup stream", func() bool { c.st.mu.Lock(); defer c.st.mu.Unlock(); return c.st.pulls > 0 })
		if got := joined(c.st.heldValues()); got != c.want {
			t.Errorf("%s's bouncer started with [%s], want [%s]", c.name, got, c.want)
		}
	}
	powerA.mu.Lock()
	if powerA.held["192.0.2.1"] != "Ip" || powerA.held["198.51.100.0/24"] != "Range" || dns.held["evil.example"] != "Domain" {
		t.Errorf("scopes %v %v, want Ip, Range and Domain as CrowdSec writes them", powerA.held, dns.held)
	}
	powerA.mu.Unlock()

	// A sector-wide ban reaches the sector only, an organisation ban the
	// organisation only; the national one, created last, shows that every
	// bouncer pulled after all three.
	mustCreate(t, s, mk(time.Now(), "192.0.2.150", Target{Sector: tenant.Finance}, time.Hour))
	mustCreate(t, s, mk(time.Now(), "192.0.2.160", Target{Org: "power-a"}, time.Hour))
	mustCreate(t, s, mk(time.Now(), "203.0.113.200", Target{National: true}, time.Hour))
	waitFor(t, "power-a to receive its ban and the national one", func() bool { return powerA.holds("192.0.2.160", "203.0.113.200") })
	waitFor(t, "bank-a to receive the finance ban and the national one", func() bool { return bankA.holds("192.0.2.150", "203.0.113.200") })
	waitFor(t, "power-b to receive the national ban", func() bool { return powerB.holds("203.0.113.200") })
	for name, st := range map[string]*seen{"power-a": powerA, "power-b": powerB, "bank-a": bankA} {
		st.mu.Lock()
		for v, wantSeen := range map[string]bool{
			"192.0.2.150":  name == "bank-a",
			"192.0.2.160":  name == "power-a",
			"192.0.2.99":   name == "bank-a",
			"203.0.113.66": false, // dry run
			"evil.example": false, // not asked for
		} {
			if st.ever[v] != wantSeen {
				t.Errorf("%s's bouncer received %s: %v, want %v", name, v, st.ever[v], wantSeen)
			}
		}
		if len(st.bad) > 0 {
			t.Errorf("%s's bouncer received malformed decisions for %v", name, st.bad)
		}
		st.mu.Unlock()
	}

	// A revocation arrives in deleted, in the sector only.
	if err := s.Revoke(ctx, energy.ID, "ana"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, mk(time.Now(), "203.0.113.201", Target{National: true}, time.Hour))
	for name, st := range map[string]*seen{"power-a": powerA, "power-b": powerB} {
		waitFor(t, name+" to drop the revoked sector ban", func() bool {
			st.mu.Lock()
			defer st.mu.Unlock()
			_, held := st.held["198.51.100.0/24"]
			return st.deleted["198.51.100.0/24"] && !held
		})
	}
	waitFor(t, "bank-a to pull after the revocation", func() bool { return bankA.holds("203.0.113.201") })
	bankA.mu.Lock()
	if bankA.deleted["198.51.100.0/24"] {
		t.Error("bank-a was told to delete a ban it never had")
	}
	bankA.mu.Unlock()
	if got, want := joined(powerA.heldValues()), "192.0.2.1 192.0.2.160 203.0.113.200 203.0.113.201 203.0.113.3"; got != want {
		t.Errorf("power-a's bouncer holds [%s], want [%s]", got, want)
	}
}

func TestCrowdSecLiveBouncer(t *testing.T) {
	s := open(t, Options{})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	now := time.Now()
	mustCreate(t, s, mk(now, "192.0.2.1", Target{Org: "power-a"}, time.Hour))
	mustCreate(t, s, mk(now, "198.51.100.0/24", Target{Sector: tenant.EnergyPower}, time.Hour))
	mustCreate(t, s, mk(now, "192.0.2.99", Target{Org: "bank-a"}, time.Hour))
	dry := mk(now, "203.0.113.66", Target{National: true}, time.Hour)
	dry.DryRun = true
	mustCreate(t, s, dry)

	b := &csbouncer.LiveBouncer{APIKey: mustBouncer(t, s, "nginx-power-a", "power-a"), APIUrl: srv.URL, UserAgent: "mamori-test/1.0"}
	if err := b.Init(); err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]string{
		"192.0.2.1":     "192.0.2.1",
		"198.51.100.77": "198.51.100.0/24",
		"192.0.2.99":    "", // bank-a's
		"203.0.113.66":  "", // dry run
		"192.0.2.2":     "",
	} {
		resp, err := b.Get(ip)
		if err != nil {
			t.Fatalf("Get(%s): %v", ip, err)
		}
		var got []string
		for _, d := range *resp {
			got = append(got, *d.Value)
			if *d.Type != Ban || !strings.HasPrefix(*d.Scenario, "mamori: ") {
				t.Errorf("Get(%s) = %+v", ip, d)
			}
		}
		if joined(got) != want {
			t.Errorf("Get(%s) = [%s], want [%s]", ip, joined(got), want)
		}
	}

	wrong := &csbouncer.LiveBouncer{APIKey: "mmb_aaaaaaaaaaaaaaaa_wrong", APIUrl: srv.URL}
	if err := wrong.Init(); err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.Get("192.0.2.1"); err == nil || !strings.Contains(err.Error(), "access forbidden") {
		t.Errorf("Get with a wrong key: %v, want CrowdSec's access forbidden", err)
	}
}

func TestCrowdSecStreamBouncerWrongKey(t *testing.T) {
	s := open(t, Options{})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	st := runStream(t, srv.URL, "not-a-key", nil)
	waitFor(t, "the bouncer to give up", func() bool { st.mu.Lock(); defer st.mu.Unlock(); return st.closed })
	if st.pulls != 0 {
		t.Errorf("a bouncer with a wrong key received %d answers", st.pulls)
	}
}
