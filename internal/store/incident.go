package store

import (
	"fmt"
	"strings"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/incident"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// Incident is an incident as stored: what grouping made of its alerts and
// its triage state. Grouping (CommitIncidents) never changes the triage
// state; only UpdateIncidents does.
type Incident struct {
	incident.Incident
	Status       alert.Status `json:"status"`
	Assignee     string       `json:"assignee"`
	Resolution   string       `json:"resolution"`
	Updated      time.Time    `json:"updated"`               // last triage change; Created until the first one
	Created      time.Time    `json:"created"`               // when Mamori opened it
	Acknowledged time.Time    `json:"acknowledged,omitzero"` // first time it left "new"
	Closed       time.Time    `json:"closed,omitzero"`       // when it was last closed; zero while open
	CampaignID   string       `json:"campaign_id,omitempty"` // the campaign it belongs to (organisation roles see only their part of it)
	InCampaign   bool         `json:"in_campaign"`           // whether it belongs to a campaign
	MergedInto   string       `json:"merged_into,omitempty"` // set when a later alert merged it into another incident
}

// Incident sort orders (IncidentQuery.Sort), each most-first; a leading "-"
// reverses it.
const (
	SortSeverity = "severity"
	SortUpdated  = "updated"
)

// ValidIncidentSort reports whether s is a valid IncidentQuery.Sort.
func ValidIncidentSort(s string) bool {
	switch strings.TrimPrefix(s, "-") {
	case "", SortLastSeen, SortFirstSeen, SortSeverity, SortUpdated:
		return s != "-"
	}
	return false
}

// IncidentQuery selects incidents, most recently seen first unless Sort
// says otherwise. Incidents merged into another are never returned.
type IncidentQuery struct {
	Tenants    []tenant.ID // required: an empty list matches nothing
	Sectors    []tenant.Sector
	Severities []string
	Statuses   []string
	Assignee   string
	Unassigned bool
	Campaign   string // only incidents of this campaign
	Text       string // case-insensitive substring of the title, techniques or entities
	Since      time.Time
	Until      time.Time
	Sort       string
	Limit      int // 0 means 50; at most 500
	Offset     int // pagination
}

// IncidentPage is one page of incidents.
type IncidentPage struct {
	Incidents []Incident
	Total     int
	Next      int // Offset of the next page (0: none)
}

// IncidentUpdateResult is the outcome of a triage change to one incident.
type IncidentUpdateResult struct {
	ID       string
	Incident *Incident
	Audit    []AuditEntry
	Err      error // ErrNotFound, or an error wrapping ErrInvalidChange
}

// ApplyIncident checks the change against inc's state and applies it, with
// the same workflow rules as Apply for alerts. It also stamps Acknowledged
// the first time the incident leaves "new" and Closed when it closes.
func (c AlertChange) ApplyIncident(inc *Incident) ([]AuditEntry, error) {
	a := Alert{Alert: alert.Alert{Status: inc.Status}, Assignee: inc.Assignee, Resolution: inc.Resolution, Updated: inc.Updated}
	audit, err := c.Apply(&a)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), "an alert", "an incident")
		return nil, fmt.Errorf("%w%s", ErrInvalidChange, strings.TrimPrefix(msg, ErrInvalidChange.Error()))
	}
	if len(audit) == 0 {
		return nil, nil
	}
	was := inc.Status
	inc.Status, inc.Assignee, inc.Resolution, inc.Updated = a.Status, a.Assignee, a.Resolution, a.Updated
	if was == alert.StatusNew && inc.Status != alert.StatusNew && inc.Acknowledged.IsZero() {
		inc.Acknowledged = c.At
	}
	switch {
	case inc.Status == alert.StatusClosed && was != alert.StatusClosed:
		inc.Closed = c.At
	case inc.Status != alert.StatusClosed:
		inc.Closed = time.Time{}
	}
	return audit, nil
}

// CampaignQuery selects campaigns, most recently seen first.
type CampaignQuery struct {
	Tenants []tenant.ID // required: campaigns with at least one of these organisations
	Since   time.Time   // last seen at or after
	Limit   int         // 0 means 100; at most 1000
}

// AlertCount is the alerts of one rule at one level in one organisation.
type AlertCount struct {
	Tenant   tenant.ID
	RuleID   string
	Level    string
	Alerts   int
	Hits     int // the sum of alert counts
	Hosts    int // distinct hosts
	LastSeen time.Time
}

// AlertCountQuery selects the alerts AlertCounts groups.
type AlertCountQuery struct {
	Tenants []tenant.ID // required
	Since   time.Time   // alerts last seen at or after
}

// TelemetrySource is one kind of telemetry an organisation sends: its
// ingest path and channel (Security, sshd, suricata, ...).
type TelemetrySource struct {
	Tenant    tenant.ID
	Source    string
	Channel   string
	Events    int64
	FirstSeen time.Time // receipt of its oldest event in the window
	LastSeen  time.Time // receipt of its newest event
}

// TelemetryQuery selects the telemetry to describe.
type TelemetryQuery struct {
	Tenants []tenant.ID // required
	Since   time.Time   // days received at or after (whole UTC days)
}

// Telemetry is what organisations sent since a time.
type Telemetry struct {
	Sources []TelemetrySource
	Hosts   map[tenant.ID]int // distinct hosts that sent events
}

// RatingPoint is one day's rating of an organisation, a sector or the
// nation (Key "org:<id>", "sector:<name>" or "national").
type RatingPoint struct {
	Key   string    `json:"-"`
	Day   string    `json:"day"` // YYYY-MM-DD, UTC
	Score float64   `json:"score"`
	Grade string    `json:"grade"`
	At    time.Time `json:"at"` // when it was last recomputed that day
}

// IncidentTimes is the response timeline of one incident, for the rating.
type IncidentTimes struct {
	ID           string
	Tenant       tenant.ID
	Severity     string
	Status       alert.Status
	Created      time.Time
	Acknowledged time.Time // zero while never acknowledged
	Closed       time.Time // zero while open
}
