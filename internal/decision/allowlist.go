package decision

import (
	"fmt"
	"net/netip"
	"strings"
)

// Allow is an allowlist entry: an IP address, a CIDR range or a domain that
// no decision may block, with a note saying why (e.g. "national DNS
// resolvers", "org-a's own range").
type Allow struct {
	Value string `json:"value"`
	Note  string `json:"note,omitempty"`
}

// AllowlistError says which allowlist entry refused a decision. It matches
// ErrAllowlisted.
type AllowlistError struct {
	Value string // the refused decision's value
	Entry Allow  // the entry that covers it
}

func (e *AllowlistError) Error() string {
	note := ""
	if e.Entry.Note != "" {
		note = " (" + e.Entry.Note + ")"
	}
	return fmt.Sprintf("decision: %s is allowlisted by %s%s and may never be blocked", e.Value, e.Entry.Value, note)
}

// Is makes errors.Is(err, ErrAllowlisted) true.
func (e *AllowlistError) Is(target error) bool { return target == ErrAllowlisted }

// allowlist is a parsed list of entries.
type allowlist struct {
	prefixes []allowPrefix
	domains  []allowDomain
}

type allowPrefix struct {
	p     netip.Prefix
	entry Allow
}

type allowDomain struct {
	d     string
	entry Allow
}

// parseAllowlist normalizes every entry; an entry that is neither an
// address, a range nor a domain is an error naming it. Unlike decisions,
// entries may be as wide as needed.
func parseAllowlist(entries []Allow) (allowlist, error) {
	var l allowlist
	for i, e := range entries {
		v := strings.TrimSpace(e.Value)
		e.Value, e.Note = v, strings.TrimSpace(e.Note)
		if p, err := netip.ParsePrefix(v); err == nil {
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			l.prefixes = append(l.prefixes, allowPrefix{p.Masked(), e})
			continue
		}
		if a, err := netip.ParseAddr(v); err == nil && a.Zone() == "" {
			a = a.Unmap()
			l.prefixes = append(l.prefixes, allowPrefix{netip.PrefixFrom(a, a.BitLen()), e})
			continue
		}
		if isIPLike(v) {
			return allowlist{}, fmt.Errorf("decision: allowlist entry %d %q is not a valid IP address or CIDR range", i+1, v)
		}
		d, err := parseDomain(v)
		if err != nil {
			return allowlist{}, fmt.Errorf("decision: allowlist entry %d %q: %w", i+1, v, err)
		}
		l.domains = append(l.domains, allowDomain{d, e})
	}
	return l, nil
}

// check returns an *AllowlistError when a normalized decision value
// touches an entry: an address inside an allowed range, a range that
// overlaps one (it would block part of it), a domain equal to, inside or
// above an allowed domain (blocking "gov.example" blocks "dns.gov.example").
func (l allowlist) check(scope, value string) error {
	switch scope {
	case ScopeIP, ScopeRange:
		var p netip.Prefix
		if scope == ScopeIP {
			a, err := netip.ParseAddr(value)
			if err != nil {
				return nil
			}
			p = netip.PrefixFrom(a, a.BitLen())
		} else {
			var err error
			if p, err = netip.ParsePrefix(value); err != nil {
				return nil
			}
		}
		for _, e := range l.prefixes {
			if e.p.Overlaps(p) {
				return &AllowlistError{Value: value, Entry: e.entry}
			}
		}
	case ScopeDomain:
		for _, e := range l.domains {
			if value == e.d || strings.HasSuffix(value, "."+e.d) || strings.HasSuffix(e.d, "."+value) {
				return &AllowlistError{Value: value, Entry: e.entry}
			}
		}
	}
	return nil
}
