package ioc

import (
	"errors"
	"fmt"
	"strings"
)

// Observable is one value a STIX pattern matches on.
type Observable struct {
	Kind  Kind
	Value string // normalized
}

// ParsePattern reads a STIX 2.1 pattern and returns the values it matches on,
// when it is of the supported form: comparisons
//
//	ipv4-addr:value, ipv6-addr:value           = 'addr' | = 'cidr' | ISSUBSET 'cidr'
//	domain-name:value, url:value               = 'text'
//	file:hashes.MD5 | 'SHA-1' | 'SHA-256'      = 'hex'  (SHA1, SHA256, any case, quoted or not)
//
// each also as "IN ('a', 'b', ...)", combined with OR inside an observation
// expression "[...]" and across them "[...] OR [...]", with any parentheses.
// A pattern that is well-formed but needs more (AND, FOLLOWEDBY, NOT, other
// operators, object types or properties, qualifiers such as WITHIN or
// REPEATS) gives an error wrapping ErrUnsupported; a malformed one a syntax
// error naming the byte offset. A value that does not normalize is reported
// in the error while the other values are still returned.
func ParsePattern(pattern string) ([]Observable, error) {
	p := patParser{lex: lexer{src: pattern}}
	p.next()
	obs := p.observations(0)
	if p.err == nil && p.tok.kind != tEOF {
		p.fail("unexpected %s after the pattern", p.tok)
	}
	if p.err != nil {
		return nil, p.err
	}
	if p.unsup != nil {
		return nil, p.unsup
	}
	if len(obs) == 0 {
		if len(p.bad) > 0 {
			return nil, errors.Join(p.bad...)
		}
		return nil, errors.New("pattern names no value")
	}
	if len(p.bad) > 0 {
		return obs, errors.Join(p.bad...)
	}
	return obs, nil
}

type tokKind uint8

const (
	tEOF      tokKind = iota
	tIdent            // object types, property names, keywords
	tString           // '...' with \' and \\ escapes; val is unescaped
	tPrefixed         // t'...', h'...', b'...'
	tNumber
	tOp // = == != <> < > <= >=
	tLBrack
	tRBrack
	tLParen
	tRParen
	tComma
	tColon
	tDot
	tStar
	tBad
)

type token struct {
	kind tokKind
	val  string
	pos  int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of pattern"
	case tString, tPrefixed:
		return fmt.Sprintf("string %q", clip(t.val))
	case tBad:
		return fmt.Sprintf("character %q", t.val)
	}
	return fmt.Sprintf("%q", clip(t.val))
}

// lexer splits a STIX pattern into tokens.
type lexer struct {
	src string
	pos int
	err error
}

func (l *lexer) next() token {
	for l.pos < len(l.src) && (l.src[l.pos] == ' ' || l.src[l.pos] == '\t' || l.src[l.pos] == '\n' || l.src[l.pos] == '\r') {
		l.pos++
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tEOF, pos: start}
	}
	c := l.src[l.pos]
	single := func(k tokKind) token {
		l.pos++
		return token{kind: k, val: l.src[start:l.pos], pos: start}
	}
	switch {
	case c == '[':
		return single(tLBrack)
	case c == ']':
		return single(tRBrack)
	case c == '(':
		return single(tLParen)
	case c == ')':
		return single(tRParen)
	case c == ',':
		return single(tComma)
	case c == ':':
		return single(tColon)
	case c == '.':
		return single(tDot)
	case c == '*':
		return single(tStar)
	case c == '\'':
		return l.str(start, start)
	case c == '=' || c == '!' || c == '<' || c == '>':
		l.pos++
		if l.pos < len(l.src) && (l.src[l.pos] == '=' || (c == '<' && l.src[l.pos] == '>')) {
			l.pos++
		}
		op := l.src[start:l.pos]
		if op == "!" {
			return token{kind: tBad, val: op, pos: start}
		}
		return token{kind: tOp, val: op, pos: start}
	case c == '-' || c >= '0' && c <= '9':
		l.pos++
		for l.pos < len(l.src) && (l.src[l.pos] >= '0' && l.src[l.pos] <= '9' || l.src[l.pos] == '.') {
			l.pos++
		}
		return token{kind: tNumber, val: l.src[start:l.pos], pos: start}
	case isAlpha(c) || c == '_':
		if (c == 't' || c == 'h' || c == 'b') && l.pos+1 < len(l.src) && l.src[l.pos+1] == '\'' {
			tk := l.str(start, start+1)
			if tk.kind == tString {
				tk.kind = tPrefixed
			}
			return tk
		}
		l.pos++
		for l.pos < len(l.src) {
			c := l.src[l.pos]
			if isAlpha(c) || c >= '0' && c <= '9' || c == '_' || c == '-' {
				l.pos++
				continue
			}
			break
		}
		return token{kind: tIdent, val: l.src[start:l.pos], pos: start}
	}
	l.pos++
	return token{kind: tBad, val: string(c), pos: start}
}

