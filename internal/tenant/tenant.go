// Package tenant names the organisations Mamori watches, the sectors they
// belong to, and Scope: the set of organisations a caller may see. The zero
// Scope sees nothing; only auth builds a non-empty one.
//
// It is a leaf: it imports no other internal package.
package tenant

import (
	"fmt"
	"slices"
	"strings"
)

// ID identifies an organisation (tenant). It is a short stable slug.
type ID string

// Sector is a critical-infrastructure sector.
type Sector string

// The sectors a national centre watches.
const (
	Government    Sector = "government"
	Defence       Sector = "defence"
	EnergyPower   Sector = "energy-power"
	EnergyGas     Sector = "energy-gas"
	Water         Sector = "water"
	Transport     Sector = "transport"
	Medical       Sector = "medical"
	Welfare       Sector = "welfare"
	Finance       Sector = "finance"
	Telecom       Sector = "telecom"
	IT            Sector = "it"
	Manufacturing Sector = "manufacturing"
	Education     Sector = "education"
	Other         Sector = "other"
)

// Sectors lists every sector, in display order.
var Sectors = []Sector{Government, Defence, EnergyPower, EnergyGas, Water, Transport, Medical, Welfare, Finance, Telecom, IT, Manufacturing, Education, Other}

// ParseSector validates a sector name.
func ParseSector(s string) (Sector, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, x := range Sectors {
		if string(x) == s {
			return x, nil
		}
	}
	names := make([]string, len(Sectors))
	for i, x := range Sectors {
		names[i] = string(x)
	}
	return "", fmt.Errorf("unknown sector %q (want one of %s)", s, strings.Join(names, ", "))
}

// Tenant is one organisation.
type Tenant struct {
	ID     ID
	Name   string
	Sector Sector
	// Assets is the declared number of assets (hosts) the organisation
	// runs; 0 when not declared. The rating normalises by it and measures
	// telemetry coverage against it.
	Assets int
}

// ValidID reports whether s is a valid tenant id: 1-64 characters of a-z, 0-9 and '-'.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Slug turns an organisation name into a candidate ID.
func Slug(name string) ID {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimRight(b.String(), "-")
	if len(s) > 64 {
		s = s[:64]
	}
	return ID(s)
}

// Scope is the set of tenants a caller may see. The zero Scope sees
// nothing. A national scope (All) sees every tenant, present and future.
type Scope struct {
	all bool
	ids []ID // sorted, without duplicates
}

// All returns the scope of national roles: every tenant.
func All() Scope { return Scope{all: true} }

// Only returns a scope limited to the given tenants.
func Only(ids ...ID) Scope {
	s := Scope{ids: slices.Clone(ids)}
	slices.Sort(s.ids)
	s.ids = slices.Compact(s.ids)
	return s
}

// Empty reports whether the scope sees nothing.
func (s Scope) Empty() bool { return !s.all && len(s.ids) == 0 }

// IsAll reports whether the scope sees every tenant.
func (s Scope) IsAll() bool { return s.all }

// Contains reports whether tenant id is visible.
func (s Scope) Contains(id ID) bool {
	if s.all {
		return true
	}
	_, ok := slices.BinarySearch(s.ids, id)
	return ok
}

// IDs returns the visible tenants of a limited scope (nil for All).
func (s Scope) IDs() []ID { return slices.Clone(s.ids) }

// Narrow intersects the scope with the requested tenants: a request for
// tenants outside the scope yields only those inside it (possibly none).
// An empty request keeps the scope as it is.
func (s Scope) Narrow(requested ...ID) Scope {
	if len(requested) == 0 {
		return s
	}
	var keep []ID
	for _, id := range requested {
		if s.Contains(id) {
			keep = append(keep, id)
		}
	}
	return Only(keep...)
}

func (s Scope) String() string {
	if s.all {
		return "all tenants"
	}
	parts := make([]string, len(s.ids))
	for i, id := range s.ids {
		parts[i] = string(id)
	}
	return "tenants [" + strings.Join(parts, " ") + "]"
}
