// Package store defines what Mamori persists and how it is read back: the
// Store interface every implementation (the embedded SQLite store, later
// ClickHouse) satisfies, and its request and result types.
//
// Reads always name the tenants they cover: an implementation returns
// nothing for a query that names none. The query package is the one place
// that turns a caller's scope into those tenant lists.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/incident"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// ErrReadOnly is returned by writes when the store refuses them (disk nearly full).
var ErrReadOnly = errors.New("store is read-only: free disk space is below the configured minimum")

// ErrNotFound is returned for an alert that does not exist among the tenants
// a request names. Callers must not tell it apart from "exists elsewhere".
var ErrNotFound = errors.New("not found")

// ErrInvalidChange is wrapped by the errors of triage changes that break the
// workflow or carry an invalid value; the wrapping message says which.
var ErrInvalidChange = errors.New("invalid triage change")

// Field is one name/value pair of a stored event.
type Field struct {
	Name  string
	Value string
}

// Event is a normalized event as stored.
type Event struct {
	Seq      int64     // position in the event log, assigned by AppendEvents
	ID       string    // stable id: duplicates (sender retries) are stored once
	Tenant   tenant.ID // owner
	Time     time.Time // when it happened
	Received time.Time // when Mamori accepted it
	Source   string    // ingest path: bulk, ndjson, syslog-udp, ...
	Host     string
	Channel  string
	EventID  string
	Fields   []Field
	Raw      []byte // the record as received
}

// Filter restricts a search to events whose field equals a value
// (case-insensitive).
type Filter struct {
	Field string
	Value string
}

// EventQuery selects events, newest first.
type EventQuery struct {
	Tenants []tenant.ID // required: an empty list matches nothing
	Since   time.Time   // inclusive; zero means unbounded
	Until   time.Time   // exclusive; zero means unbounded
	Filters []Filter
	Text    string // case-insensitive substring anywhere in the event
	Limit   int    // 0 means 100; at most 1000
	Before  int64  // pagination: only events with Seq < Before (0: from the newest)
}

// EventPage is one page of events; Next is the Before of the next page (0: none).
type EventPage struct {
	Events []Event
	Total  int
	Next   int64
}

// Alert is an alert as stored: the detection and its triage state.
// Detection (CommitDetections) never changes the triage state of a stored
// alert; only UpdateAlerts does.
type Alert struct {
	alert.Alert
	Assignee   string    `json:"assignee"`   // user name; "" when unassigned
	Resolution string    `json:"resolution"` // one of Resolutions when closed, "" otherwise
	Updated    time.Time `json:"updated"`    // last triage change; first_seen until the first one
}

// Alert sort orders (AlertQuery.Sort). Each has a natural direction: the
// most recent, the most severe, the largest count first. A leading "-"
// reverses it ("-last_seen": least recently seen first).
const (
	SortLastSeen  = "last_seen"
	SortFirstSeen = "first_seen"
	SortLevel     = "level"
	SortCount     = "count"
)

// ValidAlertSort reports whether s is a valid AlertQuery.Sort ("" is the default, last_seen).
func ValidAlertSort(s string) bool {
	switch strings.TrimPrefix(s, "-") {
	case "", SortLastSeen, SortFirstSeen, SortLevel, SortCount:
		return s != "-"
	}
	return false
}

// AlertQuery selects alerts, most recently seen first unless Sort says otherwise.
type AlertQuery struct {
	Tenants    []tenant.ID // required: an empty list matches nothing
	Sectors    []tenant.Sector
	Levels     []string
	Statuses   []string
	RuleID     string
	Technique  string // T1110 also matches T1110.001
	Assignee   string // exact user name, case-insensitive
	Unassigned bool   // only alerts nobody is assigned to
	Text       string // case-insensitive substring of the rule title, host, user or source address
	Since      time.Time
	Until      time.Time
	Sort       string // see SortLastSeen; "" is last_seen
	Limit      int
	Cursor     string // opaque, from AlertPage.Next (valid for the same Sort only)
	WithEvents bool   // fill Alert.Event
}

// AlertPage is one page of alerts.
type AlertPage struct {
	Alerts []Alert
	Total  int
	Next   string
}

// Resolutions a closed alert carries.
const (
	ResolutionTruePositive  = "true_positive"
	ResolutionFalsePositive = "false_positive"
	ResolutionBenign        = "benign"
	ResolutionDuplicate     = "duplicate"
)

