package sigma

import (
	"fmt"
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CompileOptions configures Compile.
type CompileOptions struct {
	// Mapping selects events for each logsource; nil means DefaultMapping().
	Mapping *Mapping
	// Placeholders resolves %name% values of the expand modifier; nil means none.
	Placeholders Placeholders
}

// Set is a compiled rule set. It is immutable and safe for concurrent use;
// each goroutine matches through its own Matcher.
type Set struct {
	// Rules are the compiled detection rules; Match reports indexes into it.
	Rules []*Rule
	// Correlations are the correlation rules, resolved against Rules.
	Correlations []*CorrelationRule
	// Unmapped lists indexes of Rules whose logsource the mapping does not
	// cover: they are loaded but no event reaches them.
	Unmapped []int

	fieldIDs   map[string]int32
	fieldNames []string
	chanField  int32 // field id of the channel index field, -1 if none
	eidField   int32
	channels   map[string]*chanGroups // by lower-cased channel
	global     *group                 // rules not bucketed by channel

	atoms []atom
	insts []inst
	nodes []cnode
	kids  []int32

	stats Stats
}

// Stats describes a compiled Set.
type Stats struct {
	Rules, Instances, Groups, Atoms, Automata, States, AlwaysEvaluated int
}

// Stats returns sizes of the compiled set.
func (s *Set) Stats() Stats { return s.stats }

type chanGroups struct {
	any   *group
	byEID map[string]*group
}

type group struct {
	fields []gfield
	always []int32 // instances evaluated on every event of the group
	insts  []int32

	atomKeys map[string]int32 // dedupe while compiling
	fieldIdx map[int32]int    // field id → index in fields, while compiling
}

type gfield struct {
	id      int32 // -1: keywords, scanned over every value of the event
	ac      *acAutomaton
	needles [][]byte // while compiling
	needleI map[string]int32
	refs    [][]needleRef // per needle
}

type needleRef struct {
	atom  int32
	mode  uint8
	exact bool // the automaton decides the atom alone
}

type atom struct {
	field    int32 // -1: keyword, any field
	m        vmatch
	exact    bool
	triggers []int32 // instances this atom can start
}

type inst struct {
	rule int32
	root int32
}

// Node operators.
const (
	nAtom uint8 = iota
	nAnd
	nOr
	nNot
	nTrue
	nFalse
)

type cnode struct {
	op         uint8
	atom       int32
	kidS, kidE int32
}

// Compile compiles detection and correlation rules into a Set. A rule that
// cannot be compiled (an unresolved placeholder, a dangling correlation
// reference) is left out and reported; the others are compiled.
func Compile(rules []*Rule, opts CompileOptions) (*Set, []error) {
	if opts.Mapping == nil {
		opts.Mapping = DefaultMapping()
	}
	if opts.Placeholders == nil {
		opts.Placeholders = PlaceholderMap{}
	}
	s := &Set{fieldIDs: map[string]int32{}, channels: map[string]*chanGroups{}, chanField: -1, eidField: -1}
	if len(opts.Mapping.IndexFields) > 0 {
		s.chanField = s.fieldID(opts.Mapping.IndexFields[0])
	}
	if len(opts.Mapping.IndexFields) > 1 {
		s.eidField = s.fieldID(opts.Mapping.IndexFields[1])
	}
	var errs []error
	var corrs []*Rule
	for _, r := range rules {
		if r.Correlation != nil {
			corrs = append(corrs, r)
			continue
		}
		if r.Detection == nil {
			continue
		}
		ri := int32(len(s.Rules))
		n, err := s.compileRule(r, ri, opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.Rules = append(s.Rules, r)
		if n == 0 {
			s.Unmapped = append(s.Unmapped, int(ri))
		}
	}
	cr, cerrs := resolveCorrelations(s.Rules, corrs)
	s.Correlations = cr
	errs = append(errs, cerrs...)
	s.finish()
	return s, errs
}

func (s *Set) fieldID(name string) int32 {
	if id, ok := s.fieldIDs[name]; ok {
		return id
	}
	id := int32(len(s.fieldNames))
	s.fieldIDs[name] = id
	s.fieldNames = append(s.fieldNames, name)
	return id
}

func newGroup() *group {
	return &group{atomKeys: map[string]int32{}, fieldIdx: map[int32]int{}}
}

func (s *Set) groupFor(channel, eid string) *group {
	if channel == "" {
		if s.global == nil {
			s.global = newGroup()
		}
		return s.global
	}
	cg := s.channels[channel]
	if cg == nil {
		cg = &chanGroups{byEID: map[string]*group{}}
		s.channels[channel] = cg
	}
	if eid == "" {
		if cg.any == nil {
			cg.any = newGroup()
		}
		return cg.any
	}
	g := cg.byEID[eid]
	if g == nil {
		g = newGroup()
		cg.byEID[eid] = g
	}
	return g
}

// compileRule compiles r once per event bucket its logsource maps to and
// returns how many instances it produced.
func (s *Set) compileRule(r *Rule, ri int32, opts CompileOptions) (int, error) {
	// Compile the items first, independent of buckets, so errors surface once.
	items := map[*Item]*citem{}
	for _, name := range r.Detection.Order {
		for _, alt := range r.Detection.Searches[name].Alts {
			for _, it := range alt {
				ci, err := compileItem(it, opts.Placeholders)
				if err != nil {
					var se *Error
					if e, ok := err.(*Error); ok {
						se = e
						se.Path = r.Path
					}
					return 0, err
				}
				items[it] = ci
			}
		}
	}
	n := 0
	idx := opts.Mapping.IndexFields
	for _, src := range opts.Mapping.sourcesFor(r.Logsource) {
		var chans, eids []string
		extra := map[string][]string{}
		for k, v := range src.Conditions {
			switch {
			case len(idx) > 0 && k == idx[0]:
				chans = v
			case len(idx) > 1 && k == idx[1]:
				eids = v
			default:
				extra[k] = v
			}
		}
		if len(chans) == 0 {
			// Without a channel the event ID cannot be indexed: test it as a condition.
			if len(eids) > 0 {
				extra[idx[1]] = eids
			}
			chans, eids = []string{""}, nil
		}
		if len(eids) == 0 {
			eids = []string{""}
		}
		for _, ch := range chans {
			for _, eid := range eids {
				g := s.groupFor(strings.ToLower(ch), eid)
				s.addInstance(g, r, ri, items, src.Fields, extra)
				n++
			}
		}
	}
	return n, nil
}

type instBuilder struct {
	s      *Set
	g      *group
	items  map[*Item]*citem
	rename map[string]string
	det    *Detection
}

func (s *Set) addInstance(g *group, r *Rule, ri int32, items map[*Item]*citem, rename map[string]string, extra map[string][]string) {
	b := &instBuilder{s: s, g: g, items: items, rename: rename, det: r.Detection}
	var roots []int32
	for _, c := range r.Detection.Conds {
		roots = append(roots, b.cond(c))
	}
	root := roots[0]
	if len(roots) > 1 {
		root = s.node(nOr, -1, roots)
	}
	if len(extra) > 0 {
		keys := make([]string, 0, len(extra))
		for k := range extra {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		all := []int32{root}
		for _, k := range keys {
			var ors []int32
			for _, v := range extra[k] {
				ors = append(ors, b.atomNode(k, patternMatch(parsePattern(v), false, false)))
			}
			all = append(all, s.node(nOr, -1, ors))
		}
		root = s.node(nAnd, -1, all)
	}
	id := int32(len(s.insts))
	s.insts = append(s.insts, inst{rule: ri, root: root})
	g.insts = append(g.insts, id)
	trig, ok := s.triggers(root)
	if !ok || len(trig) == 0 {
		g.always = append(g.always, id)
		return
	}
	for _, a := range trig {
		s.atoms[a].triggers = append(s.atoms[a].triggers, id)
	}
}

func (s *Set) node(op uint8, a int32, kids []int32) int32 {
	if op == nAnd || op == nOr {
		if len(kids) == 1 {
			return kids[0]
		}
	}
	n := cnode{op: op, atom: a, kidS: int32(len(s.kids))}
	s.kids = append(s.kids, kids...)
	n.kidE = int32(len(s.kids))
	s.nodes = append(s.nodes, n)
	return int32(len(s.nodes) - 1)
}

func (b *instBuilder) cond(c Cond) int32 {
	switch c.Kind {
	case CondSearch:
		return b.search(b.det.Searches[c.Name])
	case CondNot:
		return b.s.node(nNot, -1, []int32{b.cond(c.Args[0])})
	}
	kids := make([]int32, len(c.Args))
	for i, a := range c.Args {
		kids[i] = b.cond(a)
	}
	op := nAnd
	if c.Kind == CondOr {
		op = nOr
	}
	return b.s.node(op, -1, kids)
}

func (b *instBuilder) search(se *Search) int32 {
	var alts []int32
	for _, alt := range se.Alts {
		var ands []int32
		for _, it := range alt {
			ands = append(ands, b.item(b.items[it]))
		}
		alts = append(alts, b.s.node(nAnd, -1, ands))
	}
	return b.s.node(nOr, -1, alts)
}

func (b *instBuilder) item(ci *citem) int32 {
	field := ci.field
	if to, ok := b.rename[field]; ok && field != "" {
		field = to
	}
	var kids []int32
	for _, m := range ci.ms {
		kids = append(kids, b.atomNode(field, m))
	}
	if ci.all {
		return b.s.node(nAnd, -1, kids)
	}
	return b.s.node(nOr, -1, kids)
}

func atomKey(field string, m *vmatch) string {
	var sb strings.Builder
	sb.WriteString(field)
	fmt.Fprintf(&sb, "\x00%d\x00%d\x00%d\x00%t%t%t\x00%s\x00%s\x00", m.kind, m.mode, m.op, m.cased, m.negate, m.want, m.lit, m.glob.String())
	if m.re != nil {
		sb.WriteString(m.re.String())
	}
	fmt.Fprintf(&sb, "\x00%s\x00%g\x00%s\x00%s", m.prefix, m.num, m.other, m.unit)
	return sb.String()
}

// atomNode returns a node testing m on field, sharing identical atoms within the group.
func (b *instBuilder) atomNode(field string, m vmatch) int32 {
	key := atomKey(field, &m)
	a, ok := b.g.atomKeys[key]
	if !ok {
		a = int32(len(b.s.atoms))
		at := atom{field: -1, m: m}
		if field != "" {
			at.field = b.s.fieldID(field)
		}
		if m.kind == vFieldref {
			b.s.fieldID(m.other)
		}
		needle, mode, exact := atomNeedle(&m)
		if len(needle) > 0 {
			at.exact = exact
			b.addNeedle(at.field, needle, needleRef{atom: a, mode: mode, exact: exact})
		}
		b.s.atoms = append(b.s.atoms, at)
		b.g.atomKeys[key] = a
	}
	return b.s.node(nAtom, a, nil)
}

func (b *instBuilder) addNeedle(field int32, needle []byte, ref needleRef) {
	fi, ok := b.g.fieldIdx[field]
	if !ok {
		fi = len(b.g.fields)
		b.g.fieldIdx[field] = fi
		b.g.fields = append(b.g.fields, gfield{id: field, needleI: map[string]int32{}})
	}
	gf := &b.g.fields[fi]
	ni, ok := gf.needleI[string(needle)]
	if !ok {
		ni = int32(len(gf.needles))
		gf.needleI[string(needle)] = ni
		gf.needles = append(gf.needles, needle)
		gf.refs = append(gf.refs, nil)
	}
	gf.refs[ni] = append(gf.refs[ni], ref)
}

// atomNeedle returns the lower-cased literal every value matching m must
// contain, the mode in which the automaton's hit decides m, and whether the
// hit decides m alone (exact) or only admits it for verification.
func atomNeedle(m *vmatch) (needle []byte, mode uint8, exact bool) {
	if m.negate {
		return nil, 0, false
	}
	switch m.kind {
	case vLiteral:
		if len(m.lit) == 0 {
			return nil, 0, false
		}
		if m.cased {
			return lowerBytes(nil, m.lit), modeContains, false
		}
		return m.lit, m.mode, true
	case vGlob:
		// A cased glob keeps its case; the automata scan lower-cased text.
		return lowerBytes(nil, m.glob.needle()), modeContains, false
	case vRegex:
		if n := regexNeedle(m.re.String()); len(n) >= 3 {
			return n, modeContains, false
		}
	}
	return nil, 0, false
}

// regexNeedle returns the longest literal a match of expr must contain (lower-cased).
func regexNeedle(expr string) []byte {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	re = re.Simplify()
	var best string
	var walk func(r *syntax.Regexp)
	walk = func(r *syntax.Regexp) {
		switch r.Op {
		case syntax.OpLiteral:
			if s := string(r.Rune); len(s) > len(best) {
				best = s
			}
		case syntax.OpCapture:
			walk(r.Sub[0])
		case syntax.OpConcat:
			for _, sub := range r.Sub {
				walk(sub)
			}
		case syntax.OpPlus:
			walk(r.Sub[0])
		case syntax.OpRepeat:
			if r.Min >= 1 {
				walk(r.Sub[0])
			}
		}
	}
	walk(re)
	return lowerBytes(nil, []byte(best))
}

// regexMinLen returns the length in bytes of the shortest text expr can match.
func regexMinLen(expr string) int {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return 0
	}
	var walk func(r *syntax.Regexp) int
	walk = func(r *syntax.Regexp) int {
		switch r.Op {
		case syntax.OpLiteral:
			n := 0
			for _, c := range r.Rune {
				n += utf8.RuneLen(c)
			}
			return n
		case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			return 1
		case syntax.OpCapture, syntax.OpPlus:
			return walk(r.Sub[0])
		case syntax.OpRepeat:
			return r.Min * walk(r.Sub[0])
		case syntax.OpConcat:
			n := 0
			for _, sub := range r.Sub {
				n += walk(sub)
			}
			return n
		case syntax.OpAlternate:
			best := -1
			for _, sub := range r.Sub {
				if n := walk(sub); best < 0 || n < best {
					best = n
				}
			}
			return max(best, 0)
		}
		return 0
	}
	return walk(re)
}

// triggers returns atoms of which at least one is true whenever node n is
// true, chosen to be rare; ok is false when no such set can be named.
func (s *Set) triggers(n int32) (set []int32, ok bool) {
	nd := &s.nodes[n]
	switch nd.op {
	case nAtom:
		a := &s.atoms[nd.atom]
		needle, _, _ := atomNeedle(&a.m)
		if len(needle) == 0 {
			return nil, false
		}
		return []int32{nd.atom}, true
	case nOr:
		for _, k := range s.kids[nd.kidS:nd.kidE] {
			ks, ok := s.triggers(k)
			if !ok {
				return nil, false
			}
			set = append(set, ks...)
		}
		return set, true
	case nAnd:
		bestCost := -1.0
		for _, k := range s.kids[nd.kidS:nd.kidE] {
			ks, ok := s.triggers(k)
			if !ok {
				continue
			}
			if c := s.triggerCost(ks); bestCost < 0 || c < bestCost {
				set, bestCost = ks, c
			}
		}
		return set, bestCost >= 0
	}
	return nil, false
}

// triggerCost estimates how often a trigger set fires: short needles are common.
func (s *Set) triggerCost(set []int32) float64 {
	c := 0.0
	for _, a := range set {
		needle, mode, _ := atomNeedle(&s.atoms[a].m)
		l := float64(len(needle))
		w := 1 / (l * l)
		if mode == modeEquals {
			w /= 2 // a whole-value match is rarer than a substring
		}
		c += w
	}
	return c
}

// finish builds the automata (shared between groups with identical needle
// sets) and drops compile-time indexes.
func (s *Set) finish() {
	cache := map[string]*acAutomaton{}
	var groups []*group
	if s.global != nil {
		groups = append(groups, s.global)
	}
	for _, cg := range s.channels {
		if cg.any != nil {
			groups = append(groups, cg.any)
		}
		for _, g := range cg.byEID {
			groups = append(groups, g)
		}
	}
	for _, g := range groups {
		for fi := range g.fields {
			gf := &g.fields[fi]
			order := make([]int, len(gf.needles))
			for i := range order {
				order[i] = i
			}
			sort.Slice(order, func(i, j int) bool { return string(gf.needles[order[i]]) < string(gf.needles[order[j]]) })
			needles := make([][]byte, len(order))
			refs := make([][]needleRef, len(order))
			var key strings.Builder
			for i, o := range order {
				needles[i], refs[i] = gf.needles[o], gf.refs[o]
				key.Write(needles[i])
				key.WriteString("\x00\x01")
			}
			ac, ok := cache[key.String()]
			if !ok {
				ac = buildAC(needles)
				cache[key.String()] = ac
				s.stats.Automata++
				s.stats.States += ac.numStates()
			}
			gf.ac, gf.refs, gf.needles, gf.needleI = ac, refs, nil, nil
		}
		s.stats.AlwaysEvaluated += len(g.always)
		g.atomKeys, g.fieldIdx = nil, nil
	}
	s.stats.Rules = len(s.Rules)
	s.stats.Instances = len(s.insts)
	s.stats.Groups = len(groups)
	s.stats.Atoms = len(s.atoms)
}

// RuleIndex returns the index in s.Rules of the rule with the given id or name, or -1.
func (s *Set) RuleIndex(idOrName string) int {
	for i, r := range s.Rules {
		if r.ID == idOrName || (r.Name != "" && r.Name == idOrName) {
			return i
		}
	}
	return -1
}

func (st Stats) String() string {
	return "rules=" + strconv.Itoa(st.Rules) + " instances=" + strconv.Itoa(st.Instances) + " groups=" + strconv.Itoa(st.Groups) +
		" atoms=" + strconv.Itoa(st.Atoms) + " automata=" + strconv.Itoa(st.Automata) + " states=" + strconv.Itoa(st.States) +
		" always=" + strconv.Itoa(st.AlwaysEvaluated)
}
