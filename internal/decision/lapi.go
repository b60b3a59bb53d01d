package decision

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mamori-soc/mamori/internal/tenant"
)

// The CrowdSec Local API (LAPI) bouncer protocol, as CrowdSec's
// pkg/apiserver serves it and go-cs-bouncer consumes it:
//
//	GET|HEAD /v1/decisions/stream?startup=true&scopes=ip,range&origins=&scenarios_containing=&scenarios_not_containing=
//	GET|HEAD /v1/decisions?ip=&range=&scope=&value=&type=&contains=&origins=&scenarios_containing=&scenarios_not_containing=
//	POST     /v1/usage-metrics (accepted and discarded)
//
// authenticated by the X-Api-Key header. Errors are {"message": "..."}.

// apiKeyHeader carries a bouncer's key.
const apiKeyHeader = "X-Api-Key"

// scenarioPrefix starts the scenario Mamori's decisions carry, so that
// bouncers and their logs show where a decision came from.
const scenarioPrefix = "mamori: "

// lapiScopes are the scope names CrowdSec uses.
var lapiScopes = map[string]string{ScopeIP: "Ip", ScopeRange: "Range", ScopeDomain: "Domain"}

// lapiDecision is a decision as CrowdSec's models.Decision writes it, in
// its field order.
type lapiDecision struct {
	// Duration is the time left, a Go duration string ("3h59m12s").
	Duration  string `json:"duration"`
	ID        int64  `json:"id"`
	Origin    string `json:"origin"`
	Scenario  string `json:"scenario"`
	Scope     string `json:"scope"`
	Simulated bool   `json:"simulated"`
	Type      string `json:"type"`
	UUID      string `json:"uuid"`
	Value     string `json:"value"`
}

// lapiStream is a /v1/decisions/stream answer; empty lists are null, as
// CrowdSec writes them.
type lapiStream struct {
	New     []lapiDecision `json:"new"`
	Deleted []lapiDecision `json:"deleted"`
}

func toLAPI(d Decision, now time.Time) lapiDecision {
	end := d.Until
	if !d.Deleted.IsZero() && d.Deleted.Before(end) {
		end = d.Deleted
	}
	left := end.Sub(now).Round(time.Second)
	if d.Active(now) && left < time.Second {
		// Some bouncers read a zero duration as "no timeout": never send
		// one for a decision in force.
		left = time.Second
	}
	return lapiDecision{
		Duration: left.String(),
		ID:       d.ID,
		Origin:   d.Origin,
		Scenario: scenarioPrefix + d.Reason,
		Scope:    lapiScopes[d.Scope],
		Type:     d.Type,
		UUID:     d.UUID,
		Value:    d.Value,
	}
}

// Handler returns the CrowdSec LAPI bouncer endpoints (paths start with
// /v1/), to mount at the root of a server.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	s.Register(mux)
	return mux
}

// Register adds the CrowdSec LAPI bouncer endpoints to mux (GET patterns
// also answer HEAD).
func (s *Service) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/decisions", s.withBouncer(s.serveDecisions))
	mux.HandleFunc("GET /v1/decisions/stream", s.withBouncer(s.serveStream))
	mux.HandleFunc("POST /v1/usage-metrics", s.withBouncer(serveUsageMetrics))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"message":"cannot encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func writeMessage(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"message": msg})
}

// withBouncer authenticates the request's key: 401 without one, 403 with
// a wrong one.
func (s *Service) withBouncer(h func(http.ResponseWriter, *http.Request, bouncer)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(apiKeyHeader)
		if key == "" {
			writeMessage(w, http.StatusUnauthorized, "missing api key: send the bouncer's key in the X-Api-Key header")
			return
		}
		b, err := s.authenticate(r.Context(), key)
		if errors.Is(err, errBadKey) {
			writeMessage(w, http.StatusForbidden, "access forbidden")
			return
		}
		if err != nil {
			s.log.Error("bouncer authentication failed", "err", err)
			writeMessage(w, http.StatusInternalServerError, "internal error")
			return
		}
		h(w, r, b)
	}
}

func clientIP(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

func serveUsageMetrics(w http.ResponseWriter, r *http.Request, _ bouncer) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	w.WriteHeader(http.StatusCreated)
}

// lapiFilter is what a bouncer asks for.
type lapiFilter struct {
	scopes        []string // lower-case scope names; nil: any
	typ           string
	value         string
	origins       []string
	containing    []string // lower-case words the scenario must contain (one of)
	notContaining []string // lower-case words it must not contain (none of)
	ipFirst       []byte   // nil: no ip/range filter
	ipLast        []byte
	contains      bool // the decision contains the ip/range (true), or is inside it
}

