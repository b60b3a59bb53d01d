package intel

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/incident"
	"github.com/mamori-soc/mamori/internal/ioc"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// DefaultProducer names the identity that Mamori's exports are created by
// when ExportOptions.Producer is empty.
const DefaultProducer = "Mamori national SOC"

// ExportOptions tune Export.
type ExportOptions struct {
	// Producer names the identity every exported object is created_by;
	// "" means DefaultProducer.
	Producer string
	// Anonymise keeps organisations out of the export: campaign descriptions
	// list sectors only, and sightings are "where sighted" by the identity of
	// a sector, never of an organisation. Set it for anything that leaves the
	// national SOC.
	Anonymise bool
	// TLP marks every exported object (an ioc TLP constant); "" means amber.
	TLP string
	// SectorOf returns an organisation's sector; campaign sightings need it to
	// say which sectors saw an indicator. nil (or an unknown organisation):
	// the campaign's only sector when it has one, else the sighting names no
	// place.
	SectorOf func(tenant.ID) tenant.Sector
	// OrgName returns the display name of an organisation for its identity
	// when Anonymise is off; nil means the tenant id.
	OrgName func(tenant.ID) string
}

// identityCreated is the created time of the identities Mamori derives
// (producer, sectors, organisations), fixed so re-exports are identical.
var identityCreated = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Export returns a STIX 2.1 bundle of campaigns and confirmed alerts.
//
// A campaign becomes a campaign object (named after its first indicator,
// with first_seen/last_seen and a description of the sectors affected, plus
// the organisations unless opt.Anonymise), an indicator for each of its ip,
// net, domain and hash indicators (not rules), an ATT&CK attack-pattern for
// each technique, "indicates" relationships from the indicators to the
// campaign, "uses" relationships from the campaign to the attack-patterns,
// and a sighting of each indicator where it was seen.
//
// An alert (the caller passes only confirmed ones) becomes an indicator for
// its public source IP and the domains and file hashes of its event (see
// incident.Indicators; derived networks and rules are left out), a sighting
// of each with the alert's count and times, and attack-patterns for its
// techniques that its indicators "indicate".
//
// Every object is created by the producer identity and carries opt.TLP.
// Ids are derived from Mamori's stable ids, so exporting the same input
// twice gives the same objects. An indicator that cannot be expressed as a
// STIX pattern is left out and reported in the returned errors; the bundle
// holds everything else.
func Export(campaigns []*incident.Campaign, alerts []alert.Alert, opt ExportOptions) (*Bundle, []error) {
	x := newExporter(opt)
	var errs []error
	for _, c := range campaigns {
		if c != nil {
			errs = append(errs, x.campaign(c)...)
		}
	}
	for i := range alerts {
		errs = append(errs, x.alert(&alerts[i])...)
	}
	return x.bundle(), errs
}

type exporter struct {
	opt      ExportOptions
	marking  string
	producer *Identity
	objs     map[string]Object
}

func newExporter(opt ExportOptions) *exporter {
	if opt.Producer == "" {
		opt.Producer = DefaultProducer
	}
	if opt.TLP == "" {
		opt.TLP = ioc.TLPAmber
	}
	x := &exporter{opt: opt, marking: TLPMarkingRef(opt.TLP), objs: map[string]Object{}}
	x.producer = &Identity{
		Common:        Common{Type: "identity", SpecVersion: SpecVersion, ID: ID("identity", "producer", opt.Producer), Created: T(identityCreated), Modified: T(identityCreated)},
		Name:          opt.Producer,
		IdentityClass: "organization",
	}
	x.add(x.producer)
	x.add(TLPMarking(opt.TLP))
	return x
}

// stamp fills the properties every exported object shares.
func (x *exporter) stamp(c *Common, typ, id string, created, modified time.Time) {
	created = firstNonZero(created, modified, epoch)
	modified = firstNonZero(modified, created)
	if modified.Before(created) {
		modified = created
	}
	c.Type, c.SpecVersion, c.ID = typ, SpecVersion, id
	c.Created, c.Modified = T(created), T(modified)
	c.CreatedByRef = x.producer.ID
	c.ObjectMarkingRefs = []string{x.marking}
}

