package sigma

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Detection is the parsed detection section of a rule.
type Detection struct {
	// Searches holds the search identifiers by name, Order their declaration order.
	Searches map[string]*Search
	Order    []string
	// Conditions are OR-ed; each is parsed into Conds.
	Conditions []string
	Conds      []Cond
	// Timeframe is the legacy detection.timeframe, kept for information.
	Timeframe string
}

// Search is one search identifier: an OR of alternatives, each an AND of items.
type Search struct {
	Name string
	Line int
	Alts [][]*Item
}

// Item is one field (or keyword) clause of a search: Field|mod|mod: values.
type Item struct {
	Field     string // "" for keywords (values searched in every field)
	Modifiers []string
	Values    []RawValue
	Line      int
	Col       int
}

// RawValue is a value as written in the rule.
type RawValue struct {
	Text string
	Null bool
	Line int
}

// Key renders the item's key as written (Field|mod|mod).
func (it *Item) Key() string {
	if len(it.Modifiers) == 0 {
		return it.Field
	}
	return it.Field + "|" + strings.Join(it.Modifiers, "|")
}

func parseDetection(n *yaml.Node) (*Detection, error) {
	if n.Kind != yaml.MappingNode {
		return nil, errAt(n, "detection must be a mapping, got %s", kindName(n))
	}
	d := &Detection{Searches: map[string]*Search{}}
	var condNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "condition":
			condNode = v
			switch v.Kind {
			case yaml.ScalarNode:
				d.Conditions = []string{v.Value}
			case yaml.SequenceNode:
				for _, c := range v.Content {
					if c.Kind != yaml.ScalarNode {
						return nil, errAt(c, "condition list entries must be strings, got %s", kindName(c))
					}
					d.Conditions = append(d.Conditions, c.Value)
				}
			default:
				return nil, errAt(v, "condition must be a string or a list of strings, got %s", kindName(v))
			}
		case "timeframe":
			d.Timeframe = v.Value
		default:
			s, err := parseSearch(k.Value, v)
			if err != nil {
				return nil, err
			}
			s.Line = k.Line
			if _, dup := d.Searches[k.Value]; dup {
				return nil, errAt(k, "search identifier %q defined twice", k.Value)
			}
			d.Searches[k.Value] = s
			d.Order = append(d.Order, k.Value)
		}
	}
	if condNode == nil {
		return nil, errAt(n, "detection has no condition")
	}
	if len(d.Searches) == 0 {
		return nil, errAt(n, "detection has no search identifier")
	}
	for _, c := range d.Conditions {
		cond, err := parseCondition(c, d)
		if err != nil {
			e := errAt(condNode, "condition %q", c)
			e.Err = err
			return nil, e
		}
		d.Conds = append(d.Conds, cond)
	}
	return d, nil
}

func parseSearch(name string, n *yaml.Node) (*Search, error) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	s := &Search{Name: name}
	switch n.Kind {
	case yaml.MappingNode:
		items, err := parseMap(n)
		if err != nil {
			return nil, err
		}
		s.Alts = [][]*Item{items}
	case yaml.SequenceNode:
		var keywords *Item
		for _, c := range n.Content {
			switch c.Kind {
			case yaml.MappingNode:
				items, err := parseMap(c)
				if err != nil {
					return nil, err
				}
				s.Alts = append(s.Alts, items)
			case yaml.ScalarNode:
				if keywords == nil {
					keywords = &Item{Line: c.Line, Col: c.Column}
					s.Alts = append(s.Alts, []*Item{keywords})
				}
				keywords.Values = append(keywords.Values, rawValue(c))
			default:
				return nil, errAt(c, "search %q: list entries must be mappings or values, got %s", name, kindName(c))
			}
		}
		if len(s.Alts) == 0 {
			return nil, errAt(n, "search %q is an empty list", name)
		}
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil, errAt(n, "search %q is empty", name)
		}
		s.Alts = [][]*Item{{{Values: []RawValue{rawValue(n)}, Line: n.Line, Col: n.Column}}}
	default:
		return nil, errAt(n, "search %q must be a mapping or a list, got %s", name, kindName(n))
	}
	// Validate every item now so errors carry the item's line.
	for _, alt := range s.Alts {
		for _, it := range alt {
			if _, err := compileItem(it, validatePlaceholders{}); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

func parseMap(n *yaml.Node) ([]*Item, error) {
	var items []*Item
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		parts := strings.Split(k.Value, "|")
		it := &Item{Field: strings.TrimSpace(parts[0]), Line: k.Line, Col: k.Column}
		for _, m := range parts[1:] {
			it.Modifiers = append(it.Modifiers, strings.TrimSpace(m))
		}
		switch v.Kind {
		case yaml.ScalarNode:
			it.Values = []RawValue{rawValue(v)}
		case yaml.SequenceNode:
			if len(v.Content) == 0 {
				return nil, errAt(v, "field %q has an empty value list", k.Value)
			}
			for _, c := range v.Content {
				if c.Kind == yaml.AliasNode && c.Alias != nil {
					c = c.Alias
				}
				if c.Kind != yaml.ScalarNode {
					return nil, errAt(c, "field %q: values must be scalars, got %s", k.Value, kindName(c))
				}
				it.Values = append(it.Values, rawValue(c))
			}
		default:
			return nil, errAt(v, "field %q: value must be a scalar or a list, got %s", k.Value, kindName(v))
		}
		items = append(items, it)
	}
	if len(items) == 0 {
		return nil, errAt(n, "empty selection mapping")
	}
	return items, nil
}

func rawValue(n *yaml.Node) RawValue {
	if n.Tag == "!!null" {
		return RawValue{Null: true, Line: n.Line}
	}
	return RawValue{Text: n.Value, Line: n.Line}
}

// validatePlaceholders resolves any placeholder to one dummy value, so that
// parsing can validate items whose values come from configuration.
type validatePlaceholders struct{}

func (validatePlaceholders) Placeholder(name string) ([]string, bool) { return []string{"x"}, true }

func itemErr(it *Item, format string, args ...any) *Error {
	return &Error{Line: it.Line, Col: it.Col, Msg: fmt.Sprintf("%q: ", it.Key()) + fmt.Sprintf(format, args...)}
}