func splitList(v string) []string {
	var out []string
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// parseFilter reads the query parameters CrowdSec's LAPI knows. Unknown
// parameters are ignored, as CrowdSec does. The stream defaults to the
// "ip,range" scopes, as CrowdSec does.
func parseFilter(q url.Values, stream bool) (lapiFilter, error) {
	f := lapiFilter{contains: true}
	scopes, ok := q["scopes"]
	if !ok {
		scopes, ok = q["scope"]
	}
	switch {
	case ok:
		for _, sc := range splitList(scopes[0]) {
			f.scopes = append(f.scopes, strings.ToLower(sc))
		}
	case stream:
		f.scopes = []string{ScopeIP, ScopeRange}
	}
	f.typ = q.Get("type")
	if v := strings.TrimSpace(q.Get("value")); v != "" {
		if a, err := netip.ParseAddr(v); err == nil {
			v = a.Unmap().String()
		} else if p, err := netip.ParsePrefix(v); err == nil {
			v = p.Masked().String()
		} else {
			v = strings.TrimSuffix(strings.ToLower(v), ".")
		}
		f.value = v
	}
	f.origins = splitList(q.Get("origins"))
	for _, w := range splitList(q.Get("scenarios_containing")) {
		f.containing = append(f.containing, strings.ToLower(w))
	}
	for _, w := range splitList(q.Get("scenarios_not_containing")) {
		f.notContaining = append(f.notContaining, strings.ToLower(w))
	}
	for _, name := range []string{"ip", "range"} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		p, ok := parseIPOrPrefix(strings.TrimSpace(v))
		if !ok {
			return f, fmt.Errorf("unable to parse %s %q: want an IP address or a CIDR range", name, v)
		}
		f.ipFirst, f.ipLast = p.Addr().AsSlice(), lastAddr(p).AsSlice()
	}
	if v := q.Get("contains"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return f, fmt.Errorf("invalid contains value %q: want true or false", v)
		}
		f.contains = b
	}
	return f, nil
}

func (f lapiFilter) match(d Decision) bool {
	if f.scopes != nil && !slices.Contains(f.scopes, d.Scope) {
		return false
	}
	if f.typ != "" && d.Type != f.typ {
		return false
	}
	if f.value != "" && d.Value != f.value {
		return false
	}
	if f.origins != nil && !slices.Contains(f.origins, d.Origin) {
		return false
	}
	scenario := strings.ToLower(scenarioPrefix + d.Reason)
	if f.containing != nil && !slices.ContainsFunc(f.containing, func(w string) bool { return strings.Contains(scenario, w) }) {
		return false
	}
	if slices.ContainsFunc(f.notContaining, func(w string) bool { return strings.Contains(scenario, w) }) {
		return false
	}
	if f.ipFirst != nil {
		first, last, ok := addrRange(d.Scope, d.Value)
		if !ok || len(first) != len(f.ipFirst) {
			return false
		}
		if f.contains {
			return bytes.Compare(first, f.ipFirst) <= 0 && bytes.Compare(last, f.ipLast) >= 0
		}
		return bytes.Compare(first, f.ipFirst) >= 0 && bytes.Compare(last, f.ipLast) <= 0
	}
	return true
}

// coverSQL returns a condition on the decisions table alias a: its target
// covers org, of sector sector ("" when unknown). An empty org is a
// national enforcement point: national decisions only.
func coverSQL(a string, org tenant.ID, sector tenant.Sector) (string, []any) {
	cond := a + ".t_national = 1"
	var args []any
	if org != "" {
		cond += " OR " + a + ".t_org = ?"
		args = append(args, string(org))
	}
	if sector != "" {
		cond += " OR " + a + ".t_sector = ?"
		args = append(args, string(sector))
	}
	return "(" + cond + ")", args
}

