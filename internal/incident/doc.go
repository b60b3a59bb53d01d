// Package incident groups one organisation's alerts into incidents and links
// incidents of different organisations into campaigns. A Grouper puts an
// alert into the open incident of its tenant that shares an entity with it
// (host, user, or public source IP) within a window, merges incidents an
// alert links, orders the incident's ATT&CK tactics along the kill chain and
// raises its severity with the stages it spans. A Campaigns tracker opens a
// campaign when organisations share attacker infrastructure (a public source
// IP or its /24, a domain, a file hash) or a rare high-severity rule within a
// window; View gives an organisation's role the part of a campaign it may
// see. Both are pure, in-memory and safe for concurrent use: they store
// nothing, expire what has been idle past its window, and return snapshots
// for the caller to persist.
package incident
