package incident

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// Indicator kinds.
const (
	IndicatorIP     = "ip"     // a public source IP
	IndicatorNet    = "net"    // the /24 (IPv4) or /48 (IPv6) of a public source IP, e.g. "203.0.113.0/24"
	IndicatorDomain = "domain" // a domain name the event looked up or connected to
	IndicatorHash   = "hash"   // a file hash (the strongest of SHA-256, SHA-1, MD5 in a field)
	IndicatorRule   = "rule"   // a rare high/critical rule ID
)

// DefaultCampaignWindow is the Campaigns window when none is configured.
const DefaultCampaignWindow = 24 * time.Hour

// DefaultRareOrgs is how many organisations may see a rule within the
// window for it still to count as rare.
const DefaultRareOrgs = 3

// Indicator is one piece of shared attacker infrastructure (or a rare rule).
type Indicator struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// Campaign links incidents of several organisations that share indicators.
// It is the national view; organisations see it only through View.
type Campaign struct {
	ID          string          `json:"id"`
	Orgs        []tenant.ID     `json:"orgs"`
	Sectors     []tenant.Sector `json:"sectors"`
	Indicators  []Indicator     `json:"indicators"`
	Techniques  []string        `json:"techniques"`
	IncidentIDs []string        `json:"incident_ids"`
	FirstSeen   time.Time       `json:"first_seen"`
	LastSeen    time.Time       `json:"last_seen"`
	// Merged lists the campaigns absorbed into this one, so the caller can
	// retire them.
	Merged []string `json:"merged,omitempty"`

	reported time.Time                 // LastSeen when last returned by Add
	techSet  map[string]bool           // Techniques as a set
	seenBy   map[Indicator][]tenant.ID // which organisations' alerts carried each indicator
	incOrg   map[string]tenant.ID      // incident ID → its organisation
}

func (c *Campaign) clone() *Campaign {
	cp := *c
	cp.Orgs = slices.Clone(c.Orgs)
	cp.Sectors = slices.Clone(c.Sectors)
	cp.Indicators = slices.Clone(c.Indicators)
	cp.Techniques = slices.Clone(c.Techniques)
	cp.IncidentIDs = slices.Clone(c.IncidentIDs)
	cp.Merged = slices.Clone(c.Merged)
	cp.seenBy = make(map[Indicator][]tenant.ID, len(c.seenBy))
	for k, v := range c.seenBy {
		cp.seenBy[k] = slices.Clone(v)
	}
	cp.incOrg = make(map[string]tenant.ID, len(c.incOrg))
	for k, v := range c.incOrg {
		cp.incOrg[k] = v
	}
	return &cp
}

// CampaignView is what an organisation's role sees of a campaign: that its
// own incidents belong to it, the indicators that appeared in its own
// alerts, and when the campaign was first and last seen. It never names
// the other organisations, their sectors, incidents or indicators.
type CampaignView struct {
	ID          string      `json:"id"`
	IncidentIDs []string    `json:"incident_ids"`
	Indicators  []Indicator `json:"indicators"`
	FirstSeen   time.Time   `json:"first_seen"`
	LastSeen    time.Time   `json:"last_seen"`
}

// View returns the part of c that a role whose organisations are those for
// which scope returns true may see. When none of the campaign's
// organisations is in scope, it returns the zero CampaignView (empty ID).
func View(c *Campaign, scope func(tenant.ID) bool) CampaignView {
	if c == nil || scope == nil {
		return CampaignView{}
	}
	var v CampaignView
	member := false
	for _, o := range c.Orgs {
		if scope(o) {
			member = true
			break
		}
	}
	if !member {
		return v
	}
	v.ID, v.FirstSeen, v.LastSeen = c.ID, c.FirstSeen, c.LastSeen
	v.IncidentIDs = []string{}
	v.Indicators = []Indicator{}
	for _, id := range c.IncidentIDs {
		if scope(c.incOrg[id]) {
			v.IncidentIDs = append(v.IncidentIDs, id)
		}
	}
	for _, ind := range c.Indicators {
		if slices.ContainsFunc(c.seenBy[ind], scope) {
			v.Indicators = append(v.Indicators, ind)
		}
	}
	return v
}

// orgSighting is one organisation's sightings of one indicator.
type orgSighting struct {
	sector      tenant.Sector
	first, last time.Time
	incidents   map[string]time.Time // incident ID → last sighting
	pruneAt     int                  // scan incidents for expiry when there are this many
}

