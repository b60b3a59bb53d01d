package sigma

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

const corrBase = `title: login fail
id: 11111111-1111-4111-8111-111111111111
name: fail
logsource: {product: test, service: test}
detection:
    sel: {Action: fail}
    condition: sel
---
title: login ok
id: 22222222-2222-4222-8222-222222222222
name: ok
logsource: {product: test, service: test}
detection:
    sel: {Action: ok}
    condition: sel
---
`

func compileCorr(t *testing.T, corr string) *Set {
	t.Helper()
	rules, errs := Parse("c.yml", []byte(corrBase+corr))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	m, _ := ParseMapping([]byte("index_fields: [Channel, EventID]\nlogsources:\n  - {product: test, service: test, conditions: {Channel: Test}}\n"))
	set, errs := Compile(rules, CompileOptions{Mapping: m})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return set
}

type step struct {
	sec    int
	action string
	kv     []string
}

// run feeds the steps through matcher and correlator, returning fired counts per step.
func run(t *testing.T, set *Set, steps []step) []CorrelationHit {
	t.Helper()
	m := set.NewMatcher()
	c := set.NewCorrelator()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var hits []CorrelationHit
	for _, s := range steps {
		ev := mkEvent(append([]string{"Action", s.action}, s.kv...)...)
		ts := t0.Add(time.Duration(s.sec) * time.Second)
		for _, ri := range m.Match(ev, nil) {
			hits = append(hits, c.Observe(ri, ts, func(f string) (string, bool) {
				v, ok := ev.Get(f)
				return string(v), ok
			})...)
		}
	}
	return append(hits, c.Flush(time.Time{})...)
}

