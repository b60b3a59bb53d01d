package ioc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ParseMISP reads MISP events in the JSON of MISP feeds and exports
// ({"Event": {...}}), of the REST API ({"response": [{"Event": ...}]}), or
// an array of either, and returns an indicator per value of every
// attribute, top-level or inside an Object, whose type it supports:
//
//	ip-src, ip-dst (an address or a network), ip-src|port, ip-dst|port,
//	domain, hostname, hostname|port, domain|ip (both values), url, link is not,
//	md5, sha1, sha256, filename|md5, filename|sha1, filename|sha256,
//	malware-sample (its md5)
//
// Attributes with to_ids false, and deleted ones, are skipped and counted in
// one error wrapping ErrSkipped; attributes of other types are counted by
// type in one error wrapping ErrUnsupported. TLP comes from the "tlp:" tags
// of the attribute, else of its event; other tags become labels. The
// attribute uuid is the indicator id (with "/kind" when it gives two).
func ParseMISP(r io.Reader, source string) ([]Indicator, []error) {
	return parseMISP(r, source, defaults{})
}

type mispEvent struct {
	UUID      string                `json:"uuid"`
	Info      string                `json:"info"`
	Date      string                `json:"date"`
	Timestamp flexInt               `json:"timestamp"`
	Orgc      struct{ Name string } `json:"Orgc"`
	Tag       []mispTag             `json:"Tag"`
	Attribute []mispAttribute       `json:"Attribute"`
	Object    []struct {
		Name      string          `json:"name"`
		Attribute []mispAttribute `json:"Attribute"`
	} `json:"Object"`
}

type mispTag struct {
	Name string `json:"name"`
}

type mispAttribute struct {
	UUID      string    `json:"uuid"`
	Type      string    `json:"type"`
	Category  string    `json:"category"`
	Value     string    `json:"value"`
	ToIDs     *flexBool `json:"to_ids"`
	Deleted   flexBool  `json:"deleted"`
	Comment   string    `json:"comment"`
	Timestamp flexInt   `json:"timestamp"`
	FirstSeen string    `json:"first_seen"`
	Tag       []mispTag `json:"Tag"`
}

// flexBool reads true, false, "1", "0", 1, 0, "true", "false".
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	s := strings.Trim(string(data), `"`)
	switch strings.ToLower(s) {
	case "true", "1":
		*b = true
	case "false", "0", "", "null":
		*b = false
	default:
		return fmt.Errorf("%s is not a boolean", clip(string(data)))
	}
	return nil
}

// flexInt reads a number written as a JSON number or string.
type flexInt int64

func (n *flexInt) UnmarshalJSON(data []byte) error {
	s := strings.Trim(string(data), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%s is not an integer", clip(string(data)))
	}
	*n = flexInt(v)
	return nil
}

func parseMISP(r io.Reader, source string, def defaults) ([]Indicator, []error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, []error{fmt.Errorf("read MISP: %w", err)}
	}
	raws, err := mispEvents(body)
	if err != nil {
		return nil, []error{malformedf("MISP: %v", err)}
	}
	p := mispParser{source: source, def: def, unsupported: map[string]int{}}
	for i, raw := range raws {
		var ev mispEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			p.errs = append(p.errs, fmt.Errorf("MISP event %d: %w", i, err))
			continue
		}
		p.event(&ev)
	}
	if p.skipped > 0 {
		p.errs = append(p.errs, skippedf("MISP: %d attributes skipped: to_ids is false or deleted", p.skipped))
	}
	if len(p.unsupported) > 0 {
		types := make([]string, 0, len(p.unsupported))
		for t := range p.unsupported {
			types = append(types, t)
		}
		sort.Strings(types)
		var b strings.Builder
		for i, t := range types {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s (%d)", t, p.unsupported[t])
		}
		p.errs = append(p.errs, unsupportedf("MISP: attributes of unsupported types skipped: %s", b.String()))
	}
	return p.out, p.errs
}

// mispEvents finds the "Event" objects of the accepted layouts.
func mispEvents(body []byte) ([]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	var wrapped []json.RawMessage
	if len(body) > 0 && body[0] == '[' {
		if err := json.Unmarshal(body, &wrapped); err != nil {
			return nil, fmt.Errorf("not a JSON array of events: %w", err)
		}
	} else {
		var top struct {
			Event    json.RawMessage   `json:"Event"`
			Response []json.RawMessage `json:"response"`
		}
		if err := json.Unmarshal(body, &top); err != nil {
			return nil, fmt.Errorf("not a MISP event: %w", err)
		}
		switch {
		case top.Event != nil:
			return []json.RawMessage{top.Event}, nil
		case top.Response != nil:
			wrapped = top.Response
		default:
			return nil, errors.New(`not a MISP event: no "Event"`)
		}
	}
	out := make([]json.RawMessage, 0, len(wrapped))
	for i, w := range wrapped {
		var e struct {
			Event json.RawMessage `json:"Event"`
		}
		if err := json.Unmarshal(w, &e); err != nil || e.Event == nil {
			return nil, fmt.Errorf(`element %d is not {"Event": ...}`, i)
		}
		out = append(out, e.Event)
	}
	return out, nil
}

type mispParser struct {
	source      string
	def         defaults
	out         []Indicator
	errs        []error
	skipped     int
	unsupported map[string]int
}

