package sigma

import (
	"bytes"
	"encoding/binary"
	"math"
	"net/netip"
	"strconv"
	"time"
	"unsafe"

	"github.com/mamori-soc/mamori/internal/event"
)

// Matcher matches events against a Set. It holds per-event scratch state and
// is not safe for concurrent use: give each goroutine its own.
type Matcher struct {
	set *Set
	ev  *event.Event
	gen uint32

	atomGen []uint32 // atomVal[a] is valid when atomGen[a] == gen
	atomVal []bool
	instGen []uint32 // instance already a candidate for this event
	ruleGen []uint32 // rule already reported for this event
	cands   []int32

	fieldGen   []uint32 // by field id: fieldFirst/fieldCount valid when == gen
	fieldFirst []int32
	fieldCount []int32
	evIDs      []int32 // by event field index: field id or -1

	lowGen []uint32 // by event field index
	lowOff []int32  // -1: the value is already lower-case
	lowLen []int32
	lowBuf []byte
	chBuf  []byte
}

// NewMatcher returns a Matcher for s.
func (s *Set) NewMatcher() *Matcher {
	return &Matcher{
		set:        s,
		atomGen:    make([]uint32, len(s.atoms)),
		atomVal:    make([]bool, len(s.atoms)),
		instGen:    make([]uint32, len(s.insts)),
		ruleGen:    make([]uint32, len(s.Rules)),
		fieldGen:   make([]uint32, len(s.fieldNames)),
		fieldFirst: make([]int32, len(s.fieldNames)),
		fieldCount: make([]int32, len(s.fieldNames)),
	}
}

func (m *Matcher) nextGen() {
	m.gen++
	if m.gen == 0 { // wrapped: old stamps could look current
		clear(m.atomGen)
		clear(m.instGen)
		clear(m.ruleGen)
		clear(m.fieldGen)
		clear(m.lowGen)
		m.gen = 1
	}
}

// Match appends to dst the indexes (into Set.Rules) of the rules ev matches,
// each once, and returns the extended slice. It does not retain ev.
func (m *Matcher) Match(ev *event.Event, dst []int) []int {
	s := m.set
	m.ev = ev
	m.nextGen()
	n := ev.Len()
	if cap(m.evIDs) < n {
		m.evIDs = make([]int32, n, 2*n)
		m.lowGen = make([]uint32, n, 2*n)
		m.lowOff = make([]int32, n, 2*n)
		m.lowLen = make([]int32, n, 2*n)
	}
	m.evIDs, m.lowGen, m.lowOff, m.lowLen = m.evIDs[:n], m.lowGen[:n], m.lowOff[:n], m.lowLen[:n]
	m.lowBuf = m.lowBuf[:0]
	gen := m.gen
	for i := 0; i < n; i++ {
		id, ok := s.fieldIDs[unsafeString(ev.Name(i))]
		if !ok {
			m.evIDs[i] = -1
			continue
		}
		m.evIDs[i] = id
		if m.fieldGen[id] != gen {
			m.fieldGen[id] = gen
			m.fieldFirst[id] = int32(i)
			m.fieldCount[id] = 1
		} else {
			m.fieldCount[id]++
		}
	}
	if s.global != nil {
		dst = m.runGroup(s.global, dst)
	}
	if s.chanField >= 0 && m.fieldGen[s.chanField] == gen {
		ch := ev.Value(int(m.fieldFirst[s.chanField]))
		m.chBuf = lowerBytes(m.chBuf[:0], ch)
		if cg := s.channels[unsafeString(m.chBuf)]; cg != nil {
			if cg.any != nil {
				dst = m.runGroup(cg.any, dst)
			}
			if s.eidField >= 0 && m.fieldGen[s.eidField] == gen && len(cg.byEID) > 0 {
				eid := ev.Value(int(m.fieldFirst[s.eidField]))
				if g := cg.byEID[unsafeString(eid)]; g != nil {
					dst = m.runGroup(g, dst)
				}
			}
		}
	}
	m.ev = nil
	return dst
}

func (m *Matcher) runGroup(g *group, dst []int) []int {
	s := m.set
	gen := m.gen
	m.cands = m.cands[:0]
	for fi := range g.fields {
		gf := &g.fields[fi]
		if gf.id < 0 {
			for i := range m.evIDs {
				m.scan(gf, i)
			}
			continue
		}
		if m.fieldGen[gf.id] != gen {
			continue
		}
		if m.fieldCount[gf.id] == 1 {
			m.scan(gf, int(m.fieldFirst[gf.id]))
			continue
		}
		for i, id := range m.evIDs {
			if id == gf.id {
				m.scan(gf, i)
			}
		}
	}
	for _, in := range g.always {
		if m.instGen[in] != gen {
			m.instGen[in] = gen
			m.cands = append(m.cands, in)
		}
	}
	for _, in := range m.cands {
		it := &s.insts[in]
		if m.ruleGen[it.rule] == gen {
			continue
		}
		if m.eval(it.root) {
			m.ruleGen[it.rule] = gen
			dst = append(dst, int(it.rule))
		}
	}
	return dst
}

