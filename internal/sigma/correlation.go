package sigma

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// CorrelationRule is a correlation rule resolved against a Set.
type CorrelationRule struct {
	*Rule
	// Refs holds, per referenced rule, an index into Set.Rules, or -(k+1)
	// for the k-th correlation (correlations may chain).
	Refs []int
	// groupFields[ref][i] is the event field holding GroupBy[i] for that ref (aliases applied).
	groupFields [][]string
	valueField  []string
}

// resolveCorrelations links correlation rules to the rules they reference.
func resolveCorrelations(rules []*Rule, corrs []*Rule) ([]*CorrelationRule, []error) {
	var errs []error
	byKey := map[string]int{}
	for i, r := range rules {
		if r.ID != "" {
			byKey[r.ID] = i
		}
		if r.Name != "" {
			byKey[r.Name] = i
		}
	}
	corrKey := map[string]int{}
	for k, r := range corrs {
		if r.ID != "" {
			corrKey[r.ID] = k
		}
		if r.Name != "" {
			corrKey[r.Name] = k
		}
	}
	out := make([]*CorrelationRule, 0, len(corrs))
	index := map[int]int{} // position in corrs → position in out
	for k, r := range corrs {
		cr := &CorrelationRule{Rule: r}
		ok := true
		for _, ref := range r.Correlation.Rules {
			if i, found := byKey[ref]; found {
				cr.Refs = append(cr.Refs, i)
				continue
			}
			if j, found := corrKey[ref]; found && j != k {
				cr.Refs = append(cr.Refs, -(j + 1))
				continue
			}
			errs = append(errs, &Error{Path: r.Path, Line: r.Line, Msg: fmt.Sprintf("correlation %q references unknown rule %q", r.Title, ref)})
			ok = false
		}
		if !ok {
			continue
		}
		for i, ref := range r.Correlation.Rules {
			fields := make([]string, len(r.Correlation.GroupBy))
			for g, gb := range r.Correlation.GroupBy {
				fields[g] = gb
				if m, isAlias := r.Correlation.Aliases[gb]; isAlias {
					f, found := m[ref]
					if !found && cr.Refs[i] >= 0 {
						f, found = m[rules[cr.Refs[i]].Name]
						if !found {
							f, found = m[rules[cr.Refs[i]].ID]
						}
					}
					if found {
						fields[g] = f
					}
				}
			}
			cr.groupFields = append(cr.groupFields, fields)
			vf := r.Correlation.Field
			if m, isAlias := r.Correlation.Aliases[vf]; isAlias {
				if f, found := m[ref]; found {
					vf = f
				}
			}
			cr.valueField = append(cr.valueField, vf)
		}
		index[k] = len(out)
		out = append(out, cr)
	}
	// Renumber chained references to positions in out; drop dangling ones.
	kept := out[:0]
	for _, cr := range out {
		good := true
		for i, ref := range cr.Refs {
			if ref < 0 {
				pos, found := index[-ref-1]
				if !found {
					errs = append(errs, &Error{Path: cr.Path, Line: cr.Line, Msg: fmt.Sprintf("correlation %q references a correlation that failed", cr.Title)})
					good = false
					break
				}
				cr.Refs[i] = -(pos + 1)
			}
		}
		if good {
			kept = append(kept, cr)
		}
	}
	return kept, errs
}

// Suppressed reports whether rule i's own matches are hidden because every
// correlation that references it has generate: false.
func (s *Set) Suppressed(i int) bool {
	referenced := false
	for _, c := range s.Correlations {
		for _, r := range c.Refs {
			if r == i {
				if c.Correlation.Generate {
					return false
				}
				referenced = true
			}
		}
	}
	return referenced
}

// CorrelationHit is a correlation rule that fired.
type CorrelationHit struct {
	Corr  int       // index into Set.Correlations
	First time.Time // earliest event in the window
	Last  time.Time // the event that completed it
	Group map[string]string
	Count int     // events (event_count, temporal) or distinct values (value_count)
	Value float64 // the aggregate compared with the condition
}

// Correlator keeps correlation state across events. Feed it matches in time
// order with Observe; it is not safe for concurrent use.
type Correlator struct {
	set    *Set
	byRule map[int][]corrRef // ref index (Set.Rules, or -(k+1)) → users
	states []map[string]*corrState
	ops    int // updates since the last sweep of idle groups
}