// Campaigns links incidents of different organisations into campaigns. It
// is safe for concurrent use.
//
// Every alert's indicators (see Indicators) are recorded per organisation.
// When an indicator has been seen by 2 or more organisations within Window
// — for a rule, by 2 to RareOrgs organisations, and only for high or
// critical alerts — the incidents that carried it join one campaign: the
// campaign that already holds the indicator or one of those incidents, or
// a new one. Campaigns reached through several indicators or incidents
// merge into the earliest. One organisation alone never makes a campaign.
type Campaigns struct {
	Window   time.Duration // how long indicators link, and campaigns stay open idle
	RareOrgs int           // a rule seen by more organisations than this within Window is common

	mu        sync.Mutex
	sightings map[Indicator]map[tenant.ID]*orgSighting
	camps     map[string]*Campaign
	byInd     map[Indicator]string // indicator → campaign ID
	byInc     map[string]string    // incident ID → campaign ID
	alias     map[string]alias     // merged-away incident ID → the incident it joined
	now       time.Time
	lastSweep time.Time
}

// NewCampaigns returns a tracker; window 0 means 24 h, rareOrgs 0 means 3.
func NewCampaigns(window time.Duration, rareOrgs int) *Campaigns {
	if window <= 0 {
		window = DefaultCampaignWindow
	}
	if rareOrgs <= 0 {
		rareOrgs = DefaultRareOrgs
	}
	return &Campaigns{
		Window: window, RareOrgs: rareOrgs,
		sightings: map[Indicator]map[tenant.ID]*orgSighting{},
		camps:     map[string]*Campaign{}, byInd: map[Indicator]string{}, byInc: map[string]string{}, alias: map[string]alias{},
	}
}

// Add records alert a, which the Grouper put into incident inc, and returns
// snapshots of the campaigns it opened or changed (sorted by ID; nil when
// none). Incidents listed in inc.Merged are replaced by inc in campaigns.
func (cs *Campaigns) Add(inc *Incident, a alert.Alert) []*Campaign {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	var out []*Campaign
	for _, id := range cs.link(inc, a) {
		out = append(out, cs.snapshot(id))
	}
	return out
}

// Link is Add without the snapshots: it returns the IDs of the campaigns
// opened or changed, sorted, for the caller to take one Snapshot of each
// per batch instead of one per alert (a busy campaign holds thousands of
// incidents).
func (cs *Campaigns) Link(inc *Incident, a alert.Alert) []string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.link(inc, a)
}

// Snapshot returns a copy of an open campaign.
func (cs *Campaigns) Snapshot(id string) (*Campaign, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.camps[id] == nil {
		return nil, false
	}
	return cs.snapshot(id), true
}

func (cs *Campaigns) snapshot(id string) *Campaign {
	c := cs.camps[id]
	c.reported = c.LastSeen
	return c.clone()
}

