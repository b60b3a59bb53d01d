// Package decision keeps Mamori's prevention decisions: bans (or captchas,
// throttles) of an IP address, a CIDR range or a domain, for a time, in a
// target scope (one organisation, a sector, or the whole nation). It checks
// them against an allowlist, creates them by hand or through policies,
// keeps an audit trail, and serves them to existing CrowdSec bouncers
// (firewall, nginx, custom...) over the CrowdSec Local API bouncer protocol,
// so that those enforcement points obey Mamori unchanged.
//
// It keeps its tables in the database it is given. It imports only tenant
// and the standard library.
package decision

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/mamori-soc/mamori/internal/tenant"
)

// Decision types: what an enforcement point does to the value.
const (
	Ban      = "ban"
	Captcha  = "captcha"
	Throttle = "throttle"
)

// Decision scopes: what kind of value a decision is about.
const (
	ScopeIP     = "ip"
	ScopeRange  = "range"
	ScopeDomain = "domain"
)

// Origins: what made a decision. OriginRef names the user, rule, campaign
// or feed.
const (
	OriginAnalyst  = "analyst"
	OriginRule     = "rule"
	OriginCampaign = "campaign"
	OriginFeed     = "feed"
	OriginPolicy   = "policy"
)

// Durations a decision may last.
const (
	MinDuration = time.Minute
	MaxDuration = 365 * 24 * time.Hour
)

// Narrowest prefix lengths a range decision may have: a wider range would
// cut off a large part of the Internet.
const (
	minPrefix4 = 8
	minPrefix6 = 16
)

// Errors callers distinguish (with errors.Is).
var (
	// ErrInvalid wraps every validation error: the caller sent something wrong.
	ErrInvalid = errors.New("invalid decision")
	// ErrAllowlisted is matched by *AllowlistError.
	ErrAllowlisted = errors.New("value is allowlisted")
	// ErrNotFound: no decision, or no bouncer, of that id or name.
	ErrNotFound = errors.New("not found")
	// ErrNotActive: the decision was already revoked or has expired.
	ErrNotActive = errors.New("decision is no longer active")
	// ErrExists: a bouncer of that name exists.
	ErrExists = errors.New("already exists")
)

// invalidError is a validation error; it matches ErrInvalid.
type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

// Target is where a decision applies. Exactly one field is set.
type Target struct {
	Org      tenant.ID     `json:"org,omitempty"`
	Sector   tenant.Sector `json:"sector,omitempty"`
	National bool          `json:"national,omitempty"`
}

// String names the target: "org x", "sector energy-power" or "national".
func (t Target) String() string {
	switch {
	case t.National:
		return "national"
	case t.Sector != "":
		return "sector " + string(t.Sector)
	case t.Org != "":
		return "org " + string(t.Org)
	}
	return "no target"
}

// Decision is one prevention decision.
type Decision struct {
	ID   int64  `json:"id"`
	UUID string `json:"uuid"`
	// Type is Ban, Captcha or Throttle.
	Type string `json:"type"`
	// Scope is ScopeIP, ScopeRange or ScopeDomain. Create infers it from
	// Value when empty.
	Scope string `json:"scope"`
	// Value is normalized by Create: a canonical IP address, a masked CIDR
	// range, a lower-case domain without its final dot.
	Value  string `json:"value"`
	Target Target `json:"target"`
	Reason string `json:"reason"`
	// Origin is one of the Origin* constants; OriginRef names the user,
	// rule id, campaign id or feed name behind it.
	Origin    string    `json:"origin"`
	OriginRef string    `json:"origin_ref,omitempty"`
	Created   time.Time `json:"created"`
	Until     time.Time `json:"until"`
	CreatedBy string    `json:"created_by"`
	// Deleted is when the decision was revoked; zero while it is not.
	Deleted   time.Time `json:"deleted,omitzero"`
	DeletedBy string    `json:"deleted_by,omitempty"`
	// DryRun decisions are recorded (by dry-run policies) but never served
	// to bouncers.
	DryRun bool `json:"dry_run,omitempty"`
}

// Active reports whether d is in force at now: not revoked and not past Until.
func (d Decision) Active(now time.Time) bool {
	return d.Deleted.IsZero() && now.Before(d.Until)
}

