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
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// ErrReadOnly is returned by writes when the store refuses them (disk nearly full).
var ErrReadOnly = errors.New("store is read-only: free disk space is below the configured minimum")

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

// AlertQuery selects alerts, most recently seen first.
type AlertQuery struct {
	Tenants    []tenant.ID // required: an empty list matches nothing
	Sectors    []tenant.Sector
	Levels     []string
	Statuses   []string
	RuleID     string
	Technique  string // T1110 also matches T1110.001
	Since      time.Time
	Until      time.Time
	Limit      int
	Cursor     string // opaque, from AlertPage.Next
	WithEvents bool   // fill Alert.Event
}

// AlertPage is one page of alerts.
type AlertPage struct {
	Alerts []alert.Alert
	Total  int
	Next   string
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
	// RecentAlerts returns alerts last seen at or after since, of every tenant
	// (used to resume alert folding after a restart; never exposed to callers).
	RecentAlerts(ctx context.Context, since time.Time) ([]alert.Alert, error)

	// PutTenant creates or updates an organisation.
	PutTenant(ctx context.Context, t tenant.Tenant) error
	// Tenants lists every organisation.
	Tenants(ctx context.Context) ([]tenant.Tenant, error)
	// SetRuleEnabled enables or disables a rule for one tenant.
	SetRuleEnabled(ctx context.Context, t tenant.ID, ruleID string, enabled bool) error
	// DisabledRules returns, per tenant, the rules disabled for it.
	DisabledRules(ctx context.Context) (map[tenant.ID]map[string]bool, error)

	// DeleteBefore drops events and alerts older than t (retention).
	DeleteBefore(ctx context.Context, t time.Time) (int64, error)
	Close() error
}
