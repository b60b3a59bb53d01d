package ioc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// tlpMarkings maps the standard STIX TLP marking-definition ids to TLP
// levels: TLP 1.0's four from the STIX 2.1 specification (§7.2.1.4) and TLP
// 2.0's five from the OASIS TLP 2.0 extension
// (extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d).
var tlpMarkings = map[string]string{
	"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": TLPClear, // TLP 1.0 white
	"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": TLPGreen,
	"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": TLPAmber,
	"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": TLPRed,
	"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": TLPClear, // TLP 2.0
	"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": TLPGreen,
	"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": TLPAmber,
	"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": TLPAmberStrict,
	"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": TLPRed,
}

// defaults are what a parser gives indicators whose source does not say.
type defaults struct {
	confidence int           // 0: DefaultConfidence
	tlp        string        // "": clear
	lifetime   time.Duration // 0: the kind's default
	labels     []string      // added to every indicator
}

func (d defaults) tlpOrClear() string {
	if d.tlp == "" {
		return TLPClear
	}
	return d.tlp
}

func (d defaults) conf() int {
	if d.confidence > 0 {
		return min(d.confidence, 100)
	}
	return DefaultConfidence
}

// ParseSTIX reads a STIX 2.1 bundle (or 2.0; or a TAXII envelope, or a JSON
// array of objects, or one indicator object) and returns one Indicator per
// value named by the pattern of each indicator object, with source as their
// Source. Each error names the object (its index and id) and why it was
// skipped; errors wrapping ErrUnsupported are patterns outside the
// supported subset (see ParsePattern). An input that is not such JSON gives
// a single error wrapping ErrMalformed.
//
// Revoked indicators and other object types are skipped silently; identity
// and marking-definition objects of the bundle are read to name the
// producer (created_by_ref) and the TLP of custom TLP markings.
func ParseSTIX(r io.Reader, source string) ([]Indicator, []error) {
	return parseSTIX(r, source, defaults{})
}

type stixObject struct {
	Type           string          `json:"type"`
	ID             string          `json:"id"`
	SpecVersion    string          `json:"spec_version"`
	Name           string          `json:"name"`
	Description    string          `json:"description"`
	Pattern        string          `json:"pattern"`
	PatternType    string          `json:"pattern_type"`
	Labels         []string        `json:"labels"`
	IndicatorTypes []string        `json:"indicator_types"`
	Confidence     *int            `json:"confidence"`
	ValidFrom      string          `json:"valid_from"`
	ValidUntil     string          `json:"valid_until"`
	Created        string          `json:"created"`
	Modified       string          `json:"modified"`
	Revoked        bool            `json:"revoked"`
	MarkingRefs    []string        `json:"object_marking_refs"`
	CreatedByRef   string          `json:"created_by_ref"`
	DefinitionType string          `json:"definition_type"` // marking-definition (TLP 1.0 style)
	Definition     json.RawMessage `json:"definition"`
	Extensions     map[string]struct {
		TLP2 struct {
			Level string `json:"tlp_2_0"`
		} `json:"tlp_2_0"`
	} `json:"extensions"`
}

func parseSTIX(r io.Reader, source string, def defaults) ([]Indicator, []error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, []error{fmt.Errorf("read STIX: %w", err)}
	}
	raws, err := stixObjects(body)
	if err != nil {
		return nil, []error{malformedf("STIX: %v", err)}
	}
	objs := make([]stixObject, len(raws))
	bad := make([]error, len(raws))
	var errs []error
	markings := map[string]string{}
	identities := map[string]string{}
	for i, raw := range raws {
		if err := json.Unmarshal(raw, &objs[i]); err != nil {
			var head struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(raw, &head)
			bad[i] = fmt.Errorf("STIX object %d %q: %w", i, head.ID, err)
			continue
		}
		o := &objs[i]
		switch o.Type {
		case "identity":
			if o.Name != "" {
				identities[o.ID] = o.Name
			}
		case "marking-definition":
			if tlp, found := markingTLP(o); found {
				markings[o.ID] = tlp
			}
		}
	}
	var out []Indicator
	for i := range objs {
		o := &objs[i]
		if bad[i] != nil {
			errs = append(errs, bad[i])
			continue
		}
		if o.Type != "indicator" || o.Revoked {
			continue
		}
		inds, err := stixIndicator(o, source, def, markings, identities)
		if err != nil {
			errs = append(errs, fmt.Errorf("STIX object %d %q: %w", i, o.ID, err))
		}
		out = append(out, inds...)
	}
	return out, errs
}

