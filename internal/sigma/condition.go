package sigma

import (
	"fmt"
	"path"
	"strings"
)

// CondKind is the kind of a condition node.
type CondKind uint8

// Condition node kinds.
const (
	CondSearch CondKind = iota // a search identifier
	CondAnd
	CondOr
	CondNot
)

// Cond is a node of a parsed condition. "1 of x*" and "all of them" are
// expanded at parse time into CondOr/CondAnd over the named searches.
type Cond struct {
	Kind CondKind
	Name string // CondSearch only
	Args []Cond
}

// String renders the condition with explicit parentheses.
func (c Cond) String() string {
	switch c.Kind {
	case CondSearch:
		return c.Name
	case CondNot:
		return "not " + c.Args[0].String()
	}
	sep := " and "
	if c.Kind == CondOr {
		sep = " or "
	}
	parts := make([]string, len(c.Args))
	for i, a := range c.Args {
		parts[i] = a.String()
	}
	return "(" + strings.Join(parts, sep) + ")"
}

type condToken struct {
	text string
	pos  int
}

func lexCondition(s string) ([]condToken, error) {
	var toks []condToken
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, condToken{string(c), i})
			i++
		case c == '|':
			return nil, fmt.Errorf("column %d: aggregations (\"| count() ...\") are obsolete in Sigma; write a correlation rule instead", i+1)
		case isIdentByte(c):
			j := i
			for j < len(s) && isIdentByte(s[j]) {
				j++
			}
			toks = append(toks, condToken{s[i:j], i})
			i = j
		default:
			return nil, fmt.Errorf("column %d: unexpected character %q", i+1, c)
		}
	}
	return toks, nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '*' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

type condParser struct {
	toks []condToken
	pos  int
	det  *Detection
}

func parseCondition(s string, det *Detection) (Cond, error) {
	toks, err := lexCondition(s)
	if err != nil {
		return Cond{}, err
	}
	if len(toks) == 0 {
		return Cond{}, fmt.Errorf("empty condition")
	}
	p := &condParser{toks: toks, det: det}
	c, err := p.or()
	if err != nil {
		return Cond{}, err
	}
	if p.pos < len(p.toks) {
		t := p.toks[p.pos]
		return Cond{}, fmt.Errorf("column %d: unexpected %q", t.pos+1, t.text)
	}
	return c, nil
}

func (p *condParser) peek() string {
	if p.pos < len(p.toks) {
		return strings.ToLower(p.toks[p.pos].text)
	}
	return ""
}

func (p *condParser) errf(format string, args ...any) error {
	col := 0
	if p.pos < len(p.toks) {
		col = p.toks[p.pos].pos + 1
		return fmt.Errorf("column %d: "+format, append([]any{col}, args...)...)
	}
	return fmt.Errorf("at end: "+format, args...)
}

func (p *condParser) or() (Cond, error) {
	left, err := p.and()
	if err != nil {
		return left, err
	}
	args := []Cond{left}
	for p.peek() == "or" {
		p.pos++
		right, err := p.and()
		if err != nil {
			return right, err
		}
		args = append(args, right)
	}
	if len(args) == 1 {
		return left, nil
	}
	return Cond{Kind: CondOr, Args: args}, nil
}

func (p *condParser) and() (Cond, error) {
	left, err := p.not()
	if err != nil {
		return left, err
	}
	args := []Cond{left}
	for p.peek() == "and" {
		p.pos++
		right, err := p.not()
		if err != nil {
			return right, err
		}
		args = append(args, right)
	}
	if len(args) == 1 {
		return left, nil
	}
	return Cond{Kind: CondAnd, Args: args}, nil
}

func (p *condParser) not() (Cond, error) {
	if p.peek() == "not" {
		p.pos++
		c, err := p.not()
		if err != nil {
			return c, err
		}
		return Cond{Kind: CondNot, Args: []Cond{c}}, nil
	}
	return p.primary()
}

func (p *condParser) primary() (Cond, error) {
	t := p.peek()
	switch t {
	case "":
		return Cond{}, p.errf("expected a search identifier")
	case "(":
		p.pos++
		c, err := p.or()
		if err != nil {
			return c, err
		}
		if p.peek() != ")" {
			return c, p.errf("expected \")\"")
		}
		p.pos++
		return c, nil
	case ")", "and", "or", "of", "them":
		return Cond{}, p.errf("unexpected %q", p.toks[p.pos].text)
	case "1", "all", "any":
		if p.pos+1 < len(p.toks) && strings.EqualFold(p.toks[p.pos+1].text, "of") {
			p.pos += 2
			return p.quantified(t != "all")
		}
	}
	name := p.toks[p.pos].text
	if _, ok := p.det.Searches[name]; !ok {
		return Cond{}, p.errf("unknown search identifier %q", name)
	}
	p.pos++
	return Cond{Kind: CondSearch, Name: name}, nil
}

func (p *condParser) quantified(any bool) (Cond, error) {
	if p.pos >= len(p.toks) {
		return Cond{}, p.errf("expected a pattern or \"them\" after \"of\"")
	}
	pat := p.toks[p.pos].text
	var names []string
	if strings.EqualFold(pat, "them") {
		for _, n := range p.det.Order {
			if !strings.HasPrefix(n, "_") {
				names = append(names, n)
			}
		}
	} else {
		if pat == "(" || pat == ")" {
			return Cond{}, p.errf("expected a pattern after \"of\"")
		}
		for _, n := range p.det.Order {
			if ok, _ := path.Match(pat, n); ok {
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			return Cond{}, p.errf("%q matches no search identifier", pat)
		}
	}
	p.pos++
	if len(names) == 0 {
		return Cond{}, p.errf("\"them\" matches no search identifier")
	}
	args := make([]Cond, len(names))
	for i, n := range names {
		args[i] = Cond{Kind: CondSearch, Name: n}
	}
	if len(args) == 1 {
		return args[0], nil
	}
	kind := CondAnd
	if any {
		kind = CondOr
	}
	return Cond{Kind: kind, Args: args}, nil
}