// str reads a quoted string whose quote is at q.
func (l *lexer) str(start, q int) token {
	var b strings.Builder
	i := q + 1
	for i < len(l.src) {
		c := l.src[i]
		switch c {
		case '\\':
			if i+1 >= len(l.src) {
				l.pos = len(l.src)
				return token{kind: tBad, val: "unterminated string", pos: start}
			}
			b.WriteByte(l.src[i+1])
			i += 2
			continue
		case '\'':
			l.pos = i + 1
			return token{kind: tString, val: b.String(), pos: start}
		}
		b.WriteByte(c)
		i++
	}
	l.pos = len(l.src)
	return token{kind: tBad, val: "unterminated string", pos: start}
}

// patParser is a recursive-descent parser of STIX patterns following the
// STIX 2.1 grammar (observation expressions joined by OR, AND and
// FOLLOWEDBY with qualifiers; comparison expressions joined by OR and AND).
// It parses the whole pattern, then reports a syntax error if there is one,
// else the first construct outside the supported subset.
type patParser struct {
	lex   lexer
	tok   token
	err   error   // the first syntax error
	unsup error   // the first unsupported construct
	bad   []error // values that do not normalize
}

const maxPatternDepth = 64

func (p *patParser) next() { p.tok = p.lex.next() }

func (p *patParser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("offset %d: %s", p.tok.pos, fmt.Sprintf(format, args...))
	}
	p.tok = token{kind: tEOF, pos: len(p.lex.src)} // stop
}

func (p *patParser) unsupported(pos int, format string, args ...any) {
	if p.unsup == nil {
		p.unsup = unsupportedf("offset %d: %s", pos, fmt.Sprintf(format, args...))
	}
}

// keyword reports whether the current token is the keyword kw (any case).
func (p *patParser) keyword(kw string) bool {
	return p.tok.kind == tIdent && strings.EqualFold(p.tok.val, kw)
}

// observations parses observation expressions joined by OR, AND and FOLLOWEDBY.
func (p *patParser) observations(depth int) []Observable {
	if depth > maxPatternDepth {
		p.fail("parentheses nested deeper than %d", maxPatternDepth)
		return nil
	}
	obs := p.observation(depth)
	for p.err == nil {
		switch {
		case p.keyword("OR"):
		case p.keyword("AND"), p.keyword("FOLLOWEDBY"):
			p.unsupported(p.tok.pos, "%s between observation expressions is not supported (an indicator must match on one value)", strings.ToUpper(p.tok.val))
		default:
			return obs
		}
		p.next()
		obs = append(obs, p.observation(depth)...)
	}
	return obs
}

// observation parses "[comparisons]" or "(observations)", then qualifiers.
func (p *patParser) observation(depth int) []Observable {
	var obs []Observable
	switch p.tok.kind {
	case tLBrack:
		p.next()
		obs = p.comparisons(depth + 1)
		if p.tok.kind != tRBrack {
			p.fail("expected ']', found %s", p.tok)
			return nil
		}
		p.next()
	case tLParen:
		p.next()
		obs = p.observations(depth + 1)
		if p.tok.kind != tRParen {
			p.fail("expected ')', found %s", p.tok)
			return nil
		}
		p.next()
	default:
		p.fail("expected '[' or '(', found %s", p.tok)
		return nil
	}
	p.qualifiers()
	return obs
}