// scan runs the field's automaton over the lower-cased value of event field i.
func (m *Matcher) scan(gf *gfield, i int) {
	// The automata fold ASCII case themselves; only other text needs lowering.
	text := m.ev.Value(i)
	if !isASCII(text) {
		text = m.lower(i)
	}
	ac := gf.ac
	trans, classes, outOff, starts := ac.trans, &ac.classes, ac.outOff, &ac.starts
	gen := m.gen
	off := int32(0) // row offset of the current state
	for j := 0; j < len(text); j++ {
		if off == 0 {
			// Most bytes leave the automaton in its start state: skip those
			// that cannot begin a needle without the dependent table load.
			// (bytes.IndexByte for single-start automata measured no better.)
			for j < len(text) && !starts[text[j]] {
				j++
			}
			if j == len(text) {
				break
			}
		}
		off = trans[off+int32(classes[text[j]])]
		if off < outOff {
			continue
		}
		for _, nid := range ac.outputs(off) {
			end := j + 1
			start := end - int(ac.lens[nid])
			for _, ref := range gf.refs[nid] {
				switch ref.mode {
				case modeStartsWith:
					if start != 0 {
						continue
					}
				case modeEndsWith:
					if end != len(text) {
						continue
					}
				case modeEquals:
					if start != 0 || end != len(text) {
						continue
					}
				}
				if ref.exact {
					m.atomGen[ref.atom] = gen
					m.atomVal[ref.atom] = true
				}
				for _, in := range m.set.atoms[ref.atom].triggers {
					if m.instGen[in] != gen {
						m.instGen[in] = gen
						m.cands = append(m.cands, in)
					}
				}
			}
		}
	}
}

// isASCII reports whether b has no byte of 0x80 or more, eight at a time.
func isASCII(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b)&0x8080808080808080 != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// lower returns the lower-cased value of event field i, computed once per event.
func (m *Matcher) lower(i int) []byte {
	if m.lowGen[i] == m.gen {
		if m.lowOff[i] < 0 {
			return m.ev.Value(i)
		}
		return m.lowBuf[m.lowOff[i] : m.lowOff[i]+m.lowLen[i]]
	}
	m.lowGen[i] = m.gen
	v := m.ev.Value(i)
	if !needsLower(v) {
		m.lowOff[i] = -1
		return v
	}
	off := len(m.lowBuf)
	m.lowBuf = lowerBytes(m.lowBuf, v)
	m.lowOff[i], m.lowLen[i] = int32(off), int32(len(m.lowBuf)-off)
	return m.lowBuf[off:]
}

func (m *Matcher) eval(n int32) bool {
	s := m.set
	nd := &s.nodes[n]
	switch nd.op {
	case nAtom:
		return m.atom(nd.atom)
	case nAnd:
		for _, k := range s.kids[nd.kidS:nd.kidE] {
			if !m.eval(k) {
				return false
			}
		}
		return true
	case nOr:
		for _, k := range s.kids[nd.kidS:nd.kidE] {
			if m.eval(k) {
				return true
			}
		}
		return false
	case nNot:
		return !m.eval(s.kids[nd.kidS])
	case nTrue:
		return true
	}
	return false
}

func (m *Matcher) atom(a int32) bool {
	if m.atomGen[a] == m.gen {
		return m.atomVal[a]
	}
	at := &m.set.atoms[a]
	if at.exact {
		// The automaton scanned this field and did not hit: false.
		return false
	}
	v := m.verify(at)
	m.atomGen[a], m.atomVal[a] = m.gen, v
	return v
}

// verify decides an atom the automaton cannot decide alone.
func (m *Matcher) verify(at *atom) bool {
	gen := m.gen
	if at.field < 0 { // keyword: any value of the event
		for i := 0; i < m.ev.Len(); i++ {
			if m.test(at, i) {
				return true
			}
		}
		return false
	}
	present := m.fieldGen[at.field] == gen
	switch at.m.kind {
	case vExists:
		return present == at.m.want
	case vNull:
		if !present {
			return !at.m.negate
		}
		empty := true
		m.eachValue(at.field, func(i int) bool {
			empty = len(m.ev.Value(i)) == 0
			return !empty
		})
		return empty != at.m.negate
	}
	if !present {
		return false
	}
	if m.fieldCount[at.field] == 1 {
		return m.test(at, int(m.fieldFirst[at.field]))
	}
	for i, id := range m.evIDs {
		if id == at.field && m.test(at, i) {
			return true
		}
	}
	return false
}

