// Package intel shares threat intelligence in the standard formats: it
// builds STIX 2.1 objects from Mamori's indicators, campaigns and alerts,
// serves them to partners and constituent organisations over TAXII 2.1 with
// the TLP and ownership rules of a national hub, accepts indicators and
// sightings posted over TAXII, and polls partners' TAXII collections.
//
// It stores nothing itself: the indicator store, the object store for
// sightings, the STIX parser and authentication are injected as small
// interfaces and function fields, so the caller decides where data lives.
// See docs/TAXII.md.
package intel