// Covers reports whether a decision with target t applies to organisation
// org of sector sector (empty when unknown). A national decision covers
// every organisation, a sector decision every organisation of the sector.
func (t Target) Covers(org tenant.ID, sector tenant.Sector) bool {
	switch {
	case t.National:
		return true
	case t.Sector != "":
		return sector != "" && t.Sector == sector
	default:
		return org != "" && t.Org == org
	}
}

// Normalize checks d as Create would at time now and returns it with its
// scope inferred, its value, target and texts normalized, Created set to
// now when zero and CreatedBy defaulted. Errors match ErrInvalid and say
// what is wrong. It does not check the allowlist.
func Normalize(d Decision, now time.Time) (Decision, error) {
	switch d.Type = strings.ToLower(strings.TrimSpace(d.Type)); d.Type {
	case Ban, Captcha, Throttle:
	case "":
		return d, invalid("decision: type is missing (want ban, captcha or throttle)")
	default:
		return d, invalid("decision: unknown type %q (want ban, captcha or throttle)", d.Type)
	}
	var err error
	if d.Scope, d.Value, err = ParseValue(d.Scope, d.Value); err != nil {
		return d, err
	}
	if d.Target, err = normalizeTarget(d.Target); err != nil {
		return d, err
	}
	d.Reason = strings.TrimSpace(d.Reason)
	if d.Reason == "" {
		return d, invalid("decision: reason is missing: say why %s is blocked", d.Value)
	}
	if len(d.Reason) > 1000 {
		return d, invalid("decision: reason has %d bytes, more than 1000", len(d.Reason))
	}
	switch d.Origin = strings.ToLower(strings.TrimSpace(d.Origin)); d.Origin {
	case OriginAnalyst, OriginRule, OriginCampaign, OriginFeed, OriginPolicy:
	case "":
		return d, invalid("decision: origin is missing (want analyst, rule, campaign, feed or policy)")
	default:
		return d, invalid("decision: unknown origin %q (want analyst, rule, campaign, feed or policy)", d.Origin)
	}
	d.OriginRef = strings.TrimSpace(d.OriginRef)
	d.CreatedBy = strings.TrimSpace(d.CreatedBy)
	if d.CreatedBy == "" {
		d.CreatedBy = d.OriginRef
	}
	if d.CreatedBy == "" {
		d.CreatedBy = d.Origin
	}
	if len(d.OriginRef) > 256 || len(d.CreatedBy) > 256 {
		return d, invalid("decision: origin reference and author must have at most 256 bytes")
	}
	// A caller that leaves Created empty computed Until from its own clock
	// a moment ago: a 1-minute decision must not fail for that.
	var slack time.Duration
	if d.Created.IsZero() {
		d.Created, slack = now, 10*time.Second
	}
	if d.Created.After(now.Add(time.Minute)) {
		return d, invalid("decision: creation time %s is in the future", d.Created.UTC().Format(time.RFC3339))
	}
	if d.Until.IsZero() {
		return d, invalid("decision: end time (until) is missing")
	}
	switch dur := d.Until.Sub(d.Created); {
	case dur+slack < MinDuration:
		return d, invalid("decision: duration %s is shorter than %s", dur.Round(time.Second), MinDuration)
	case dur > MaxDuration:
		return d, invalid("decision: duration %s is longer than 365 days", dur.Round(time.Hour))
	}
	if !d.Until.After(now) {
		return d, invalid("decision: it would already have expired at %s", d.Until.UTC().Format(time.RFC3339))
	}
	return d, nil
}

func normalizeTarget(t Target) (Target, error) {
	n := 0
	if t.Org != "" {
		n++
		if !tenant.ValidID(string(t.Org)) {
			return t, invalid("decision: target organisation %q is not a valid organisation id", t.Org)
		}
	}
	if t.Sector != "" {
		n++
		s, err := tenant.ParseSector(string(t.Sector))
		if err != nil {
			return t, invalid("decision: target: %v", err)
		}
		t.Sector = s
	}
	if t.National {
		n++
	}
	switch n {
	case 0:
		return t, invalid("decision: target is missing: set one organisation, one sector or national")
	case 1:
		return t, nil
	}
	return t, invalid("decision: target has %d parts (%+v): set exactly one of organisation, sector or national", n, t)
}