// serveDecisions answers GET /v1/decisions: the active decisions that
// cover the bouncer's organisation and match the filters, or null.
func (s *Service) serveDecisions(w http.ResponseWriter, r *http.Request, b bouncer) {
	f, err := parseFilter(r.URL.Query(), false)
	if err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	if r.Method == http.MethodHead {
		// CrowdSec's AppSec and some bouncers check their key this way.
		w.WriteHeader(http.StatusOK)
		return
	}
	ctx := r.Context()
	now := s.now()
	cover, args := coverSQL("d", b.org, s.sectorFor(b.org))
	query := `SELECT ` + cols + ` FROM decisions d WHERE d.dry_run = 0 AND d.deleted = 0 AND d.until > ? AND ` + cover
	args = append([]any{ms(now)}, args...)
	if f.ipFirst != nil {
		// The index narrows; match checks the address family and bounds.
		if f.contains {
			query += ` AND d.ip_first <= ? AND d.ip_last >= ?`
		} else {
			query += ` AND d.ip_first >= ? AND d.ip_last <= ?`
		}
		args = append(args, f.ipFirst, f.ipLast)
	}
	if f.value != "" {
		query += ` AND d.value = ?`
		args = append(args, f.value)
	}
	rows, err := queryRows(ctx, s.db, query+` ORDER BY d.id`, args...)
	if err != nil {
		s.log.Error("bouncer decisions query failed", "bouncer", b.name, "err", err)
		writeMessage(w, http.StatusInternalServerError, "internal error")
		return
	}
	var out []lapiDecision
	for _, row := range rows {
		if f.match(row.Decision) {
			out = append(out, toLAPI(row.Decision, now))
		}
	}
	s.noteLive(ctx, b, clientIP(r), r.UserAgent())
	writeJSON(w, http.StatusOK, out)
}

