package intel

import (
	"github.com/mamori-soc/mamori/internal/ioc"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// Caller is an authenticated TAXII client, as ServerConfig.Authenticate
// returns it.
type Caller struct {
	// Name identifies the caller in logs, in the Source of indicators it
	// posts and as the owner of its status resources.
	Name string
	// National marks a national SOC role: it reads every collection and
	// every indicator whatever its TLP.
	National bool
	// Org is the constituent organisation the caller acts for; "" for
	// national roles and for external partners.
	Org tenant.ID
	// Sector is Org's sector.
	Sector tenant.Sector
	// Write lets the caller post (and delete) where its role allows it.
	Write bool
}

// constituent reports whether c acts for one of Mamori's organisations.
func (c Caller) constituent() bool { return c.Org != "" }

// CanSee reports whether ind may be served to c over TAXII. ownerSector is
// the sector of ind's owner ("" when it has none or it is unknown).
//
//   - National callers and the indicator's owner see it whatever its TLP.
//   - clear and green: any caller who may read the collection.
//   - amber: organisations of the owner's sector; without an owner (a
//     national or external indicator), any constituent organisation. External
//     partners never get amber.
//   - amber+strict and red: nobody else. An unknown TLP counts as red.
func (c Caller) CanSee(ind ioc.Indicator, ownerSector tenant.Sector) bool {
	if c.National || (c.constituent() && ind.Owner == string(c.Org)) {
		return true
	}
	tlp, ok := NormTLP(ind.TLP)
	if !ok {
		return false
	}
	switch tlp {
	case ioc.TLPClear, ioc.TLPGreen:
		return true
	case ioc.TLPAmber:
		if !c.constituent() {
			return false
		}
		if ind.Owner == "" {
			return true
		}
		return ownerSector != "" && c.Sector == ownerSector
	}
	return false
}

type collKind int

const (
	collIndicators collKind = iota // every indicator, as TLP allows
	collSightings                  // sightings posted by organisations and Mamori
	collSector                     // one sector's feed
)

// collection is one TAXII collection of the API root.
type collection struct {
	id, alias, title, desc string
	kind                   collKind
	sector                 tenant.Sector // collSector only
}

// sectorLabel is the label that puts an indicator into a sector's feed.
func sectorLabel(s tenant.Sector) string { return "sector:" + string(s) }

// rights returns whether c may read and write col.
//
//   - indicators: every authenticated caller reads; national callers with
//     Write write.
//   - sightings: national callers read all, organisations read their own;
//     both write with Write.
//   - sector-<name>: national callers and organisations of that sector read
//     and, with Write, write.
func (col *collection) rights(c Caller) (read, write bool) {
	switch col.kind {
	case collIndicators:
		return true, c.National && c.Write
	case collSightings:
		read = c.National || c.constituent()
	case collSector:
		read = c.National || (c.constituent() && c.Sector == col.sector)
	}
	return read, read && c.Write
}

func (col *collection) resource(c Caller) Collection {
	r, w := col.rights(c)
	return Collection{ID: col.id, Title: col.title, Description: col.desc, Alias: col.alias,
		CanRead: r, CanWrite: w, MediaTypes: []string{MediaTypeSTIX}}
}