// ParseValue checks value against scope and returns both normalized. An
// empty scope is inferred: an IP address is "ip", a CIDR range "range",
// anything else "domain". Ranges are masked ("10.1.2.3/24" becomes
// "10.1.2.0/24"), a single-address range becomes an "ip", IPv4-mapped IPv6
// addresses become IPv4, domains are lower-cased without their final dot.
// Errors match ErrInvalid.
func ParseValue(scope, value string) (string, string, error) {
	scope = strings.ToLower(strings.TrimSpace(scope))
	value = strings.TrimSpace(value)
	if value == "" {
		return scope, value, invalid("decision: value is missing (an IP address, a CIDR range or a domain)")
	}
	if scope == "" {
		switch {
		case strings.Contains(value, "/"):
			scope = ScopeRange
		case isIPLike(value):
			scope = ScopeIP
		default:
			scope = ScopeDomain
		}
	}
	switch scope {
	case ScopeIP:
		a, err := netip.ParseAddr(value)
		if err != nil || a.Zone() != "" {
			return scope, value, invalid("decision: value %q is not an IP address", value)
		}
		a = a.Unmap()
		if err := checkAddr(a); err != nil {
			return scope, value, err
		}
		return scope, a.String(), nil
	case ScopeRange:
		p, err := netip.ParsePrefix(value)
		if err != nil {
			return scope, value, invalid("decision: value %q is not a CIDR range (like 192.0.2.0/24)", value)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		p = p.Masked()
		if p.IsSingleIP() {
			if err := checkAddr(p.Addr()); err != nil {
				return scope, value, err
			}
			return ScopeIP, p.Addr().String(), nil
		}
		min := minPrefix4
		if p.Addr().Is6() {
			min = minPrefix6
		}
		if p.Bits() < min {
			return scope, value, invalid("decision: range %s is wider than /%d: too broad to block", p, min)
		}
		if err := checkAddr(p.Addr()); err != nil {
			return scope, value, err
		}
		return scope, p.String(), nil
	case ScopeDomain:
		d, err := parseDomain(value)
		if err != nil {
			return scope, value, err
		}
		return scope, d, nil
	}
	return scope, value, invalid("decision: unknown scope %q (want ip, range or domain)", scope)
}

// isIPLike reports whether s looks like an address rather than a domain, so
// that a mistyped address ("1.2.3.400") is reported as a bad IP address.
func isIPLike(s string) bool {
	if strings.Contains(s, ":") {
		return true
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// checkAddr refuses addresses no enforcement point should block.
func checkAddr(a netip.Addr) error {
	switch {
	case a.IsUnspecified():
		return invalid("decision: %s is the unspecified address", a)
	case a.IsLoopback():
		return invalid("decision: %s is a loopback address", a)
	case a.IsMulticast():
		return invalid("decision: %s is a multicast address", a)
	}
	return nil
}

func parseDomain(s string) (string, error) {
	d := strings.TrimSuffix(strings.ToLower(s), ".")
	if len(d) > 253 {
		return "", invalid("decision: domain %q is longer than 253 characters", s)
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return "", invalid("decision: domain %q has a single label: a top-level domain is too broad to block", s)
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return "", invalid("decision: domain %q has an empty label or one longer than 63 characters", s)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "", invalid("decision: domain %q has a label that starts or ends with '-'", s)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", invalid("decision: domain %q has the character %q: write internationalised names in their xn-- form", s, rune(c))
			}
		}
	}
	if isIPLike(d) {
		return "", invalid("decision: %q looks like an IP address, not a domain", s)
	}
	return d, nil
}

// addrRange returns the first and last address of an ip or range value,
// and false for domains. IPv4 addresses have 4 bytes, IPv6 16.
func addrRange(scope, value string) (first, last []byte, ok bool) {
	var p netip.Prefix
	switch scope {
	case ScopeIP:
		a, err := netip.ParseAddr(value)
		if err != nil {
			return nil, nil, false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	case ScopeRange:
		var err error
		if p, err = netip.ParsePrefix(value); err != nil {
			return nil, nil, false
		}
	default:
		return nil, nil, false
	}
	first = p.Masked().Addr().AsSlice()
	last = lastAddr(p).AsSlice()
	return first, last, true
}

// lastAddr returns the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
