package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/mamori-soc/mamori/internal/decision"
	"github.com/mamori-soc/mamori/internal/ioc"
	"github.com/mamori-soc/mamori/internal/store/replica"
)

// Record kinds of the state log besides the store's own (see package replica).
const (
	kindDecision   = "decision"
	kindIndicators = "indicators"
)

// shareDecisions makes decisions and bouncer keys shared state: a decision
// made on any node (by an analyst, a policy) is served by every node to
// its bouncers, and a bouncer key works on every node.
func (s *Server) shareDecisions(r *replica.Store) {
	r.Handle(kindDecision, func(ctx context.Context, data json.RawMessage) (any, error) {
		var c decision.Change
		if err := json.Unmarshal(data, &c); err != nil {
			return nil, fmt.Errorf("decision change: %w", err)
		}
		return s.decisions.ApplyChange(ctx, c)
	})
	s.decisions.SetReplicate(func(ctx context.Context, c decision.Change) (any, error) {
		if c.Key != "" {
			return r.SubmitKeyed(ctx, kindDecision, c.Key, c)
		}
		return r.Submit(ctx, kindDecision, c)
	})
}

// indicatorChange is a change to the indicators every node matches.
type indicatorChange struct {
	Put     []ioc.Indicator `json:"put,omitempty"`
	Delete  []string        `json:"delete,omitempty"`
	Compile bool            `json:"compile,omitempty"` // the last record of a change: recompile the live set
}

type indicatorOutcome struct{ added, updated, deleted int }

// maxIndicatorsPerRecord keeps records well under NATS's 1 MiB payload.
const maxIndicatorsPerRecord = 1000

// shareIndicators makes the indicators imported through the API, pushed
// over TAXII or polled from partners shared state: every node's detection
// matches them. (Feeds are pulled by every node from their configuration.)
func (s *Server) shareIndicators(r *replica.Store) {
	h := s.intel
	r.Handle(kindIndicators, func(ctx context.Context, data json.RawMessage) (any, error) {
		var c indicatorChange
		if err := json.Unmarshal(data, &c); err != nil {
			return nil, fmt.Errorf("indicator change: %w", err)
		}
		var out indicatorOutcome
		var err error
		if len(c.Put) > 0 {
			if out.added, out.updated, err = h.store.Put(ctx, c.Put); err != nil {
				return nil, err
			}
		}
		if len(c.Delete) > 0 {
			if out.deleted, err = h.store.Delete(ctx, c.Delete); err != nil {
				return nil, err
			}
		}
		if c.Compile {
			if err := h.compile(ctx); err != nil {
				return out, err
			}
		}
		return out, nil
	})
	h.shared = r
}

// submitIndicators logs a change in records of at most
// maxIndicatorsPerRecord indicators, keyed by their content so that nodes
// polling the same partner log it once, and sums the outcomes here.
func (h *intelHub) submitIndicators(ctx context.Context, put []ioc.Indicator, del []string) (out indicatorOutcome, err error) {
	var parts []indicatorChange
	for len(put) > maxIndicatorsPerRecord {
		parts = append(parts, indicatorChange{Put: put[:maxIndicatorsPerRecord]})
		put = put[maxIndicatorsPerRecord:]
	}
	parts = append(parts, indicatorChange{Put: put, Delete: del, Compile: true})
	for _, p := range parts {
		b, err := json.Marshal(p)
		if err != nil {
			return out, err
		}
		sum := sha256.Sum256(b)
		v, err := h.shared.SubmitKeyed(ctx, kindIndicators, hex.EncodeToString(sum[:16]), p)
		if err != nil {
			return out, err
		}
		if o, ok := v.(indicatorOutcome); ok {
			out.added, out.updated, out.deleted = out.added+o.added, out.updated+o.updated, out.deleted+o.deleted
		}
	}
	return out, nil
}
