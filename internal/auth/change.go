package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/mamori-soc/mamori/internal/tenant"
)

// Operations of a Change.
const (
	OpUserAdd      = "user_add"      // a user: Name, Hash (bcrypt), Role, Tenant, At (created)
	OpUserPassword = "user_password" // a user's new password: Name, Hash (bcrypt); ends the user's sessions
	OpUserDelete   = "user_delete"   // Name; ends the user's sessions
	OpTokenPut     = "token_put"     // a token or session: ID, Hash (SHA-256), Name, Role, Tenant, Kind, At (created), Expires
	OpTokenRevoke  = "token_revoke"  // ID of a token or session
)

// Kinds of token.
const (
	KindToken   = "token"   // a long-lived API or ingest token
	KindSession = "session" // a console login session
)

// Change is one write to users, tokens or sessions, described so that
// every node of a cluster can apply it to its own tables (Apply) and get
// the same rows. It carries hashes, never secrets: a password travels as
// its bcrypt hash and a token as the SHA-256 of its secret, which only the
// node that made the token ever sees.
type Change struct {
	Op string `json:"op"`
	// At is when the write was made, on the node that made it: the
	// creation time of a user, token or session.
	At     time.Time `json:"at"`
	Name   string    `json:"name,omitempty"` // user name, or the name of a token
	ID     string    `json:"id,omitempty"`   // token or session id
	Hash   []byte    `json:"hash,omitempty"` // bcrypt of a password, SHA-256 of a token secret
	Role   Role      `json:"role,omitempty"`
	Tenant tenant.ID `json:"org_id,omitempty"`
	Kind   string    `json:"kind,omitempty"` // KindToken or KindSession
	// Expires ends a session; zero for a token.
	Expires time.Time `json:"expires,omitzero"`
}

// errGone refuses a user or token that was deleted, revoked or given a new
// password since (a node announcing a copy made before that).
var errGone = errors.New("deleted, revoked or replaced since")

// check validates c on its own, the same way on every node.
func (c *Change) check() error {
	switch c.Op {
	case OpUserAdd:
		if c.Name == "" || len(c.Name) > 128 {
			return errors.New("auth: user name must be 1-128 characters")
		}
		if _, err := bcrypt.Cost(c.Hash); err != nil {
			return fmt.Errorf("auth: user %s: password hash: %w", c.Name, err)
		}
		if _, err := ParseRole(string(c.Role)); err != nil {
			return fmt.Errorf("auth: user %s: %w", c.Name, err)
		}
		if err := checkBinding(c.Role, c.Tenant); err != nil {
			return fmt.Errorf("auth: user %s: %w", c.Name, err)
		}
		if c.At.IsZero() {
			return fmt.Errorf("auth: user %s: no creation time", c.Name)
		}
	case OpUserPassword:
		if c.Name == "" {
			return errors.New("auth: password change without a user name")
		}
		if _, err := bcrypt.Cost(c.Hash); err != nil {
			return fmt.Errorf("auth: user %s: password hash: %w", c.Name, err)
		}
	case OpUserDelete:
		if c.Name == "" {
			return errors.New("auth: user deletion without a user name")
		}
	case OpTokenPut:
		if !validID(c.ID) {
			return fmt.Errorf("auth: invalid token id %q", c.ID)
		}
		if len(c.Hash) != sha256.Size {
			return fmt.Errorf("auth: token %s: hash of %d bytes, want %d", c.ID, len(c.Hash), sha256.Size)
		}
		if _, err := ParseRole(string(c.Role)); err != nil {
			return fmt.Errorf("auth: token %s: %w", c.ID, err)
		}
		if err := checkBinding(c.Role, c.Tenant); err != nil {
			return fmt.Errorf("auth: token %s: %w", c.ID, err)
		}
		switch {
		case c.Kind != KindToken && c.Kind != KindSession:
			return fmt.Errorf("auth: token %s: unknown kind %q", c.ID, c.Kind)
		case c.Kind == KindSession && c.Expires.IsZero():
			return fmt.Errorf("auth: session %s: no expiry", c.ID)
		case c.At.IsZero():
			return fmt.Errorf("auth: token %s: no creation time", c.ID)
		}
	case OpTokenRevoke:
		if c.ID == "" {
			return errors.New("auth: revocation without a token id")
		}
	default:
		return fmt.Errorf("auth: unknown change %q", c.Op)
	}
	return nil
}

// validID reports whether id is a token id as issue makes them: 16
// characters of lower-case base32.
func validID(id string) bool {
	if len(id) != 16 {
		return false
	}
	for _, r := range id {
		if (r < 'a' || r > 'z') && (r < '2' || r > '7') {
			return false
		}
	}
	return true
}

