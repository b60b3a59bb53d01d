package local

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/incident"
	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// incidentSchema holds incidents, their audit trail, campaigns (as JSON,
// with an index of their organisations), per-source telemetry counts and
// the daily rating history.
const incidentSchema = `
CREATE TABLE IF NOT EXISTS incidents (
	id           TEXT PRIMARY KEY,
	tenant       TEXT NOT NULL,
	sector       TEXT NOT NULL,
	title        TEXT NOT NULL,
	severity     TEXT NOT NULL,
	stages       TEXT NOT NULL,
	entities     TEXT NOT NULL,
	alert_ids    TEXT NOT NULL,
	techniques   TEXT NOT NULL,
	alert_count  INTEGER NOT NULL,
	first_seen   INTEGER NOT NULL,
	last_seen    INTEGER NOT NULL,
	created      INTEGER NOT NULL,
	status       TEXT NOT NULL DEFAULT 'new',
	assignee     TEXT NOT NULL DEFAULT '',
	resolution   TEXT NOT NULL DEFAULT '',
	updated      INTEGER NOT NULL,
	acknowledged INTEGER NOT NULL DEFAULT 0,
	closed       INTEGER NOT NULL DEFAULT 0,
	campaign_id  TEXT NOT NULL DEFAULT '',
	merged_into  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS incidents_tenant_seen ON incidents(tenant, last_seen);
CREATE INDEX IF NOT EXISTS incidents_tenant_status ON incidents(tenant, status);
CREATE INDEX IF NOT EXISTS incidents_campaign ON incidents(campaign_id) WHERE campaign_id != '';
CREATE TABLE IF NOT EXISTS incident_audit (
	id          INTEGER PRIMARY KEY,
	incident_id TEXT NOT NULL,
	tenant      TEXT NOT NULL,
	at          INTEGER NOT NULL,
	user        TEXT NOT NULL,
	action      TEXT NOT NULL,
	from_value  TEXT NOT NULL,
	to_value    TEXT NOT NULL,
	comment     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incident_audit_incident ON incident_audit(incident_id, id);
CREATE TABLE IF NOT EXISTS campaigns (
	id         TEXT PRIMARY KEY,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	data       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS campaigns_seen ON campaigns(last_seen);
CREATE TABLE IF NOT EXISTS campaign_orgs (
	campaign_id TEXT NOT NULL,
	tenant      TEXT NOT NULL,
	PRIMARY KEY (tenant, campaign_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS campaign_orgs_campaign ON campaign_orgs(campaign_id);
CREATE TABLE IF NOT EXISTS telemetry (
	tenant  TEXT NOT NULL,
	day     INTEGER NOT NULL,
	source  TEXT NOT NULL,
	channel TEXT NOT NULL,
	n       INTEGER NOT NULL,
	first   INTEGER NOT NULL,
	last    INTEGER NOT NULL,
	PRIMARY KEY (tenant, day, source, channel)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS telemetry_hosts (
	tenant TEXT NOT NULL,
	host   TEXT NOT NULL,
	last   INTEGER NOT NULL,
	PRIMARY KEY (tenant, host)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rating_history (
	key   TEXT NOT NULL,
	day   TEXT NOT NULL,
	score REAL NOT NULL,
	grade TEXT NOT NULL,
	at    INTEGER NOT NULL,
	PRIMARY KEY (key, day)
) WITHOUT ROWID;
`

const incidentCols = `id, tenant, sector, title, severity, stages, entities, alert_ids, techniques, first_seen, last_seen, created,
	status, assignee, resolution, updated, acknowledged, closed, campaign_id, merged_into`

