package sigma

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Placeholders resolves %name% placeholders of values with the expand modifier.
type Placeholders interface {
	Placeholder(name string) (values []string, ok bool)
}

// PlaceholderMap is a Placeholders backed by a map (names without the % signs).
type PlaceholderMap map[string][]string

// Placeholder implements Placeholders; lookups ignore case.
func (m PlaceholderMap) Placeholder(name string) ([]string, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// Wildcard markers in a pattern; literal bytes are 0..255.
const (
	wildStar  int16 = -1
	wildQuest int16 = -2
)

// pattern is a Sigma string: literal bytes and wildcards.
type pattern []int16

func parsePattern(s string) pattern {
	p := make(pattern, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			// pySigma's rule: a backslash escapes only *, ? and itself.
			if i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\') {
				p = append(p, int16(s[i+1]))
				i++
			} else {
				p = append(p, '\\')
			}
		case '*':
			p = append(p, wildStar)
		case '?':
			p = append(p, wildQuest)
		default:
			p = append(p, int16(c))
		}
	}
	return p
}

func literalPattern(b []byte) pattern {
	p := make(pattern, len(b))
	for i, c := range b {
		p[i] = int16(c)
	}
	return p
}

func (p pattern) hasWildcards() bool {
	for _, c := range p {
		if c < 0 {
			return true
		}
	}
	return false
}

func (p pattern) literal() []byte {
	b := make([]byte, 0, len(p))
	for _, c := range p {
		if c >= 0 {
			b = append(b, byte(c))
		}
	}
	return b
}

func (p pattern) String() string {
	var b strings.Builder
	for _, c := range p {
		switch c {
		case wildStar:
			b.WriteByte('*')
		case wildQuest:
			b.WriteByte('?')
		default:
			b.WriteByte(byte(c))
		}
	}
	return b.String()
}

// Match modes of a literal.
const (
	modeEquals uint8 = iota
	modeContains
	modeStartsWith
	modeEndsWith
)

type vkind uint8

const (
	vLiteral  vkind = iota // lit compared with mode
	vAny                   // any value present (pattern "*")
	vGlob                  // wildcard pattern
	vRegex                 // regular expression (case-sensitive unless (?i))
	vCIDR                  // IP in prefix
	vNumeric               // numeric comparison
	vExists                // field present (or absent, with want=false)
	vNull                  // field absent or empty
	vFieldref              // equal to another field of the event
	vTime                  // a part of a timestamp compared numerically
)

// Numeric operators.
const (
	opEq uint8 = iota
	opLt
	opLte
	opGt
	opGte
)

// vmatch is one compiled value test on one field.
type vmatch struct {
	kind   vkind
	mode   uint8
	op     uint8
	cased  bool
	negate bool // neq
	want   bool // exists: true/false
	lit    []byte
	glob   pattern
	re     *regexp.Regexp
	pre    []byte // a lower-case literal every match of re contains (nil: none known)
	minLen int    // the shortest value re can match
	prefix netip.Prefix
	num    float64
	other  string // fieldref target
	unit   string // time part
}

// citem is a compiled Item: an OR (or AND with "all") of value tests on one field.
type citem struct {
	field string // "" means keyword: any field
	all   bool
	ms    []vmatch
}

var knownModifiers = map[string]bool{
	"contains": true, "startswith": true, "endswith": true, "all": true, "re": true, "i": true, "m": true, "s": true,
	"base64": true, "base64offset": true, "utf16le": true, "utf16be": true, "wide": true, "utf16": true,
	"windash": true, "cidr": true, "exists": true, "cased": true, "fieldref": true, "expand": true,
	"lt": true, "lte": true, "gt": true, "gte": true, "neq": true,
	"minute": true, "hour": true, "day": true, "week": true, "month": true, "year": true,
}