// sweepEvery bounds how many updates pass between sweeps of idle groups.
const sweepEvery = 8192

type corrRef struct{ corr, pos int }

type corrState struct {
	times  []time.Time
	values []string
	nums   []float64
	seen   []time.Time // temporal: last time each ref matched
	step   int         // temporal_ordered: refs matched so far, in order
	start  time.Time
	group  map[string]string
	// quietUntil: after firing, a group stays quiet for one timespan so that
	// one burst gives one detection, not one per further event.
	quietUntil time.Time
	last       time.Time // latest event of the group
}

// NewCorrelator returns a Correlator for s's correlation rules.
func (s *Set) NewCorrelator() *Correlator {
	c := &Correlator{set: s, byRule: map[int][]corrRef{}, states: make([]map[string]*corrState, len(s.Correlations))}
	for k, cr := range s.Correlations {
		c.states[k] = map[string]*corrState{}
		for pos, ref := range cr.Refs {
			c.byRule[ref] = append(c.byRule[ref], corrRef{k, pos})
		}
	}
	return c
}

// Wants reports whether any correlation references rule i.
func (c *Correlator) Wants(i int) bool { return len(c.byRule[i]) > 0 }

// Observe records that rule i matched an event at t; get returns the event's
// field values. It returns the correlations that fired, including chained ones.
func (c *Correlator) Observe(i int, t time.Time, get func(field string) (string, bool)) []CorrelationHit {
	var out []CorrelationHit
	for _, u := range c.byRule[i] {
		if h, ok := c.update(u, t, get); ok {
			out = append(out, h)
			g := h.Group
			out = append(out, c.Observe(-(h.Corr+1), t, func(f string) (string, bool) { v, ok := g[f]; return v, ok })...)
		}
	}
	return out
}

func (c *Correlator) update(u corrRef, t time.Time, get func(string) (string, bool)) (CorrelationHit, bool) {
	cr := c.set.Correlations[u.corr]
	co := cr.Correlation
	var key strings.Builder
	group := make(map[string]string, len(co.GroupBy))
	for g, f := range cr.groupFields[u.pos] {
		v, ok := get(f)
		if !ok {
			return CorrelationHit{}, false // events lacking a group-by field do not correlate
		}
		key.WriteString(v)
		key.WriteByte(0)
		group[co.GroupBy[g]] = v
	}
	st := c.states[u.corr][key.String()]
	if st == nil {
		st = &corrState{group: group}
		if co.Type == CorrTemporal {
			st.seen = make([]time.Time, len(cr.Refs))
		}
		c.states[u.corr][key.String()] = st
	}
	if t.After(st.last) {
		st.last = t
	}
	if c.ops++; c.ops >= sweepEvery {
		c.ops = 0
		c.sweep(t)
	}
	if t.Before(st.quietUntil) {
		return CorrelationHit{}, false
	}
	cutoff := t.Add(-co.Timespan)
	hit := CorrelationHit{Corr: u.corr, Last: t, Group: st.group}
	switch co.Type {
	case CorrEventCount, CorrValueCount, CorrValueSum, CorrValueAvg:
		drop := 0
		for drop < len(st.times) && st.times[drop].Before(cutoff) {
			drop++
		}
		st.times = st.times[drop:]
		if len(st.values) >= drop {
			st.values = st.values[drop:]
		}
		if len(st.nums) >= drop {
			st.nums = st.nums[drop:]
		}
		st.times = append(st.times, t)
		if co.Type != CorrEventCount {
			v, _ := get(cr.valueField[u.pos])
			st.values = append(st.values, v)
			f, _ := strconv.ParseFloat(v, 64)
			st.nums = append(st.nums, f)
		}
		hit.First = st.times[0]
		switch co.Type {
		case CorrEventCount:
			hit.Count = len(st.times)
			hit.Value = float64(hit.Count)
		case CorrValueCount:
			distinct := map[string]struct{}{}
			for _, v := range st.values {
				if v != "" {
					distinct[v] = struct{}{}
				}
			}
			hit.Count = len(distinct)
			hit.Value = float64(hit.Count)
		case CorrValueSum, CorrValueAvg:
			sum := 0.0
			for _, f := range st.nums {
				sum += f
			}
			hit.Count = len(st.nums)
			hit.Value = sum
			if co.Type == CorrValueAvg {
				hit.Value = sum / float64(len(st.nums))
			}
		}
		if co.Op == "lt" || co.Op == "lte" {
			return CorrelationHit{}, false // decided when the window closes, by Flush
		}
		if !compareOp(hit.Value, co.Op, co.Value) {
			return CorrelationHit{}, false
		}
	case CorrTemporal:
		st.seen[u.pos] = t
		first := t
		for _, s := range st.seen {
			if s.IsZero() || s.Before(cutoff) {
				return CorrelationHit{}, false
			}
			if s.Before(first) {
				first = s
			}
		}
		hit.First, hit.Count, hit.Value = first, len(st.seen), float64(len(st.seen))
	case CorrTemporalOrdered:
		if st.step > 0 && st.start.Before(cutoff) {
			st.step = 0
		}
		if u.pos != st.step {
			if u.pos == 0 {
				st.step, st.start = 1, t
			}
			if len(cr.Refs) > 1 || u.pos != 0 {
				return CorrelationHit{}, false
			}
		} else {
			if st.step == 0 {
				st.start = t
			}
			st.step++
		}
		if st.step < len(cr.Refs) {
			return CorrelationHit{}, false
		}
		hit.First, hit.Count, hit.Value = st.start, len(cr.Refs), float64(len(cr.Refs))
	}
	// Fired: start afresh after a quiet timespan.
	c.states[u.corr][key.String()] = &corrState{group: st.group, seen: clearTimes(st.seen), quietUntil: t.Add(co.Timespan), last: t}
	return hit, true
}