func scanIncident(sc scanner) (store.Incident, error) {
	var inc store.Incident
	var tid, sector, stages, entities, alertIDs, tech, status string
	var first, last, created, updated, acked, closed int64
	if err := sc.Scan(&inc.ID, &tid, &sector, &inc.Title, &inc.Severity, &stages, &entities, &alertIDs, &tech, &first, &last, &created,
		&status, &inc.Assignee, &inc.Resolution, &updated, &acked, &closed, &inc.CampaignID, &inc.MergedInto); err != nil {
		return inc, err
	}
	inc.Tenant, inc.Sector, inc.Status = tenant.ID(tid), tenant.Sector(sector), alert.Status(status)
	inc.FirstSeen, inc.LastSeen = time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC()
	inc.Created, inc.Updated = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	inc.Acknowledged, inc.Closed = msTime(acked), msTime(closed)
	inc.InCampaign = inc.CampaignID != ""
	_ = json.Unmarshal([]byte(stages), &inc.Stages)
	_ = json.Unmarshal([]byte(entities), &inc.Entities)
	_ = json.Unmarshal([]byte(alertIDs), &inc.AlertIDs)
	_ = json.Unmarshal([]byte(tech), &inc.Techniques)
	return inc, nil
}

// msTime is the time of a millisecond timestamp, zero for 0.
func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// CommitIncidents implements store.Store.
func (s *Store) CommitIncidents(ctx context.Context, incs []incident.Incident, camps []incident.Campaign, now time.Time) error {
	if len(incs) == 0 && len(camps) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("local store: begin: %w", err)
	}
	defer tx.Rollback()
	// Grouping only ever moves what grouping owns; the triage columns
	// (status, assignee, resolution, updated, acknowledged, closed) belong
	// to UpdateIncidents. A closed incident that gets a new alert is
	// reopened, with an audit entry, so the new activity is not missed.
	up, err := tx.PrepareContext(ctx, `INSERT INTO incidents(id, tenant, sector, title, severity, stages, entities, alert_ids, techniques, alert_count,
			first_seen, last_seen, created, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET title = excluded.title, severity = excluded.severity, stages = excluded.stages, entities = excluded.entities,
			alert_ids = excluded.alert_ids, techniques = excluded.techniques, alert_count = excluded.alert_count,
			first_seen = excluded.first_seen, last_seen = excluded.last_seen, merged_into = ''`)
	if err != nil {
		return fmt.Errorf("local store: prepare: %w", err)
	}
	defer up.Close()
	for i := range incs {
		inc := &incs[i]
		var prevCount int
		var prevStatus string
		err := tx.QueryRowContext(ctx, `SELECT alert_count, status FROM incidents WHERE id = ?`, inc.ID).Scan(&prevCount, &prevStatus)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("local store: incident %s: %w", inc.ID, err)
		}
		if _, err := up.ExecContext(ctx, inc.ID, string(inc.Tenant), string(inc.Sector), inc.Title, inc.Severity, jsonText(nonNil(inc.Stages)),
			jsonText(inc.Entities), jsonText(nonNil(inc.AlertIDs)), jsonText(nonNil(inc.Techniques)), len(inc.AlertIDs),
			inc.FirstSeen.UnixMilli(), inc.LastSeen.UnixMilli(), now.UnixMilli(), now.UnixMilli()); err != nil {
			return fmt.Errorf("local store: store incident %s: %w", inc.ID, err)
		}
		if prevStatus == string(alert.StatusClosed) && len(inc.AlertIDs) > prevCount {
			if _, err := tx.ExecContext(ctx, `UPDATE incidents SET status = 'in_progress', resolution = '', closed = 0, updated = ? WHERE id = ?`, now.UnixMilli(), inc.ID); err != nil {
				return fmt.Errorf("local store: reopen incident %s: %w", inc.ID, err)
			}
			if err := incidentTrail.write(ctx, tx, inc.ID, inc.Tenant, store.AuditEntry{At: now, User: "mamori", Action: store.ActionStatus,
				From: string(alert.StatusClosed), To: string(alert.StatusInProgress), Comment: "reopened: new alerts joined the incident"}); err != nil {
				return err
			}
		}
		for _, old := range inc.Merged {
			res, err := tx.ExecContext(ctx, `UPDATE incidents SET merged_into = ? WHERE id = ? AND merged_into != ?`, inc.ID, old, inc.ID)
			if err != nil {
				return fmt.Errorf("local store: merge incident %s: %w", old, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue
			}
			// The trail of the absorbed incident continues in the one it joined.
			if _, err := tx.ExecContext(ctx, `UPDATE incident_audit SET incident_id = ? WHERE incident_id = ?`, inc.ID, old); err != nil {
				return fmt.Errorf("local store: merge incident %s: %w", old, err)
			}
			if err := incidentTrail.write(ctx, tx, inc.ID, inc.Tenant, store.AuditEntry{At: now, User: "mamori", Action: store.ActionComment,
				Comment: "incident " + old + " merged into this one: an alert linked them"}); err != nil {
				return err
			}
		}
	}
	for i := range camps {
		c := &camps[i]
		for _, old := range c.Merged {
			if _, err := tx.ExecContext(ctx, `DELETE FROM campaigns WHERE id = ?`, old); err != nil {
				return fmt.Errorf("local store: merge campaign %s: %w", old, err)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM campaign_orgs WHERE campaign_id = ?`, old); err != nil {
				return fmt.Errorf("local store: merge campaign %s: %w", old, err)
			}
		}
		data, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("local store: campaign %s: %w", c.ID, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO campaigns(id, first_seen, last_seen, data) VALUES (?, ?, ?, ?)
			ON CONFLICT(id) DO UPDATE SET first_seen = excluded.first_seen, last_seen = excluded.last_seen, data = excluded.data`,
			c.ID, c.FirstSeen.UnixMilli(), c.LastSeen.UnixMilli(), string(data)); err != nil {
			return fmt.Errorf("local store: store campaign %s: %w", c.ID, err)
		}
		for _, o := range c.Orgs {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO campaign_orgs(campaign_id, tenant) VALUES (?, ?)`, c.ID, string(o)); err != nil {
				return fmt.Errorf("local store: store campaign %s: %w", c.ID, err)
			}
		}
		if len(c.IncidentIDs) > 0 {
			ph, args := inList(c.IncidentIDs, []any{c.ID})
			if _, err := tx.ExecContext(ctx, `UPDATE incidents SET campaign_id = ? WHERE id IN (`+ph+`)`, args...); err != nil {
				return fmt.Errorf("local store: link campaign %s: %w", c.ID, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("local store: commit incidents: %w", err)
	}
	return nil
}

func auditIncident(ctx context.Context, tx *sql.Tx, id string, t tenant.ID, e store.AuditEntry) error {
	return incidentTrail.write(ctx, tx, id, t, e)
}

const severityRankSQL = `(CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END)`

// SearchIncidents implements store.Store.
func (s *Store) SearchIncidents(ctx context.Context, q store.IncidentQuery) (*store.IncidentPage, error) {
	page := &store.IncidentPage{Incidents: []store.Incident{}}
	if len(q.Tenants) == 0 {
		return page, nil
	}
	if !store.ValidIncidentSort(q.Sort) {
		return nil, fmt.Errorf("local store: unknown incident sort %q", q.Sort)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	where := []string{"merged_into = ''"}
	ph, args := inList(q.Tenants, nil)
	where = append(where, "tenant IN ("+ph+")")
	if len(q.Sectors) > 0 {
		ph, args = inList(q.Sectors, args)
		where = append(where, "sector IN ("+ph+")")
	}
	if len(q.Severities) > 0 {
		ph, args = inList(q.Severities, args)
		where = append(where, "severity IN ("+ph+")")
	}
	if len(q.Statuses) > 0 {
		ph, args = inList(q.Statuses, args)
		where = append(where, "status IN ("+ph+")")
	}
	if q.Assignee != "" {
		where, args = append(where, "assignee = ? COLLATE NOCASE"), append(args, q.Assignee)
	}
	if q.Unassigned {
		where = append(where, "assignee = ''")
	}
	if q.Campaign != "" {
		where, args = append(where, "campaign_id = ?"), append(args, q.Campaign)
	}
	if q.Text != "" {
		where = append(where, "(instr(lower(title), lower(?)) > 0 OR instr(lower(entities), lower(?)) > 0 OR instr(lower(techniques), lower(?)) > 0)")
		args = append(args, q.Text, q.Text, q.Text)
	}
	if !q.Since.IsZero() {
		where, args = append(where, "last_seen >= ?"), append(args, q.Since.UnixMilli())
	}
	if !q.Until.IsZero() {
		where, args = append(where, "first_seen < ?"), append(args, q.Until.UnixMilli())
	}
	cond := strings.Join(where, " AND ")
	if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM incidents WHERE `+cond, args...).Scan(&page.Total); err != nil {
		return nil, fmt.Errorf("local store: count incidents: %w", err)
	}
	order := map[string]string{
		"": "last_seen DESC", store.SortLastSeen: "last_seen DESC", store.SortFirstSeen: "first_seen DESC",
		store.SortSeverity: severityRankSQL + " DESC, last_seen DESC", store.SortUpdated: "updated DESC",
	}[strings.TrimPrefix(q.Sort, "-")]
	if strings.HasPrefix(q.Sort, "-") {
		order = strings.NewReplacer("DESC", "ASC").Replace(order)
	}
	offset := max(q.Offset, 0)
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE `+cond+` ORDER BY `+order+`, id LIMIT ? OFFSET ?`,
		append(args, limit, offset)...)
	if err != nil {
		return nil, fmt.Errorf("local store: search incidents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("local store: search incidents: %w", err)
		}
		page.Incidents = append(page.Incidents, inc)
	}
	if offset+len(page.Incidents) < page.Total {
		page.Next = offset + len(page.Incidents)
	}
	return page, rows.Err()
}

// getIncident reads incident id if it belongs to one of tenants, following
// merges (sql.ErrNoRows otherwise).
func getIncident(ctx context.Context, q querier, tenants []tenant.ID, id string) (store.Incident, error) {
	for range 8 {
		ph, args := inList(tenants, []any{id})
		inc, err := scanIncident(q.QueryRowContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE id = ? AND tenant IN (`+ph+`)`, args...))
		if err != nil || inc.MergedInto == "" {
			return inc, err
		}
		id = inc.MergedInto
	}
	return store.Incident{}, sql.ErrNoRows
}

