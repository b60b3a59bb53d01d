// Package alert turns detection hits into alerts: it folds repeated hits of
// one rule on one host into one alert with a count, carries the ATT&CK
// mapping, and defines the triage lifecycle.
//
// It never stores anything itself: callers persist what Fold returns.
package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/mamori-soc/mamori/internal/tenant"
)

// Status is an alert's place in the triage workflow.
type Status string

// The triage workflow: new → acknowledged → in_progress → closed.
const (
	StatusNew          Status = "new"
	StatusAcknowledged Status = "acknowledged"
	StatusInProgress   Status = "in_progress"
	StatusClosed       Status = "closed"
)

// ValidStatus reports whether s is a known status.
func ValidStatus(s string) bool {
	switch Status(s) {
	case StatusNew, StatusAcknowledged, StatusInProgress, StatusClosed:
		return true
	}
	return false
}

// Field is one name/value pair of the triggering event.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Alert is a detection as analysts see it.
type Alert struct {
	ID          string        `json:"id"`
	Tenant      tenant.ID     `json:"org_id"`
	Sector      tenant.Sector `json:"sector"`
	RuleID      string        `json:"rule_id"`
	RuleTitle   string        `json:"rule_title"`
	RuleAuthor  string        `json:"rule_author"`
	Level       string        `json:"level"`
	Techniques  []string      `json:"techniques"`
	Tactics     []string      `json:"tactics"`
	Host        string        `json:"host"`
	User        string        `json:"user"`
	SrcIP       string        `json:"src_ip"`
	SrcCountry  string        `json:"src_country,omitempty"` // ISO code, from IP enrichment
	SrcASN      uint32        `json:"src_asn,omitempty"`
	SrcASOrg    string        `json:"src_as_org,omitempty"`
	SrcScope    string        `json:"src_scope,omitempty"` // public, private, own, reserved, ... (from enrichment)
	DstIP       string        `json:"dst_ip,omitempty"`    // the destination address of the triggering event, when it has one
	DstCountry  string        `json:"dst_country,omitempty"`
	DstASN      uint32        `json:"dst_asn,omitempty"`
	DstASOrg    string        `json:"dst_as_org,omitempty"`
	Count       int           `json:"count"`
	FirstSeen   time.Time     `json:"first_seen"`
	LastSeen    time.Time     `json:"last_seen"`
	Status      Status        `json:"status"`
	Correlation bool          `json:"correlation,omitempty"`
	EventSeq    int64         `json:"event_seq,omitempty"`
	Event       []Field       `json:"-"`
}

// Hit is one rule match on one event (or one correlation that fired).
type Hit struct {
	Tenant      tenant.ID
	Sector      tenant.Sector
	RuleID      string
	RuleTitle   string
	RuleAuthor  string
	Level       string
	Techniques  []string
	Tactics     []string
	Time        time.Time
	Host        string
	User        string
	SrcIP       string
	EventSeq    int64
	Event       []Field
	Correlation bool
	Count       int // events behind a correlation hit (1 for a plain match)
}

// Folder folds hits into alerts. Hits of one rule on one host (or, without a
// host, from one source address) of one tenant within Window of the alert's
// last hit add to that alert's count instead of opening a new one. It is
// safe for concurrent use.
type Folder struct {
	Window time.Duration

	mu    sync.Mutex
	open  map[string]*Alert // fold key → the latest alert for that key
	folds int               // Fold calls, to space out expiry scans
}

// NewFolder returns a Folder; window 0 means 15 minutes.
func NewFolder(window time.Duration) *Folder {
	if window <= 0 {
		window = 15 * time.Minute
	}
	return &Folder{Window: window, open: map[string]*Alert{}}
}

func foldKey(tid tenant.ID, rule, host, src string) string {
	return string(tid) + "\x00" + rule + "\x00" + strings.ToLower(host) + "\x00" + src
}

