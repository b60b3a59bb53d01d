// Package enrich adds context to IP addresses: the country and autonomous
// system (ASN and organisation) read from MaxMind-format (MMDB) databases,
// either the GeoLite2 layouts (Country/City and ASN) or the ip-location-db
// layouts, and the address's Scope: public, private (RFC 1918 / ULA),
// loopback, link-local, reserved (documentation, CGNAT, multicast, ...), or
// one of the organisation's own ranges as declared per tenant. Databases are
// optional: one that is not configured or whose file is missing simply turns
// that part of the enrichment off (a missing file logs one warning at Open),
// while a corrupt one is an error naming its path. An Enricher is safe for
// concurrent use, and lookups of already-seen database records do not
// allocate. It is pure: it imports only internal/tenant.
package enrich