func (cs *Campaigns) link(inc *Incident, a alert.Alert) []string {
	first, last := alertSpan(a)
	if last.After(cs.now) {
		cs.now = last
	}
	incID := ""
	if inc != nil {
		incID = inc.ID
		cs.renameMerged(inc)
	}
	changed := map[string]bool{}
	for _, ind := range Indicators(a) {
		orgs := cs.sightings[ind]
		if orgs == nil {
			orgs = map[tenant.ID]*orgSighting{}
			cs.sightings[ind] = orgs
		}
		cs.prune(orgs, cs.now, false)
		s := orgs[a.Tenant]
		if s == nil {
			s = &orgSighting{sector: a.Sector, first: first, last: last, incidents: map[string]time.Time{}}
			orgs[a.Tenant] = s
		}
		s.first = minTime(s.first, first)
		s.last = maxTime(s.last, last)
		if incID != "" {
			s.incidents[incID] = maxTime(s.incidents[incID], last)
		}
		if len(orgs) < 2 || (ind.Kind == IndicatorRule && len(orgs) > cs.RareOrgs) {
			continue
		}
		if c, ch := cs.linkIndicator(ind, orgs); ch {
			changed[c.ID] = true
		}
	}
	if cid, ok := cs.byInc[incID]; ok && inc != nil {
		c := cs.camps[cid]
		if c.techSet == nil || len(c.techSet) != len(c.Techniques) {
			c.techSet = make(map[string]bool, len(c.Techniques))
			for _, t := range c.Techniques {
				c.techSet[t] = true
			}
		}
		added := false
		for _, t := range inc.Techniques {
			if !c.techSet[t] {
				c.techSet[t] = true
				c.Techniques = append(c.Techniques, t)
				added = true
			}
		}
		if added {
			slices.Sort(c.Techniques)
			changed[cid] = true
		}
	}
	cs.maybeSweep()
	var out []string
	for id := range changed {
		if cs.camps[id] != nil { // a later indicator may have merged it away
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// linkIndicator puts every organisation and incident that saw ind into one
// campaign and returns it, and whether it changed enough to be reported.
func (cs *Campaigns) linkIndicator(ind Indicator, orgs map[tenant.ID]*orgSighting) (*Campaign, bool) {
	var found []*Campaign
	add := func(id string, ok bool) {
		if c := cs.camps[id]; ok && c != nil && !slices.Contains(found, c) {
			found = append(found, c)
		}
	}
	id, ok := cs.byInd[ind]
	add(id, ok)
	for _, s := range orgs {
		for iid, t := range s.incidents {
			if cs.now.Sub(t) > cs.Window {
				continue // expired, not yet pruned
			}
			id, ok := cs.byInc[cs.resolve(iid)]
			add(id, ok)
		}
	}
	var c *Campaign
	if len(found) == 0 {
		// The ID is a hash of the indicator and of the earliest sighting,
		// so replaying the same alerts opens the same campaign.
		var fo tenant.ID
		var ft time.Time
		for o, s := range orgs {
			if ft.IsZero() || s.first.Before(ft) || (s.first.Equal(ft) && o < fo) {
				fo, ft = o, s.first
			}
		}
		c = &Campaign{
			ID:     hashID("camp-", ind.Kind, ind.Value, string(fo), ft.UTC().Format(time.RFC3339Nano)),
			seenBy: map[Indicator][]tenant.ID{}, incOrg: map[string]tenant.ID{},
			FirstSeen: ft, LastSeen: ft,
		}
		cs.camps[c.ID] = c
	} else {
		slices.SortFunc(found, func(x, y *Campaign) int {
			if d := x.FirstSeen.Compare(y.FirstSeen); d != 0 {
				return d
			}
			return strings.Compare(x.ID, y.ID)
		})
		c = found[0]
		for _, o := range found[1:] {
			cs.merge(c, o)
		}
	}
	added := len(found) != 1 // a new campaign, or campaigns merged
	if !slices.Contains(c.Indicators, ind) {
		c.Indicators = append(c.Indicators, ind)
		sortIndicators(c.Indicators)
		added = true
	}
	cs.byInd[ind] = c.ID
	for o, s := range orgs {
		if !slices.Contains(c.Orgs, o) {
			c.Orgs = append(c.Orgs, o)
			added = true
		}
		if s.sector != "" && !slices.Contains(c.Sectors, s.sector) {
			c.Sectors = append(c.Sectors, s.sector)
			added = true
		}
		if !slices.Contains(c.seenBy[ind], o) {
			c.seenBy[ind] = append(c.seenBy[ind], o)
			added = true
		}
		for iid, t := range s.incidents {
			if cs.now.Sub(t) > cs.Window {
				continue
			}
			iid = cs.resolve(iid)
			if _, ok := c.incOrg[iid]; !ok {
				c.incOrg[iid] = o
				c.IncidentIDs = append(c.IncidentIDs, iid)
				added = true
			}
			cs.byInc[iid] = c.ID
		}
		c.FirstSeen = minTime(c.FirstSeen, s.first)
		c.LastSeen = maxTime(c.LastSeen, s.last)
	}
	if added {
		slices.Sort(c.Orgs)
		slices.Sort(c.Sectors)
		slices.Sort(c.IncidentIDs)
	}
	// Report the campaign when it grew, or when its last sighting moved a
	// minute past what was last reported: a busy campaign is not
	// re-snapshotted for every alert.
	return c, added || c.LastSeen.Sub(c.reported) >= time.Minute
}

// merge moves campaign o into c and forgets o.
func (cs *Campaigns) merge(c, o *Campaign) {
	for _, ind := range o.Indicators {
		if !slices.Contains(c.Indicators, ind) {
			c.Indicators = append(c.Indicators, ind)
		}
		for _, org := range o.seenBy[ind] {
			if !slices.Contains(c.seenBy[ind], org) {
				c.seenBy[ind] = append(c.seenBy[ind], org)
			}
		}
		if cs.byInd[ind] == o.ID {
			cs.byInd[ind] = c.ID
		}
	}
	sortIndicators(c.Indicators)
	for iid, org := range o.incOrg {
		if _, ok := c.incOrg[iid]; !ok {
			c.incOrg[iid] = org
			c.IncidentIDs = append(c.IncidentIDs, iid)
		}
		if cs.byInc[iid] == o.ID {
			cs.byInc[iid] = c.ID
		}
	}
	c.Orgs = union(c.Orgs, o.Orgs)
	c.Sectors = union(c.Sectors, o.Sectors)
	c.Techniques = union(c.Techniques, o.Techniques)
	slices.Sort(c.IncidentIDs)
	c.FirstSeen = minTime(c.FirstSeen, o.FirstSeen)
	c.LastSeen = maxTime(c.LastSeen, o.LastSeen)
	c.Merged = append(append(c.Merged, o.ID), o.Merged...)
	delete(cs.camps, o.ID)
}

// renameMerged replaces incidents the Grouper merged into inc by inc.
func (cs *Campaigns) renameMerged(inc *Incident) {
	for _, old := range inc.Merged {
		if a, ok := cs.alias[old]; ok && a.to == inc.ID {
			continue // done on an earlier alert of inc
		}
		cs.alias[old] = alias{to: inc.ID, at: cs.now}
		cid, ok := cs.byInc[old]
		if !ok {
			continue
		}
		delete(cs.byInc, old)
		c := cs.camps[cid]
		if c == nil {
			continue
		}
		delete(c.incOrg, old)
		c.IncidentIDs = slices.DeleteFunc(c.IncidentIDs, func(s string) bool { return s == old })
		if other, ok := cs.byInc[inc.ID]; ok && other != cid {
			if o := cs.camps[other]; o != nil {
				if o.FirstSeen.Before(c.FirstSeen) || (o.FirstSeen.Equal(c.FirstSeen) && o.ID < c.ID) {
					c, o = o, c
				}
				cs.merge(c, o)
			}
		}
		if _, ok := c.incOrg[inc.ID]; !ok {
			c.incOrg[inc.ID] = inc.Tenant
			c.IncidentIDs = append(c.IncidentIDs, inc.ID)
			slices.Sort(c.IncidentIDs)
		}
		cs.byInc[inc.ID] = c.ID
	}
}

// alias records that an incident was merged into another.
type alias struct {
	to string
	at time.Time
}

// resolve follows merges from incident ID iid to the incident it is now part of.
func (cs *Campaigns) resolve(iid string) string {
	for range 16 { // merges chain only a few deep; the bound guards against cycles
		a, ok := cs.alias[iid]
		if !ok {
			break
		}
		iid = a.to
	}
	return iid
}

// prune drops sightings older than the window.
func (cs *Campaigns) prune(orgs map[tenant.ID]*orgSighting, now time.Time, sweep bool) {
	for o, s := range orgs {
		if now.Sub(s.last) > cs.Window {
			delete(orgs, o)
			continue
		}
		// Scanning an organisation's incidents costs their number: do it
		// when they have doubled since the last scan (and at sweeps), so
		// the cost per alert stays constant however busy the indicator.
		if len(s.incidents) < s.pruneAt && !sweep {
			continue
		}
		for iid, t := range s.incidents {
			if now.Sub(t) > cs.Window {
				delete(s.incidents, iid)
			}
		}
		s.pruneAt = max(2*len(s.incidents), 16)
	}
}

// Expire forgets sightings and campaigns idle for more than Window before
// now and returns the IDs of the campaigns expired. Add calls it on its own
// as alert time advances.
func (cs *Campaigns) Expire(now time.Time) []string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.expire(now)
}

func (cs *Campaigns) expire(now time.Time) []string {
	for ind, orgs := range cs.sightings {
		cs.prune(orgs, now, true)
		if len(orgs) == 0 {
			delete(cs.sightings, ind)
		}
	}
	for old, a := range cs.alias {
		if now.Sub(a.at) > cs.Window {
			delete(cs.alias, old)
		}
	}
	var gone []string
	for id, c := range cs.camps {
		if now.Sub(c.LastSeen) <= cs.Window {
			continue
		}
		for _, ind := range c.Indicators {
			if cs.byInd[ind] == id {
				delete(cs.byInd, ind)
			}
		}
		for iid := range c.incOrg {
			if cs.byInc[iid] == id {
				delete(cs.byInc, iid)
			}
		}
		delete(cs.camps, id)
		gone = append(gone, id)
	}
	slices.Sort(gone)
	cs.lastSweep = now
	return gone
}

func (cs *Campaigns) maybeSweep() {
	if cs.now.Sub(cs.lastSweep) >= cs.Window/8 {
		cs.expire(cs.now)
	}
}

// Len returns the number of open campaigns and of indicators tracked.
func (cs *Campaigns) Len() (campaigns, indicators int) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.camps), len(cs.sightings)
}