// Apply performs one change on this node's tables. The outcome depends only
// on c and on the changes applied before it, so nodes that apply the same
// changes in the same order hold the same rows; times come from c, never
// from the clock. Applying a change again is harmless: a user or token
// already stored as c describes it is left as it is (so that nodes may
// announce what they hold, again and again), a different one of the same
// name or id is refused with ErrExists, and a user or token deleted,
// revoked or given a new password since is refused (an announcement made
// before that cannot bring it back). Deleting, revoking and changing a
// password empty the cache of verified tokens, so that Authenticate
// refuses at once what no longer holds.
func (s *Service) Apply(ctx context.Context, c Change) error {
	if err := c.check(); err != nil {
		return err
	}
	var err error
	switch c.Op {
	case OpUserAdd:
		err = s.tx(ctx, func(tx *sql.Tx) error { return putUser(ctx, tx, &c) })
	case OpUserPassword:
		err = s.tx(ctx, func(tx *sql.Tx) error { return setPassword(ctx, tx, &c) })
		s.flush()
	case OpUserDelete:
		err = s.tx(ctx, func(tx *sql.Tx) error { return deleteUser(ctx, tx, &c) })
		s.flush()
	case OpTokenPut:
		err = s.tx(ctx, func(tx *sql.Tx) error { return putToken(ctx, tx, &c) })
	case OpTokenRevoke:
		err = s.tx(ctx, func(tx *sql.Tx) error { return revoke(ctx, tx, &c) })
		s.flush()
	}
	return err
}

func (s *Service) tx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Keys of auth_gone: what was deleted, revoked or replaced.
func goneUser(name string, hash []byte) string {
	h := sha256.Sum256(hash)
	return "user:" + hex.EncodeToString(h[:16]) + ":" + name
}

func goneToken(id string) string { return "token:" + id }

func isGone(ctx context.Context, tx *sql.Tx, key string) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM auth_gone WHERE key = ?`, key).Scan(&n)
	return n > 0, err
}

func bury(ctx context.Context, tx *sql.Tx, key string, until int64) error {
	_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO auth_gone(key, until) VALUES (?, ?)`, key, until)
	return err
}

func putUser(ctx context.Context, tx *sql.Tx, c *Change) error {
	if gone, err := isGone(ctx, tx, goneUser(c.Name, c.Hash)); err != nil || gone {
		if err == nil {
			err = fmt.Errorf("auth: user %s: %w", c.Name, errGone)
		}
		return err
	}
	var hash []byte
	var role, tid string
	var created int64
	err := tx.QueryRowContext(ctx, `SELECT password, role, tenant, created FROM auth_users WHERE name = ?`, c.Name).Scan(&hash, &role, &tid, &created)
	switch {
	case err == nil:
		if bytes.Equal(hash, c.Hash) && role == string(c.Role) && tid == string(c.Tenant) && created == c.At.Unix() {
			return nil
		}
		return fmt.Errorf("auth: user %s: %w", c.Name, ErrExists)
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO auth_users(name, password, role, tenant, created) VALUES (?, ?, ?, ?, ?)`,
		c.Name, c.Hash, string(c.Role), string(c.Tenant), c.At.Unix())
	return err
}

func setPassword(ctx context.Context, tx *sql.Tx, c *Change) error {
	var old []byte
	err := tx.QueryRowContext(ctx, `SELECT password FROM auth_users WHERE name = ?`, c.Name).Scan(&old)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("auth: no user %q", c.Name)
	}
	if err != nil {
		return err
	}
	if bytes.Equal(old, c.Hash) {
		return nil // applied before
	}
	if gone, err := isGone(ctx, tx, goneUser(c.Name, c.Hash)); err != nil || gone {
		if err == nil {
			err = fmt.Errorf("auth: user %s: password %w", c.Name, errGone)
		}
		return err
	}
	if err := bury(ctx, tx, goneUser(c.Name, old), 0); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE auth_users SET password = ? WHERE name = ?`, c.Hash, c.Name); err != nil {
		return err
	}
	return endSessions(ctx, tx, c.Name)
}

