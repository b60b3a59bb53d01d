package decision

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/tenant"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestNormalize(t *testing.T) {
	org := Target{Org: "power-a"}
	tests := []struct {
		name      string
		edit      func(d *Decision)
		wantScope string
		wantValue string
		wantErr   string
	}{
		{name: "ipv4", edit: func(d *Decision) { d.Value = " 192.0.2.7 " }, wantScope: "ip", wantValue: "192.0.2.7"},
		{name: "ipv6-canonical", edit: func(d *Decision) { d.Value = "2001:DB8:0:0::1" }, wantScope: "ip", wantValue: "2001:db8::1"},
		{name: "ipv4-mapped", edit: func(d *Decision) { d.Value = "::ffff:192.0.2.7" }, wantScope: "ip", wantValue: "192.0.2.7"},
		{name: "range-masked", edit: func(d *Decision) { d.Value = "198.51.100.77/24" }, wantScope: "range", wantValue: "198.51.100.0/24"},
		{name: "range-v6", edit: func(d *Decision) { d.Scope, d.Value = "Range", "2001:db8:1:2::/48" }, wantScope: "range", wantValue: "2001:db8:1::/48"},
		{name: "single-address-range", edit: func(d *Decision) { d.Value = "192.0.2.7/32" }, wantScope: "ip", wantValue: "192.0.2.7"},
		{name: "domain", edit: func(d *Decision) { d.Value = "Evil-Site.Example." }, wantScope: "domain", wantValue: "evil-site.example"},
		{name: "explicit-scope", edit: func(d *Decision) { d.Scope, d.Value = "IP", "203.0.113.1" }, wantScope: "ip", wantValue: "203.0.113.1"},
		{name: "sector-target", edit: func(d *Decision) { d.Target = Target{Sector: " Finance "} }, wantScope: "ip", wantValue: "192.0.2.1"},
		{name: "one-minute", edit: func(d *Decision) { d.Created, d.Until = time.Time{}, t0.Add(time.Minute-time.Second) }, wantScope: "ip", wantValue: "192.0.2.1"},

		{name: "bad-ip", edit: func(d *Decision) { d.Value = "192.0.2.400" }, wantErr: `value "192.0.2.400" is not an IP address`},
		{name: "bad-ip-scope", edit: func(d *Decision) { d.Scope, d.Value = "ip", "evil.example" }, wantErr: `value "evil.example" is not an IP address`},
		{name: "bad-cidr", edit: func(d *Decision) { d.Value = "10.0.0.0/33" }, wantErr: `value "10.0.0.0/33" is not a CIDR range`},
		{name: "too-wide", edit: func(d *Decision) { d.Value = "0.0.0.0/0" }, wantErr: "range 0.0.0.0/0 is wider than /8"},
		{name: "too-wide-v6", edit: func(d *Decision) { d.Value = "2000::/3" }, wantErr: "wider than /16"},
		{name: "loopback", edit: func(d *Decision) { d.Value = "127.0.0.1" }, wantErr: "loopback"},
		{name: "unspecified", edit: func(d *Decision) { d.Value = "::" }, wantErr: "unspecified"},
		{name: "tld", edit: func(d *Decision) { d.Value = "com" }, wantErr: "single label"},
		{name: "bad-domain", edit: func(d *Decision) { d.Value = "ev!l.example" }, wantErr: `has the character '!'`},
		{name: "unicode-domain", edit: func(d *Decision) { d.Value = "bücher.example" }, wantErr: "xn--"},
		{name: "empty-value", edit: func(d *Decision) { d.Value = " " }, wantErr: "value is missing"},
		{name: "unknown-scope", edit: func(d *Decision) { d.Scope = "country" }, wantErr: `unknown scope "country"`},
		{name: "no-type", edit: func(d *Decision) { d.Type = "" }, wantErr: "type is missing"},
		{name: "bad-type", edit: func(d *Decision) { d.Type = "block" }, wantErr: `unknown type "block"`},
		{name: "no-reason", edit: func(d *Decision) { d.Reason = "  " }, wantErr: "reason is missing"},
		{name: "bad-origin", edit: func(d *Decision) { d.Origin = "magic" }, wantErr: `unknown origin "magic"`},
		{name: "no-until", edit: func(d *Decision) { d.Until = time.Time{} }, wantErr: "until) is missing"},
		{name: "too-short", edit: func(d *Decision) { d.Until = t0.Add(30 * time.Second) }, wantErr: "duration 30s is shorter than 1m0s"},
		{name: "too-long", edit: func(d *Decision) { d.Until = t0.Add(400 * 24 * time.Hour) }, wantErr: "longer than 365 days"},
		{name: "expired", edit: func(d *Decision) { d.Created, d.Until = t0.Add(-2*time.Hour), t0.Add(-time.Hour) }, wantErr: "already have expired"},
		{name: "future", edit: func(d *Decision) { d.Created, d.Until = t0.Add(time.Hour), t0.Add(2*time.Hour) }, wantErr: "is in the future"},
		{name: "no-target", edit: func(d *Decision) { d.Target = Target{} }, wantErr: "target is missing"},
		{name: "two-targets", edit: func(d *Decision) { d.Target = Target{Org: "power-a", National: true} }, wantErr: "exactly one of"},
		{name: "bad-org", edit: func(d *Decision) { d.Target = Target{Org: "Power A"} }, wantErr: `organisation "Power A" is not a valid`},
		{name: "bad-sector", edit: func(d *Decision) { d.Target = Target{Sector: "banks"} }, wantErr: `unknown sector "banks"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := mk(t0, "192.0.2.1", org, time.Hour)
			tc.edit(&d)
			got, err := Normalize(d, t0)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("Normalize(%q) error = %v, want ErrInvalid with %q", d.Value, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Normalize(%q): %v", d.Value, err)
			}
			if got.Scope != tc.wantScope || got.Value != tc.wantValue {
				t.Errorf("Normalize(%q) = %s %q, want %s %q", d.Value, got.Scope, got.Value, tc.wantScope, tc.wantValue)
			}
			if got.CreatedBy != "ana" {
				t.Errorf("CreatedBy = %q, want the origin reference", got.CreatedBy)
			}
		})
	}
}

func TestAllowlist(t *testing.T) {
	ctx := context.Background()
	s := open(t, Options{Now: newClock().Now, Allowlist: []Allow{
		{Value: "192.0.2.53", Note: "national DNS resolver"},
		{Value: "2001:db8:53::/48", Note: "national DNS resolvers (v6)"},
		{Value: "10.20.0.0/16", Note: "power-a's own range"},
		{Value: "Gov.Example", Note: "government domains"},
		{Value: "ns1.resolver.example"},
	}})
	f := func(value, wantEntry string) {
		t.Helper()
		_, err := s.Create(ctx, mk(t0, value, Target{National: true}, time.Hour))
		if wantEntry == "" {
			if err != nil {
				t.Errorf("Create(%s): %v, want it allowed", value, err)
			}
			return
		}
		var ae *AllowlistError
		if !errors.As(err, &ae) || !errors.Is(err, ErrAllowlisted) || ae.Entry.Value != wantEntry || !strings.Contains(err.Error(), wantEntry) {
			t.Errorf("Create(%s) error = %v, want it refused by allowlist entry %s", value, err, wantEntry)
		}
	}
	f("192.0.2.53", "192.0.2.53")
	f("192.0.2.0/24", "192.0.2.53") // a range that would cover it
	f("2001:db8:53:1::9", "2001:db8:53::/48")
	f("10.20.30.0/24", "10.20.0.0/16") // inside an organisation's range
	f("10.0.0.0/8", "10.20.0.0/16")    // around it
	f("gov.example", "Gov.Example")
	f("mail.gov.example", "Gov.Example")
	f("resolver.example", "ns1.resolver.example") // blocking the parent blocks the resolver
	f("192.0.2.54", "")
	f("10.21.0.0/16", "")
	f("evil.example", "")
	f("notgov.example", "")

	if _, err := s.Create(ctx, mk(t0, "192.0.2.53", Target{National: true}, time.Hour)); err == nil || !strings.Contains(err.Error(), "(national DNS resolver)") {
		t.Errorf("the refusal should quote the entry's note: %v", err)
	}
	if err := s.SetAllowlist([]Allow{{Value: "192.0.2.400"}}); err == nil || !strings.Contains(err.Error(), `entry 1 "192.0.2.400"`) {
		t.Errorf("SetAllowlist(bad) = %v, want an error naming the entry", err)
	}
	if len(s.Allowlist()) != 5 {
		t.Errorf("a refused SetAllowlist must keep the old list, have %v", s.Allowlist())
	}
	if _, err := Open(ctx, openDB(t), Options{Allowlist: []Allow{{Value: "not a domain"}}}); err == nil {
		t.Error("Open accepted a bad allowlist entry")
	}
}

func TestDuplicatesExtend(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := open(t, Options{Now: clk.Now})
	now := clk.Now()
	first := mustCreate(t, s, mk(now, "198.51.100.9", Target{Org: "power-a"}, time.Hour))

	longer := mk(now, "198.51.100.9", Target{Org: "power-a"}, 3*time.Hour)
	longer.Reason, longer.CreatedBy = "seen again", "bob"
	got := mustCreate(t, s, longer)
	if got.ID != first.ID || !got.Until.Equal(now.Add(3*time.Hour)) || got.Reason != first.Reason {
		t.Errorf("duplicate = id %d until %s reason %q, want decision %d extended to +3h with its reason", got.ID, got.Until, got.Reason, first.ID)
	}
	shorter := mustCreate(t, s, mk(now, "198.51.100.9", Target{Org: "power-a"}, 2*time.Hour))
	if shorter.ID != first.ID || !shorter.Until.Equal(now.Add(3*time.Hour)) {
		t.Errorf("a shorter duplicate must change nothing: id %d until %s", shorter.ID, shorter.Until)
	}
	audit, err := s.Audit(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 2 || audit[0].Action != "created" || audit[1].Action != "extended" || audit[1].User != "bob" || !strings.Contains(audit[1].Detail, "seen again") {
		t.Errorf("audit = %+v, want created then extended by bob", audit)
	}
	// Not duplicates: another target, another type, a dry run.
	other := []Decision{
		mk(now, "198.51.100.9", Target{Sector: tenant.EnergyPower}, time.Hour),
		func() Decision {
			d := mk(now, "198.51.100.9", Target{Org: "power-a"}, time.Hour)
			d.Type = Captcha
			return d
		}(),
		func() Decision {
			d := mk(now, "198.51.100.9", Target{Org: "power-a"}, time.Hour)
			d.DryRun = true
			return d
		}(),
	}
	for _, d := range other {
		if got := mustCreate(t, s, d); got.ID == first.ID {
			t.Errorf("%s %s dry-run=%v merged into decision %d", d.Type, d.Target, d.DryRun, first.ID)
		}
	}
	if err := s.Revoke(ctx, first.ID, "ana"); err != nil {
		t.Fatal(err)
	}
	if again := mustCreate(t, s, mk(now, "198.51.100.9", Target{Org: "power-a"}, time.Hour)); again.ID == first.ID {
		t.Error("a revoked decision must not be extended: a new one is expected")
	}
}

func TestExpiryAndAudit(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := open(t, Options{Now: clk.Now})
	now := clk.Now()
	short := mustCreate(t, s, mk(now, "203.0.113.1", Target{National: true}, time.Hour))
	long := mustCreate(t, s, mk(now, "203.0.113.2", Target{National: true}, 24*time.Hour))
	revoked := mustCreate(t, s, mk(now, "203.0.113.3", Target{National: true}, time.Hour))
	if short.UUID == "" || len(short.UUID) != 36 || short.UUID == long.UUID {
		t.Errorf("uuids %q %q", short.UUID, long.UUID)
	}
	if err := s.Revoke(ctx, revoked.ID, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("Revoke without a name = %v, want ErrInvalid", err)
	}
	if err := s.Revoke(ctx, revoked.ID, "ana"); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, revoked.ID, "bob"); !errors.Is(err, ErrNotActive) || !strings.Contains(err.Error(), "revoked by ana") {
		t.Errorf("second Revoke = %v, want ErrNotActive naming ana", err)
	}
	if err := s.Revoke(ctx, 999, "ana"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Revoke(999) = %v, want ErrNotFound", err)
	}

	clk.Advance(2 * time.Hour)
	got, err := s.Get(ctx, short.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Active(clk.Now()) {
		t.Error("a decision past Until is still active")
	}
	active, n, err := s.List(ctx, Query{All: true, Active: true})
	if err != nil || n != 1 || len(active) != 1 || active[0].ID != long.ID {
		t.Errorf("active decisions = %v (%d, %v), want only %d", active, n, err, long.ID)
	}
	if n, err := s.Expire(ctx, clk.Now()); n != 1 || err != nil {
		t.Errorf("Expire = %d, %v, want 1 (the revoked one is not expired)", n, err)
	}
	if n, err := s.Expire(ctx, clk.Now()); n != 0 || err != nil {
		t.Errorf("second Expire = %d, %v, want 0: expiry is recorded once", n, err)
	}
	if err := s.Revoke(ctx, short.ID, "ana"); !errors.Is(err, ErrNotActive) {
		t.Errorf("Revoke(expired) = %v, want ErrNotActive", err)
	}
	audit, _ := s.Audit(ctx, short.ID)
	if len(audit) != 2 || audit[1].Action != "expired" || audit[1].User != "system" || !audit[1].At.Equal(short.Until) {
		t.Errorf("audit of the expired decision = %+v, want created then expired at Until", audit)
	}
	audit, _ = s.Audit(ctx, revoked.ID)
	if len(audit) != 2 || audit[1].Action != "revoked" || audit[1].User != "ana" {
		t.Errorf("audit of the revoked decision = %+v", audit)
	}
	if got, _ := s.Get(ctx, revoked.ID); got.DeletedBy != "ana" || got.Deleted.IsZero() {
		t.Errorf("revoked decision = %+v", got)
	}
	if _, err := s.Audit(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("Audit(999) = %v", err)
	}
}

func TestScopeCoverage(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := open(t, Options{Now: clk.Now})
	now := clk.Now()
	ids := map[string]int64{}
	for i, c := range []struct {
		name string
		t    Target
	}{
		{"org-power-a", Target{Org: "power-a"}},
		{"org-bank-a", Target{Org: "bank-a"}},
		{"sector-energy", Target{Sector: tenant.EnergyPower}},
		{"sector-bank", Target{Sector: tenant.Finance}},
		{"national", Target{National: true}},
	} {
		ids[c.name] = mustCreate(t, s, mk(now, fmt.Sprintf("192.0.2.%d", i+1), c.t, time.Hour)).ID
	}
	names := func(ds []Decision) string {
		var out []string
		for _, d := range ds {
			for n, id := range ids {
				if id == d.ID {
					out = append(out, n)
				}
			}
		}
		slices.Sort(out)
		return joined(out)
	}
	f := func(q Query, want string) {
		t.Helper()
		got, n, err := s.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if names(got) != want || n != len(got) && q.Limit == 0 || q.Limit > 0 && n != 5 {
			t.Errorf("List(%+v) = %s (total %d), want %s", q, names(got), n, want)
		}
	}
	f(Query{Orgs: []tenant.ID{"power-a"}}, "national org-power-a sector-energy")
	f(Query{Orgs: []tenant.ID{"power-b"}}, "national sector-energy")
	f(Query{Orgs: []tenant.ID{"no-sector"}}, "national")
	f(Query{Orgs: []tenant.ID{"power-a", "bank-a"}}, "national org-bank-a org-power-a sector-bank sector-energy")
	f(Query{Sectors: []tenant.Sector{tenant.Finance}}, "national sector-bank")
	f(Query{National: true}, "national")
	f(Query{}, "")
	f(Query{All: true}, "national org-bank-a org-power-a sector-bank sector-energy")
	f(Query{All: true, Limit: 2}, "national sector-bank") // the newest two of 5
	f(Query{All: true, Limit: 2, Offset: 4}, "org-power-a")
	f(Query{All: true, Value: "192.0.2.0/24"}, "national org-bank-a org-power-a sector-bank sector-energy")
	f(Query{All: true, Value: "192.0.2.5"}, "national")
	f(Query{Orgs: []tenant.ID{"bank-a"}, Value: "192.0.2.2/31"}, "org-bank-a")

	for _, tc := range []struct {
		t      Target
		org    tenant.ID
		sector tenant.Sector
		want   bool
	}{
		{Target{National: true}, "", "", true},
		{Target{Sector: tenant.Finance}, "bank-a", tenant.Finance, true},
		{Target{Sector: tenant.Finance}, "power-a", tenant.EnergyPower, false},
		{Target{Sector: tenant.Finance}, "x", "", false},
		{Target{Org: "bank-a"}, "bank-a", tenant.Finance, true},
		{Target{Org: "bank-a"}, "bank-b", tenant.Finance, false},
		{Target{Org: "bank-a"}, "", "", false},
	} {
		if got := tc.t.Covers(tc.org, tc.sector); got != tc.want {
			t.Errorf("%s covers %q (%q) = %v, want %v", tc.t, tc.org, tc.sector, got, tc.want)
		}
	}
}

func TestPolicies(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := open(t, Options{Now: clk.Now,
		Allowlist: []Allow{{Value: "192.0.2.53", Note: "resolver"}},
		Policies: []Policy{
			{Name: "campaigns", When: "campaign", MinSeverity: "high", Type: "ban", Duration: 24 * time.Hour, Target: "sector"},
			{Name: "trial", When: "rule", RuleIDs: []string{"r-ssh-brute"}, Type: "ban", Duration: time.Hour, Target: "org", DryRun: true},
			{Name: "abuse-feed", When: "feed", Feed: "abuse", Type: "captcha", Duration: 7 * 24 * time.Hour, Target: "national"},
		}})

	got, err := s.Apply(ctx, Trigger{Kind: "campaign", Ref: "c-1", Values: []string{"203.0.113.5"}, Org: "power-a", Severity: "medium"})
	if len(got) != 0 || err != nil {
		t.Errorf("a medium campaign made %v, %v; the policy wants high", got, err)
	}
	got, err = s.Apply(ctx, Trigger{Kind: "campaign", Ref: "c-2", Values: []string{"203.0.113.5", "192.0.2.53", "nonsense!", "evil.example"},
		Org: "power-a", Severity: "critical", Reason: "wiper campaign against power utilities"})
	if len(got) != 2 {
		t.Fatalf("Apply(critical campaign) made %d decisions (%v), want 2", len(got), err)
	}
	if !errors.Is(err, ErrAllowlisted) || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `policy "campaigns"`) {
		t.Errorf("Apply error = %v, want the allowlisted and the invalid value reported", err)
	}
	for _, d := range got {
		if d.Target.Sector != tenant.EnergyPower || d.Origin != "campaign" || d.OriginRef != "c-2" || d.CreatedBy != "policy:campaigns" ||
			d.Reason != "wiper campaign against power utilities" || !d.Until.Equal(clk.Now().Add(24*time.Hour)) || d.DryRun {
			t.Errorf("campaign decision = %+v", d)
		}
	}

	got, err = s.Apply(ctx, Trigger{Kind: "rule", Ref: "r-other", Values: []string{"198.51.100.1"}, Org: "bank-a", Severity: "critical"})
	if len(got) != 0 || err != nil {
		t.Errorf("rule r-other made %v, %v", got, err)
	}
	got, err = s.Apply(ctx, Trigger{Kind: "rule", Ref: "r-ssh-brute", Values: []string{"198.51.100.1"}, Org: "bank-a"})
	if err != nil || len(got) != 1 || !got[0].DryRun || got[0].Target.Org != "bank-a" || got[0].Reason != "rule r-ssh-brute" {
		t.Fatalf("dry-run rule policy made %+v, %v", got, err)
	}
	if _, err := s.Apply(ctx, Trigger{Kind: "rule", Ref: "r-ssh-brute", Values: []string{"198.51.100.2"}}); err == nil || !strings.Contains(err.Error(), "no organisation") {
		t.Errorf("an org policy without an organisation: %v", err)
	}

	got, err = s.Apply(ctx, Trigger{Kind: "feed", Ref: "abuse", Values: []string{"198.51.100.0/24"}})
	if err != nil || len(got) != 1 || !got[0].Target.National || got[0].Type != Captcha || got[0].Origin != "feed" {
		t.Errorf("feed policy made %+v, %v", got, err)
	}
	if got, _ := s.Apply(ctx, Trigger{Kind: "feed", Ref: "other-feed", Values: []string{"198.51.100.7"}}); len(got) != 0 {
		t.Errorf("another feed made %v", got)
	}
	if _, err := s.Apply(ctx, Trigger{Kind: "alert", Ref: "x"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown trigger kind: %v", err)
	}

	// The dry-run decision is recorded and listed, never served.
	dry, n, _ := s.List(ctx, Query{Orgs: []tenant.ID{"bank-a"}, Value: "198.51.100.1"})
	if n != 2 || !slices.ContainsFunc(dry, func(d Decision) bool { return d.DryRun }) {
		t.Errorf("List shows %v, want the dry-run decision and the feed's range", dry)
	}
	key := mustBouncer(t, s, "bank-fw", "bank-a")
	st := pull(t, s.Handler(), key, "", true, "")
	if slices.Contains(st.newValues(), "198.51.100.1") || joined(st.newValues()) != "198.51.100.0/24" {
		t.Errorf("bank-a's bouncer received %v: dry-run decisions must never be served", st.newValues())
	}
	code, body := call(t, s.Handler(), "GET", "/v1/decisions?ip=198.51.100.1", key, "")
	if code != 200 || strings.Contains(body, `"198.51.100.1"`) {
		t.Errorf("live query served %d %s", code, body)
	}

	for _, bad := range []struct {
		p    Policy
		want string
	}{
		{Policy{When: "rule", RuleIDs: []string{"x"}, Type: "ban", Duration: time.Hour, Target: "org"}, "no name"},
		{Policy{Name: "p", When: "alert", Type: "ban", Duration: time.Hour, Target: "org"}, `when "alert"`},
		{Policy{Name: "p", When: "rule", Type: "ban", Duration: time.Hour, Target: "org"}, "needs rule_ids or min_severity"},
		{Policy{Name: "p", When: "campaign", MinSeverity: "severe", Type: "ban", Duration: time.Hour, Target: "org"}, `min_severity "severe"`},
		{Policy{Name: "p", When: "campaign", Type: "ban", Duration: time.Second, Target: "org"}, "duration 1s"},
		{Policy{Name: "p", When: "campaign", Type: "ban", Duration: time.Hour, Target: "world"}, `target "world"`},
		{Policy{Name: "p", When: "campaign", Type: "drop", Duration: time.Hour, Target: "org"}, `type "drop"`},
		{Policy{Name: "p", When: "campaign", Feed: "abuse", Type: "ban", Duration: time.Hour, Target: "org"}, "feed policies only"},
	} {
		if err := s.SetPolicies([]Policy{bad.p}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("SetPolicies(%+v) = %v, want %q", bad.p, err, bad.want)
		}
	}
	if err := s.SetPolicies([]Policy{s.Policies()[0], s.Policies()[0]}); err == nil || !strings.Contains(err.Error(), "two policies") {
		t.Errorf("duplicate policy names: %v", err)
	}
	if len(s.Policies()) != 3 {
		t.Errorf("a refused SetPolicies must keep the old policies: %v", s.Policies())
	}
}
