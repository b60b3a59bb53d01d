package local

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

const (
	hourMs = int64(time.Hour / time.Millisecond)
	dayMs  = 24 * hourMs
)

// levels are the keys of Dashboard.ByLevel, always present.
var levels = []string{"informational", "low", "medium", "high", "critical"}

// Dashboard implements store.Store. Every aggregate runs in one read
// transaction, so the numbers agree with each other.
func (s *Store) Dashboard(ctx context.Context, q store.DashboardQuery) (*store.Dashboard, error) {
	d := &store.Dashboard{ByLevel: map[string]int{}}
	for _, l := range levels {
		d.ByLevel[l] = 0
	}
	if len(q.Tenants) == 0 {
		return d, nil
	}
	if q.Now.IsZero() || q.Window <= 0 {
		return nil, errors.New("local store: dashboard: Now and Window are required")
	}
	tx, err := s.rdb.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("local store: dashboard: %w", err)
	}
	defer tx.Rollback()
	if err := dashboard(ctx, tx, q, d); err != nil {
		return nil, fmt.Errorf("local store: dashboard: %w", err)
	}
	return d, nil
}

func dashboard(ctx context.Context, tx *sql.Tx, q store.DashboardQuery, d *store.Dashboard) error {
	now, w := q.Now.UnixMilli(), q.Window.Milliseconds()
	week := 7 * dayMs
	ph, targs := inList(q.Tenants, nil)
	in := "tenant IN (" + ph + ")"
	with := func(extra ...any) []any { return append(slices.Clone(targs), extra...) }

	// Totals: alerts first seen in each window; open ones of any age.
	for _, c := range []struct {
		dst      *int
		from, to int64
	}{
		{&d.Totals.Today, now - w, math.MaxInt64}, // ahead of the clock counts as now
		{&d.Totals.Yesterday, now - 2*w, now - w},
		{&d.Totals.SameDayLastWeek, now - week - w, now - week},
	} {
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM alerts WHERE `+in+` AND first_seen >= ? AND first_seen < ?`, with(c.from, c.to)...).Scan(c.dst); err != nil {
			return err
		}
	}
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(CASE WHEN level = 'critical' THEN 1 END) FROM alerts WHERE `+in+` AND status != 'closed'`,
		targs...).Scan(&d.Totals.Open, &d.Totals.CriticalOpen); err != nil {
		return err
	}

	win := in + " AND first_seen >= ?"
	if err := each(ctx, tx, `SELECT level, COUNT(*) FROM alerts WHERE `+win+` GROUP BY level`, with(now-w), func(r *sql.Rows) error {
		var l string
		var n int
		err := r.Scan(&l, &n)
		d.ByLevel[l] += n
		return err
	}); err != nil {
		return err
	}

	// Hits per hour and per day and sector, by first_seen.
	series := func(dst *[]store.SectorCount, period, from int64) error {
		return each(ctx, tx, `SELECT first_seen - first_seen % ?, sector, SUM(count) FROM alerts WHERE `+in+` AND first_seen >= ? AND first_seen < ?
			GROUP BY 1, 2 ORDER BY 1, 2`, append([]any{period}, with(from, now)...), func(r *sql.Rows) error {
			var t int64
			var c store.SectorCount
			err := r.Scan(&t, &c.Sector, &c.Count)
			c.T = time.UnixMilli(t).UTC()
			*dst = append(*dst, c)
			return err
		})
	}
	if err := series(&d.PerHour, hourMs, now-now%hourMs-23*hourMs); err != nil {
		return err
	}
	if err := series(&d.PerDay, dayMs, now-now%dayMs-13*dayMs); err != nil {
		return err
	}

	// Top public source addresses: skip the rest as they come.
	rows, err := tx.QueryContext(ctx, `SELECT src_ip, COUNT(*) AS n, COUNT(DISTINCT tenant), group_concat(DISTINCT sector),
		MAX(src_country), MAX(src_asn), MAX(src_as_org) FROM alerts
		WHERE `+win+` AND src_ip != '' GROUP BY src_ip ORDER BY n DESC, src_ip`, with(now-w)...)
	if err != nil {
		return err
	}
	for rows.Next() && len(d.TopSources) < 10 {
		var c store.SourceCount
		var sectors string
		if err := rows.Scan(&c.IP, &c.Count, &c.Orgs, &sectors, &c.Country, &c.ASN, &c.ASOrg); err != nil {
			rows.Close()
			return err
		}
		if !publicAddr(c.IP) {
			continue
		}
		for _, sec := range strings.Split(sectors, ",") {
			c.Sectors = append(c.Sectors, tenant.Sector(sec))
		}
		slices.Sort(c.Sectors)
		d.TopSources = append(d.TopSources, c)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return err
	}

	if err := each(ctx, tx, `SELECT j.value AS technique, MIN(COALESCE(json_extract(a.tactics, '$[0]'), '')), COUNT(DISTINCT a.id) AS n
		FROM alerts a, json_each(a.techniques) j WHERE a.`+win+` GROUP BY j.value ORDER BY n DESC, technique`, with(now-w), func(r *sql.Rows) error {
		var c store.TechniqueCount
		err := r.Scan(&c.Technique, &c.Tactic, &c.Count)
		d.Techniques = append(d.Techniques, c)
		return err
	}); err != nil {
		return err
	}

	if err := each(ctx, tx, `SELECT a.tenant, COALESCE(t.name, '') AS name, COALESCE(t.sector, MAX(a.sector)), COUNT(*) AS n,
			COUNT(CASE WHEN a.level = 'critical' THEN 1 END), COUNT(CASE WHEN a.level = 'high' THEN 1 END)
		FROM alerts a LEFT JOIN tenants t ON t.id = a.tenant WHERE a.`+win+`
		GROUP BY a.tenant ORDER BY n DESC, name COLLATE NOCASE, a.tenant LIMIT 10`, with(now-w), func(r *sql.Rows) error {
		var c store.OrgCount
		err := r.Scan(&c.Tenant, &c.Name, &c.Sector, &c.Count, &c.Critical, &c.High)
		d.TopOrgs = append(d.TopOrgs, c)
		return err
	}); err != nil {
		return err
	}

	return each(ctx, tx, `SELECT sector, COUNT(*) AS n, COUNT(DISTINCT tenant) FROM alerts WHERE `+win+` GROUP BY sector ORDER BY n DESC, sector`,
		with(now-w), func(r *sql.Rows) error {
			var c store.SectorTotal
			err := r.Scan(&c.Sector, &c.Count, &c.Orgs)
			d.TopSectors = append(d.TopSectors, c)
			return err
		})
}