// Resolutions lists every resolution.
var Resolutions = []string{ResolutionTruePositive, ResolutionFalsePositive, ResolutionBenign, ResolutionDuplicate}

// ValidResolution reports whether s is a known resolution.
func ValidResolution(s string) bool {
	for _, r := range Resolutions {
		if r == s {
			return true
		}
	}
	return false
}

// Audit actions: one entry per changed attribute, and one per comment.
const (
	ActionStatus     = "status"
	ActionAssignee   = "assignee"
	ActionResolution = "resolution"
	ActionComment    = "comment"
)

// AuditEntry records one triage change of an alert.
type AuditEntry struct {
	At      time.Time `json:"at"`
	User    string    `json:"user"`
	Action  string    `json:"action"`  // ActionStatus, ActionAssignee, ActionResolution or ActionComment
	From    string    `json:"from"`    // value before (empty for a comment)
	To      string    `json:"to"`      // value after (empty for a comment)
	Comment string    `json:"comment"` // the text of a comment
}

// Limits on triage values.
const (
	MaxAssignee = 128
	MaxComment  = 8000
)

// AlertChange is one triage change. Nil fields are left as they are.
type AlertChange struct {
	Status     *alert.Status
	Assignee   *string // "" unassigns
	Resolution *string // required when the status becomes closed
	Comment    string  // optional; recorded as its own audit entry
	User       string  // who makes the change; required
	At         time.Time
}

// Apply checks the change against a's current state and applies it to a.
// It returns the audit entries to record (none when nothing changes) or an
// error wrapping ErrInvalidChange. Any status may follow any other, but an
// alert is never closed without a resolution, never carries one while open,
// and loses its resolution when reopened. Every store implementation uses
// Apply, so the workflow is the same whatever the storage.
func (c AlertChange) Apply(a *Alert) ([]AuditEntry, error) {
	if c.User == "" {
		return nil, fmt.Errorf("%w: no user", ErrInvalidChange)
	}
	comment := strings.TrimSpace(c.Comment)
	if c.Status == nil && c.Assignee == nil && c.Resolution == nil && comment == "" {
		return nil, fmt.Errorf("%w: nothing to change (give a status, an assignee, a resolution or a comment)", ErrInvalidChange)
	}
	status, assignee, resolution := a.Status, a.Assignee, a.Resolution
	if c.Status != nil {
		if !alert.ValidStatus(string(*c.Status)) {
			return nil, fmt.Errorf("%w: unknown status %q (want new, acknowledged, in_progress or closed)", ErrInvalidChange, *c.Status)
		}
		status = *c.Status
	}
	if c.Assignee != nil {
		v := strings.TrimSpace(*c.Assignee)
		if len(v) > MaxAssignee || strings.ContainsFunc(v, unicode.IsControl) {
			return nil, fmt.Errorf("%w: assignee must be a user name of at most %d characters", ErrInvalidChange, MaxAssignee)
		}
		assignee = v
	}
	if c.Resolution != nil {
		v := strings.TrimSpace(*c.Resolution)
		if v != "" && !ValidResolution(v) {
			return nil, fmt.Errorf("%w: unknown resolution %q (want %s)", ErrInvalidChange, v, strings.Join(Resolutions, ", "))
		}
		resolution = v
	}
	if len(comment) > MaxComment {
		return nil, fmt.Errorf("%w: comment longer than %d characters", ErrInvalidChange, MaxComment)
	}
	if status == alert.StatusClosed {
		if resolution == "" {
			return nil, fmt.Errorf("%w: closing an alert needs a resolution (%s)", ErrInvalidChange, strings.Join(Resolutions, ", "))
		}
	} else {
		if c.Resolution != nil && strings.TrimSpace(*c.Resolution) != "" {
			return nil, fmt.Errorf("%w: only a closed alert has a resolution (set status closed with it)", ErrInvalidChange)
		}
		resolution = "" // reopening clears it
	}
	var out []AuditEntry
	add := func(action, from, to string) {
		if from != to {
			out = append(out, AuditEntry{At: c.At, User: c.User, Action: action, From: from, To: to})
		}
	}
	add(ActionStatus, string(a.Status), string(status))
	add(ActionAssignee, a.Assignee, assignee)
	add(ActionResolution, a.Resolution, resolution)
	if comment != "" {
		out = append(out, AuditEntry{At: c.At, User: c.User, Action: ActionComment, Comment: comment})
	}
	if len(out) > 0 {
		a.Status, a.Assignee, a.Resolution, a.Updated = status, assignee, resolution, c.At
	}
	return out, nil
}

