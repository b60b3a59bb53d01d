package local

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// auditTrail is one table of triage audit entries: alerts' or incidents'.
// Both keep the same columns, keyed by the audited object's id.
type auditTrail struct{ table, idCol, what string }

var (
	alertTrail    = auditTrail{"alert_audit", "alert_id", "alert"}
	incidentTrail = auditTrail{"incident_audit", "incident_id", "incident"}
)

// write records one entry of object id of tenant t.
func (a auditTrail) write(ctx context.Context, tx *sql.Tx, id string, t tenant.ID, e store.AuditEntry) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+a.table+`(`+a.idCol+`, tenant, at, user, action, from_value, to_value, comment)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, string(t), e.At.UnixMilli(), e.User, e.Action, e.From, e.To, e.Comment); err != nil {
		return fmt.Errorf("local store: audit %s %s: %w", a.what, id, err)
	}
	return nil
}

// read returns the entries of object id if it belongs to one of tenants,
// oldest first.
func (a auditTrail) read(ctx context.Context, q querier, tenants []tenant.ID, id string) ([]store.AuditEntry, error) {
	ph, args := inList(tenants, []any{id})
	rows, err := q.QueryContext(ctx, `SELECT at, user, action, from_value, to_value, comment FROM `+a.table+`
		WHERE `+a.idCol+` = ? AND tenant IN (`+ph+`) ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("local store: audit of %s %s: %w", a.what, id, err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var at int64
		if err := rows.Scan(&at, &e.User, &e.Action, &e.From, &e.To, &e.Comment); err != nil {
			return nil, fmt.Errorf("local store: audit of %s %s: %w", a.what, id, err)
		}
		e.At = time.UnixMilli(at).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}
