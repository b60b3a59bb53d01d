package enrich

import (
	"fmt"
	"net/netip"
)

// Scope says what kind of network an address belongs to.
type Scope uint8

// The scopes, from the most common to the most specific.
const (
	// Public is a globally routable address (the only scope looked up in
	// the databases, together with Own).
	Public Scope = iota
	// Private is RFC 1918 (10/8, 172.16/12, 192.168/16) or an IPv6 unique
	// local address (fc00::/7).
	Private
	// Loopback is 127/8 or ::1.
	Loopback
	// LinkLocal is 169.254/16 or fe80::/10.
	LinkLocal
	// Reserved is any other special-purpose range: "this network" (0/8,
	// ::/128), CGNAT shared space (100.64/10), IETF protocol assignments,
	// documentation and benchmarking ranges, multicast, the future-use and
	// broadcast ranges, discard-only and site-local IPv6, and invalid
	// addresses.
	Reserved
	// Own is an address in one of the tenant's declared ranges.
	Own
)

var scopeNames = [...]string{"public", "private", "loopback", "link-local", "reserved", "own"}

// String returns the scope's lower-case name, e.g. "link-local".
func (s Scope) String() string {
	if int(s) < len(scopeNames) {
		return scopeNames[s]
	}
	return fmt.Sprintf("scope(%d)", uint8(s))
}

// MarshalText encodes the scope as its name (for JSON).
func (s Scope) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a scope name as written by MarshalText.
func (s *Scope) UnmarshalText(b []byte) error {
	for i, n := range scopeNames {
		if n == string(b) {
			*s = Scope(i)
			return nil
		}
	}
	return fmt.Errorf("enrich: unknown scope %q", b)
}

type scopedPrefix struct {
	p netip.Prefix
	s Scope
}

func mp(s string, sc Scope) scopedPrefix { return scopedPrefix{netip.MustParsePrefix(s), sc} }

// Special-purpose ranges (IANA IPv4/IPv6 special-purpose address registries).
// Globally reachable special ranges (e.g. 6to4, Teredo, NAT64) stay Public.
var (
	special4 = []scopedPrefix{
		mp("0.0.0.0/8", Reserved),
		mp("10.0.0.0/8", Private),
		mp("100.64.0.0/10", Reserved), // CGNAT shared address space
		mp("127.0.0.0/8", Loopback),
		mp("169.254.0.0/16", LinkLocal),
		mp("172.16.0.0/12", Private),
		mp("192.0.0.0/24", Reserved),   // IETF protocol assignments
		mp("192.0.2.0/24", Reserved),   // TEST-NET-1
		mp("192.88.99.0/24", Reserved), // deprecated 6to4 relay anycast
		mp("192.168.0.0/16", Private),
		mp("198.18.0.0/15", Reserved),   // benchmarking
		mp("198.51.100.0/24", Reserved), // TEST-NET-2
		mp("203.0.113.0/24", Reserved),  // TEST-NET-3
		mp("224.0.0.0/4", Reserved),     // multicast
		mp("240.0.0.0/4", Reserved),     // future use, includes broadcast
	}
	special6 = []scopedPrefix{
		mp("::/128", Reserved), // unspecified
		mp("::1/128", Loopback),
		mp("100::/64", Reserved),      // discard-only
		mp("2001:2::/48", Reserved),   // benchmarking
		mp("2001:10::/28", Reserved),  // ORCHID (deprecated)
		mp("2001:20::/28", Reserved),  // ORCHIDv2
		mp("2001:db8::/32", Reserved), // documentation
		mp("3fff::/20", Reserved),     // documentation (RFC 9637)
		mp("fc00::/7", Private),       // unique local
		mp("fe80::/10", LinkLocal),
		mp("fec0::/10", Reserved), // site-local (deprecated)
		mp("ff00::/8", Reserved),  // multicast
	}
)

// Classify returns the built-in scope of ip (never Own). IPv4-mapped IPv6
// addresses are classified as the IPv4 address they carry; the invalid
// (zero) address is Reserved.
func Classify(ip netip.Addr) Scope {
	if !ip.IsValid() {
		return Reserved
	}
	ip = ip.Unmap().WithZone("")
	list := special6
	if ip.Is4() {
		list = special4
	}
	for _, sp := range list {
		if sp.p.Contains(ip) {
			return sp.s
		}
	}
	return Public
}