// compileItem turns an item into value tests. Placeholders of the expand
// modifier come from ph.
func compileItem(it *Item, ph Placeholders) (*citem, error) {
	ci := &citem{field: it.Field}
	var (
		pats                                    []pattern
		isRe, isCIDR, isExists, isRef, isExpand bool
		cased, negate                           bool
		reFlags                                 string
		numOp                                   = -1
		unit                                    string
		sawRe                                   bool
	)
	for _, m := range it.Modifiers {
		lm := strings.ToLower(m)
		if !knownModifiers[lm] {
			return nil, itemErr(it, "unknown modifier %q", m)
		}
		switch lm {
		case "re":
			isRe, sawRe = true, true
		case "i", "m", "s":
			if !sawRe {
				return nil, itemErr(it, "modifier %q must follow re", m)
			}
			reFlags += lm
		case "cidr":
			isCIDR = true
		case "exists":
			isExists = true
		case "fieldref":
			isRef = true
		case "expand":
			isExpand = true
		case "cased":
			cased = true
		case "neq":
			negate = true
		case "all":
			ci.all = true
		case "lt":
			numOp = int(opLt)
		case "lte":
			numOp = int(opLte)
		case "gt":
			numOp = int(opGt)
		case "gte":
			numOp = int(opGte)
		case "minute", "hour", "day", "week", "month", "year":
			unit = lm
		}
	}
	if ci.all && len(it.Values) < 2 && it.Field != "" {
		// The spec disallows all on a single value; it is harmless, so accept it.
		ci.all = false
	}
	values := it.Values
	if isExpand {
		var expanded []RawValue
		for _, v := range values {
			vs, err := expandPlaceholders(v.Text, ph)
			if err != nil {
				return nil, itemErr(it, "%v", err)
			}
			for _, x := range vs {
				expanded = append(expanded, RawValue{Text: x, Line: v.Line})
			}
		}
		values = expanded
		if len(values) == 0 {
			// A placeholder configured with no values matches nothing.
			ci.ms = append(ci.ms, vmatch{kind: vLiteral, mode: modeEquals, lit: []byte("\x00mamori:empty-placeholder\x00"), cased: true})
			return ci, nil
		}
	}

	for _, v := range values {
		switch {
		case v.Null:
			if isExists || isRe || isCIDR || isRef || numOp >= 0 {
				return nil, itemErr(it, "null cannot be used with these modifiers")
			}
			ci.ms = append(ci.ms, vmatch{kind: vNull, negate: negate})
			continue
		case isExists:
			b, err := strconv.ParseBool(v.Text)
			if err != nil {
				return nil, itemErr(it, "exists needs true or false, got %q", v.Text)
			}
			ci.ms = append(ci.ms, vmatch{kind: vExists, want: b})
			continue
		case isRe:
			expr := v.Text
			flags := reFlags
			if flags != "" {
				expr = "(?" + flags + ")" + expr
			}
			re, err := regexp.Compile(expr)
			if err != nil {
				return nil, itemErr(it, "bad regular expression %q: %v", v.Text, unwrapRegexpErr(err))
			}
			vm := vmatch{kind: vRegex, re: re, negate: negate}
			if n := regexNeedle(re.String()); len(n) >= 1 {
				vm.pre = n
			}
			vm.minLen = regexMinLen(re.String())
			ci.ms = append(ci.ms, vm)
			continue
		case isCIDR:
			pfx, err := netip.ParsePrefix(strings.TrimSpace(v.Text))
			if err != nil {
				return nil, itemErr(it, "bad CIDR %q: %v", v.Text, err)
			}
			ci.ms = append(ci.ms, vmatch{kind: vCIDR, prefix: pfx.Masked(), negate: negate})
			continue
		case unit != "":
			n, err := strconv.ParseFloat(strings.TrimSpace(v.Text), 64)
			if err != nil {
				return nil, itemErr(it, "%s needs a number, got %q", unit, v.Text)
			}
			op := uint8(opEq)
			if numOp >= 0 {
				op = uint8(numOp)
			}
			ci.ms = append(ci.ms, vmatch{kind: vTime, unit: unit, op: op, num: n, negate: negate})
			continue
		case numOp >= 0:
			n, err := strconv.ParseFloat(strings.TrimSpace(v.Text), 64)
			if err != nil {
				return nil, itemErr(it, "numeric comparison needs a number, got %q", v.Text)
			}
			ci.ms = append(ci.ms, vmatch{kind: vNumeric, op: uint8(numOp), num: n, negate: negate})
			continue
		case isRef:
			mode := modeEquals
			for _, m := range it.Modifiers {
				switch strings.ToLower(m) {
				case "contains":
					mode = modeContains
				case "startswith":
					mode = modeStartsWith
				case "endswith":
					mode = modeEndsWith
				}
			}
			ci.ms = append(ci.ms, vmatch{kind: vFieldref, other: v.Text, mode: mode, cased: cased, negate: negate})
			continue
		}
		pats = pats[:0]
		pats = append(pats, parsePattern(v.Text))
		var err error
		if it.Field == "" {
			// Keywords search free text: a keyword matches anywhere in a value.
			pats, _ = transform("contains", pats)
		}
		for _, m := range it.Modifiers {
			if pats, err = transform(strings.ToLower(m), pats); err != nil {
				return nil, itemErr(it, "%v", err)
			}
		}
		for _, p := range pats {
			ci.ms = append(ci.ms, patternMatch(p, cased, negate))
		}
	}
	if it.Field == "" {
		for i := range ci.ms {
			switch ci.ms[i].kind {
			case vNull, vExists, vFieldref, vNumeric, vTime:
				return nil, itemErr(it, "keyword searches cannot use this modifier")
			}
		}
	}
	return ci, nil
}