func (m *Matcher) eachValue(field int32, fn func(i int) bool) {
	if m.fieldCount[field] == 1 {
		fn(int(m.fieldFirst[field]))
		return
	}
	for i, id := range m.evIDs {
		if id == field && !fn(i) {
			return
		}
	}
}

// test applies the atom's value test to event field i.
func (m *Matcher) test(at *atom, i int) bool {
	vm := &at.m
	var ok bool
	switch vm.kind {
	case vLiteral:
		v := m.ev.Value(i)
		if !vm.cased {
			v = m.lower(i)
		}
		ok = matchMode(v, vm.lit, vm.mode)
	case vAny:
		ok = true
	case vGlob:
		v := m.ev.Value(i)
		if !vm.cased {
			v = m.lower(i)
		}
		ok = globMatch(vm.glob, v)
	case vRegex:
		v := m.ev.Value(i)
		ok = len(v) >= vm.minLen && (vm.pre == nil || bytes.Contains(m.lower(i), vm.pre)) && vm.re.Match(v)
	case vCIDR:
		addr, err := netip.ParseAddr(unsafeString(bytes.TrimSpace(m.ev.Value(i))))
		ok = err == nil && vm.prefix.Contains(addr.Unmap())
	case vNumeric:
		f, good := parseNumber(m.ev.Value(i))
		ok = good && compareNum(f, vm.op, vm.num)
	case vTime:
		f, good := timePart(m.ev.Value(i), vm.unit)
		ok = good && compareNum(f, vm.op, vm.num)
	case vFieldref:
		id, known := m.set.fieldIDs[vm.other]
		if !known || m.fieldGen[id] != m.gen {
			return false
		}
		v := m.ev.Value(i)
		other := m.ev.Value(int(m.fieldFirst[id]))
		if !vm.cased {
			v = m.lower(i)
			other = m.lower(int(m.fieldFirst[id]))
		}
		ok = matchMode(v, other, vm.mode)
	}
	return ok != vm.negate
}

func matchMode(v, lit []byte, mode uint8) bool {
	switch mode {
	case modeEquals:
		return bytes.Equal(v, lit)
	case modeContains:
		return bytes.Contains(v, lit)
	case modeStartsWith:
		return bytes.HasPrefix(v, lit)
	case modeEndsWith:
		return bytes.HasSuffix(v, lit)
	}
	return false
}

func compareNum(f float64, op uint8, n float64) bool {
	switch op {
	case opLt:
		return f < n
	case opLte:
		return f <= n
	case opGt:
		return f > n
	case opGte:
		return f >= n
	}
	return f == n
}

// parseNumber reads a decimal, float or 0x-hex number.
func parseNumber(b []byte) (float64, bool) {
	s := unsafeString(bytes.TrimSpace(b))
	if s == "" {
		return 0, false
	}
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		u, err := strconv.ParseUint(s[2:], 16, 64)
		return float64(u), err == nil
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil && !math.IsNaN(f)
}

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05"}

func timePart(b []byte, unit string) (float64, bool) {
	s := unsafeString(bytes.TrimSpace(b))
	var t time.Time
	var err error
	for _, l := range timeLayouts {
		if t, err = time.Parse(l, s); err == nil {
			break
		}
	}
	if err != nil {
		return 0, false
	}
	switch unit {
	case "minute":
		return float64(t.Minute()), true
	case "hour":
		return float64(t.Hour()), true
	case "day":
		return float64(t.Day()), true
	case "week":
		_, w := t.ISOWeek()
		return float64(w), true
	case "month":
		return float64(t.Month()), true
	case "year":
		return float64(t.Year()), true
	}
	return 0, false
}

// globMatch matches a wildcard pattern ('*' any run, '?' one character)
// against the whole of v, backtracking only to the last star.
func globMatch(p pattern, v []byte) bool {
	pi, vi := 0, 0
	starP, starV := -1, 0
	for vi < len(v) {
		if pi < len(p) {
			switch c := p[pi]; {
			case c == wildStar:
				starP, starV = pi, vi
				pi++
				continue
			case c == wildQuest:
				pi++
				vi += runeLen(v[vi:])
				continue
			case byte(c) == v[vi]:
				pi++
				vi++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		starV += runeLen(v[starV:])
		pi, vi = starP+1, starV
	}
	for pi < len(p) && p[pi] == wildStar {
		pi++
	}
	return pi == len(p)
}

func runeLen(b []byte) int {
	c := b[0]
	switch {
	case c < 0xC0:
		return 1
	case c < 0xE0 && len(b) >= 2:
		return 2
	case c < 0xF0 && len(b) >= 3:
		return 3
	case len(b) >= 4:
		return 4
	}
	return 1
}

// unsafeString views b as a string without copying; the result must not outlive b.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