// UpdateResult is the outcome of a triage change to one alert.
type UpdateResult struct {
	ID    string
	Alert *Alert       // the alert after the change (nil when Err is set)
	Audit []AuditEntry // what was recorded
	Err   error        // ErrNotFound, or an error wrapping ErrInvalidChange
}

// DashboardQuery selects the alerts a dashboard summarises.
type DashboardQuery struct {
	Tenants []tenant.ID   // required: an empty list matches nothing
	Now     time.Time     // reference time; required
	Window  time.Duration // "today": alerts first seen in [Now-Window, ...); required
}

// DashboardTotals counts alerts (not hits). Today is the window ending now,
// Yesterday the window before it, SameDayLastWeek the window 7 days earlier.
type DashboardTotals struct {
	Today           int `json:"today"`
	Yesterday       int `json:"yesterday"`
	SameDayLastWeek int `json:"same_day_last_week"`
	Open            int `json:"open"`          // not closed, any age
	CriticalOpen    int `json:"critical_open"` // not closed, level critical
}

// SectorCount is hits (the sum of alert counts) of one sector in one period.
type SectorCount struct {
	T      time.Time     `json:"t"` // start of the hour or day
	Sector tenant.Sector `json:"sector"`
	Count  int           `json:"count"`
}

// SourceCount is a source address seen in alerts.
type SourceCount struct {
	IP      string          `json:"ip"`
	Country string          `json:"country,omitempty"` // ISO code, when enrichment knows it
	ASN     uint32          `json:"asn,omitempty"`
	ASOrg   string          `json:"as_org,omitempty"`
	Count   int             `json:"count"` // alerts
	Orgs    int             `json:"orgs"`  // distinct organisations
	Sectors []tenant.Sector `json:"sectors"`
}

// TechniqueCount is the number of alerts mapped to an ATT&CK technique.
type TechniqueCount struct {
	Technique string `json:"technique"`
	Tactic    string `json:"tactic"` // the first tactic of those alerts' rules
	Count     int    `json:"count"`
}

// OrgCount is the alerts of one organisation.
type OrgCount struct {
	Tenant   tenant.ID     `json:"org_id"`
	Name     string        `json:"org"`
	Sector   tenant.Sector `json:"sector"`
	Count    int           `json:"count"`
	Critical int           `json:"critical"`
	High     int           `json:"high"`
}

// SectorTotal is the alerts of one sector.
type SectorTotal struct {
	Sector tenant.Sector `json:"sector"`
	Count  int           `json:"count"`
	Orgs   int           `json:"orgs"` // distinct organisations with alerts
}

// Dashboard summarises alerts. Unless noted, aggregates cover the alerts
// first seen in the window and count alerts; lists are ordered by count,
// largest first, then by name.
type Dashboard struct {
	Totals     DashboardTotals
	ByLevel    map[string]int
	PerHour    []SectorCount    // the current hour and the 23 before it, by first_seen; hours without hits are absent
	PerDay     []SectorCount    // the current UTC day and the 13 before it, by first_seen
	TopSources []SourceCount    // top 10 source addresses, without private, loopback, link-local or unparsable ones
	Techniques []TechniqueCount // every technique
	TopOrgs    []OrgCount       // top 10
	TopSectors []SectorTotal
}

// OrgStatsQuery selects the organisations to describe.
type OrgStatsQuery struct {
	Tenants []tenant.ID // required: an empty list matches nothing
	Now     time.Time   // required
}

// OrgStats is one organisation's activity. The "24h" counts cover the
// current hour and the 23 before it (events by the hour Mamori received
// them, alerts by first_seen).
type OrgStats struct {
	Tenant      tenant.ID
	Alerts24h   int
	Critical24h int
	Open        int       // alerts not closed, any age
	Events24h   int       // events received
	LastEvent   time.Time // receipt of the newest event; zero when none is kept
}

// HistogramQuery counts events over time. Since and Until are required;
// the other fields select events as in EventQuery (Limit and Before are ignored).
type HistogramQuery struct {
	EventQuery
	Buckets int // 1-1000
}