func unwrapRegexpErr(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

// expandPlaceholders replaces %name% in s with every combination of values.
func expandPlaceholders(s string, ph Placeholders) ([]string, error) {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return []string{s}, nil
	}
	j := strings.IndexByte(s[i+1:], '%')
	if j < 0 {
		return []string{s}, nil
	}
	name := s[i+1 : i+1+j]
	vals, ok := ph.Placeholder(name)
	if !ok {
		return nil, fmt.Errorf("placeholder %%%s%% has no configured value (give it in the placeholders file)", name)
	}
	rest, err := expandPlaceholders(s[i+2+j:], ph)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range vals {
		for _, r := range rest {
			out = append(out, s[:i]+v+r)
		}
	}
	return out, nil
}

// transform applies a value modifier to every pattern.
func transform(mod string, pats []pattern) ([]pattern, error) {
	switch mod {
	case "contains":
		for i, p := range pats {
			if len(p) == 0 || p[0] != wildStar {
				p = append(pattern{wildStar}, p...)
			}
			if p[len(p)-1] != wildStar {
				p = append(p, wildStar)
			}
			pats[i] = p
		}
	case "startswith":
		for i, p := range pats {
			if len(p) == 0 || p[len(p)-1] != wildStar {
				pats[i] = append(p, wildStar)
			}
		}
	case "endswith":
		for i, p := range pats {
			if len(p) == 0 || p[0] != wildStar {
				pats[i] = append(pattern{wildStar}, p...)
			}
		}
	case "base64":
		for i, p := range pats {
			if p.hasWildcards() {
				return nil, fmt.Errorf("base64 cannot encode a value with wildcards (%q)", p.String())
			}
			pats[i] = literalPattern([]byte(base64.StdEncoding.EncodeToString(p.literal())))
		}
	case "base64offset":
		var out []pattern
		for _, p := range pats {
			if p.hasWildcards() {
				return nil, fmt.Errorf("base64offset cannot encode a value with wildcards (%q)", p.String())
			}
			for _, s := range base64Offsets(p.literal()) {
				out = append(out, literalPattern([]byte(s)))
			}
		}
		return out, nil
	case "utf16le", "wide":
		for i, p := range pats {
			pats[i] = encodeUTF16(p, false, false)
		}
	case "utf16be":
		for i, p := range pats {
			pats[i] = encodeUTF16(p, true, false)
		}
	case "utf16":
		for i, p := range pats {
			pats[i] = encodeUTF16(p, false, true)
		}
	case "windash":
		var out []pattern
		for _, p := range pats {
			out = append(out, windash(p)...)
		}
		return out, nil
	}
	return pats, nil
}

// base64Offsets returns the three encodings of v as it may appear at any byte
// offset inside a longer base64 text (the pySigma definition).
func base64Offsets(v []byte) []string {
	starts := [3]int{0, 2, 3}
	ends := [3]int{0, -3, -2} // 0 means "to the end"
	out := make([]string, 0, 3)
	for i := 0; i < 3; i++ {
		buf := append(make([]byte, 0, i+len(v)), strings.Repeat(" ", i)...)
		buf = append(buf, v...)
		enc := base64.StdEncoding.EncodeToString(buf)
		end := len(enc)
		if e := ends[(len(v)+i)%3]; e != 0 {
			end = len(enc) + e
		}
		if starts[i] > end {
			continue
		}
		out = append(out, enc[starts[i]:end])
	}
	return out
}