func deleteUser(ctx context.Context, tx *sql.Tx, c *Change) error {
	var hash []byte
	err := tx.QueryRowContext(ctx, `SELECT password FROM auth_users WHERE name = ?`, c.Name).Scan(&hash)
	switch {
	case err == nil:
		if err := bury(ctx, tx, goneUser(c.Name, hash), 0); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM auth_users WHERE name = ?`, c.Name); err != nil {
			return err
		}
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	return endSessions(ctx, tx, c.Name)
}

// endSessions revokes a user's sessions.
func endSessions(ctx context.Context, tx *sql.Tx, name string) error {
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO auth_gone(key, until)
		SELECT 'token:' || id, expires FROM auth_tokens WHERE kind = 'session' AND name = ?`, name); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM auth_tokens WHERE kind = 'session' AND name = ?`, name)
	return err
}

func putToken(ctx context.Context, tx *sql.Tx, c *Change) error {
	if gone, err := isGone(ctx, tx, goneToken(c.ID)); err != nil || gone {
		if err == nil {
			err = fmt.Errorf("auth: token %s: %w", c.ID, errGone)
		}
		return err
	}
	exp := int64(0)
	if !c.Expires.IsZero() {
		exp = c.Expires.Unix()
	}
	var hash []byte
	var name, role, tid, kind string
	var created, expires int64
	err := tx.QueryRowContext(ctx, `SELECT hash, name, role, tenant, kind, created, expires FROM auth_tokens WHERE id = ?`, c.ID).
		Scan(&hash, &name, &role, &tid, &kind, &created, &expires)
	switch {
	case err == nil:
		if bytes.Equal(hash, c.Hash) && name == c.Name && role == string(c.Role) && tid == string(c.Tenant) &&
			kind == c.Kind && created == c.At.Unix() && expires == exp {
			return nil
		}
		return fmt.Errorf("auth: token %s: %w", c.ID, ErrExists)
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO auth_tokens(id, hash, name, role, tenant, kind, created, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Hash, c.Name, string(c.Role), string(c.Tenant), c.Kind, c.At.Unix(), exp); err != nil {
		return err
	}
	if c.Kind != KindSession {
		return nil
	}
	// A login is when expired sessions, and the marks of revoked ones, are
	// forgotten (measured at the login's own time, so on every node alike).
	if _, err := tx.ExecContext(ctx, `DELETE FROM auth_tokens WHERE kind = 'session' AND expires > 0 AND expires < ?`, c.At.Unix()); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM auth_gone WHERE until > 0 AND until < ?`, c.At.Unix())
	return err
}

func revoke(ctx context.Context, tx *sql.Tx, c *Change) error {
	var kind string
	var expires int64
	err := tx.QueryRowContext(ctx, `SELECT kind, expires FROM auth_tokens WHERE id = ?`, c.ID).Scan(&kind, &expires)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	// A revoked session's mark lasts as long as the session would have; a
	// token's (or an unknown id's) for ever.
	until := int64(0)
	if kind == KindSession {
		until = expires
	}
	if err := bury(ctx, tx, goneToken(c.ID), until); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM auth_tokens WHERE id = ?`, c.ID)
	return err
}

// Export lists this node's users, API and ingest tokens, and live
// sessions, as the changes that create them. A node announces them when it
// joins the cluster's log, so that what the command line wrote to its data
// directory reaches every node; the log refuses any of them deleted,
// revoked or replaced since (see Apply).
func (s *Service) Export(ctx context.Context) ([]Change, error) {
	var out []Change
	rows, err := s.db.QueryContext(ctx, `SELECT name, password, role, tenant, created FROM auth_users ORDER BY name`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		c := Change{Op: OpUserAdd}
		var role, tid string
		var created int64
		if err := rows.Scan(&c.Name, &c.Hash, &role, &tid, &created); err != nil {
			rows.Close()
			return nil, err
		}
		c.Role, c.Tenant, c.At = Role(role), tenant.ID(tid), time.Unix(created, 0).UTC()
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = s.db.QueryContext(ctx, `SELECT id, hash, name, role, tenant, kind, created, expires FROM auth_tokens
		WHERE expires = 0 OR expires > ? ORDER BY created, id`, time.Now().Unix())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		c := Change{Op: OpTokenPut}
		var role, tid string
		var created, expires int64
		if err := rows.Scan(&c.ID, &c.Hash, &c.Name, &role, &tid, &c.Kind, &created, &expires); err != nil {
			return nil, err
		}
		c.Role, c.Tenant, c.At = Role(role), tenant.ID(tid), time.Unix(created, 0).UTC()
		if expires > 0 {
			c.Expires = time.Unix(expires, 0).UTC()
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Join makes every later write go through Replicate and returns Export's
// changes, for the node to announce. Until Join, a service with Replicate
// set writes new users, tokens and sessions to this node only (its log is
// not applied yet, so Replicate could not return), and Join's list
// includes them; deletions, revocations and password changes always go
// through Replicate.
func (s *Service) Join(ctx context.Context) ([]Change, error) {
	s.joinMu.Lock()
	s.joined = true
	s.joinMu.Unlock()
	return s.Export(ctx)
}

// write performs c: through Replicate when set (see Join), else here.
func (s *Service) write(ctx context.Context, c Change) error {
	if s.Replicate == nil {
		return s.Apply(ctx, c)
	}
	if c.Op == OpUserAdd || c.Op == OpTokenPut {
		s.joinMu.RLock()
		if !s.joined {
			defer s.joinMu.RUnlock()
			return s.Apply(ctx, c)
		}
		s.joinMu.RUnlock()
	}
	return s.Replicate(ctx, c)
}

// stamp is a write's time, in the seconds the tables keep.
func stamp() time.Time { return time.Now().UTC().Truncate(time.Second) }

// hasUser reports whether this node knows user name.
func (s *Service) hasUser(ctx context.Context, name string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM auth_users WHERE name = ?`, name).Scan(&n)
	return n > 0, err
}
