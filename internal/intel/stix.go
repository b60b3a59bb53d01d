package intel

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/mamori-soc/mamori/internal/ioc"
)

// SpecVersion is the STIX version of every object this package writes.
const SpecVersion = "2.1"

// MediaTypeSTIX is the media type of STIX 2.1 content, as TAXII manifests name it.
const MediaTypeSTIX = "application/stix+json;version=2.1"

// Time is a STIX timestamp: it marshals as RFC 3339 in UTC with millisecond
// precision ("2026-01-02T03:04:05.678Z"), as STIX 2.1 requires for created
// and modified, and unmarshals any RFC 3339 time.
type Time struct{ time.Time }

// T wraps t as a STIX timestamp.
func T(t time.Time) Time { return Time{t} }

const stixLayout = "2006-01-02T15:04:05.000Z"

// String formats t as STIX does.
func (t Time) String() string { return t.UTC().Truncate(time.Millisecond).Format(stixLayout) }

// MarshalJSON writes t as a STIX timestamp.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.String() + `"`), nil
}

// UnmarshalJSON reads an RFC 3339 timestamp.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("timestamp %q: %w", s, err)
	}
	t.Time = v.UTC()
	return nil
}

// ExternalReference points to non-STIX information, such as an ATT&CK technique.
type ExternalReference struct {
	SourceName  string `json:"source_name"`
	Description string `json:"description,omitempty"`
	URL         string `json:"url,omitempty"`
	ExternalID  string `json:"external_id,omitempty"`
}

// Common holds the properties every STIX domain, relationship and marking
// object shares.
type Common struct {
	Type               string              `json:"type"`
	SpecVersion        string              `json:"spec_version"`
	ID                 string              `json:"id"`
	CreatedByRef       string              `json:"created_by_ref,omitempty"`
	Created            Time                `json:"created"`
	Modified           Time                `json:"modified,omitzero"` // marking definitions have none
	Revoked            bool                `json:"revoked,omitempty"`
	Labels             []string            `json:"labels,omitempty"`
	Confidence         int                 `json:"confidence,omitempty"` // 1-100; 0 (unknown) is left out
	ExternalReferences []ExternalReference `json:"external_references,omitempty"`
	ObjectMarkingRefs  []string            `json:"object_marking_refs,omitempty"`
}

// Object is any STIX object this package builds.
type Object interface {
	common() *Common
}

func (c *Common) common() *Common { return c }

// Indicator is a STIX indicator: a pattern that detects malicious activity.
type Indicator struct {
	Common
	Name           string   `json:"name,omitempty"`
	Description    string   `json:"description,omitempty"`
	IndicatorTypes []string `json:"indicator_types,omitempty"`
	Pattern        string   `json:"pattern"`
	PatternType    string   `json:"pattern_type"`
	PatternVersion string   `json:"pattern_version,omitempty"`
	ValidFrom      Time     `json:"valid_from"`
	ValidUntil     Time     `json:"valid_until,omitzero"`
}

// Sighting says that something (an indicator) was seen, how often, when and where.
type Sighting struct {
	Common
	Description      string   `json:"description,omitempty"`
	FirstSeen        Time     `json:"first_seen,omitzero"`
	LastSeen         Time     `json:"last_seen,omitzero"`
	Count            int      `json:"count,omitempty"`
	SightingOfRef    string   `json:"sighting_of_ref"`
	WhereSightedRefs []string `json:"where_sighted_refs,omitempty"`
}