// Incident implements store.Store.
func (s *Store) Incident(ctx context.Context, tenants []tenant.ID, id string) (*store.Incident, error) {
	if len(tenants) == 0 {
		return nil, store.ErrNotFound
	}
	inc, err := getIncident(ctx, s.rdb, tenants, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("local store: incident %s: %w", id, err)
	}
	return &inc, nil
}

// IncidentAudit implements store.Store.
func (s *Store) IncidentAudit(ctx context.Context, tenants []tenant.ID, id string) ([]store.AuditEntry, error) {
	if len(tenants) == 0 {
		return nil, nil
	}
	out, err := incidentTrail.read(ctx, s.rdb, tenants, id)
	if out == nil && err == nil {
		out = []store.AuditEntry{}
	}
	return out, err
}

// UpdateIncidents implements store.Store.
func (s *Store) UpdateIncidents(ctx context.Context, tenants []tenant.ID, ids []string, c store.AlertChange) ([]store.IncidentUpdateResult, error) {
	out := make([]store.IncidentUpdateResult, len(ids))
	for i, id := range ids {
		out[i] = store.IncidentUpdateResult{ID: id, Err: store.ErrNotFound}
	}
	if len(tenants) == 0 || len(ids) == 0 {
		return out, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("local store: begin: %w", err)
	}
	defer tx.Rollback()
	for i, id := range ids {
		inc, err := getIncident(ctx, tx, tenants, id)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("local store: incident %s: %w", id, err)
		}
		audit, err := c.ApplyIncident(&inc)
		if err != nil {
			out[i].Err = err
			continue
		}
		if len(audit) > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE incidents SET status = ?, assignee = ?, resolution = ?, updated = ?, acknowledged = ?, closed = ? WHERE id = ?`,
				string(inc.Status), inc.Assignee, inc.Resolution, inc.Updated.UnixMilli(), msOf(inc.Acknowledged), msOf(inc.Closed), inc.ID); err != nil {
				return nil, fmt.Errorf("local store: update incident %s: %w", id, err)
			}
			for _, e := range audit {
				if err := incidentTrail.write(ctx, tx, inc.ID, inc.Tenant, e); err != nil {
					return nil, err
				}
			}
		}
		out[i] = store.IncidentUpdateResult{ID: inc.ID, Incident: &inc, Audit: audit}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("local store: commit incident triage: %w", err)
	}
	return out, nil
}

func msOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Campaigns implements store.Store.
func (s *Store) Campaigns(ctx context.Context, q store.CampaignQuery) ([]incident.Campaign, error) {
	if len(q.Tenants) == 0 {
		return []incident.Campaign{}, nil
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	ph, args := inList(q.Tenants, nil)
	rows, err := s.rdb.QueryContext(ctx, `SELECT data FROM campaigns WHERE last_seen >= ? AND id IN (SELECT campaign_id FROM campaign_orgs WHERE tenant IN (`+ph+`))
		ORDER BY last_seen DESC, id LIMIT ?`, append(append([]any{q.Since.UnixMilli()}, args...), limit)...)
	if err != nil {
		return nil, fmt.Errorf("local store: campaigns: %w", err)
	}
	defer rows.Close()
	out := []incident.Campaign{}
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("local store: campaigns: %w", err)
		}
		var c incident.Campaign
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return nil, fmt.Errorf("local store: campaign: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Campaign implements store.Store.
func (s *Store) Campaign(ctx context.Context, tenants []tenant.ID, id string) (*incident.Campaign, error) {
	if len(tenants) == 0 {
		return nil, store.ErrNotFound
	}
	ph, args := inList(tenants, []any{id})
	var data string
	err := s.rdb.QueryRowContext(ctx, `SELECT data FROM campaigns WHERE id = ? AND id IN (SELECT campaign_id FROM campaign_orgs WHERE tenant IN (`+ph+`))`, args...).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("local store: campaign %s: %w", id, err)
	}
	var c incident.Campaign
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		return nil, fmt.Errorf("local store: campaign %s: %w", id, err)
	}
	return &c, nil
}

// IncidentTimes implements store.Store.
func (s *Store) IncidentTimes(ctx context.Context, tenants []tenant.ID, since time.Time) ([]store.IncidentTimes, error) {
	if len(tenants) == 0 {
		return nil, nil
	}
	ph, args := inList(tenants, []any{since.UnixMilli()})
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, tenant, severity, status, created, acknowledged, closed FROM incidents
		WHERE merged_into = '' AND (status != 'closed' OR created >= ?) AND tenant IN (`+ph+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("local store: incident times: %w", err)
	}
	defer rows.Close()
	var out []store.IncidentTimes
	for rows.Next() {
		var t store.IncidentTimes
		var tid, status string
		var created, acked, closed int64
		if err := rows.Scan(&t.ID, &tid, &t.Severity, &status, &created, &acked, &closed); err != nil {
			return nil, fmt.Errorf("local store: incident times: %w", err)
		}
		t.Tenant, t.Status = tenant.ID(tid), alert.Status(status)
		t.Created, t.Acknowledged, t.Closed = msTime(created), msTime(acked), msTime(closed)
		out = append(out, t)
	}
	return out, rows.Err()
}