// noteLive records a live query as the bouncer's last pull, at most once a
// minute per bouncer (as CrowdSec does): live bouncers query on every
// request they filter.
func (s *Service) noteLive(ctx context.Context, b bouncer, ip, ua string) {
	now := s.now()
	s.seenMu.Lock()
	due := now.Sub(s.seen[b.id]) >= time.Minute
	if due {
		s.seen[b.id] = now
	}
	s.seenMu.Unlock()
	if !due {
		return
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE decision_bouncers SET last_pull = ?, last_ip = ?, last_ua = ? WHERE id = ?`, ms(now), ip, ua, b.id)
		return err
	})
	if err != nil {
		s.log.Warn("cannot record a bouncer's last pull", "bouncer", b.name, "err", err)
	}
}

// serveStream answers GET /v1/decisions/stream.
func (s *Service) serveStream(w http.ResponseWriter, r *http.Request, b bouncer) {
	if r.Method == http.MethodHead {
		// As CrowdSec: a key check that must not move the bouncer's cursor.
		w.WriteHeader(http.StatusOK)
		return
	}
	q := r.URL.Query()
	f, err := parseFilter(q, true)
	if err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	news, dels, now, err := s.pull(r.Context(), b, clientIP(r), r.UserAgent(), q.Get("startup") == "true", f)
	if errors.Is(err, errBadKey) {
		writeMessage(w, http.StatusForbidden, "access forbidden")
		return
	}
	if err != nil {
		s.log.Error("bouncer stream failed", "bouncer", b.name, "err", err)
		writeMessage(w, http.StatusInternalServerError, "internal error")
		return
	}
	var out lapiStream
	for _, d := range news {
		out.New = append(out.New, toLAPI(d, now))
	}
	for _, d := range dels {
		out.Deleted = append(out.Deleted, toLAPI(d, now))
	}
	writeJSON(w, http.StatusOK, out)
}

// pull computes what a bouncer must add and delete, and moves its cursor.
//
// Every change to a decision (created, extended, revoked, expired) is a
// numbered entry of the audit trail. A bouncer (one cursor per bouncer and
// client address, so that two machines sharing a key each get every
// change) remembers the last entry it was sent. A pull considers the
// (type, scope, value) keys that changed since then among the decisions
// covering the bouncer, and sends for each key its longest active decision
// as new, or, when none is active any more, one ended decision as deleted,
// unless the bouncer never had any (all created after its cursor). So a
// value stays blocked while any covering decision holds it.
//
// A startup pull, the first pull of a bouncer address, or a pull after the
// organisation changed sector sends every active decision instead.
func (s *Service) pull(ctx context.Context, b bouncer, ip, ua string, startup bool, f lapiFilter) (news, dels []Decision, now time.Time, err error) {
	err = s.write(ctx, func(tx *sql.Tx) error {
		now = s.now()
		res, err := tx.ExecContext(ctx, `UPDATE decision_bouncers SET last_pull = ?, last_ip = ?, last_ua = ? WHERE id = ?`, ms(now), ip, ua, b.id)
		if err != nil {
			return fmt.Errorf("decision: bouncer %q: %w", b.name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errBadKey // deleted meanwhile
		}
		if _, err := expire(ctx, tx, now); err != nil {
			return err
		}
		var head int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM decision_log`).Scan(&head); err != nil {
			return fmt.Errorf("decision: log head: %w", err)
		}
		var cursor int64
		var oldSector string
		known := true
		err = tx.QueryRowContext(ctx, `SELECT seq, sector FROM decision_cursors WHERE bouncer = ? AND ip = ?`, b.id, ip).Scan(&cursor, &oldSector)
		if errors.Is(err, sql.ErrNoRows) {
			known = false
		} else if err != nil {
			return fmt.Errorf("decision: bouncer %q cursor: %w", b.name, err)
		}
		sector := s.sectorFor(b.org)
		cover, cargs := coverSQL("d", b.org, sector)

		var changed []row
		if known {
			coverC, cargsC := coverSQL("c", b.org, sector)
			args := append(append(slices.Clone(cargs), cursor, head), cargsC...)
			changed, err = queryRows(ctx, tx, `SELECT `+cols+` FROM decisions d WHERE d.dry_run = 0 AND `+cover+`
				AND (d.value, d.type, d.scope) IN (
					SELECT c.value, c.type, c.scope FROM decision_log l JOIN decisions c ON c.id = l.decision
					WHERE l.seq > ? AND l.seq <= ? AND c.dry_run = 0 AND `+coverC+`)
				ORDER BY d.id`, args...)
			if err != nil {
				return err
			}
		}
		if startup || !known || oldSector != string(sector) {
			active, err := queryRows(ctx, tx, `SELECT `+cols+` FROM decisions d
				WHERE d.dry_run = 0 AND d.deleted = 0 AND d.until > ? AND `+cover+` ORDER BY d.id`,
				append([]any{ms(now)}, cargs...)...)
			if err != nil {
				return err
			}
			news, _ = settle(active, f, now, cursor)
			_, dels = settle(changed, f, now, cursor)
			if known && oldSector != "" && oldSector != string(sector) {
				// What the bouncer holds through its former sector.
				old, err := queryRows(ctx, tx, `SELECT `+cols+` FROM decisions d
					WHERE d.dry_run = 0 AND d.deleted = 0 AND d.until > ? AND d.t_sector = ? ORDER BY d.id`, ms(now), oldSector)
				if err != nil {
					return err
				}
				held := map[string]bool{}
				for _, d := range append(slices.Clone(news), dels...) {
					held[key(d)] = true
				}
				for _, r := range old {
					if k := key(r.Decision); f.match(r.Decision) && !held[k] {
						held[k] = true
						r.Deleted = now // ended for this bouncer
						dels = append(dels, r.Decision)
					}
				}
			}
		} else {
			news, dels = settle(changed, f, now, cursor)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO decision_cursors(bouncer, ip, seq, sector, pulled) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT(bouncer, ip) DO UPDATE SET seq = excluded.seq, sector = excluded.sector, pulled = excluded.pulled`,
			b.id, ip, head, string(sector), ms(now))
		if err != nil {
			return fmt.Errorf("decision: bouncer %q cursor: %w", b.name, err)
		}
		return nil
	})
	return news, dels, now, err
}

func key(d Decision) string { return d.Type + "\x00" + d.Scope + "\x00" + d.Value }

// settle groups rows by key and returns, for each key with a row matching
// f, its longest active decision (new), or else the last-ended decision the
// bouncer may hold: one created at or before cursor (deleted). Both lists
// are ordered by id.
func settle(rows []row, f lapiFilter, now time.Time, cursor int64) (news, dels []Decision) {
	type best struct {
		active, ended *row
	}
	byKey := map[string]*best{}
	var order []string
	for i := range rows {
		r := &rows[i]
		if !f.match(r.Decision) {
			continue
		}
		k := key(r.Decision)
		b := byKey[k]
		if b == nil {
			b = &best{}
			byKey[k] = b
			order = append(order, k)
		}
		if r.Active(now) {
			if b.active == nil || !r.Until.Before(b.active.Until) {
				b.active = r
			}
			continue
		}
		if r.createdSeq <= cursor && (b.ended == nil || !ended(r.Decision).Before(ended(b.ended.Decision))) {
			b.ended = r
		}
	}
	for _, k := range order {
		switch b := byKey[k]; {
		case b.active != nil:
			news = append(news, b.active.Decision)
		case b.ended != nil:
			dels = append(dels, b.ended.Decision)
		}
	}
	byID := func(a, b Decision) int { return cmp.Compare(a.ID, b.ID) }
	slices.SortFunc(news, byID)
	slices.SortFunc(dels, byID)
	return news, dels
}

// ended is when a decision stopped: revoked or expired.
func ended(d Decision) time.Time {
	if !d.Deleted.IsZero() && d.Deleted.Before(d.Until) {
		return d.Deleted
	}
	return d.Until
}