// AttackPattern is a STIX attack-pattern, here always an ATT&CK technique.
type AttackPattern struct {
	Common
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Campaign is a STIX campaign: attacks on several organisations tied together.
type Campaign struct {
	Common
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	FirstSeen   Time   `json:"first_seen,omitzero"`
	LastSeen    Time   `json:"last_seen,omitzero"`
}

// Identity is a STIX identity: the producer, an organisation or a sector.
type Identity struct {
	Common
	Name          string   `json:"name"`
	Description   string   `json:"description,omitempty"`
	IdentityClass string   `json:"identity_class,omitempty"` // organization, class, ...
	Sectors       []string `json:"sectors,omitempty"`        // industry-sector-ov
}

// Relationship links two STIX objects ("indicates", "uses").
type Relationship struct {
	Common
	RelationshipType string `json:"relationship_type"`
	Description      string `json:"description,omitempty"`
	SourceRef        string `json:"source_ref"`
	TargetRef        string `json:"target_ref"`
}

// MarkingDefinition is a STIX marking-definition; this package writes only
// the TLP 2.0 ones (see TLPMarking).
type MarkingDefinition struct {
	Common
	Name       string                    `json:"name"`
	Extensions map[string]map[string]any `json:"extensions,omitempty"`
}

// Bundle is a STIX bundle.
type Bundle struct {
	Type    string   `json:"type"` // "bundle"
	ID      string   `json:"id"`
	Objects []Object `json:"objects"`
}

// The TLP 2.0 marking definitions of the OASIS STIX 2.1 TLP 2.0 extension
// (extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d, in
// oasis-open/cti-stix-common-objects, extension-definition-specifications/tlp-2.0).
const (
	TLPExtensionID   = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
	TLPClearID       = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
	TLPGreenID       = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
	TLPAmberID       = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
	TLPAmberStrictID = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
	TLPRedID         = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
)

// tlp1IDs are the STIX 2.1 built-in TLP 1.0 marking definitions, which
// partners still send; TLPOf maps them to TLP 2.0 levels (white is clear).
var tlp1IDs = map[string]string{
	"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": ioc.TLPClear,
	"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": ioc.TLPGreen,
	"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": ioc.TLPAmber,
	"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": ioc.TLPRed,
}

var tlpIDs = map[string]string{
	ioc.TLPClear:       TLPClearID,
	ioc.TLPGreen:       TLPGreenID,
	ioc.TLPAmber:       TLPAmberID,
	ioc.TLPAmberStrict: TLPAmberStrictID,
	ioc.TLPRed:         TLPRedID,
}

// tlpRank orders TLP levels from least to most restrictive.
var tlpRank = map[string]int{ioc.TLPClear: 0, ioc.TLPGreen: 1, ioc.TLPAmber: 2, ioc.TLPAmberStrict: 3, ioc.TLPRed: 4}

// tlpCreated is the created time of the OASIS TLP 2.0 marking definitions.
var tlpCreated = time.Date(2022, 10, 1, 0, 0, 0, 0, time.UTC)

// NormTLP returns the canonical form of a TLP level ("" and "white" are
// clear; case and a "TLP:" prefix are ignored) and whether it is known.
func NormTLP(tlp string) (string, bool) {
	t := strings.ToLower(strings.TrimSpace(tlp))
	t = strings.TrimPrefix(t, "tlp:")
	switch t {
	case "", "white":
		return ioc.TLPClear, true
	}
	_, ok := tlpRank[t]
	return t, ok
}

// TLPMarkingRef returns the id of the TLP 2.0 marking definition of tlp (an
// ioc TLP constant; "" is clear). An unknown level is red: markings fail closed.
func TLPMarkingRef(tlp string) string {
	t, ok := NormTLP(tlp)
	if !ok {
		return TLPRedID
	}
	return tlpIDs[t]
}

// TLPMarking returns the official TLP 2.0 marking definition of tlp.
func TLPMarking(tlp string) *MarkingDefinition {
	t, ok := NormTLP(tlp)
	if !ok {
		t = ioc.TLPRed
	}
	return &MarkingDefinition{
		Common: Common{Type: "marking-definition", SpecVersion: SpecVersion, ID: tlpIDs[t], Created: T(tlpCreated)},
		Name:   "TLP:" + strings.ToUpper(t),
		Extensions: map[string]map[string]any{
			TLPExtensionID: {"extension_type": "property-extension", "tlp_2_0": t},
		},
	}
}

// TLPOf returns the most restrictive TLP level among marking refs (TLP 2.0
// or the STIX built-in TLP 1.0 ones), and false when none of them is a TLP
// marking.
func TLPOf(refs []string) (string, bool) {
	best, found := ioc.TLPClear, false
	for _, r := range refs {
		t, ok := tlp1IDs[r]
		if !ok {
			for level, id := range tlpIDs {
				if id == r {
					t, ok = level, true
				}
			}
		}
		if ok && (!found || tlpRank[t] > tlpRank[best]) {
			best, found = t, true
		}
	}
	return best, found
}

// mamoriNamespace is the UUIDv5 namespace of every id Mamori derives.
var mamoriNamespace = [16]byte{0x63, 0x52, 0xca, 0x91, 0x9d, 0x02, 0x49, 0x88, 0x99, 0xbe, 0x14, 0x31, 0xfa, 0x0e, 0xcf, 0xc3}

// uuid5 returns the RFC 4122 version 5 UUID of name in Mamori's namespace.
func uuid5(name string) string {
	h := sha1.New()
	h.Write(mamoriNamespace[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return formatUUID(u)
}

// uuid4 returns a random RFC 4122 version 4 UUID.
func uuid4() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // never fails (crypto/rand panics rather than return an error)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return formatUUID(u)
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// ID returns the deterministic STIX id of an object of type typ named by
// parts: "typ--" and the UUIDv5 of typ and parts in Mamori's namespace. The
// same parts give the same id in every export, so re-exports update objects
// instead of duplicating them.
func ID(typ string, parts ...string) string {
	return typ + "--" + uuid5(typ+"\x00"+strings.Join(parts, "\x00"))
}

var idRe = regexp.MustCompile(`^([a-z][a-z0-9-]+[a-z0-9])--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$`)

// ValidID reports whether id is a STIX identifier ("type--UUID"); when typ
// is not empty, its type must be typ.
func ValidID(id, typ string) bool {
	m := idRe.FindStringSubmatch(id)
	return m != nil && (typ == "" || m[1] == typ)
}

// Pattern returns the STIX pattern that matches an indicator of kind with
// value, for example [ipv4-addr:value = '198.51.100.7'] or
// [file:hashes.'SHA-256' = '…'].
func Pattern(kind ioc.Kind, value string) (string, error) {
	q := quotePattern(value)
	switch kind {
	case ioc.IP:
		a, err := netip.ParseAddr(value)
		if err != nil {
			return "", fmt.Errorf("ip indicator %q: %w", value, err)
		}
		return "[" + addrType(a) + ":value = " + q + "]", nil
	case ioc.CIDR:
		p, err := netip.ParsePrefix(value)
		if err != nil {
			return "", fmt.Errorf("cidr indicator %q: %w", value, err)
		}
		return "[" + addrType(p.Addr()) + ":value ISSUBSET " + q + "]", nil
	case ioc.Domain:
		return "[domain-name:value = " + q + "]", nil
	case ioc.URL:
		return "[url:value = " + q + "]", nil
	case ioc.MD5:
		return "[file:hashes.MD5 = " + q + "]", nil
	case ioc.SHA1:
		return "[file:hashes.'SHA-1' = " + q + "]", nil
	case ioc.SHA256:
		return "[file:hashes.'SHA-256' = " + q + "]", nil
	}
	return "", fmt.Errorf("indicator kind %q has no STIX pattern", kind)
}

func addrType(a netip.Addr) string {
	if a.Is4() || a.Is4In6() {
		return "ipv4-addr"
	}
	return "ipv6-addr"
}

// quotePattern quotes s as a STIX pattern string literal: backslashes and
// single quotes are escaped with a backslash.
func quotePattern(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' || s[i] == '\'' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('\'')
	return b.String()
}

// epoch stands in for a missing created time, so ids and versions stay
// deterministic.
var epoch = time.Unix(0, 0).UTC()

// IndicatorID returns the STIX id under which ind is shared: its own id when
// it is already a STIX indicator id (it came from STIX), otherwise one
// derived from its id (or source, kind and value when it has none).
func IndicatorID(ind ioc.Indicator) string {
	if ValidID(ind.ID, "indicator") {
		return strings.ToLower(ind.ID)
	}
	if ind.ID != "" {
		return ID("indicator", ind.ID)
	}
	return ID("indicator", ind.Source, string(ind.Kind), ind.Value)
}

// IndicatorObject returns ind as a STIX indicator marked with its TLP 2.0
// marking definition. Created falls back to ValidFrom, then to the Unix
// epoch; ValidFrom falls back to Created; a ValidUntil not after ValidFrom
// becomes ValidFrom plus one millisecond (expired), as STIX requires
// valid_until to be later than valid_from. It fails only for a kind or value
// that has no STIX pattern.
func IndicatorObject(ind ioc.Indicator) (*Indicator, error) {
	pat, err := Pattern(ind.Kind, ind.Value)
	if err != nil {
		return nil, err
	}
	created, modified := indicatorTimes(&ind)
	from := firstNonZero(ind.ValidFrom, created)
	o := &Indicator{
		Common: Common{
			Type: "indicator", SpecVersion: SpecVersion, ID: IndicatorID(ind),
			Created: T(created), Modified: T(modified),
			Labels:            nonEmpty(ind.Labels),
			Confidence:        clamp(ind.Confidence, 0, 100),
			ObjectMarkingRefs: []string{TLPMarkingRef(ind.TLP)},
		},
		Name:           ind.Value,
		Description:    ind.Description,
		IndicatorTypes: []string{"malicious-activity"},
		Pattern:        pat,
		PatternType:    "stix",
		PatternVersion: SpecVersion,
		ValidFrom:      T(from),
	}
	if !ind.ValidUntil.IsZero() {
		until := ind.ValidUntil
		if !until.Truncate(time.Millisecond).After(from.Truncate(time.Millisecond)) {
			until = from.Truncate(time.Millisecond).Add(time.Millisecond)
		}
		o.ValidUntil = T(until)
	}
	return o, nil
}

func firstNonZero(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t.UTC()
		}
	}
	return time.Time{}
}

func clamp(v, lo, hi int) int {
	return min(max(v, lo), hi)
}

// nonEmpty drops empty strings; STIX lists must not be empty, so it returns
// nil rather than an empty list.
func nonEmpty(s []string) []string {
	var out []string
	for _, v := range s {
		if strings.TrimSpace(v) != "" {
			out = append(out, v)
		}
	}
	return out
}

// marshalObject encodes o as JSON without HTML escaping, so URLs with '&'
// stay as they are.
func marshalObject(o Object) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(o); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