// AlertCounts implements store.Store.
func (s *Store) AlertCounts(ctx context.Context, q store.AlertCountQuery) ([]store.AlertCount, error) {
	if len(q.Tenants) == 0 {
		return nil, nil
	}
	ph, args := inList(q.Tenants, []any{q.Since.UnixMilli()})
	rows, err := s.rdb.QueryContext(ctx, `SELECT tenant, rule_id, level, COUNT(*), SUM(count), COUNT(DISTINCT lower(host)), MAX(last_seen)
		FROM alerts WHERE last_seen >= ? AND tenant IN (`+ph+`) GROUP BY tenant, rule_id, level ORDER BY tenant, rule_id, level`, args...)
	if err != nil {
		return nil, fmt.Errorf("local store: alert counts: %w", err)
	}
	defer rows.Close()
	var out []store.AlertCount
	for rows.Next() {
		var c store.AlertCount
		var tid string
		var last int64
		if err := rows.Scan(&tid, &c.RuleID, &c.Level, &c.Alerts, &c.Hits, &c.Hosts, &last); err != nil {
			return nil, fmt.Errorf("local store: alert counts: %w", err)
		}
		c.Tenant, c.LastSeen = tenant.ID(tid), time.UnixMilli(last).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// Telemetry implements store.Store.
func (s *Store) Telemetry(ctx context.Context, q store.TelemetryQuery) (*store.Telemetry, error) {
	out := &store.Telemetry{Hosts: map[tenant.ID]int{}}
	if len(q.Tenants) == 0 {
		return out, nil
	}
	day := q.Since.UnixMilli() - q.Since.UnixMilli()%dayMillis
	ph, args := inList(q.Tenants, []any{day})
	rows, err := s.rdb.QueryContext(ctx, `SELECT tenant, source, channel, SUM(n), MIN(first), MAX(last) FROM telemetry
		WHERE day >= ? AND tenant IN (`+ph+`) GROUP BY tenant, source, channel ORDER BY tenant, source, channel`, args...)
	if err != nil {
		return nil, fmt.Errorf("local store: telemetry: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var src store.TelemetrySource
		var tid string
		var first, last int64
		if err := rows.Scan(&tid, &src.Source, &src.Channel, &src.Events, &first, &last); err != nil {
			return nil, fmt.Errorf("local store: telemetry: %w", err)
		}
		src.Tenant, src.FirstSeen, src.LastSeen = tenant.ID(tid), time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC()
		out.Sources = append(out.Sources, src)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("local store: telemetry: %w", err)
	}
	ph, args = inList(q.Tenants, []any{q.Since.UnixMilli()})
	hrows, err := s.rdb.QueryContext(ctx, `SELECT tenant, COUNT(*) FROM telemetry_hosts WHERE last >= ? AND tenant IN (`+ph+`) GROUP BY tenant`, args...)
	if err != nil {
		return nil, fmt.Errorf("local store: telemetry hosts: %w", err)
	}
	defer hrows.Close()
	for hrows.Next() {
		var tid string
		var n int
		if err := hrows.Scan(&tid, &n); err != nil {
			return nil, fmt.Errorf("local store: telemetry hosts: %w", err)
		}
		out.Hosts[tenant.ID(tid)] = n
	}
	return out, hrows.Err()
}

const dayMillis = 24 * 3600 * 1000

// PutRatings implements store.Store.
func (s *Store) PutRatings(ctx context.Context, points []store.RatingPoint) error {
	if len(points) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("local store: begin: %w", err)
	}
	defer tx.Rollback()
	for _, p := range points {
		if _, err := tx.ExecContext(ctx, `INSERT INTO rating_history(key, day, score, grade, at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT(key, day) DO UPDATE SET score = excluded.score, grade = excluded.grade, at = excluded.at`,
			p.Key, p.Day, p.Score, p.Grade, p.At.UnixMilli()); err != nil {
			return fmt.Errorf("local store: rating %s: %w", p.Key, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("local store: commit ratings: %w", err)
	}
	return nil
}

// RatingHistory implements store.Store.
func (s *Store) RatingHistory(ctx context.Context, keys []string, sinceDay string) ([]store.RatingPoint, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	ph, args := inList(keys, []any{sinceDay})
	rows, err := s.rdb.QueryContext(ctx, `SELECT key, day, score, grade, at FROM rating_history WHERE day >= ? AND key IN (`+ph+`) ORDER BY key, day`, args...)
	if err != nil {
		return nil, fmt.Errorf("local store: rating history: %w", err)
	}
	defer rows.Close()
	var out []store.RatingPoint
	for rows.Next() {
		var p store.RatingPoint
		var at int64
		if err := rows.Scan(&p.Key, &p.Day, &p.Score, &p.Grade, &at); err != nil {
			return nil, fmt.Errorf("local store: rating history: %w", err)
		}
		p.At = time.UnixMilli(at).UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}
