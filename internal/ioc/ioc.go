// Package ioc holds threat-intelligence indicators of compromise — IP
// addresses and networks, domains, URLs and file hashes — with their
// context (source, confidence, TLP marking, validity), parses the feed
// formats they arrive in (STIX 2.1 bundles, plain and CSV lists, MISP JSON
// feeds), keeps them in SQLite (Store), pulls feeds on a schedule (Puller),
// and matches events against every live indicator at once with compiled
// lookups that do not allocate per event (Set).
//
// See docs/INTEL.md for the formats, the matching semantics and decay.
package ioc

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Kind is what an indicator's value is.
type Kind string

// Kinds of indicator. Values are normalized (see Normalize): IPs in their
// canonical text form, networks as CIDR prefixes, domains lower-case
// without a trailing dot, URLs as given with a lower-case scheme and host,
// hashes lower-case hex.
const (
	IP     Kind = "ip"     // an IPv4 or IPv6 address
	CIDR   Kind = "cidr"   // an IPv4 or IPv6 network
	Domain Kind = "domain" // a domain name; matches its subdomains too
	URL    Kind = "url"
	MD5    Kind = "md5"
	SHA1   Kind = "sha1"
	SHA256 Kind = "sha256"
)

// Kinds lists every kind. Do not modify it.
var Kinds = []Kind{IP, CIDR, Domain, URL, MD5, SHA1, SHA256}

// Valid reports whether k is one of the kinds.
func (k Kind) Valid() bool {
	switch k {
	case IP, CIDR, Domain, URL, MD5, SHA1, SHA256:
		return true
	}
	return false
}

// TLP markings (Traffic Light Protocol 2.0), least restrictive first.
const (
	TLPClear       = "clear"
	TLPGreen       = "green"
	TLPAmber       = "amber"
	TLPAmberStrict = "amber+strict"
	TLPRed         = "red"
)

// ParseTLP maps a TLP name in any common spelling ("TLP:AMBER+STRICT",
// "tlp:white", "Green", "") to one of the TLP constants. "white" is TLP 1.0's
// name for clear; "" is clear.
func ParseTLP(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "tlp:")
	s = strings.TrimPrefix(s, "tlp-")
	switch s {
	case "", "clear", "white":
		return TLPClear, true
	case "green":
		return TLPGreen, true
	case "amber":
		return TLPAmber, true
	case "amber+strict", "amber-strict", "amber_strict":
		return TLPAmberStrict, true
	case "red":
		return TLPRed, true
	}
	return "", false
}

// tlpRank orders TLP markings from least (0) to most restrictive.
func tlpRank(t string) int {
	switch t {
	case TLPGreen:
		return 1
	case TLPAmber:
		return 2
	case TLPAmberStrict:
		return 3
	case TLPRed:
		return 4
	}
	return 0
}

// stricterTLP returns the more restrictive of two TLP markings.
func stricterTLP(a, b string) string {
	if tlpRank(b) > tlpRank(a) {
		return b
	}
	return a
}

// DefaultConfidence is the confidence of indicators whose source states none.
const DefaultConfidence = 50

// Indicator is one indicator of compromise and its context.
type Indicator struct {
	ID          string    `json:"id"` // stable: derived from source, kind and value unless the source gives one (a STIX id)
	Kind        Kind      `json:"kind"`
	Value       string    `json:"value"`      // normalized
	Source      string    `json:"source"`     // the feed or partner it came from, or "analyst"
	Confidence  int       `json:"confidence"` // 0-100
	TLP         string    `json:"tlp"`        // one of the TLP constants; "" means clear
	ValidFrom   time.Time `json:"valid_from"`
	ValidUntil  time.Time `json:"valid_until,omitzero"` // zero: no end
	Labels      []string  `json:"labels,omitempty"`     // e.g. malware family, "c2", "phishing"
	Description string    `json:"description,omitempty"`
	Owner       string    `json:"owner,omitempty"` // the organisation (tenant id) that shared it; "" for national or external
	Created     time.Time `json:"created"`
	Modified    time.Time `json:"modified"`

	// SourceRef is the id of the object the indicator came from within its
	// source: a STIX indicator id, a MISP attribute uuid, a ThreatFox ioc_id.
	// Several indicators share one when a STIX pattern names several values.
	SourceRef string `json:"source_ref,omitempty"`
	// Producer is who produced it within the source: the STIX created_by_ref
	// (the identity's name when the bundle holds it), the MISP event's
	// creating organisation, a CSV feed's reporter.
	Producer string `json:"producer,omitempty"`
	// Lifetime is how long Confidence takes to decay to 0 after ValidFrom when
	// ValidUntil is not set (see EffectiveConfidence). 0 means the kind's
	// DefaultLifetime; a negative value means it never decays.
	Lifetime time.Duration `json:"lifetime,omitempty"`
}

