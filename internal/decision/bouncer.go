package decision

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/mamori-soc/mamori/internal/tenant"
)

// Bouncer is an enforcement point allowed to pull decisions: a CrowdSec
// bouncer configured with a key from CreateBouncer.
type Bouncer struct {
	Name string `json:"name"`
	// Org is the organisation whose decisions the bouncer enforces; empty
	// for a national enforcement point, which receives national decisions
	// only.
	Org     tenant.ID `json:"org,omitempty"`
	Created time.Time `json:"created"`
	// LastPull, LastIP and LastUserAgent describe the bouncer's last
	// request (zero before the first).
	LastPull      time.Time `json:"last_pull,omitzero"`
	LastIP        string    `json:"last_ip,omitempty"`
	LastUserAgent string    `json:"last_user_agent,omitempty"`
}

// bouncer is an authenticated bouncer.
type bouncer struct {
	id   string
	name string
	org  tenant.ID
}

var keyEnc = base32.StdEncoding.WithPadding(base32.NoPadding)

// keyPrefix starts every bouncer key, so that a key pasted in the wrong
// place is recognisable.
const keyPrefix = "mmb_"

// CreateBouncer registers a bouncer for org ("" for a national one) and
// returns its API key, to put in the bouncer's configuration (api_key). The
// key is shown once: only its SHA-256 is stored.
func (s *Service) CreateBouncer(ctx context.Context, name string, org tenant.ID) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 128 || strings.ContainsFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return "", invalid("decision: bouncer name must be 1-128 printable characters")
	}
	if org != "" && !tenant.ValidID(string(org)) {
		return "", invalid("decision: bouncer %q: organisation %q is not a valid organisation id", name, org)
	}
	var idb [10]byte
	var secret [32]byte
	_, _ = rand.Read(idb[:]) // crypto/rand.Read never fails
	_, _ = rand.Read(secret[:])
	id := strings.ToLower(keyEnc.EncodeToString(idb[:]))
	sec := strings.ToLower(keyEnc.EncodeToString(secret[:]))
	hash := sha256.Sum256([]byte(sec))
	b := BouncerKey{ID: id, Name: name, Org: org, Hash: hash[:], Created: s.now()}
	var err error
	if fn := s.replicator(); fn != nil {
		_, err = fn(ctx, Change{Op: ChangeBouncerAdd, At: b.Created, Bouncer: &b})
	} else {
		err = s.addBouncer(ctx, b)
	}
	if err != nil {
		return "", err
	}
	return keyPrefix + id + "_" + sec, nil
}

func (s *Service) addBouncer(ctx context.Context, b BouncerKey) error {
	if len(b.Hash) != sha256.Size || b.ID == "" || b.Name == "" {
		return invalid("decision: bouncer %q: incomplete registration", b.Name)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO decision_bouncers(id, name, org, hash, created) VALUES (?, ?, ?, ?, ?)`,
			b.ID, b.Name, string(b.Org), b.Hash, ms(b.Created))
		if err != nil && strings.Contains(err.Error(), "UNIQUE") {
			return fmt.Errorf("decision: bouncer %q: %w", b.Name, ErrExists)
		}
		return err
	})
}

// DeleteBouncer removes a bouncer: its key stops working at once.
func (s *Service) DeleteBouncer(ctx context.Context, name string) error {
	if fn := s.replicator(); fn != nil {
		_, err := fn(ctx, Change{Op: ChangeBouncerDelete, At: s.now(), Name: name})
		return err
	}
	return s.deleteBouncer(ctx, name)
}

func (s *Service) deleteBouncer(ctx context.Context, name string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		var id string
		err := tx.QueryRowContext(ctx, `SELECT id FROM decision_bouncers WHERE name = ?`, name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("decision: bouncer %q: %w", name, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("decision: bouncer %q: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM decision_cursors WHERE bouncer = ?`, id); err != nil {
			return fmt.Errorf("decision: bouncer %q: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM decision_bouncers WHERE id = ?`, id); err != nil {
			return fmt.Errorf("decision: bouncer %q: %w", name, err)
		}
		return nil
	})
}

// Bouncers lists the bouncers by name.
func (s *Service) Bouncers(ctx context.Context) ([]Bouncer, error) {
	rs, err := s.db.QueryContext(ctx, `SELECT name, org, created, last_pull, last_ip, last_ua FROM decision_bouncers ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("decision: bouncers: %w", err)
	}
	defer rs.Close()
	var out []Bouncer
	for rs.Next() {
		var b Bouncer
		var org string
		var created, pulled int64
		if err := rs.Scan(&b.Name, &org, &created, &pulled, &b.LastIP, &b.LastUserAgent); err != nil {
			return nil, fmt.Errorf("decision: bouncers: %w", err)
		}
		b.Org, b.Created, b.LastPull = tenant.ID(org), fromMS(created), fromMS(pulled)
		out = append(out, b)
	}
	return out, rs.Err()
}

// errBadKey is returned for a key that matches no bouncer.
var errBadKey = errors.New("invalid api key")

// authenticate finds the bouncer of an API key. The secret's hash is
// compared in constant time.
func (s *Service) authenticate(ctx context.Context, key string) (bouncer, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(key), keyPrefix)
	if !ok {
		return bouncer{}, errBadKey
	}
	id, sec, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 16 || sec == "" {
		return bouncer{}, errBadKey
	}
	got := sha256.Sum256([]byte(sec))
	var b bouncer
	var org string
	var hash []byte
	err := s.db.QueryRowContext(ctx, `SELECT id, name, org, hash FROM decision_bouncers WHERE id = ?`, id).Scan(&b.id, &b.name, &org, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return bouncer{}, errBadKey
	}
	if err != nil {
		return bouncer{}, fmt.Errorf("decision: authenticate bouncer: %w", err)
	}
	if subtle.ConstantTimeCompare(hash, got[:]) != 1 {
		return bouncer{}, errBadKey
	}
	b.org = tenant.ID(org)
	return b, nil
}