// Campaign returns a snapshot of the open campaign that holds incident
// incID, if any.
func (cs *Campaigns) Campaign(incID string) (*Campaign, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c := cs.camps[cs.byInc[incID]]; c != nil {
		return c.clone(), true
	}
	return nil, false
}

// Domain and hash fields: the alert event fields (matched case-insensitively)
// that Indicators reads.
var (
	DomainFields = []string{"QueryName", "DestinationHostname", "query", "dns.question.name", "destination.domain", "url.domain"}
	HashFields   = []string{"Hashes", "Hash", "sha256", "sha1", "md5", "file.hash.sha256", "file.hash.sha1", "file.hash.md5", "process.hash.sha256"}
)

// Indicators returns the campaign indicators of an alert:
//   - its source IP ("ip") and that IP's /24, or /48 for IPv6 ("net"), when
//     the IP is public (PublicIP);
//   - the domains in DomainFields, lower-cased without a trailing dot, when
//     they have a dot, are not IP literals and are not internal names
//     (.local, .lan, .internal, .localdomain, .home.arpa, .in-addr.arpa);
//   - the file hashes in HashFields, unless the event's process image is a
//     file of the Windows installation (isOSPath): a bare hex hash, or from Sysmon's
//     "SHA1=…,MD5=…,SHA256=…,IMPHASH=…" the strongest of SHA-256, SHA-1
//     and MD5 (never IMPHASH, which benign binaries share), lower-cased,
//     except the hashes of the empty file;
//   - its rule ID ("rule") when its level is high or critical.
func Indicators(a alert.Alert) []Indicator {
	var out []Indicator
	add := func(kind, v string) {
		ind := Indicator{kind, v}
		if v != "" && !slices.Contains(out, ind) {
			out = append(out, ind)
		}
	}
	if ip, ok := PublicIP(a.SrcIP); ok {
		add(IndicatorIP, ip.String())
		bits := 24
		if ip.Is6() {
			bits = 48
		}
		if p, err := ip.Prefix(bits); err == nil {
			add(IndicatorNet, p.String())
		}
	}
	osBinary := false
	for _, f := range a.Event {
		if strings.EqualFold(f.Name, "Image") || strings.EqualFold(f.Name, "process.executable") {
			osBinary = osBinary || isOSPath(f.Value)
		}
	}
	for _, f := range a.Event {
		switch {
		case containsFold(DomainFields, f.Name):
			add(IndicatorDomain, normDomain(f.Value))
		case containsFold(HashFields, f.Name) && !osBinary:
			add(IndicatorHash, pickHash(f.Value))
		}
	}
	if l := levelRank(a.Level); l >= levels["high"] && strings.TrimSpace(a.RuleID) != "" {
		add(IndicatorRule, strings.TrimSpace(a.RuleID))
	}
	return out
}