// stixObjects finds the objects of a bundle, a TAXII envelope, an array or
// a single object.
func stixObjects(body []byte) ([]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var arr []json.RawMessage
		if err := json.Unmarshal(body, &arr); err != nil {
			return nil, fmt.Errorf("not a JSON array of objects: %w", err)
		}
		return arr, nil
	}
	var top struct {
		Type    string            `json:"type"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, fmt.Errorf("not a bundle: %w", err)
	}
	switch {
	case top.Objects != nil:
		return top.Objects, nil
	case top.Type == "indicator":
		return []json.RawMessage{body}, nil
	case top.Type == "bundle":
		return nil, nil // an empty bundle
	}
	return nil, errors.New(`not a bundle: no "objects"`)
}

// markingTLP reads the TLP level of a marking-definition: a standard id, a
// TLP 1.0-style definition {"tlp": "green"}, a TLP 2.0 extension, or a name
// such as "TLP:AMBER+STRICT".
func markingTLP(o *stixObject) (string, bool) {
	if tlp, ok := tlpMarkings[o.ID]; ok {
		return tlp, true
	}
	if o.DefinitionType == "tlp" && len(o.Definition) > 0 {
		var d struct {
			TLP string `json:"tlp"`
		}
		if json.Unmarshal(o.Definition, &d) == nil {
			if tlp, ok := ParseTLP(d.TLP); ok {
				return tlp, true
			}
		}
	}
	for _, ext := range o.Extensions {
		if ext.TLP2.Level != "" {
			if tlp, ok := ParseTLP(ext.TLP2.Level); ok {
				return tlp, true
			}
		}
	}
	if strings.HasPrefix(strings.ToUpper(o.Name), "TLP:") {
		return ParseTLP(o.Name)
	}
	return "", false
}

func stixIndicator(o *stixObject, source string, def defaults, markings, identities map[string]string) ([]Indicator, error) {
	if o.PatternType != "" && o.PatternType != "stix" {
		return nil, unsupportedf("pattern_type %q is not supported", o.PatternType)
	}
	if o.Pattern == "" {
		return nil, errors.New("indicator has no pattern")
	}
	obs, perr := ParsePattern(o.Pattern)
	if len(obs) == 0 {
		return nil, fmt.Errorf("pattern %q: %w", clip(o.Pattern), perr)
	}
	base := Indicator{
		Source:     source,
		Confidence: def.conf(),
		TLP:        def.tlpOrClear(),
		Lifetime:   def.lifetime,
		SourceRef:  o.ID,
		Producer:   o.CreatedByRef,
	}
	if name, ok := identities[o.CreatedByRef]; ok {
		base.Producer = name
	}
	if o.Confidence != nil {
		base.Confidence = min(max(*o.Confidence, 0), 100)
	}
	var err error
	times := []struct {
		name string
		s    string
		t    *time.Time
	}{
		{"valid_from", o.ValidFrom, &base.ValidFrom},
		{"valid_until", o.ValidUntil, &base.ValidUntil},
		{"created", o.Created, &base.Created},
		{"modified", o.Modified, &base.Modified},
	}
	for _, f := range times {
		if f.s == "" {
			continue
		}
		t, terr := time.Parse(time.RFC3339Nano, f.s)
		if terr != nil {
			return nil, fmt.Errorf("%s %q is not an RFC 3339 timestamp", f.name, clip(f.s))
		}
		*f.t = t.UTC()
	}
	if base.ValidFrom.IsZero() {
		base.ValidFrom = base.Created
	}
	if !base.ValidUntil.IsZero() && !base.ValidUntil.After(base.ValidFrom) {
		return nil, fmt.Errorf("valid_until %s is not after valid_from %s", o.ValidUntil, base.ValidFrom.Format(time.RFC3339Nano))
	}
	tlp := ""
	for _, ref := range o.MarkingRefs {
		if t, ok := markings[ref]; ok {
			tlp = stricterTLP(tlp, t)
		} else if t, ok := tlpMarkings[ref]; ok {
			tlp = stricterTLP(tlp, t)
		}
	}
	if tlp != "" {
		base.TLP = tlp
	}
	base.Labels = appendUnique(base.Labels, def.labels...)
	base.Labels = appendUnique(base.Labels, o.IndicatorTypes...)
	base.Labels = appendUnique(base.Labels, o.Labels...)
	switch {
	case o.Name != "" && o.Description != "" && o.Name != o.Description:
		base.Description = o.Name + ": " + o.Description
	case o.Name != "":
		base.Description = o.Name
	default:
		base.Description = o.Description
	}
	base.Labels = slices.Clip(base.Labels)
	seen := make(map[Observable]bool, len(obs))
	uniq := obs[:0]
	for _, ob := range obs {
		if !seen[ob] {
			seen[ob] = true
			uniq = append(uniq, ob)
		}
	}
	out := make([]Indicator, 0, len(uniq))
	for _, ob := range uniq {
		ind := base
		ind.Kind, ind.Value = ob.Kind, ob.Value
		ind.ID = o.ID
		if len(uniq) > 1 {
			ind.ID = o.ID + "/" + MakeID("", ob.Kind, ob.Value)[5:21]
		}
		out = append(out, ind)
	}
	if perr != nil {
		err = fmt.Errorf("pattern %q: %w", clip(o.Pattern), perr)
	}
	return out, err
}

// appendUnique appends the non-empty values of add that dst lacks.
func appendUnique(dst []string, add ...string) []string {
outer:
	for _, s := range add {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		for _, d := range dst {
			if d == s {
				continue outer
			}
		}
		dst = append(dst, s)
	}
	return dst
}