// Bucket is the number of events in [T, T+interval).
type Bucket struct {
	T     time.Time `json:"t"`
	Count int       `json:"count"`
}

// Histogram is a count of events per interval, with every bucket present.
type Histogram struct {
	Interval time.Duration // whole seconds
	Buckets  []Bucket
}

// Empty checks q and returns its histogram with every bucket at zero:
// Buckets or fewer intervals of whole seconds from Since, the last one
// reaching Until. Every store lays histograms out this way, then counts.
func (q HistogramQuery) Empty() (*Histogram, error) {
	if q.Since.IsZero() || q.Until.IsZero() || !q.Until.After(q.Since) {
		return nil, fmt.Errorf("histogram: need since < until (got %v, %v)", q.Since, q.Until)
	}
	if q.Buckets < 1 || q.Buckets > 1000 {
		return nil, fmt.Errorf("histogram: buckets must be 1-1000, got %d", q.Buckets)
	}
	since := q.Since.UnixMilli()
	span := q.Until.UnixMilli() - since
	step := max((span+1000*int64(q.Buckets)-1)/(1000*int64(q.Buckets)), 1) * 1000 // whole seconds
	n := (span + step - 1) / step
	h := &Histogram{Interval: time.Duration(step) * time.Millisecond, Buckets: make([]Bucket, n)}
	for i := range h.Buckets {
		h.Buckets[i].T = time.UnixMilli(since + int64(i)*step).UTC()
	}
	return h, nil
}

// RuleHitsQuery selects the alerts whose hits are counted per rule.
type RuleHitsQuery struct {
	Tenants []tenant.ID // required: an empty list matches nothing
	Since   time.Time   // RuleHits.Recent counts alerts first seen at or after Since
}

// RuleHits is the number of hits (the sum of alert counts) of one rule.
type RuleHits struct {
	Recent int
	Total  int
}

// CursorPos is a named cursor's position.
type CursorPos struct {
	Name string
	Seq  int64
}