// qualifiers parses WITHIN n SECONDS, REPEATS n TIMES and START t” STOP t”.
func (p *patParser) qualifiers() {
	for p.err == nil {
		pos := p.tok.pos
		switch {
		case p.keyword("WITHIN"):
			p.next()
			p.expectNumber()
			p.expectKeyword("SECONDS")
			p.unsupported(pos, "qualifier WITHIN is not supported")
		case p.keyword("REPEATS"):
			p.next()
			p.expectNumber()
			p.expectKeyword("TIMES")
			p.unsupported(pos, "qualifier REPEATS is not supported")
		case p.keyword("START"):
			p.next()
			p.expectTimestamp()
			p.expectKeyword("STOP")
			p.expectTimestamp()
			p.unsupported(pos, "qualifier START/STOP is not supported")
		default:
			return
		}
	}
}

func (p *patParser) expectNumber() {
	if p.tok.kind != tNumber {
		p.fail("expected a number, found %s", p.tok)
		return
	}
	p.next()
}

func (p *patParser) expectKeyword(kw string) {
	if !p.keyword(kw) {
		p.fail("expected %s, found %s", kw, p.tok)
		return
	}
	p.next()
}

func (p *patParser) expectTimestamp() {
	if p.tok.kind != tPrefixed || p.lex.src[p.tok.pos] != 't' {
		p.fail("expected t'timestamp', found %s", p.tok)
		return
	}
	p.next()
}

// comparisons parses comparison expressions joined by OR and AND.
func (p *patParser) comparisons(depth int) []Observable {
	if depth > maxPatternDepth {
		p.fail("parentheses nested deeper than %d", maxPatternDepth)
		return nil
	}
	obs := p.comparison(depth)
	for p.err == nil {
		switch {
		case p.keyword("OR"):
		case p.keyword("AND"):
			p.unsupported(p.tok.pos, "AND is not supported (an indicator must match on one value)")
		default:
			return obs
		}
		p.next()
		obs = append(obs, p.comparison(depth)...)
	}
	return obs
}

// comparison parses "(comparisons)", "EXISTS path" or "path [NOT] op value".
func (p *patParser) comparison(depth int) []Observable {
	if p.tok.kind == tLParen {
		p.next()
		obs := p.comparisons(depth + 1)
		if p.tok.kind != tRParen {
			p.fail("expected ')', found %s", p.tok)
			return nil
		}
		p.next()
		return obs
	}
	if p.keyword("EXISTS") {
		pos := p.tok.pos
		p.next()
		p.path()
		p.unsupported(pos, "EXISTS is not supported")
		return nil
	}
	pathPos := p.tok.pos
	objType, props := p.path()
	if p.err != nil {
		return nil
	}
	negated := false
	if p.keyword("NOT") {
		p.unsupported(p.tok.pos, "NOT is not supported")
		negated = true
		p.next()
	}
	opPos := p.tok.pos
	var op string
	switch {
	case p.tok.kind == tOp:
		op = p.tok.val
	case p.tok.kind == tIdent:
		op = strings.ToUpper(p.tok.val)
		switch op {
		case "IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET":
		default:
			p.fail("expected a comparison operator, found %s", p.tok)
			return nil
		}
	default:
		p.fail("expected a comparison operator, found %s", p.tok)
		return nil
	}
	p.next()
	var vals []token
	if op == "IN" {
		if p.tok.kind != tLParen {
			p.fail("expected '(' after IN, found %s", p.tok)
			return nil
		}
		p.next()
		for {
			v, ok := p.literal()
			if !ok {
				return nil
			}
			vals = append(vals, v)
			if p.tok.kind == tComma {
				p.next()
				continue
			}
			if p.tok.kind != tRParen {
				p.fail("expected ',' or ')', found %s", p.tok)
				return nil
			}
			p.next()
			break
		}
	} else {
		v, ok := p.literal()
		if !ok {
			return nil
		}
		vals = append(vals, v)
	}
	if negated {
		return nil
	}
	return p.atoms(pathPos, opPos, objType, props, op, vals)
}

// literal parses a constant: a string, a number, t”, h”, b”, true or false.
func (p *patParser) literal() (token, bool) {
	switch {
	case p.tok.kind == tString, p.tok.kind == tPrefixed, p.tok.kind == tNumber,
		p.keyword("true"), p.keyword("false"):
		t := p.tok
		p.next()
		return t, true
	}
	if p.tok.kind == tBad {
		p.fail("%s", p.tok.val)
	} else {
		p.fail("expected a constant, found %s", p.tok)
	}
	return token{}, false
}