// each runs a query and calls fn for every row.
func each(ctx context.Context, q querier, query string, args []any, fn func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// cgnat is the shared address space of carrier-grade NAT (RFC 6598).
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// publicAddr reports whether s is an IP address that can name an outside
// source: not private, loopback, link-local, multicast, unspecified or CGNAT.
func publicAddr(s string) bool {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	return !(ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsUnspecified() || cgnat.Contains(ip))
}

// OrgStats implements store.Store.
func (s *Store) OrgStats(ctx context.Context, q store.OrgStatsQuery) ([]store.OrgStats, error) {
	if len(q.Tenants) == 0 {
		return nil, nil
	}
	if q.Now.IsZero() {
		return nil, errors.New("local store: organisation stats: Now is required")
	}
	ids := slices.Clone(q.Tenants)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := make([]store.OrgStats, len(ids))
	by := make(map[tenant.ID]*store.OrgStats, len(ids))
	for i, id := range ids {
		out[i].Tenant = id
		by[id] = &out[i]
	}
	now := q.Now.UnixMilli()
	from := now - now%hourMs - 23*hourMs
	ph, targs := inList(ids, nil)
	in := "tenant IN (" + ph + ")"
	with := func(extra ...any) []any { return append(slices.Clone(targs), extra...) }
	var id string
	err := each(ctx, s.rdb, `SELECT tenant, COUNT(*), COUNT(CASE WHEN level = 'critical' THEN 1 END) FROM alerts WHERE `+in+` AND first_seen >= ? GROUP BY tenant`,
		with(from), func(r *sql.Rows) error {
			var n, c int
			err := r.Scan(&id, &n, &c)
			if o := by[tenant.ID(id)]; o != nil {
				o.Alerts24h, o.Critical24h = n, c
			}
			return err
		})
	if err == nil {
		err = each(ctx, s.rdb, `SELECT tenant, COUNT(*) FROM alerts WHERE `+in+` AND status != 'closed' GROUP BY tenant`, targs, func(r *sql.Rows) error {
			var n int
			err := r.Scan(&id, &n)
			if o := by[tenant.ID(id)]; o != nil {
				o.Open = n
			}
			return err
		})
	}
	if err == nil {
		err = each(ctx, s.rdb, `SELECT tenant, SUM(CASE WHEN hour >= ? THEN n ELSE 0 END), MAX(last) FROM event_counts WHERE `+in+` GROUP BY tenant`,
			append([]any{from}, targs...), func(r *sql.Rows) error {
				var n, last int64
				err := r.Scan(&id, &n, &last)
				if o := by[tenant.ID(id)]; o != nil {
					o.Events24h, o.LastEvent = int(n), time.UnixMilli(last).UTC()
				}
				return err
			})
	}
	if err != nil {
		return nil, fmt.Errorf("local store: organisation stats: %w", err)
	}
	return out, nil
}

// EventHistogram implements store.Store.
func (s *Store) EventHistogram(ctx context.Context, q store.HistogramQuery) (*store.Histogram, error) {
	h, err := q.Empty()
	if err != nil {
		return nil, fmt.Errorf("local store: %w", err)
	}
	since, step, n := q.Since.UnixMilli(), h.Interval.Milliseconds(), int64(len(h.Buckets))
	if len(q.Tenants) == 0 {
		return h, nil
	}
	cond, args := eventWhere(q.EventQuery)
	err = each(ctx, s.rdb, `SELECT (ts - ?) / ?, COUNT(*) FROM events WHERE `+cond+` GROUP BY 1`, append([]any{since, step}, args...), func(r *sql.Rows) error {
		var b int64
		var c int
		if err := r.Scan(&b, &c); err != nil {
			return err
		}
		if b >= 0 && b < n {
			h.Buckets[b].Count += c
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("local store: histogram: %w", err)
	}
	return h, nil
}

// RuleHits implements store.Store.
func (s *Store) RuleHits(ctx context.Context, q store.RuleHitsQuery) (map[string]store.RuleHits, error) {
	out := map[string]store.RuleHits{}
	if len(q.Tenants) == 0 {
		return out, nil
	}
	ph, args := inList(q.Tenants, []any{q.Since.UnixMilli()})
	err := each(ctx, s.rdb, `SELECT rule_id, SUM(CASE WHEN first_seen >= ? THEN count ELSE 0 END), SUM(count) FROM alerts
		WHERE tenant IN (`+ph+`) GROUP BY rule_id`, args, func(r *sql.Rows) error {
		var id string
		var h store.RuleHits
		err := r.Scan(&id, &h.Recent, &h.Total)
		out[id] = h
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("local store: rule hits: %w", err)
	}
	return out, nil
}