const day = 24 * time.Hour

// DefaultLifetime is how long the confidence of an indicator of kind k takes
// to decay to 0 when neither its source nor its Lifetime says: addresses and
// URLs are re-used or cleaned within weeks, domains and networks last longer,
// and a file hash names the same file forever (-1: no decay).
func DefaultLifetime(k Kind) time.Duration {
	switch k {
	case IP, URL:
		return 30 * day
	case Domain:
		return 90 * day
	case CIDR:
		return 180 * day
	}
	return -1
}

// EffectiveLifetime is ind.Lifetime, or the kind's DefaultLifetime when it is 0.
func (ind *Indicator) EffectiveLifetime() time.Duration {
	if ind.Lifetime != 0 {
		return ind.Lifetime
	}
	return DefaultLifetime(ind.Kind)
}

// EffectiveConfidence is the indicator's confidence at now, 0 when it is not
// active:
//   - 0 before ValidFrom, and from ValidUntil on;
//   - Confidence (clamped to 0-100) up to ValidUntil when the source gave one;
//   - otherwise Confidence decays linearly from ValidFrom (Created when
//     ValidFrom is zero) to 0 at ValidFrom + EffectiveLifetime, rounded up so
//     that it only reaches 0 at the end; an indicator without either time or
//     with a negative lifetime does not decay.
//
// Set and Store.List(Active) agree with it: an indicator is active exactly
// when EffectiveConfidence > 0.
func (ind *Indicator) EffectiveConfidence(now time.Time) int {
	c := min(max(ind.Confidence, 0), 100)
	if c == 0 || (!ind.ValidFrom.IsZero() && now.Before(ind.ValidFrom)) {
		return 0
	}
	if !ind.ValidUntil.IsZero() {
		if !now.Before(ind.ValidUntil) {
			return 0
		}
		return c
	}
	lt := ind.EffectiveLifetime()
	start := ind.ValidFrom
	if start.IsZero() {
		start = ind.Created
	}
	if lt < 0 || start.IsZero() {
		return c
	}
	age := now.Sub(start)
	if age <= 0 {
		return c
	}
	if age >= lt {
		return 0
	}
	return int(math.Ceil(float64(c) * float64(lt-age) / float64(lt)))
}

// MakeID derives the stable id of an indicator that its source gives no id
// for: the same source, kind and value always give the same id.
func MakeID(source string, kind Kind, value string) string {
	h := sha256.New()
	h.Write([]byte(source))
	h.Write([]byte{0})
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(value))
	var sum [sha256.Size]byte
	return "ioc--" + hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// Errors the parsers wrap so callers can sort them.
var (
	// ErrMalformed: the input as a whole could not be read in its format (not
	// JSON, no bundle, no header naming a value column); nothing was parsed.
	ErrMalformed = errors.New("malformed input")
	// ErrUnsupported: an item is well-formed but asks for something this
	// package does not match (a STIX pattern with AND, a MISP attribute type
	// such as regkey). The item is skipped.
	ErrUnsupported = errors.New("unsupported")
	// ErrSkipped: a note that items were skipped on purpose (MISP attributes
	// with to_ids false), not a failure.
	ErrSkipped = errors.New("skipped")
)

// kindError is an error of one of the sentinel kinds above whose message
// says it all: errors.Is matches the sentinel without its text being added.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

func unsupportedf(format string, args ...any) error {
	return &kindError{msg: fmt.Sprintf(format, args...), kind: ErrUnsupported}
}

func skippedf(format string, args ...any) error {
	return &kindError{msg: fmt.Sprintf(format, args...), kind: ErrSkipped}
}

func malformedf(format string, args ...any) error {
	return &kindError{msg: fmt.Sprintf(format, args...), kind: ErrMalformed}
}
