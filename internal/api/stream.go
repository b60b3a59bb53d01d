package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/auth"
	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// streamBatch bounds the alerts read from the subscription before one write.
const streamBatch = 256

// stream serves GET /api/v1/stream: Server-Sent Events, one
// "event: alert" per alert of the caller's scope created or updated, and a
// ": ping" comment every 15 s. It ends when the client goes away, when the
// subscription is closed, when the server shuts down (Options.Done), or
// when the caller's credentials stop being valid (checked at every ping).
func (a *API) stream(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if a.o.Subscribe == nil {
		writeError(w, ErrUnavailable, "the live stream is not enabled on this server")
		return
	}
	ctx := r.Context()
	scope, tok := p.Scope(), bearer(r)
	ch := a.o.Subscribe(ctx)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // no proxy buffering
	w.WriteHeader(http.StatusOK)
	send := func(b []byte) error {
		// A client that stops reading must not hold the handler for ever.
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if send([]byte("retry: 5000\n: connected\n\n")) != nil {
		return
	}
	ping := time.NewTicker(a.ping)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.o.Done: // nil: never
			return
		case <-ping.C:
			if _, err := a.o.Auth.Authenticate(ctx, tok); err != nil {
				return // revoked or expired: no more data on this session
			}
			if send([]byte(": ping\n\n")) != nil {
				return
			}
		case al, ok := <-ch:
			if !ok {
				return
			}
			batch := []alert.Alert{al}
			open := true
		drain:
			for len(batch) < streamBatch {
				select {
				case al, ok := <-ch:
					if !ok {
						open = false
						break drain
					}
					batch = append(batch, al)
				default:
					break drain
				}
			}
			if b := a.streamEvents(ctx, scope, batch); len(b) > 0 && send(b) != nil {
				return
			}
			if !open {
				return
			}
		}
	}
}

// streamEvents renders the alerts of batch that scope may see, each once in
// its latest state. The scope is checked on the published alert before
// anything is looked up; the stored alert, when found, supplies the triage
// state (assignee, resolution, status) the publisher may not know.
func (a *API) streamEvents(ctx context.Context, scope tenant.Scope, batch []alert.Alert) []byte {
	latest := map[string]alert.Alert{}
	var order []string
	for _, al := range batch {
		if !scope.Contains(al.Tenant) {
			continue
		}
		if _, seen := latest[al.ID]; !seen {
			order = append(order, al.ID)
		}
		latest[al.ID] = al
	}
	if len(order) == 0 {
		return nil
	}
	stored := map[string]store.Alert{}
	found, err := a.o.Query.AlertsByID(ctx, scope, order)
	if err != nil && ctx.Err() == nil {
		a.o.Log.Warn("stream: reading alerts", "err", err)
	}
	for _, s := range found {
		stored[s.ID] = s
	}
	names := a.orgNames(ctx, scope)
	var buf bytes.Buffer
	for _, id := range order {
		sa, ok := stored[id]
		if !ok || sa.Tenant != latest[id].Tenant {
			pub := latest[id]
			pub.Event = nil
			sa = store.Alert{Alert: pub, Updated: pub.FirstSeen}
		}
		b, err := json.Marshal(toAlertJSON(sa, names, false))
		if err != nil {
			continue
		}
		buf.WriteString("event: alert\ndata: ")
		buf.Write(b)
		buf.WriteString("\n\n")
	}
	return buf.Bytes()
}
