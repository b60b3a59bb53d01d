package sigma

import (
	_ "embed"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed logsources.yml
var defaultLogsources []byte

// Mapping says which events each Sigma logsource selects and how the rule's
// fields are named in them. It is data (logsources.yml), not code.
type Mapping struct {
	// IndexFields are the event fields rules are bucketed on (Channel, EventID).
	IndexFields []string
	Sources     []Source
}

// Source is one entry of the mapping.
type Source struct {
	Product, Category, Service string
	// Conditions select events: field → accepted values (OR).
	Conditions map[string][]string
	// Fields renames rule fields to event fields.
	Fields map[string]string
	Line   int
}

type mappingFile struct {
	IndexFields []string `yaml:"index_fields"`
	Logsources  []struct {
		Product    string            `yaml:"product"`
		Category   string            `yaml:"category"`
		Service    string            `yaml:"service"`
		Conditions map[string]any    `yaml:"conditions"`
		Fields     map[string]string `yaml:"fields"`
	} `yaml:"logsources"`
}

// DefaultMapping returns the mapping shipped with Mamori.
func DefaultMapping() *Mapping {
	m, err := ParseMapping(defaultLogsources)
	if err != nil {
		panic("sigma: built-in logsources.yml: " + err.Error()) // a build defect, caught by tests
	}
	return m
}

// LoadMapping reads a mapping file.
func LoadMapping(path string) (*Mapping, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("logsource mapping: %w", err)
	}
	m, err := ParseMapping(src)
	if err != nil {
		return nil, fmt.Errorf("logsource mapping %s: %w", path, err)
	}
	return m, nil
}

// ParseMapping parses a mapping document; unknown keys are errors.
func ParseMapping(src []byte) (*Mapping, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, err
	}
	var f mappingFile
	dec := yaml.NewDecoder(strings.NewReader(string(src)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	m := &Mapping{IndexFields: f.IndexFields}
	var lines []int
	if len(root.Content) > 0 {
		top := root.Content[0]
		for i := 0; i+1 < len(top.Content); i += 2 {
			if top.Content[i].Value == "logsources" {
				for _, e := range top.Content[i+1].Content {
					lines = append(lines, e.Line)
				}
			}
		}
	}
	for i, e := range f.Logsources {
		s := Source{
			Product: strings.ToLower(e.Product), Category: strings.ToLower(e.Category), Service: strings.ToLower(e.Service),
			Conditions: map[string][]string{}, Fields: e.Fields,
		}
		if i < len(lines) {
			s.Line = lines[i]
		}
		if s.Product == "" && s.Category == "" && s.Service == "" {
			return nil, fmt.Errorf("line %d: logsource entry names no product, category or service", s.Line)
		}
		for k, v := range e.Conditions {
			switch x := v.(type) {
			case []any:
				for _, y := range x {
					s.Conditions[k] = append(s.Conditions[k], fmt.Sprint(y))
				}
			default:
				s.Conditions[k] = []string{fmt.Sprint(x)}
			}
		}
		m.Sources = append(m.Sources, s)
	}
	return m, nil
}

// Merge returns m with the sources of extra appended (extra's index fields win when set).
func (m *Mapping) Merge(extra *Mapping) *Mapping {
	out := &Mapping{IndexFields: m.IndexFields, Sources: append(append([]Source{}, m.Sources...), extra.Sources...)}
	if len(extra.IndexFields) > 0 {
		out.IndexFields = extra.IndexFields
	}
	return out
}

// sourcesFor returns the mapping entries a rule's logsource selects.
func (m *Mapping) sourcesFor(l Logsource) []*Source {
	var out []*Source
	if l.Product == "" && l.Category == "" && l.Service == "" {
		return nil
	}
	for i := range m.Sources {
		s := &m.Sources[i]
		if l.Product != "" && s.Product != "" && s.Product != l.Product {
			continue
		}
		if l.Product != "" && s.Product == "" && l.Category == "" && l.Service == "" {
			continue
		}
		if l.Category != "" && s.Category != l.Category {
			continue
		}
		if l.Service != "" && s.Service != l.Service {
			continue
		}
		if l.Category == "" && l.Service == "" && s.Category != "" {
			// A product-only rule applies to whole channels, not to category slices of them.
			continue
		}
		out = append(out, s)
	}
	return out
}