// sweep forgets groups idle for longer than their window (and past any quiet
// period), so that a server running for months keeps only live state. Upper
// bound conditions (lt, lte) are left to Flush, which decides them.
func (c *Correlator) sweep(now time.Time) {
	for k, cr := range c.set.Correlations {
		co := cr.Correlation
		if co.Op == "lt" || co.Op == "lte" {
			continue
		}
		for key, st := range c.states[k] {
			if now.Sub(st.last) > co.Timespan && !now.Before(st.quietUntil) {
				delete(c.states[k], key)
			}
		}
	}
}

// Groups returns the number of groups holding state (for tests and metrics).
func (c *Correlator) Groups() int {
	n := 0
	for _, m := range c.states {
		n += len(m)
	}
	return n
}

// Flush decides the correlations whose condition is an upper bound (lt,
// lte) for every window that closed before now, and returns those that fired.
// Call it periodically in streams and once at the end of a hunt with a zero
// time to close every window.
func (c *Correlator) Flush(now time.Time) []CorrelationHit {
	var out []CorrelationHit
	for k, cr := range c.set.Correlations {
		co := cr.Correlation
		if co.Op != "lt" && co.Op != "lte" {
			if now.IsZero() {
				c.states[k] = map[string]*corrState{}
			}
			continue
		}
		keys := make([]string, 0, len(c.states[k]))
		for key := range c.states[k] {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			st := c.states[k][key]
			if len(st.times) == 0 || (!now.IsZero() && st.times[0].Add(co.Timespan).After(now)) {
				continue
			}
			v := float64(len(st.times))
			if co.Type == CorrValueCount {
				distinct := map[string]struct{}{}
				for _, x := range st.values {
					distinct[x] = struct{}{}
				}
				v = float64(len(distinct))
			}
			if compareOp(v, co.Op, co.Value) {
				out = append(out, CorrelationHit{Corr: k, First: st.times[0], Last: st.times[len(st.times)-1], Group: st.group, Count: int(v), Value: v})
			}
			delete(c.states[k], key)
		}
	}
	return out
}

func clearTimes(ts []time.Time) []time.Time {
	if ts == nil {
		return nil
	}
	return make([]time.Time, len(ts))
}

func compareOp(v float64, op string, n float64) bool {
	switch op {
	case "gt":
		return v > n
	case "gte":
		return v >= n
	case "lt":
		return v < n
	case "lte":
		return v <= n
	case "eq":
		return v == n
	case "neq":
		return v != n
	}
	return false
}