// add puts o into the bundle. An indicator already there keeps its id and
// widens its times: the earliest created and valid_from, the latest modified.
func (x *exporter) add(o Object) {
	c := o.common()
	old, ok := x.objs[c.ID]
	if !ok {
		x.objs[c.ID] = o
		return
	}
	oi, ok1 := old.(*Indicator)
	ni, ok2 := o.(*Indicator)
	if !ok1 || !ok2 {
		return
	}
	if ni.Created.Before(oi.Created.Time) {
		oi.Created = ni.Created
	}
	if ni.Modified.After(oi.Modified.Time) {
		oi.Modified = ni.Modified
	}
	if ni.ValidFrom.Before(oi.ValidFrom.Time) {
		oi.ValidFrom = ni.ValidFrom
	}
}

// indicator adds the STIX indicator of an observed kind/value and returns its id.
func (x *exporter) indicator(kind ioc.Kind, value, desc string, first, last time.Time) (string, error) {
	ind := ioc.Indicator{ID: "mamori:" + string(kind) + ":" + value, Kind: kind, Value: value, Source: "mamori",
		TLP: x.opt.TLP, ValidFrom: first, Created: first, Modified: last, Description: desc}
	o, err := IndicatorObject(ind)
	if err != nil {
		return "", err
	}
	x.stamp(&o.Common, "indicator", o.ID, first, last)
	x.add(o)
	return o.ID, nil
}

// attackPattern adds the attack-pattern of an ATT&CK technique ("T1110" or
// "T1110.001") and returns its id, or "" for something that is not one.
func (x *exporter) attackPattern(tech string) string {
	tech = strings.ToUpper(strings.TrimSpace(tech))
	if !validTechnique(tech) {
		return ""
	}
	o := &AttackPattern{Name: tech}
	x.stamp(&o.Common, "attack-pattern", ID("attack-pattern", "mitre-attack", tech), identityCreated, identityCreated)
	o.ExternalReferences = []ExternalReference{{
		SourceName: "mitre-attack",
		ExternalID: tech,
		URL:        "https://attack.mitre.org/techniques/" + strings.ReplaceAll(tech, ".", "/") + "/",
	}}
	x.add(o)
	return o.ID
}

