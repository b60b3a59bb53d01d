// Package ioc holds threat-intelligence indicators of compromise — IP
// addresses and networks, domains, URLs and file hashes — with their
// context (source, confidence, TLP marking, validity), parses the feed
// formats they arrive in (STIX 2.1 bundles, plain and CSV lists, MISP JSON
// feeds), and matches events against every live indicator at once with
// compiled lookups that do not allocate per event.
package ioc

import "time"

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

// TLP markings (Traffic Light Protocol 2.0), least restrictive first.
const (
	TLPClear       = "clear"
	TLPGreen       = "green"
	TLPAmber       = "amber"
	TLPAmberStrict = "amber+strict"
	TLPRed         = "red"
)

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
}