func TestCorrelations(t *testing.T) {
	fails := func(n int, ip string, users ...string) []step {
		var out []step
		for i := 0; i < n; i++ {
			kv := []string{"Ip", ip}
			if len(users) > 0 {
				kv = append(kv, "User", users[i%len(users)])
			}
			out = append(out, step{sec: i, action: "fail", kv: kv})
		}
		return out
	}
	tests := []struct {
		name  string
		corr  string
		steps []step
		want  []string // "count group" per hit
	}{
		{"event_count fires once per burst", `title: bf
correlation: {type: event_count, rules: [fail], group-by: [Ip], timespan: 1m, condition: {gte: 3}}
`, fails(5, "1.2.3.4"), []string{"3 Ip=1.2.3.4"}},
		{"event_count groups apart", `title: bf
correlation: {type: event_count, rules: [fail], group-by: [Ip], timespan: 1m, condition: {gte: 3}}
`, append(fails(2, "1.1.1.1"), fails(2, "2.2.2.2")...), nil},
		{"event_count window slides", `title: bf
correlation: {type: event_count, rules: [fail], group-by: [Ip], timespan: 10s, condition: {gte: 3}}
`, []step{{0, "fail", []string{"Ip", "a"}}, {5, "fail", []string{"Ip", "a"}}, {20, "fail", []string{"Ip", "a"}}, {25, "fail", []string{"Ip", "a"}}}, nil},
		{"value_count", `title: spray
correlation: {type: value_count, rules: [fail], group-by: [Ip], timespan: 1m, condition: {gte: 3, field: User}}
`, fails(6, "9.9.9.9", "a", "a", "b", "b", "c"), []string{"3 Ip=9.9.9.9"}},
		{"temporal any order", `title: t
correlation: {type: temporal, rules: [ok, fail], group-by: [Ip], timespan: 1m}
`, []step{{0, "fail", []string{"Ip", "x"}}, {10, "ok", []string{"Ip", "x"}}}, []string{"2 Ip=x"}},
		{"temporal_ordered right order", `title: t
correlation: {type: temporal_ordered, rules: [fail, ok], group-by: [Ip], timespan: 1m}
`, []step{{0, "fail", []string{"Ip", "x"}}, {10, "ok", []string{"Ip", "x"}}}, []string{"2 Ip=x"}},
		{"temporal_ordered wrong order", `title: t
correlation: {type: temporal_ordered, rules: [fail, ok], group-by: [Ip], timespan: 1m}
`, []step{{0, "ok", []string{"Ip", "x"}}, {10, "fail", []string{"Ip", "x"}}}, nil},
		{"temporal_ordered too slow", `title: t
correlation: {type: temporal_ordered, rules: [fail, ok], group-by: [Ip], timespan: 1m}
`, []step{{0, "fail", []string{"Ip", "x"}}, {100, "ok", []string{"Ip", "x"}}}, nil},
		{"lt decided at window end", `title: few
correlation: {type: event_count, rules: [ok], group-by: [Ip], timespan: 1m, condition: {lt: 2}}
`, []step{{0, "ok", []string{"Ip", "x"}}}, []string{"1 Ip=x"}},
		{"aliases", `title: a
correlation:
    type: temporal
    rules: [fail, ok]
    group-by: [src]
    timespan: 1m
    aliases:
        src: {fail: SourceIp, ok: ClientIp}
`, []step{{0, "fail", []string{"SourceIp", "5.5.5.5"}}, {1, "ok", []string{"ClientIp", "5.5.5.5"}}}, []string{"2 src=5.5.5.5"}},
		{"chained", `title: many
name: many_fails
correlation: {type: event_count, rules: [fail], group-by: [Ip], timespan: 1m, condition: {gte: 2}}
---
title: then ok
correlation: {type: temporal_ordered, rules: [many_fails, ok], group-by: [Ip], timespan: 5m}
`, []step{{0, "fail", []string{"Ip", "z"}}, {1, "fail", []string{"Ip", "z"}}, {2, "ok", []string{"Ip", "z"}}}, []string{"2 Ip=z", "2 Ip=z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := compileCorr(t, tc.corr)
			var got []string
			for _, h := range run(t, set, tc.steps) {
				var g []string
				for k, v := range h.Group {
					g = append(g, k+"="+v)
				}
				got = append(got, strings.TrimSpace(strings.Join(append([]string{strconv.Itoa(h.Count)}, g...), " ")))
			}
			if strings.Join(got, ";") != strings.Join(tc.want, ";") {
				t.Errorf("hits = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCorrelationErrors(t *testing.T) {
	rules, errs := Parse("c.yml", []byte(corrBase+"title: dangling\ncorrelation: {type: event_count, rules: [nope], timespan: 1m, condition: {gte: 1}}\n"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	_, cerrs := Compile(rules, CompileOptions{})
	if len(cerrs) != 1 || !strings.Contains(cerrs[0].Error(), `references unknown rule "nope"`) {
		t.Errorf("errors = %v, want one about rule nope", cerrs)
	}
	set := compileCorr(t, "title: x\ncorrelation: {type: event_count, rules: [fail], timespan: 1m, condition: {gte: 2}}\n")
	if !set.Suppressed(set.RuleIndex("fail")) || set.Suppressed(set.RuleIndex("ok")) {
		t.Error("Suppressed: want fail hidden (generate: false) and ok shown")
	}
}

// TestCorrelatorForgetsIdleGroups: groups that never fire do not pile up in
// a long-running server.
func TestCorrelatorForgetsIdleGroups(t *testing.T) {
	set := compileCorr(t, "title: bf\ncorrelation: {type: event_count, rules: [fail], group-by: [Ip], timespan: 1m, condition: {gte: 100}}\n")
	c := set.NewCorrelator()
	ri := set.RuleIndex("fail")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 100000; i++ {
		ip := strconv.Itoa(i) // a new source every second: none reaches the threshold
		c.Observe(ri, t0.Add(time.Duration(i)*time.Second), func(string) (string, bool) { return ip, true })
	}
	if n := c.Groups(); n > sweepEvery+100 {
		t.Errorf("%d groups held after 100,000 one-off sources, want idle ones forgotten (≤ %d)", n, sweepEvery+100)
	}
	// A group still inside its window is kept and can fire.
	hits := 0
	for i := 0; i < 100; i++ {
		hits += len(c.Observe(ri, t0.Add(200000*time.Second), func(string) (string, bool) { return "burst", true }))
	}
	if hits != 1 {
		t.Errorf("burst fired %d times, want 1", hits)
	}
}