// Remember seeds the folder with an alert loaded from storage (after a restart).
func (f *Folder) Remember(a *Alert) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := foldKey(a.Tenant, a.RuleID, a.Host, foldSrc(a.Host, a.SrcIP))
	if cur, ok := f.open[k]; !ok || a.LastSeen.After(cur.LastSeen) {
		cp := *a
		f.open[k] = &cp
	}
}

// Update tells the folder about an alert an analyst changed: a closed
// alert takes no further hits (the next hit opens a new alert).
func (f *Folder) Update(a *Alert) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := foldKey(a.Tenant, a.RuleID, a.Host, foldSrc(a.Host, a.SrcIP))
	if cur, ok := f.open[k]; ok && cur.ID == a.ID {
		cur.Status = a.Status
	}
}

func foldSrc(host, src string) string {
	if host == "" {
		return src
	}
	return ""
}

// Fold applies hits and returns the alerts that were created or changed
// (each once, in its latest state), ready to be stored.
func (f *Folder) Fold(hits []Hit) []Alert {
	f.mu.Lock()
	defer f.mu.Unlock()
	changed := map[string]*Alert{}
	var order []string
	for i := range hits {
		h := &hits[i]
		k := foldKey(h.Tenant, h.RuleID, h.Host, foldSrc(h.Host, h.SrcIP))
		n := max(h.Count, 1)
		if a, ok := f.open[k]; ok && a.Status != StatusClosed && !h.Time.Before(a.FirstSeen.Add(-f.Window)) && h.Time.Sub(a.LastSeen) <= f.Window {
			a.Count += n
			if h.Time.After(a.LastSeen) {
				a.LastSeen = h.Time
			}
			if h.Time.Before(a.FirstSeen) {
				a.FirstSeen = h.Time
			}
			if _, seen := changed[a.ID]; !seen {
				order = append(order, a.ID)
			}
			changed[a.ID] = a
			continue
		}
		a := &Alert{
			ID:     alertID(k, h.Time, h.EventSeq),
			Tenant: h.Tenant, Sector: h.Sector, RuleID: h.RuleID, RuleTitle: h.RuleTitle, RuleAuthor: h.RuleAuthor,
			Level: h.Level, Techniques: h.Techniques, Tactics: h.Tactics, Host: h.Host, User: h.User, SrcIP: h.SrcIP,
			Count: n, FirstSeen: h.Time, LastSeen: h.Time, Status: StatusNew, Correlation: h.Correlation,
			EventSeq: h.EventSeq, Event: h.Event,
		}
		f.open[k] = a
		changed[a.ID] = a
		order = append(order, a.ID)
	}
	out := make([]Alert, 0, len(order))
	for _, id := range order {
		out = append(out, *changed[id])
		// The folder needs only the fold state; the event went out with the alert.
		changed[id].Event = nil
	}
	f.expire()
	return out
}

// expire forgets alerts whose window has long passed, bounding memory. It
// scans the map only every 64 folds, and only once it is large.
func (f *Folder) expire() {
	if f.folds++; len(f.open) < 10000 || f.folds%64 != 0 {
		return
	}
	var newest time.Time
	for _, a := range f.open {
		if a.LastSeen.After(newest) {
			newest = a.LastSeen
		}
	}
	for k, a := range f.open {
		if newest.Sub(a.LastSeen) > 2*f.Window {
			delete(f.open, k)
		}
	}
}

// alertID derives a stable id, so that replaying the same events after a
// crash produces the same alert rather than a second one.
func alertID(key string, t time.Time, seq int64) string {
	h := sha256.New()
	h.Write([]byte(key))
	var b [16]byte
	ns := t.UnixNano()
	for i := 0; i < 8; i++ {
		b[i] = byte(ns >> (8 * i))
		b[8+i] = byte(seq >> (8 * i))
	}
	h.Write(b[:])
	return hex.EncodeToString(h.Sum(nil)[:12])
}