func validTechnique(t string) bool {
	base, sub, hasSub := strings.Cut(t, ".")
	digits := func(s string, n int) bool {
		if len(s) != n {
			return false
		}
		for i := 0; i < n; i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	return len(base) == 5 && base[0] == 'T' && digits(base[1:], 4) && (!hasSub || digits(sub, 3))
}

func (x *exporter) relationship(typ, src, dst string, created, modified time.Time) {
	o := &Relationship{RelationshipType: typ, SourceRef: src, TargetRef: dst}
	x.stamp(&o.Common, "relationship", ID("relationship", typ, src, dst), created, modified)
	x.add(o)
}

// place returns the id of the identity where an organisation's sighting
// happened: its sector's when anonymising, else its own. "" when unknown.
func (x *exporter) place(org tenant.ID, sector tenant.Sector) string {
	if x.opt.Anonymise || org == "" {
		if sector == "" {
			return ""
		}
		o := &Identity{Name: string(sector) + " sector", IdentityClass: "class", Sectors: stixSectors(sector),
			Description: "Organisations of the " + string(sector) + " sector watched by Mamori."}
		x.stamp(&o.Common, "identity", ID("identity", "sector", string(sector)), identityCreated, identityCreated)
		x.add(o)
		return o.ID
	}
	name := string(org)
	if x.opt.OrgName != nil {
		if n := x.opt.OrgName(org); n != "" {
			name = n
		}
	}
	o := &Identity{Name: name, IdentityClass: "organization", Sectors: stixSectors(sector)}
	x.stamp(&o.Common, "identity", ID("identity", "org", string(org)), identityCreated, identityCreated)
	x.add(o)
	return o.ID
}

// stixSectors maps a Mamori sector to STIX's industry-sector-ov.
func stixSectors(s tenant.Sector) []string {
	m := map[tenant.Sector]string{
		tenant.Government: "government-national", tenant.Defence: "defense", tenant.EnergyPower: "energy",
		tenant.EnergyGas: "energy", tenant.Water: "water", tenant.Transport: "transportation",
		tenant.Medical: "healthcare", tenant.Welfare: "government-public-services", tenant.Finance: "financial-services",
		tenant.Telecom: "telecommunications", tenant.IT: "technology", tenant.Manufacturing: "manufacturing",
		tenant.Education: "education",
	}
	if v, ok := m[s]; ok {
		return []string{v}
	}
	return nil
}

// campaignKind maps a campaign indicator kind to an ioc kind ("" for rules
// and what cannot be shared as a pattern).
func campaignKind(ind incident.Indicator) ioc.Kind {
	switch ind.Kind {
	case incident.IndicatorIP:
		return ioc.IP
	case incident.IndicatorNet:
		return ioc.CIDR
	case incident.IndicatorDomain:
		return ioc.Domain
	case incident.IndicatorHash:
		switch len(ind.Value) {
		case 32:
			return ioc.MD5
		case 40:
			return ioc.SHA1
		case 64:
			return ioc.SHA256
		}
	}
	return ""
}

func (x *exporter) campaign(c *incident.Campaign) []error {
	var errs []error
	sectors := slices.Clone(c.Sectors)
	slices.Sort(sectors)
	sectors = slices.Compact(sectors)
	var names []string
	for _, s := range sectors {
		names = append(names, string(s))
	}
	desc := "Attacks sharing infrastructure across organisations of Mamori's constituency."
	if len(names) > 0 {
		desc += " Sectors affected: " + strings.Join(names, ", ") + "."
	}
	if !x.opt.Anonymise && len(c.Orgs) > 0 {
		orgs := make([]string, len(c.Orgs))
		for i, o := range c.Orgs {
			orgs[i] = string(o)
		}
		desc += " Organisations: " + strings.Join(orgs, ", ") + "."
	}
	name := "Campaign " + c.ID
	if len(c.Indicators) > 0 {
		first := c.Indicators[0]
		name = "Campaign via " + first.Kind + " " + first.Value
	}
	camp := &Campaign{Name: name, Description: desc, FirstSeen: T(c.FirstSeen), LastSeen: T(c.LastSeen)}
	x.stamp(&camp.Common, "campaign", ID("campaign", c.ID), c.FirstSeen, c.LastSeen)
	x.add(camp)

	for _, t := range c.Techniques {
		if ap := x.attackPattern(t); ap != "" {
			x.relationship("uses", camp.ID, ap, c.FirstSeen, c.LastSeen)
		}
	}
	// Which organisations saw each indicator: View, asked once per
	// organisation, gives the indicators that appeared in its alerts.
	seen := map[incident.Indicator][]tenant.ID{}
	for _, org := range c.Orgs {
		v := incident.View(c, func(id tenant.ID) bool { return id == org })
		for _, ind := range v.Indicators {
			seen[ind] = append(seen[ind], org)
		}
	}
	for _, ind := range c.Indicators {
		kind := campaignKind(ind)
		if kind == "" {
			if ind.Kind != incident.IndicatorRule {
				errs = append(errs, fmt.Errorf("campaign %q: indicator %s %q has no STIX pattern", c.ID, ind.Kind, ind.Value))
			}
			continue
		}
		iid, err := x.indicator(kind, ind.Value, "Seen in campaign "+c.ID+".", c.FirstSeen, c.LastSeen)
		if err != nil {
			errs = append(errs, fmt.Errorf("campaign %q: %w", c.ID, err))
			continue
		}
		x.relationship("indicates", iid, camp.ID, c.FirstSeen, c.LastSeen)
		orgs := seen[ind]
		if len(orgs) == 0 {
			continue
		}
		var where []string
		for _, org := range orgs {
			if p := x.place(org, x.sectorOf(c, org)); p != "" && !slices.Contains(where, p) {
				where = append(where, p)
			}
		}
		slices.Sort(where)
		s := &Sighting{SightingOfRef: iid, Count: len(orgs), FirstSeen: T(c.FirstSeen), LastSeen: T(c.LastSeen), WhereSightedRefs: where,
			Description: fmt.Sprintf("Seen by %d organisations in campaign %s.", len(orgs), c.ID)}
		x.stamp(&s.Common, "sighting", ID("sighting", "campaign", c.ID, ind.Kind, ind.Value), c.FirstSeen, c.LastSeen)
		x.add(s)
	}
	return errs
}

func (x *exporter) sectorOf(c *incident.Campaign, org tenant.ID) tenant.Sector {
	if x.opt.SectorOf != nil {
		if s := x.opt.SectorOf(org); s != "" {
			return s
		}
	}
	if len(c.Sectors) == 1 {
		return c.Sectors[0]
	}
	return ""
}

func (x *exporter) alert(a *alert.Alert) []error {
	var errs []error
	var aps []string
	for _, t := range a.Techniques {
		if ap := x.attackPattern(t); ap != "" {
			aps = append(aps, ap)
		}
	}
	place := x.place(a.Tenant, a.Sector)
	for _, ind := range incident.Indicators(*a) {
		var kind ioc.Kind
		switch ind.Kind {
		case incident.IndicatorIP, incident.IndicatorDomain, incident.IndicatorHash:
			kind = campaignKind(ind)
		}
		if kind == "" {
			continue
		}
		desc := "Seen in a confirmed alert"
		if a.RuleTitle != "" {
			desc += ": " + a.RuleTitle
		}
		iid, err := x.indicator(kind, ind.Value, desc+".", a.FirstSeen, a.LastSeen)
		if err != nil {
			errs = append(errs, fmt.Errorf("alert %q: %w", a.ID, err))
			continue
		}
		for _, ap := range aps {
			x.relationship("indicates", iid, ap, a.FirstSeen, a.LastSeen)
		}
		s := &Sighting{SightingOfRef: iid, Count: clamp(a.Count, 1, 999999999), FirstSeen: T(a.FirstSeen), LastSeen: T(a.LastSeen), Description: desc + "."}
		if place != "" {
			s.WhereSightedRefs = []string{place}
		}
		x.stamp(&s.Common, "sighting", ID("sighting", "alert", a.ID, ind.Kind, ind.Value), a.FirstSeen, a.LastSeen)
		x.add(s)
	}
	return errs
}

// typeOrder sorts a bundle: who and how it is marked first, then the
// things, then what links them.
var typeOrder = map[string]int{"identity": 0, "marking-definition": 1, "campaign": 2, "attack-pattern": 3, "indicator": 4, "relationship": 5, "sighting": 6}

func (x *exporter) bundle() *Bundle {
	objs := make([]Object, 0, len(x.objs))
	for _, o := range x.objs {
		objs = append(objs, o)
	}
	slices.SortFunc(objs, func(a, b Object) int {
		ca, cb := a.common(), b.common()
		if d := typeOrder[ca.Type] - typeOrder[cb.Type]; d != 0 {
			return d
		}
		return strings.Compare(ca.ID, cb.ID)
	})
	var key strings.Builder
	for _, o := range objs {
		c := o.common()
		key.WriteString(c.ID + "@" + c.Modified.String() + "\n")
	}
	return &Bundle{Type: "bundle", ID: "bundle--" + uuid5("bundle\x00"+key.String()), Objects: objs}
}
