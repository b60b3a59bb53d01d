package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Rule is one Sigma document: a detection rule or a correlation rule.
type Rule struct {
	ID             string
	Name           string // optional unique name, used by correlation references
	Title          string
	Status         string
	Description    string
	License        string
	Author         string
	Date           string
	Modified       string
	Level          string
	References     []string
	Tags           []string
	FalsePositives []string
	Fields         []string
	Related        []Related
	Scope          []string
	Taxonomy       string
	Logsource      Logsource

	// Detection is nil for correlation rules.
	Detection *Detection
	// Correlation is nil for detection rules.
	Correlation *Correlation

	// Path is the file the rule came from ("" when parsed from memory) and
	// Line the line its document starts on.
	Path string
	Line int
	// Source is the YAML text of the document.
	Source string
}

// Related is an entry of a rule's "related" list.
type Related struct {
	ID   string
	Type string
}

// Logsource says which logs a rule applies to.
type Logsource struct {
	Product    string
	Category   string
	Service    string
	Definition string
}

// String renders the log source as "product/category/service" with empty parts left out.
func (l Logsource) String() string {
	var parts []string
	for _, p := range []string{l.Product, l.Category, l.Service} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
}

// Techniques returns the ATT&CK technique ids named by the rule's tags
// (attack.t1059.001 → T1059.001), in tag order.
func (r *Rule) Techniques() []string {
	var out []string
	for _, t := range r.Tags {
		lt := strings.ToLower(t)
		if strings.HasPrefix(lt, "attack.t") && len(lt) > 9 && lt[8] >= '0' && lt[8] <= '9' {
			out = append(out, strings.ToUpper(lt[len("attack."):]))
		}
	}
	return out
}

// Tactics returns the ATT&CK tactic names named by the rule's tags
// (attack.credential-access → credential-access).
func (r *Rule) Tactics() []string {
	var out []string
	for _, t := range r.Tags {
		lt := strings.ToLower(t)
		if !strings.HasPrefix(lt, "attack.") {
			continue
		}
		v := lt[len("attack."):]
		if _, ok := tacticOrder[v]; ok {
			out = append(out, v)
		}
	}
	return out
}

// tacticOrder ranks ATT&CK enterprise tactics along the kill chain.
var tacticOrder = map[string]int{
	"reconnaissance": 1, "resource-development": 2, "initial-access": 3, "execution": 4,
	"persistence": 5, "privilege-escalation": 6, "defense-evasion": 7, "credential-access": 8,
	"discovery": 9, "lateral-movement": 10, "collection": 11, "command-and-control": 12,
	"exfiltration": 13, "impact": 14,
}

// TacticRank returns the kill-chain position of an ATT&CK tactic name (0 when unknown).
func TacticRank(tactic string) int { return tacticOrder[tactic] }

// Error is a problem in a rule file, with the line (and column) it was found on.
type Error struct {
	Path string
	Line int
	Col  int
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, "%d:", e.Col)
		}
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		if e.Msg != "" {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

func errAt(n *yaml.Node, format string, args ...any) *Error {
	e := &Error{Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	return e
}

// Parse parses every YAML document of src (documents are separated by
// "---" lines). A document that fails does not stop the others: Parse returns
// the rules that parsed and one error per failed document, each naming its
// line. path is used in error messages and stored in Rule.Path.
func Parse(path string, src []byte) ([]*Rule, []error) {
	var rules []*Rule
	var errs []error
	for _, d := range splitDocuments(src) {
		var doc yaml.Node
		err := yaml.Unmarshal(d.src, &doc)
		if err != nil {
			line := yamlErrLine(err)
			if line > 0 {
				line += d.line - 1
			}
			errs = append(errs, &Error{Path: path, Line: line, Msg: "invalid YAML", Err: cleanYAMLErr(err)})
			continue
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue
		}
		shiftLines(root, d.line-1)
		r, err := parseRule(root)
		if err != nil {
			var se *Error
			if errors.As(err, &se) {
				se.Path = path
			} else {
				err = &Error{Path: path, Line: root.Line, Err: err}
			}
			errs = append(errs, err)
			continue
		}
		r.Path = path
		r.Line = root.Line
		r.Source = strings.TrimRight(string(d.src), "\n ")
		rules = append(rules, r)
	}
	return rules, errs
}

type document struct {
	src  []byte
	line int // 1-based line of src's first line in the file
}

// splitDocuments cuts src at "---" separator lines, so that a syntax error
// in one document cannot hide the documents after it.
func splitDocuments(src []byte) []document {
	var docs []document
	start, startLine, line := 0, 1, 1
	pos := 0
	for pos <= len(src) {
		nl := bytes.IndexByte(src[pos:], '\n')
		end := len(src)
		if nl >= 0 {
			end = pos + nl
		}
		l := bytes.TrimRight(src[pos:end], " \r")
		if bytes.Equal(l, []byte("---")) || bytes.HasPrefix(l, []byte("--- ")) {
			if len(bytes.TrimSpace(src[start:pos])) > 0 {
				docs = append(docs, document{src[start:pos], startLine})
			}
			start, startLine = min(end+1, len(src)), line+1
		}
		if nl < 0 {
			break
		}
		pos = end + 1
		line++
	}
	if start < len(src) && len(bytes.TrimSpace(src[start:])) > 0 {
		docs = append(docs, document{src[start:], startLine})
	}
	return docs
}

func shiftLines(n *yaml.Node, by int) {
	if by == 0 || n == nil {
		return
	}
	n.Line += by
	for _, c := range n.Content {
		shiftLines(c, by)
	}
}

func yamlErrLine(err error) int {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return 0
	}
	var line int
	if _, e := fmt.Sscanf(err.Error(), "yaml: line %d:", &line); e == nil {
		return line
	}
	return 0
}

func cleanYAMLErr(err error) error {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "yaml: line "); ok {
		if i := strings.Index(rest, ": "); i > 0 {
			return errors.New(rest[i+2:])
		}
	}
	return errors.New(strings.TrimPrefix(msg, "yaml: "))
}