// encodeUTF16 re-encodes the literal runs of p as UTF-16, keeping wildcards.
func encodeUTF16(p pattern, bigEndian, bom bool) pattern {
	var out pattern
	if bom {
		out = append(out, 0xFF, 0xFE)
	}
	var run []byte
	flush := func() {
		for _, r := range string(run) {
			for _, u := range utf16.Encode([]rune{r}) {
				if bigEndian {
					out = append(out, int16(u>>8), int16(u&0xFF))
				} else {
					out = append(out, int16(u&0xFF), int16(u>>8))
				}
			}
		}
		run = run[:0]
	}
	for _, c := range p {
		if c < 0 {
			flush()
			out = append(out, c)
			continue
		}
		run = append(run, byte(c))
	}
	flush()
	return out
}

// windashChars are the characters Windows command lines accept for a switch.
var windashChars = []string{"-", "/", "\u2013", "\u2014", "\u2015"}

// windash expands every '-' or '/' that starts a word (pySigma: \B[-/]\b)
// into each of the dash characters Windows accepts.
func windash(p pattern) []pattern {
	var positions []int
	for i, c := range p {
		if c != '-' && c != '/' {
			continue
		}
		prevWord := i > 0 && p[i-1] >= 0 && isWordByte(byte(p[i-1]))
		nextWord := i+1 < len(p) && p[i+1] >= 0 && isWordByte(byte(p[i+1]))
		if !prevWord && nextWord {
			positions = append(positions, i)
		}
	}
	if len(positions) == 0 {
		return []pattern{p}
	}
	if len(positions) > 4 {
		positions = positions[:4] // 5^4 variants is already plenty
	}
	out := []pattern{nil}
	last := 0
	for _, pos := range positions {
		var next []pattern
		for _, pre := range out {
			for _, d := range windashChars {
				q := append(append(pattern{}, pre...), p[last:pos]...)
				q = append(q, literalPattern([]byte(d))...)
				next = append(next, q)
			}
		}
		out = next
		last = pos + 1
	}
	for i := range out {
		out[i] = append(out[i], p[last:]...)
	}
	return out
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf
}

// patternMatch classifies a pattern into the cheapest test that decides it.
func patternMatch(p pattern, cased, negate bool) vmatch {
	lead, trail := 0, len(p)
	for lead < trail && p[lead] == wildStar {
		lead++
	}
	for trail > lead && p[trail-1] == wildStar {
		trail--
	}
	mid := p[lead:trail]
	if len(mid) == 0 {
		if len(p) == 0 {
			return vmatch{kind: vLiteral, mode: modeEquals, lit: []byte{}, cased: cased, negate: negate}
		}
		return vmatch{kind: vAny, negate: negate}
	}
	if !mid.hasWildcards() {
		lit := mid.literal()
		if !cased {
			lit = lowerBytes(nil, lit)
		}
		mode := modeEquals
		switch {
		case lead > 0 && trail < len(p):
			mode = modeContains
		case lead > 0:
			mode = modeEndsWith
		case trail < len(p):
			mode = modeStartsWith
		}
		return vmatch{kind: vLiteral, mode: mode, lit: lit, cased: cased, negate: negate}
	}
	g := append(pattern{}, p...)
	if !cased {
		lowerPattern(g)
	}
	return vmatch{kind: vGlob, glob: g, cased: cased, negate: negate}
}

func lowerPattern(p pattern) {
	// Lower runs of literal bytes together so multi-byte runes fold correctly.
	i := 0
	for i < len(p) {
		if p[i] < 0 {
			i++
			continue
		}
		j := i
		for j < len(p) && p[j] >= 0 {
			j++
		}
		run := pattern(p[i:j]).literal()
		low := lowerBytes(nil, run)
		if len(low) == len(run) {
			for k, c := range low {
				p[i+k] = int16(c)
			}
		}
		i = j
	}
}

// needle returns the longest literal run of a glob: a byte string every
// matching value must contain (lowercased like the glob).
func (p pattern) needle() []byte {
	var best pattern
	i := 0
	for i < len(p) {
		if p[i] < 0 {
			i++
			continue
		}
		j := i
		for j < len(p) && p[j] >= 0 {
			j++
		}
		if j-i > len(best) {
			best = p[i:j]
		}
		i = j
	}
	return best.literal()
}
