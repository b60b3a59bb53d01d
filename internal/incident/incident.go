package incident

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// Entity kinds, the keys of Incident.Entities.
const (
	EntityHost  = "host"
	EntityUser  = "user"
	EntitySrcIP = "src_ip"
)

// Severities, lowest first.
var severities = []string{"low", "medium", "high", "critical"}

// DefaultMaxAlerts is the Grouper's MaxAlerts when none is configured.
const DefaultMaxAlerts = 1000

// DefaultWindow is the Grouper's window when none is configured.
const DefaultWindow = 2 * time.Hour

// maxEntityValues caps each Entities list (display only; linking uses every value).
const maxEntityValues = 100

// Incident is a group of one organisation's alerts that share entities.
type Incident struct {
	ID       string              `json:"id"`
	Tenant   tenant.ID           `json:"org_id"`
	Sector   tenant.Sector       `json:"sector"`
	Title    string              `json:"title"`
	Severity string              `json:"severity"` // low, medium, high, critical
	Stages   []string            `json:"stages"`   // ATT&CK tactics in kill-chain order
	Entities map[string][]string `json:"entities"` // host, user, src_ip → values, first seen first
	AlertIDs []string            `json:"alert_ids"`
	// Merged lists the incidents absorbed into this one (by an alert that
	// linked them), so the caller can retire them; it grows as merges happen.
	Merged     []string  `json:"merged,omitempty"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	Techniques []string  `json:"techniques"`
}

func (inc *Incident) clone() *Incident {
	cp := *inc
	cp.Stages = slices.Clone(inc.Stages)
	cp.AlertIDs = slices.Clone(inc.AlertIDs)
	cp.Merged = slices.Clone(inc.Merged)
	cp.Techniques = slices.Clone(inc.Techniques)
	cp.Entities = make(map[string][]string, len(inc.Entities))
	for k, v := range inc.Entities {
		cp.Entities[k] = slices.Clone(v)
	}
	return &cp
}

// state is an open incident and what the grouper needs to maintain it.
type state struct {
	inc    *Incident
	level  int             // highest alert level rank (levelRank)
	alerts map[string]bool // alert IDs already in (the folder re-emits changed alerts)
	keys   map[string]bool // link keys indexed for this incident
}

// Grouper groups alerts into incidents. It is safe for concurrent use.
type Grouper struct {
	// Window is how far apart (by alert time) an alert and an incident may
	// be and still be grouped; an incident idle longer than Window expires.
	Window time.Duration
	// MaxAlerts bounds an incident (default 1000): a full incident takes no
	// new alerts, and a linked alert opens a new incident instead, so a
	// noisy organisation cannot grow one incident without end (and every
	// snapshot of it with it). Merges that would exceed it do not happen.
	MaxAlerts int
	// MinLevel is the lowest alert level that opens an incident (default
	// medium): a low or informational alert joins an incident it links to
	// but never opens one on its own, so noise does not become incidents.
	MinLevel string

	mu        sync.Mutex
	open      map[string]*state // incident ID → state
	index     map[string]string // link key (tenant, kind, value) → incident ID
	now       time.Time         // latest alert time seen
	lastSweep time.Time
}

// NewGrouper returns a Grouper; window 0 means DefaultWindow (2 h).
func NewGrouper(window time.Duration) *Grouper {
	if window <= 0 {
		window = DefaultWindow
	}
	return &Grouper{Window: window, MinLevel: "medium", MaxAlerts: DefaultMaxAlerts, open: map[string]*state{}, index: map[string]string{}}
}

// Add puts an alert into an incident and returns a snapshot of that incident
// and whether it was opened by this alert. It returns nil when the alert is
// below MinLevel and links to no open incident.
//
// The alert joins the open incident of its tenant with which it shares a
// linking entity (see LinkKeys) when the alert's time span comes within
// Window of the incident's. When it links several incidents they merge into
// the earliest one, whose ID is kept and whose Merged lists the others.
// Otherwise the alert opens a new incident whose ID is a hash of the tenant
// and the alert ID. Adding an alert already in the incident (a folded alert
// whose count grew) updates times and severity without duplicating it.
func (g *Grouper) Add(a alert.Alert) (inc *Incident, created bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	first, last := alertSpan(a)
	if last.After(g.now) {
		g.now = last
	}
	keys := LinkKeys(a)
	var found []*state
	for _, k := range keys {
		id, ok := g.index[k]
		if !ok {
			continue
		}
		st := g.open[id]
		if st == nil || slices.Contains(found, st) {
			continue
		}
		if first.After(st.inc.LastSeen.Add(g.Window)) || last.Before(st.inc.FirstSeen.Add(-g.Window)) {
			continue
		}
		if len(st.alerts) >= g.maxAlerts() && !st.alerts[a.ID] {
			continue // full: the alert goes elsewhere
		}
		found = append(found, st)
	}
	var st *state
	if len(found) == 0 {
		if levelRank(a.Level) < max(levelRank(g.MinLevel), 1) {
			return nil, false
		}
		st = &state{
			inc: &Incident{
				ID: IncidentID(a.Tenant, a.ID), Tenant: a.Tenant, Sector: a.Sector,
				Entities: map[string][]string{}, FirstSeen: first, LastSeen: last,
			},
			alerts: map[string]bool{}, keys: map[string]bool{},
		}
		g.open[st.inc.ID] = st
		created = true
	} else {
		slices.SortFunc(found, func(x, y *state) int {
			if c := x.inc.FirstSeen.Compare(y.inc.FirstSeen); c != 0 {
				return c
			}
			return strings.Compare(x.inc.ID, y.inc.ID)
		})
		st = found[0]
		for _, o := range found[1:] {
			if len(st.alerts)+len(o.alerts) <= g.maxAlerts() {
				g.merge(st, o)
			}
		}
	}
	g.addAlert(st, a, first, last, keys)
	finish(st)
	out := st.inc.clone()
	g.maybeSweep()
	return out, created
}

func (g *Grouper) maxAlerts() int {
	if g.MaxAlerts <= 0 {
		return DefaultMaxAlerts
	}
	return g.MaxAlerts
}

// addAlert folds one alert into st and indexes its link keys.
func (g *Grouper) addAlert(st *state, a alert.Alert, first, last time.Time, keys []string) {
	inc := st.inc
	if !st.alerts[a.ID] {
		st.alerts[a.ID] = true
		inc.AlertIDs = append(inc.AlertIDs, a.ID)
	}
	if first.Before(inc.FirstSeen) {
		inc.FirstSeen = first
	}
	if last.After(inc.LastSeen) {
		inc.LastSeen = last
	}
	st.level = max(st.level, levelRank(a.Level))
	for _, t := range a.Tactics {
		if t = normTactic(t); tacticRank(t) > 0 && !slices.Contains(inc.Stages, t) {
			inc.Stages = append(inc.Stages, t)
		}
	}
	for _, t := range a.Techniques {
		if t = strings.ToUpper(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(t)), "attack.")); t != "" && !slices.Contains(inc.Techniques, t) {
			inc.Techniques = append(inc.Techniques, t)
		}
	}
	if h := normHost(a.Host); h != "" {
		addEntity(inc.Entities, EntityHost, h)
	}
	if u := normUser(a.User); u != "" {
		addEntity(inc.Entities, EntityUser, u)
	}
	if ip, err := netip.ParseAddr(strings.TrimSpace(a.SrcIP)); err == nil {
		addEntity(inc.Entities, EntitySrcIP, ip.Unmap().String())
	}
	for _, k := range keys {
		g.index[k] = inc.ID
		st.keys[k] = true
	}
}

// merge moves o into st and forgets o.
func (g *Grouper) merge(st, o *state) {
	inc, oi := st.inc, o.inc
	for _, id := range oi.AlertIDs {
		if !st.alerts[id] {
			st.alerts[id] = true
			inc.AlertIDs = append(inc.AlertIDs, id)
		}
	}
	if oi.FirstSeen.Before(inc.FirstSeen) {
		inc.FirstSeen = oi.FirstSeen
	}
	if oi.LastSeen.After(inc.LastSeen) {
		inc.LastSeen = oi.LastSeen
	}
	st.level = max(st.level, o.level)
	for _, s := range oi.Stages {
		if !slices.Contains(inc.Stages, s) {
			inc.Stages = append(inc.Stages, s)
		}
	}
	for _, t := range oi.Techniques {
		if !slices.Contains(inc.Techniques, t) {
			inc.Techniques = append(inc.Techniques, t)
		}
	}
	for _, kind := range []string{EntityHost, EntityUser, EntitySrcIP} {
		for _, v := range oi.Entities[kind] {
			addEntity(inc.Entities, kind, v)
		}
	}
	for k := range o.keys {
		if g.index[k] == oi.ID {
			g.index[k] = inc.ID
		}
		st.keys[k] = true
	}
	inc.Merged = append(inc.Merged, oi.ID)
	inc.Merged = append(inc.Merged, oi.Merged...)
	delete(g.open, oi.ID)
}

// finish recomputes the derived fields: stage order, severity, title.
func finish(st *state) {
	inc := st.inc
	slices.SortFunc(inc.Stages, func(x, y string) int { return tacticRank(x) - tacticRank(y) })
	slices.Sort(inc.Techniques)
	inc.Severity = Severity(st.level, inc.Stages)
	inc.Title = title(inc)
}

// Severity is the incident severity rule:
//
//  1. start from the highest alert level (informational and low → low,
//     medium, high, critical; unknown levels count as low);
//  2. raise it one step when the incident spans 3 or more kill-chain stages
//     (distinct ATT&CK tactics);
//  3. make it critical when the stages cover the whole chain: initial-access
//     or execution, AND credential-access or lateral-movement, AND
//     exfiltration or impact.
func Severity(levelRank int, stages []string) string {
	i := max(levelRank-2, 0) // informational(1)/low(2) → 0 … critical(5) → 3
	if len(stages) >= 3 {
		i++
	}
	has := func(ts ...string) bool {
		for _, t := range ts {
			if slices.Contains(stages, t) {
				return true
			}
		}
		return false
	}
	if has("initial-access", "execution") && has("credential-access", "lateral-movement") && has("exfiltration", "impact") {
		i = len(severities) - 1
	}
	return severities[min(i, len(severities)-1)]
}

// title names the incident by its most advanced stage and its first entity,
// e.g. "Credential access on WS-0412 (3 stages)".
func title(inc *Incident) string {
	what := "Suspicious activity"
	if n := len(inc.Stages); n > 0 {
		s := strings.ReplaceAll(inc.Stages[n-1], "-", " ")
		what = strings.ToUpper(s[:1]) + s[1:]
	}
	on := "unknown entity"
	for _, kind := range []string{EntityHost, EntityUser, EntitySrcIP} {
		if v := inc.Entities[kind]; len(v) > 0 {
			on = v[0]
			break
		}
	}
	stages := "stages"
	if len(inc.Stages) == 1 {
		stages = "stage"
	}
	return what + " on " + on + " (" + strconv.Itoa(len(inc.Stages)) + " " + stages + ")"
}

// Expire forgets incidents whose LastSeen is more than Window before now
// and returns their IDs. Add calls it on its own as alert time advances, so
// callers need it only to expire on wall-clock time.
func (g *Grouper) Expire(now time.Time) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.expire(now)
}

func (g *Grouper) expire(now time.Time) []string {
	var gone []string
	for id, st := range g.open {
		if now.Sub(st.inc.LastSeen) > g.Window {
			for k := range st.keys {
				if g.index[k] == id {
					delete(g.index, k)
				}
			}
			delete(g.open, id)
			gone = append(gone, id)
		}
	}
	slices.Sort(gone)
	g.lastSweep = now
	return gone
}

// maybeSweep expires idle incidents each time alert time has advanced by an
// eighth of the window, so memory stays bounded at a cost amortised over
// many alerts.
func (g *Grouper) maybeSweep() {
	if g.now.Sub(g.lastSweep) >= g.Window/8 {
		g.expire(g.now)
	}
}

// Len returns the number of open incidents.
func (g *Grouper) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.open)
}

// IncidentID is the stable ID of an incident opened by alert alertID.
func IncidentID(tid tenant.ID, alertID string) string {
	return hashID("inc-", string(tid), alertID)
}

func hashID(prefix string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return prefix + hex.EncodeToString(h.Sum(nil)[:10])
}

// LinkKeys returns the keys by which an alert links to incidents of its
// tenant: its host (case-insensitive), its user unless it is a service
// account (see ServiceAccount), and its source IP when it is public (see
// PublicIP). Empty values and "-" never link.
func LinkKeys(a alert.Alert) []string {
	var keys []string
	p := string(a.Tenant) + "\x00"
	if h := normHost(a.Host); h != "" {
		keys = append(keys, p+EntityHost+"\x00"+strings.ToLower(h))
	}
	if u := normUser(a.User); u != "" {
		keys = append(keys, p+EntityUser+"\x00"+strings.ToLower(u))
	}
	if ip, ok := PublicIP(a.SrcIP); ok {
		keys = append(keys, p+EntitySrcIP+"\x00"+ip.String())
	}
	return keys
}

func alertSpan(a alert.Alert) (first, last time.Time) {
	first, last = a.FirstSeen, a.LastSeen
	if first.IsZero() {
		first = last
	}
	if last.IsZero() || last.Before(first) {
		last = first
	}
	return first, last
}

func addEntity(m map[string][]string, kind, v string) {
	for _, x := range m[kind] {
		if strings.EqualFold(x, v) {
			return
		}
	}
	if len(m[kind]) < maxEntityValues {
		m[kind] = append(m[kind], v)
	}
}

func blank(s string) bool {
	s = strings.TrimSpace(s)
	return s == "" || s == "-" || strings.EqualFold(s, "n/a") || strings.EqualFold(s, "unknown")
}

func normHost(h string) string {
	if blank(h) || strings.EqualFold(strings.TrimSpace(h), "localhost") {
		return ""
	}
	return strings.TrimSpace(h)
}

func normUser(u string) string {
	if blank(u) || ServiceAccount(u) {
		return ""
	}
	return strings.TrimSpace(u)
}

// serviceAccounts are built-in accounts that every Windows host has; they
// say nothing about who is acting, so they never link alerts.
var serviceAccounts = map[string]bool{
	"system": true, "local system": true, "localsystem": true, "local service": true,
	"localservice": true, "network service": true, "networkservice": true,
	"anonymous logon": true, "anonymous": true, "dwm": true, "umfd": true,
	"root": true, "nobody": true, "daemon": true,
}

// ServiceAccount reports whether u is a built-in service account: SYSTEM,
// LOCAL SERVICE, NETWORK SERVICE, ANONYMOUS LOGON (with or without an
// "NT AUTHORITY\" or other domain prefix, or an "@domain" suffix), the
// DWM-n/UMFD-n session accounts, a machine account ("HOST$"), root, nobody
// and daemon.
func ServiceAccount(u string) bool {
	u = strings.ToLower(strings.TrimSpace(u))
	if i := strings.LastIndexByte(u, '\\'); i >= 0 {
		u = u[i+1:]
	}
	if i := strings.IndexByte(u, '@'); i >= 0 {
		u = u[:i]
	}
	if strings.HasSuffix(u, "$") {
		return true
	}
	if i := strings.LastIndexByte(u, '-'); i > 0 && (u[:i] == "dwm" || u[:i] == "umfd") {
		return true
	}
	return serviceAccounts[u]
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// PublicIP parses s and reports whether it is a public address: not
// private (RFC 1918, fc00::/7), loopback, link-local, unspecified,
// multicast or carrier-grade NAT (100.64.0.0/10).
func PublicIP(s string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, false
	}
	ip = ip.Unmap()
	if ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() || cgnat.Contains(ip) {
		return netip.Addr{}, false
	}
	if ip.Is4() && ip.As4()[0] == 255 { // broadcast
		return netip.Addr{}, false
	}
	return ip, true
}

// tacticOrder ranks ATT&CK enterprise tactics along the kill chain (the
// same order as sigma.TacticRank).
var tacticOrder = map[string]int{
	"reconnaissance": 1, "resource-development": 2, "initial-access": 3, "execution": 4,
	"persistence": 5, "privilege-escalation": 6, "defense-evasion": 7, "credential-access": 8,
	"discovery": 9, "lateral-movement": 10, "collection": 11, "command-and-control": 12,
	"exfiltration": 13, "impact": 14,
}

func tacticRank(t string) int { return tacticOrder[t] }

// normTactic accepts "credential-access", "credential_access",
// "attack.credential_access" and "Credential Access".
func normTactic(t string) string {
	t = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(t)), "attack.")
	return strings.NewReplacer("_", "-", " ", "-").Replace(t)
}

var levels = map[string]int{"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}

func levelRank(l string) int { return levels[strings.ToLower(strings.TrimSpace(l))] }
