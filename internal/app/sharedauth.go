package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/mamori-soc/mamori/internal/auth"
	"github.com/mamori-soc/mamori/internal/store/replica"
)

// Users, tokens and sessions are shared state too: every write of
// s.auth becomes an auth.Change in the state log, and every node applies
// it (auth.Service.Apply), so an analyst or token made on one node works
// on every node, a session opened on one is valid on the others, and a
// revocation or deletion ends it on all. Changes carry bcrypt and SHA-256
// hashes, never a password or token secret. What the command line wrote
// to a node's data directory is announced when the node has caught up
// with the log (announceAuth).

// kindAuth is the state log's record kind of auth.Change.
const kindAuth = "auth"

// shareAuth makes s.auth's writes go through the state log r; call it
// before r runs.
func (s *Server) shareAuth(r *replica.Store) {
	r.Handle(kindAuth, func(ctx context.Context, data json.RawMessage) (any, error) {
		var c auth.Change
		if err := json.Unmarshal(data, &c); err != nil {
			return nil, fmt.Errorf("auth: undecodable change: %w", err)
		}
		err := s.auth.Apply(ctx, c)
		if err != nil && ctx.Err() == nil {
			// Refusals are the same on every node; announcements of what a
			// node already has are not refused.
			s.log.Info("auth: change refused", "op", c.Op, "name", c.Name, "id", c.ID, "err", err)
		}
		return nil, err
	})
	s.auth.Replicate = func(ctx context.Context, c auth.Change) error {
		_, err := r.Submit(ctx, kindAuth, c)
		return err
	}
}

// announceAuth logs the users, tokens and live sessions this node holds,
// those the command line created (or that were made before the node
// joined) among them; from now on every write of s.auth goes through the
// log. A record's id is a hash of its change, so announcing unchanged
// state again within the log's duplicate window adds nothing, and applying
// it again changes nothing.
func (s *Server) announceAuth(ctx context.Context) error {
	cs, err := s.auth.Join(ctx)
	if err != nil {
		return fmt.Errorf("auth: export: %w", err)
	}
	for _, c := range cs {
		data, err := json.Marshal(c)
		if err != nil {
			return err
		}
		h := sha256.Sum256(data)
		if err := s.replica.Publish(ctx, kindAuth, "auth:"+hex.EncodeToString(h[:16]), c); err != nil {
			return fmt.Errorf("auth: announce %s %s%s: %w", c.Op, c.Name, c.ID, err)
		}
	}
	return nil
}