func parseRule(root *yaml.Node) (*Rule, error) {
	if root.Kind != yaml.MappingNode {
		return nil, errAt(root, "a rule must be a YAML mapping, got %s", kindName(root))
	}
	r := &Rule{}
	var detection, correlation *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		var err error
		switch k.Value {
		case "id":
			r.ID, err = scalar(v, "id")
		case "name":
			r.Name, err = scalar(v, "name")
		case "title":
			r.Title, err = scalar(v, "title")
		case "status":
			r.Status, err = scalar(v, "status")
		case "description":
			r.Description, err = scalar(v, "description")
		case "license":
			r.License, err = scalar(v, "license")
		case "author":
			r.Author, err = scalar(v, "author")
		case "date":
			r.Date, err = scalar(v, "date")
		case "modified":
			r.Modified, err = scalar(v, "modified")
		case "level":
			r.Level, err = scalar(v, "level")
			r.Level = strings.ToLower(r.Level)
		case "taxonomy":
			r.Taxonomy, err = scalar(v, "taxonomy")
		case "references":
			r.References, err = stringList(v, "references")
		case "tags":
			r.Tags, err = stringList(v, "tags")
		case "falsepositives":
			r.FalsePositives, err = stringList(v, "falsepositives")
		case "fields":
			r.Fields, err = stringList(v, "fields")
		case "scope":
			r.Scope, err = stringList(v, "scope")
		case "related":
			r.Related, err = parseRelated(v)
		case "logsource":
			r.Logsource, err = parseLogsource(v)
		case "detection":
			detection = v
		case "correlation":
			correlation = v
		default:
			// Custom attributes (regression_tests_path, simulation, ...) are allowed by the spec.
		}
		if err != nil {
			return nil, err
		}
	}
	if r.Title == "" {
		return nil, errAt(root, "rule has no title")
	}
	switch {
	case detection != nil && correlation != nil:
		return nil, errAt(correlation, "a rule has either detection or correlation, not both")
	case detection != nil:
		d, err := parseDetection(detection)
		if err != nil {
			return nil, err
		}
		r.Detection = d
	case correlation != nil:
		c, err := parseCorrelation(correlation)
		if err != nil {
			return nil, err
		}
		r.Correlation = c
	default:
		return nil, errAt(root, "rule %q has neither detection nor correlation", r.Title)
	}
	if r.Level != "" {
		if _, ok := levelRank[r.Level]; !ok {
			return nil, errAt(root, "unknown level %q (want informational, low, medium, high or critical)", r.Level)
		}
	}
	return r, nil
}

// levelRank orders Sigma levels.
var levelRank = map[string]int{"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}

// LevelRank returns the order of a Sigma level (informational=1 … critical=5, 0 when unknown).
func LevelRank(level string) int { return levelRank[strings.ToLower(level)] }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("the scalar %q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

func scalar(n *yaml.Node, what string) (string, error) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode {
		return "", errAt(n, "%s must be a single value, got %s", what, kindName(n))
	}
	if n.Tag == "!!null" {
		return "", nil
	}
	return n.Value, nil
}

func stringList(n *yaml.Node, what string) ([]string, error) {
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!!null" {
			return nil, nil
		}
		return []string{n.Value}, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, errAt(n, "%s must be a list, got %s", what, kindName(n))
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode {
			// Some rules put a mapping in falsepositives; keep its text rather than fail.
			var b strings.Builder
			_ = yaml.NewEncoder(&b).Encode(c)
			out = append(out, strings.TrimSpace(b.String()))
			continue
		}
		out = append(out, c.Value)
	}
	return out, nil
}

func parseRelated(n *yaml.Node) ([]Related, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, errAt(n, "related must be a list, got %s", kindName(n))
	}
	var out []Related
	for _, c := range n.Content {
		if c.Kind != yaml.MappingNode {
			return nil, errAt(c, "related entry must be a mapping, got %s", kindName(c))
		}
		var r Related
		for i := 0; i+1 < len(c.Content); i += 2 {
			switch c.Content[i].Value {
			case "id":
				r.ID = c.Content[i+1].Value
			case "type":
				r.Type = c.Content[i+1].Value
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func parseLogsource(n *yaml.Node) (Logsource, error) {
	var l Logsource
	if n.Kind != yaml.MappingNode {
		return l, errAt(n, "logsource must be a mapping, got %s", kindName(n))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		v, err := scalar(n.Content[i+1], "logsource."+n.Content[i].Value)
		if err != nil {
			return l, err
		}
		switch n.Content[i].Value {
		case "product":
			l.Product = strings.ToLower(v)
		case "category":
			l.Category = strings.ToLower(v)
		case "service":
			l.Service = strings.ToLower(v)
		case "definition":
			l.Definition = v
		}
	}
	return l, nil
}