// path parses "object-type:property(.property|[index])*", quoted property
// names included, and returns the object type and the property names (an
// index as "[]").
func (p *patParser) path() (string, []string) {
	if p.tok.kind != tIdent {
		p.fail("expected an object type, found %s", p.tok)
		return "", nil
	}
	objType := p.tok.val
	p.next()
	if p.tok.kind != tColon {
		p.fail("expected ':' after object type %q, found %s", objType, p.tok)
		return "", nil
	}
	p.next()
	var props []string
	first := true
	for p.err == nil {
		if !first {
			switch p.tok.kind {
			case tDot:
				p.next()
			case tLBrack:
				p.next()
				if p.tok.kind != tNumber && p.tok.kind != tStar {
					p.fail("expected an index or '*', found %s", p.tok)
					return "", nil
				}
				p.next()
				if p.tok.kind != tRBrack {
					p.fail("expected ']', found %s", p.tok)
					return "", nil
				}
				p.next()
				props = append(props, "[]")
				continue
			default:
				return objType, props
			}
		}
		first = false
		switch p.tok.kind {
		case tIdent, tString:
			props = append(props, p.tok.val)
			p.next()
		default:
			p.fail("expected a property name, found %s", p.tok)
		}
	}
	return "", nil
}

// atoms turns one supported comparison into observables.
func (p *patParser) atoms(pathPos, opPos int, objType string, props []string, op string, vals []token) []Observable {
	path := objType + ":" + strings.Join(props, ".")
	var kind Kind
	switch {
	case len(props) == 1 && props[0] == "value" && (objType == "ipv4-addr" || objType == "ipv6-addr"):
		kind = IP // or CIDR, by the value
	case len(props) == 1 && props[0] == "value" && objType == "domain-name":
		kind = Domain
	case len(props) == 1 && props[0] == "value" && objType == "url":
		kind = URL
	case len(props) == 2 && props[0] == "hashes" && objType == "file":
		switch strings.ReplaceAll(strings.ToUpper(props[1]), "-", "") {
		case "MD5":
			kind = MD5
		case "SHA1":
			kind = SHA1
		case "SHA256":
			kind = SHA256
		default:
			p.unsupported(pathPos, "hash %q is not supported (only MD5, SHA-1 and SHA-256)", props[1])
			return nil
		}
	default:
		p.unsupported(pathPos, "%s is not supported", path)
		return nil
	}
	switch op {
	case "=", "==", "IN":
	case "ISSUBSET":
		if kind != IP {
			p.unsupported(opPos, "ISSUBSET on %s is not supported", path)
			return nil
		}
	default:
		p.unsupported(opPos, "operator %s is not supported", op)
		return nil
	}
	var obs []Observable
	for _, v := range vals {
		if v.kind != tString {
			p.bad = append(p.bad, fmt.Errorf("offset %d: %s compared with %s, not a string", v.pos, path, v))
			continue
		}
		k, s, err := patternValue(objType, kind, op, v.val)
		if err != nil {
			p.bad = append(p.bad, fmt.Errorf("offset %d: %s: %w", v.pos, path, err))
			continue
		}
		obs = append(obs, Observable{Kind: k, Value: s})
	}
	return obs
}

func patternValue(objType string, kind Kind, op, v string) (Kind, string, error) {
	if kind != IP {
		s, err := Normalize(kind, v)
		return kind, s, err
	}
	k := IP
	if op == "ISSUBSET" || strings.IndexByte(v, '/') >= 0 {
		k = CIDR
	}
	s, err := Normalize(k, v)
	if err != nil {
		return "", "", err
	}
	if k == CIDR {
		if i := strings.IndexByte(s, '/'); i >= 0 && (s[i+1:] == "32" && strings.IndexByte(s, '.') >= 0 || s[i+1:] == "128") {
			k, s = IP, s[:i]
		}
	}
	if v4 := strings.IndexByte(s, ':') < 0; v4 != (objType == "ipv4-addr") {
		return "", "", fmt.Errorf("%q is not an address of the family of %s", clip(v), objType)
	}
	return k, s, nil
}