// isOSPath reports whether p is a file of the Windows installation
// (C:\Windows\...). The hash of a built-in binary an attacker lives off
// (powershell.exe, rundll32.exe) is on every machine of every organisation:
// it is no attacker infrastructure and must not link organisations.
func isOSPath(p string) bool {
	p = strings.ToLower(strings.TrimSpace(p))
	if len(p) > 2 && p[1] == ':' {
		p = p[2:]
	}
	p = strings.ReplaceAll(p, "/", `\`)
	return strings.HasPrefix(p, `\windows\`)
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

var internalSuffixes = []string{".local", ".lan", ".internal", ".localdomain", ".home.arpa", ".in-addr.arpa", ".ip6.arpa", ".localhost"}

func normDomain(v string) string {
	v = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(v)), ".")
	if blank(v) || !strings.Contains(v, ".") || strings.ContainsAny(v, " /\\:@") {
		return ""
	}
	if _, err := netip.ParseAddr(v); err == nil {
		return ""
	}
	for _, s := range internalSuffixes {
		if strings.HasSuffix(v, s) {
			return ""
		}
	}
	return v
}

var emptyFileHashes = map[string]bool{
	"d41d8cd98f00b204e9800998ecf8427e":                                 true, // MD5
	"da39a3ee5e6b4b0d3255bfef95601890afd80709":                         true, // SHA-1
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855": true, // SHA-256
}

// pickHash returns the strongest file hash in v ("" when none).
func pickHash(v string) string {
	best := ""
	for part := range strings.FieldsFuncSeq(v, func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
		alg, h, ok := strings.Cut(part, "=")
		if !ok {
			h, alg = alg, ""
		}
		alg, h = strings.ToUpper(alg), strings.ToLower(strings.TrimSpace(h))
		if alg == "IMPHASH" || !isHex(h) || emptyFileHashes[h] || strings.Trim(h, "0") == "" {
			continue
		}
		if (len(h) == 32 || len(h) == 40 || len(h) == 64) && len(h) > len(best) {
			best = h
		}
	}
	return best
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}

func sortIndicators(s []Indicator) {
	slices.SortFunc(s, func(x, y Indicator) int {
		if c := strings.Compare(x.Kind, y.Kind); c != 0 {
			return c
		}
		return strings.Compare(x.Value, y.Value)
	})
}

func union[T ~string](a, b []T) []T {
	for _, v := range b {
		if !slices.Contains(a, v) {
			a = append(a, v)
		}
	}
	slices.Sort(a)
	return a
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// campaignJSON is Campaign as persisted: the public fields plus which
// organisations saw each indicator and own each incident, which View needs.
type campaignJSON struct {
	ID           string               `json:"id"`
	Orgs         []tenant.ID          `json:"orgs"`
	Sectors      []tenant.Sector      `json:"sectors"`
	Indicators   []Indicator          `json:"indicators"`
	Techniques   []string             `json:"techniques"`
	IncidentIDs  []string             `json:"incident_ids"`
	FirstSeen    time.Time            `json:"first_seen"`
	LastSeen     time.Time            `json:"last_seen"`
	Merged       []string             `json:"merged,omitempty"`
	SeenBy       []indicatorOrgs      `json:"seen_by"`
	IncidentOrgs map[string]tenant.ID `json:"incident_orgs"`
}

type indicatorOrgs struct {
	Indicator
	Orgs []tenant.ID `json:"orgs"`
}

// MarshalJSON writes the campaign with the sightings View needs, so a
// campaign read back from storage can still be shown to an organisation.
// Only national roles may be shown this form.
func (c *Campaign) MarshalJSON() ([]byte, error) {
	j := campaignJSON{
		ID: c.ID, Orgs: nonNilSlice(c.Orgs), Sectors: nonNilSlice(c.Sectors), Indicators: nonNilSlice(c.Indicators),
		Techniques: nonNilSlice(c.Techniques), IncidentIDs: nonNilSlice(c.IncidentIDs),
		FirstSeen: c.FirstSeen, LastSeen: c.LastSeen, Merged: c.Merged,
		SeenBy: []indicatorOrgs{}, IncidentOrgs: c.incOrg,
	}
	for _, ind := range c.Indicators {
		j.SeenBy = append(j.SeenBy, indicatorOrgs{ind, slices.Sorted(slices.Values(c.seenBy[ind]))})
	}
	if j.IncidentOrgs == nil {
		j.IncidentOrgs = map[string]tenant.ID{}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (c *Campaign) UnmarshalJSON(b []byte) error {
	var j campaignJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*c = Campaign{
		ID: j.ID, Orgs: j.Orgs, Sectors: j.Sectors, Indicators: j.Indicators, Techniques: j.Techniques,
		IncidentIDs: j.IncidentIDs, FirstSeen: j.FirstSeen, LastSeen: j.LastSeen, Merged: j.Merged,
		seenBy: make(map[Indicator][]tenant.ID, len(j.SeenBy)), incOrg: j.IncidentOrgs,
	}
	for _, s := range j.SeenBy {
		c.seenBy[s.Indicator] = s.Orgs
	}
	if c.incOrg == nil {
		c.incOrg = map[string]tenant.ID{}
	}
	return nil
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