// Store is what the pipeline and the query layer need from storage.
type Store interface {
	// AppendEvents stores events durably and assigns their Seq; it returns
	// only once they survive a crash. Events whose ID is already stored are
	// skipped (their Seq stays 0). It returns how many were new.
	AppendEvents(ctx context.Context, evs []Event) (int, error)
	// EventsAfter returns up to limit events with Seq > seq, in Seq order.
	EventsAfter(ctx context.Context, seq int64, limit int) ([]Event, error)
	// LastSeq returns the highest Seq stored (0 when empty).
	LastSeq(ctx context.Context) (int64, error)
	// SearchEvents runs an event search.
	SearchEvents(ctx context.Context, q EventQuery) (*EventPage, error)

	// CommitDetections stores alerts (created or updated, by ID) and moves
	// the named detection cursor to seq, atomically.
	CommitDetections(ctx context.Context, cursor string, seq int64, alerts []alert.Alert) error
	// Cursor returns the position of a detection cursor (0 when new).
	Cursor(ctx context.Context, name string) (int64, error)
	// SearchAlerts runs an alert search.
	SearchAlerts(ctx context.Context, q AlertQuery) (*AlertPage, error)
	// Alert returns one alert of the named tenants, with its event, or ErrNotFound.
	Alert(ctx context.Context, tenants []tenant.ID, id string) (*Alert, error)
	// AlertsByID returns those of the named alerts that belong to the named
	// tenants, without their events, in no particular order.
	AlertsByID(ctx context.Context, tenants []tenant.ID, ids []string) ([]Alert, error)
	// AlertAudit returns the audit trail of an alert of the named tenants,
	// oldest first (nothing for another tenant's alert).
	AlertAudit(ctx context.Context, tenants []tenant.ID, id string) ([]AuditEntry, error)
	// RelatedAlerts returns up to limit other alerts of the same tenant as
	// alert id (which must be one of the named tenants', else ErrNotFound)
	// that share its host, user or source address and were seen within
	// window of it; most recently seen first, without events.
	RelatedAlerts(ctx context.Context, tenants []tenant.ID, id string, window time.Duration, limit int) ([]Alert, error)
	// UpdateAlerts applies one triage change (AlertChange.Apply) to each
	// named alert of the named tenants and records the audit entries, in
	// one transaction. Each alert succeeds or fails on its own: the results,
	// in the order of ids, carry per-alert errors; the error is for the
	// whole call (nothing was written).
	UpdateAlerts(ctx context.Context, tenants []tenant.ID, ids []string, c AlertChange) ([]UpdateResult, error)
	// Dashboard aggregates alerts.
	Dashboard(ctx context.Context, q DashboardQuery) (*Dashboard, error)
	// OrgStats describes each named tenant (every one, also those without
	// data), ordered by tenant id.
	OrgStats(ctx context.Context, q OrgStatsQuery) ([]OrgStats, error)
	// EventHistogram counts events per time bucket.
	EventHistogram(ctx context.Context, q HistogramQuery) (*Histogram, error)
	// RuleHits counts hits per rule id (rules without hits are absent).
	RuleHits(ctx context.Context, q RuleHitsQuery) (map[string]RuleHits, error)
	// RecentAlerts returns alerts last seen at or after since, of every tenant
	// (used to resume alert folding after a restart; never exposed to callers).
	RecentAlerts(ctx context.Context, since time.Time) ([]alert.Alert, error)

	// CommitIncidents stores incidents and campaigns (created or updated,
	// by ID) as grouping made them, at now. Incidents named in an
	// incident's Merged are hidden (reads follow them to the one they
	// joined, which inherits their audit trail); campaigns named in a
	// campaign's Merged are dropped. A closed incident that gains alerts
	// is reopened (in_progress, with an audit entry).
	CommitIncidents(ctx context.Context, incs []incident.Incident, camps []incident.Campaign, now time.Time) error
	// SearchIncidents runs an incident search.
	SearchIncidents(ctx context.Context, q IncidentQuery) (*IncidentPage, error)
	// Incident returns one incident of the named tenants (following merges), or ErrNotFound.
	Incident(ctx context.Context, tenants []tenant.ID, id string) (*Incident, error)
	// IncidentAudit returns the audit trail of an incident of the named tenants, oldest first.
	IncidentAudit(ctx context.Context, tenants []tenant.ID, id string) ([]AuditEntry, error)
	// UpdateIncidents applies one triage change to each named incident of
	// the named tenants, in one transaction, like UpdateAlerts.
	UpdateIncidents(ctx context.Context, tenants []tenant.ID, ids []string, c AlertChange) ([]IncidentUpdateResult, error)
	// Campaigns returns the campaigns that involve at least one of the
	// named tenants, whole (the national view): callers restrict what
	// organisation roles see with incident.View.
	Campaigns(ctx context.Context, q CampaignQuery) ([]incident.Campaign, error)
	// Campaign returns one campaign involving one of the named tenants, or ErrNotFound.
	Campaign(ctx context.Context, tenants []tenant.ID, id string) (*incident.Campaign, error)
	// IncidentTimes returns the response times of the named tenants'
	// incidents that are open or were opened since since.
	IncidentTimes(ctx context.Context, tenants []tenant.ID, since time.Time) ([]IncidentTimes, error)
	// AlertCounts counts alerts per tenant, rule and level.
	AlertCounts(ctx context.Context, q AlertCountQuery) ([]AlertCount, error)
	// Telemetry describes the sources and hosts the named tenants sent from.
	Telemetry(ctx context.Context, q TelemetryQuery) (*Telemetry, error)
	// PutRatings records rating points (one per key and day; a later one replaces it).
	PutRatings(ctx context.Context, points []RatingPoint) error
	// RatingHistory returns the points of the named keys from day sinceDay
	// (YYYY-MM-DD) on, by key then day.
	RatingHistory(ctx context.Context, keys []string, sinceDay string) ([]RatingPoint, error)

	// PutTenant creates or updates an organisation.
	PutTenant(ctx context.Context, t tenant.Tenant) error
	// Tenants lists every organisation.
	Tenants(ctx context.Context) ([]tenant.Tenant, error)
	// SetRuleEnabled enables or disables a rule for one tenant.
	SetRuleEnabled(ctx context.Context, t tenant.ID, ruleID string, enabled bool) error
	// DisabledRules returns, per tenant, the rules disabled for it.
	DisabledRules(ctx context.Context) (map[tenant.ID]map[string]bool, error)

	// DeleteBefore drops events, alerts, incidents and campaigns older than
	// t, and the audit trails of what it dropped (retention).
	DeleteBefore(ctx context.Context, t time.Time) (int64, error)
	Close() error
}