func (p *mispParser) event(ev *mispEvent) {
	tlp, labels := mispTags(ev.Tag, p.def.tlpOrClear())
	labels = appendUnique(slices.Clone(p.def.labels), labels...)
	var date time.Time
	if ev.Date != "" {
		if t, err := time.Parse(time.DateOnly, ev.Date); err == nil {
			date = t
		}
	}
	if ev.Timestamp > 0 && date.IsZero() {
		date = time.Unix(int64(ev.Timestamp), 0).UTC()
	}
	for i := range ev.Attribute {
		p.attribute(ev, &ev.Attribute[i], "", tlp, labels, date)
	}
	for _, o := range ev.Object {
		for i := range o.Attribute {
			p.attribute(ev, &o.Attribute[i], o.Name, tlp, labels, date)
		}
	}
}

// mispTags splits tags into the strictest TLP and the other tag names.
func mispTags(tags []mispTag, tlp string) (string, []string) {
	var labels []string
	found := ""
	for _, t := range tags {
		if strings.HasPrefix(strings.ToLower(t.Name), "tlp:") {
			if l, ok := ParseTLP(t.Name); ok {
				found = stricterTLP(found, l)
			}
			continue
		}
		labels = appendUnique(labels, t.Name)
	}
	if found != "" {
		tlp = found
	}
	return tlp, labels
}

func (p *mispParser) attribute(ev *mispEvent, a *mispAttribute, object, tlp string, labels []string, date time.Time) {
	if (a.ToIDs != nil && !bool(*a.ToIDs)) || bool(a.Deleted) {
		p.skipped++
		return
	}
	where := fmt.Sprintf("MISP event %q attribute %q", ev.UUID, a.UUID)
	if object != "" {
		where = fmt.Sprintf("MISP event %q object %q attribute %q", ev.UUID, object, a.UUID)
	}
	type part struct {
		kind Kind // "" to guess between IP and CIDR
		val  string
	}
	var parts []part
	left, right, piped := strings.Cut(a.Value, "|")
	switch a.Type {
	case "ip-src", "ip-dst":
		parts = []part{{"", a.Value}}
	case "ip-src|port", "ip-dst|port":
		parts = []part{{"", left}}
	case "domain", "hostname":
		parts = []part{{Domain, a.Value}}
	case "hostname|port":
		parts = []part{{Domain, left}}
	case "domain|ip":
		if !piped {
			p.errs = append(p.errs, fmt.Errorf("%s: domain|ip value %q has no '|'", where, clip(a.Value)))
			return
		}
		parts = []part{{Domain, left}, {"", right}}
	case "url":
		parts = []part{{URL, a.Value}}
	case "md5", "sha1", "sha256":
		parts = []part{{Kind(a.Type), a.Value}}
	case "filename|md5", "filename|sha1", "filename|sha256", "malware-sample":
		if !piped {
			p.errs = append(p.errs, fmt.Errorf("%s: %s value %q has no '|'", where, a.Type, clip(a.Value)))
			return
		}
		k := MD5
		if t, ok := strings.CutPrefix(a.Type, "filename|"); ok {
			k = Kind(t)
		}
		parts = []part{{k, right}}
	default:
		p.unsupported[a.Type]++
		return
	}
	base := Indicator{
		Source:      p.source,
		Confidence:  p.def.conf(),
		TLP:         tlp,
		Lifetime:    p.def.lifetime,
		Description: a.Comment,
		SourceRef:   a.UUID,
		Producer:    ev.Orgc.Name,
		ValidFrom:   date,
		Created:     date,
		Modified:    date,
	}
	if base.Description == "" {
		base.Description = ev.Info
	}
	if a.Timestamp > 0 {
		ts := time.Unix(int64(a.Timestamp), 0).UTC()
		base.ValidFrom, base.Modified = ts, ts
	}
	if a.FirstSeen != "" {
		if t, err := time.Parse(time.RFC3339Nano, a.FirstSeen); err == nil {
			base.ValidFrom = t.UTC()
		}
	}
	attrTLP, attrLabels := mispTags(a.Tag, base.TLP)
	base.TLP = attrTLP
	base.Labels = slices.Clip(appendUnique(slices.Clone(labels), attrLabels...))
	for _, pt := range parts {
		var kind Kind
		var val string
		var err error
		if pt.kind == "" {
			kind = IP
			if strings.IndexByte(pt.val, '/') >= 0 {
				kind = CIDR
			}
		} else {
			kind = pt.kind
		}
		val, err = Normalize(kind, pt.val)
		if err != nil && pt.kind == URL {
			// MISP url attributes are often written without a scheme.
			if k, v, ok := Guess(pt.val); ok && k == URL {
				val, err = v, nil
			}
		}
		if err != nil {
			p.errs = append(p.errs, fmt.Errorf("%s (%s): %w", where, a.Type, err))
			continue
		}
		ind := base
		ind.Kind, ind.Value = kind, val
		switch {
		case a.UUID == "":
			ind.ID = MakeID(p.source, kind, val)
		case len(parts) > 1:
			ind.ID = a.UUID + "/" + string(kind)
		default:
			ind.ID = a.UUID
		}
		p.out = append(p.out, ind)
	}
}
