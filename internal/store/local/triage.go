package local

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// getAlert reads alert id if it belongs to one of tenants (sql.ErrNoRows otherwise).
func getAlert(ctx context.Context, q querier, tenants []tenant.ID, id string, withEvent bool) (store.Alert, error) {
	ph, args := inList(tenants, []any{id})
	cols := alertCols
	if withEvent {
		cols += ", event"
	}
	return scanAlert(q.QueryRowContext(ctx, `SELECT `+cols+` FROM alerts WHERE id = ? AND tenant IN (`+ph+`)`, args...), withEvent)
}

// Alert implements store.Store.
func (s *Store) Alert(ctx context.Context, tenants []tenant.ID, id string) (*store.Alert, error) {
	if len(tenants) == 0 {
		return nil, store.ErrNotFound
	}
	a, err := getAlert(ctx, s.rdb, tenants, id, true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("local store: alert %s: %w", id, err)
	}
	return &a, nil
}

// AlertsByID implements store.Store.
func (s *Store) AlertsByID(ctx context.Context, tenants []tenant.ID, ids []string) ([]store.Alert, error) {
	if len(tenants) == 0 || len(ids) == 0 {
		return nil, nil
	}
	var out []store.Alert
	for len(ids) > 0 {
		n := min(len(ids), 500)
		ph, args := inList(ids[:n], nil)
		tph, args := inList(tenants, args)
		ids = ids[n:]
		rows, err := s.rdb.QueryContext(ctx, `SELECT `+alertCols+` FROM alerts WHERE id IN (`+ph+`) AND tenant IN (`+tph+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("local store: alerts by id: %w", err)
		}
		for rows.Next() {
			a, err := scanAlert(rows, false)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("local store: alerts by id: %w", err)
			}
			out = append(out, a)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("local store: alerts by id: %w", err)
		}
	}
	return out, nil
}

// AlertAudit implements store.Store.
func (s *Store) AlertAudit(ctx context.Context, tenants []tenant.ID, id string) ([]store.AuditEntry, error) {
	if len(tenants) == 0 {
		return nil, nil
	}
	return alertTrail.read(ctx, s.rdb, tenants, id)
}

// RelatedAlerts implements store.Store.
func (s *Store) RelatedAlerts(ctx context.Context, tenants []tenant.ID, id string, window time.Duration, limit int) ([]store.Alert, error) {
	if len(tenants) == 0 {
		return nil, store.ErrNotFound
	}
	a, err := getAlert(ctx, s.rdb, tenants, id, false)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("local store: related to %s: %w", id, err)
	}
	var shared []string
	var args []any
	for _, c := range []struct{ cond, v string }{
		{"host = ? COLLATE NOCASE", a.Host},
		{"user = ? COLLATE NOCASE", a.User},
		{"src_ip = ?", a.SrcIP},
	} {
		if c.v != "" {
			shared, args = append(shared, c.cond), append(args, c.v)
		}
	}
	if len(shared) == 0 || limit <= 0 {
		return nil, nil
	}
	// Only a's own tenant: related alerts never cross organisations, even
	// for a caller who may see several.
	args = append([]any{string(a.Tenant), a.ID, a.FirstSeen.Add(-window).UnixMilli(), a.LastSeen.Add(window).UnixMilli()}, args...)
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+alertCols+` FROM alerts
		WHERE tenant = ? AND id != ? AND last_seen >= ? AND first_seen <= ? AND (`+strings.Join(shared, " OR ")+`)
		ORDER BY last_seen DESC, id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("local store: related to %s: %w", id, err)
	}
	defer rows.Close()
	var out []store.Alert
	for rows.Next() {
		r, err := scanAlert(rows, false)
		if err != nil {
			return nil, fmt.Errorf("local store: related to %s: %w", id, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// UpdateAlerts implements store.Store.
func (s *Store) UpdateAlerts(ctx context.Context, tenants []tenant.ID, ids []string, c store.AlertChange) ([]store.UpdateResult, error) {
	out := make([]store.UpdateResult, len(ids))
	for i, id := range ids {
		out[i] = store.UpdateResult{ID: id, Err: store.ErrNotFound}
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
		a, err := getAlert(ctx, tx, tenants, id, true)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("local store: alert %s: %w", id, err)
		}
		audit, err := c.Apply(&a)
		if err != nil {
			out[i].Err = err
			continue
		}
		if len(audit) > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE alerts SET status = ?, assignee = ?, resolution = ?, updated = ? WHERE id = ?`,
				string(a.Status), a.Assignee, a.Resolution, a.Updated.UnixMilli(), a.ID); err != nil {
				return nil, fmt.Errorf("local store: update alert %s: %w", id, err)
			}
			for _, e := range audit {
				if err := alertTrail.write(ctx, tx, a.ID, a.Tenant, e); err != nil {
					return nil, err
				}
			}
		}
		out[i] = store.UpdateResult{ID: id, Alert: &a, Audit: audit}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("local store: commit triage: %w", err)
	}
	return out, nil
}
