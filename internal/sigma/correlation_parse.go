package sigma

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Correlation types of the Sigma correlation specification.
const (
	CorrEventCount      = "event_count"
	CorrValueCount      = "value_count"
	CorrTemporal        = "temporal"
	CorrTemporalOrdered = "temporal_ordered"
	CorrValueSum        = "value_sum"
	CorrValueAvg        = "value_avg"
)

// Correlation is the correlation section of a correlation rule.
type Correlation struct {
	Type     string
	Rules    []string // referenced rule ids or names, in order
	GroupBy  []string
	Timespan time.Duration
	// Condition: Op is one of gt gte lt lte eq neq; Field is set for value_* types.
	Op       string
	Value    float64
	Field    string
	Aliases  map[string]map[string]string // alias → rule ref → field
	Generate bool
}

func parseCorrelation(n *yaml.Node) (*Correlation, error) {
	if n.Kind != yaml.MappingNode {
		return nil, errAt(n, "correlation must be a mapping, got %s", kindName(n))
	}
	c := &Correlation{}
	var condNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var err error
		switch k.Value {
		case "type":
			c.Type, err = scalar(v, "correlation.type")
		case "rules":
			c.Rules, err = stringList(v, "correlation.rules")
		case "group-by":
			c.GroupBy, err = stringList(v, "correlation.group-by")
		case "timespan", "timeframe":
			var s string
			if s, err = scalar(v, "correlation.timespan"); err == nil {
				if c.Timespan, err = parseTimespan(s); err != nil {
					return nil, errAt(v, "correlation.timespan: %v", err)
				}
			}
		case "condition":
			condNode = v
		case "generate":
			var s string
			if s, err = scalar(v, "correlation.generate"); err == nil {
				if c.Generate, err = strconv.ParseBool(s); err != nil {
					return nil, errAt(v, "correlation.generate must be true or false")
				}
			}
		case "aliases":
			c.Aliases, err = parseAliases(v)
		default:
			return nil, errAt(k, "unknown correlation attribute %q", k.Value)
		}
		if err != nil {
			return nil, err
		}
	}
	switch c.Type {
	case CorrEventCount, CorrValueCount, CorrTemporal, CorrTemporalOrdered, CorrValueSum, CorrValueAvg:
	case "":
		return nil, errAt(n, "correlation has no type")
	default:
		return nil, errAt(n, "unknown correlation type %q (want event_count, value_count, temporal, temporal_ordered, value_sum or value_avg)", c.Type)
	}
	if len(c.Rules) == 0 {
		return nil, errAt(n, "correlation references no rules")
	}
	if c.Timespan <= 0 {
		return nil, errAt(n, "correlation needs a timespan")
	}
	temporal := c.Type == CorrTemporal || c.Type == CorrTemporalOrdered
	if condNode == nil {
		if !temporal {
			return nil, errAt(n, "%s correlation needs a condition", c.Type)
		}
		// Temporal correlations fire when every referenced rule matched.
		c.Op, c.Value = "gte", float64(len(c.Rules))
	} else if err := c.parseCondition(condNode); err != nil {
		return nil, err
	}
	needsField := c.Type == CorrValueCount || c.Type == CorrValueSum || c.Type == CorrValueAvg
	if needsField && c.Field == "" {
		return nil, errAt(condNode, "%s correlation needs condition.field", c.Type)
	}
	return c, nil
}

func (c *Correlation) parseCondition(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return errAt(n, "correlation.condition must be a mapping like {gte: 10}, got %s", kindName(n))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		switch k {
		case "field":
			c.Field = v.Value
		case "gt", "gte", "lt", "lte", "eq", "neq":
			if c.Op != "" {
				return errAt(n.Content[i], "correlation.condition has two operators")
			}
			f, err := strconv.ParseFloat(v.Value, 64)
			if err != nil {
				return errAt(v, "correlation.condition.%s needs a number, got %q", k, v.Value)
			}
			c.Op, c.Value = k, f
		default:
			return errAt(n.Content[i], "unknown correlation condition %q (want gt, gte, lt, lte, eq, neq or field)", k)
		}
	}
	if c.Op == "" {
		return errAt(n, "correlation.condition has no operator")
	}
	return nil
}

func parseAliases(n *yaml.Node) (map[string]map[string]string, error) {
	if n.Kind != yaml.MappingNode {
		return nil, errAt(n, "correlation.aliases must be a mapping, got %s", kindName(n))
	}
	out := map[string]map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		alias, v := n.Content[i].Value, n.Content[i+1]
		if v.Kind != yaml.MappingNode {
			return nil, errAt(v, "alias %q must map rule names to fields", alias)
		}
		m := map[string]string{}
		for j := 0; j+1 < len(v.Content); j += 2 {
			m[v.Content[j].Value] = v.Content[j+1].Value
		}
		out[alias] = m
	}
	return out, nil
}

// parseTimespan parses Sigma timespans: 30s, 5m, 1h, 2d, 1w (and Go durations).
func parseTimespan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 {
		return 0, fmt.Errorf("bad timespan %q", s)
	}
	unit := s[len(s)-1]
	n, err := strconv.ParseFloat(s[:len(s)-1], 64)
	if err == nil && n > 0 {
		switch unit {
		case 's':
			return time.Duration(n * float64(time.Second)), nil
		case 'm':
			return time.Duration(n * float64(time.Minute)), nil
		case 'h':
			return time.Duration(n * float64(time.Hour)), nil
		case 'd':
			return time.Duration(n * float64(24*time.Hour)), nil
		case 'w':
			return time.Duration(n * float64(7*24*time.Hour)), nil
		case 'M':
			return time.Duration(n * float64(30*24*time.Hour)), nil
		case 'y':
			return time.Duration(n * float64(365*24*time.Hour)), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, fmt.Errorf("bad timespan %q (want a number followed by s, m, h, d or w)", s)
}
