// Package auth owns who may do what: users with hashed passwords, API and
// ingest tokens (only their SHA-256 is stored, compared in constant time),
// login sessions, and the roles that turn a verified caller into a
// tenant.Scope. It keeps its tables in the database it is given.
//
// Every write is a Change, which Apply performs. On one node writes apply
// at once; in a cluster, Service.Replicate hands them to the shared state
// log instead and every node applies them in the log's order, so a user,
// token or session made on one node works on all, and a deletion or
// revocation ends it on all. Changes carry hashes only: a password or
// token secret never leaves the node it was given to or made on.
package auth

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
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/mamori-soc/mamori/internal/tenant"
)

// Role is what a caller is allowed to do.
type Role string

// Roles, from most to least powerful. National roles see every
// organisation; organisation roles see theirs only; an ingest token may only
// send events for its organisation.
const (
	NationalAdmin   Role = "national_admin"
	NationalAnalyst Role = "national_analyst"
	OrgAnalyst      Role = "org_analyst"
	OrgViewer       Role = "org_viewer"
	Ingest          Role = "ingest"
)

// Roles lists every role.
var Roles = []Role{NationalAdmin, NationalAnalyst, OrgAnalyst, OrgViewer, Ingest}

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (want national_admin, national_analyst, org_analyst, org_viewer or ingest)", s)
}

// National reports whether the role sees every organisation.
func (r Role) National() bool { return r == NationalAdmin || r == NationalAnalyst }

// Action is something a caller may be allowed to do.
type Action string

// Actions checked by the API.
const (
	ReadData    Action = "read"   // alerts, events, dashboards of the scope
	Triage      Action = "triage" // change alert status, assign, comment
	ManageRules Action = "rules"  // enable/disable rules for organisations in scope
	Admin       Action = "admin"  // organisations, users, tokens
	SendEvents  Action = "ingest" // send telemetry for one organisation
)

var permissions = map[Role][]Action{
	NationalAdmin:   {ReadData, Triage, ManageRules, Admin},
	NationalAnalyst: {ReadData, Triage, ManageRules},
	OrgAnalyst:      {ReadData, Triage},
	OrgViewer:       {ReadData},
	Ingest:          {SendEvents},
}

// Principal is a verified caller.
type Principal struct {
	Name   string
	Role   Role
	Tenant tenant.ID // for organisation roles and ingest tokens
	Token  string    // id of the token or session that authenticated it
	// Session is true when a login session (not a long-lived token) authenticated it.
	Session bool
}

// Can reports whether p may perform a.
func (p Principal) Can(a Action) bool {
	for _, x := range permissions[p.Role] {
		if x == a {
			return true
		}
	}
	return false
}

// Scope returns the organisations p may read. Ingest tokens read nothing.
func (p Principal) Scope() tenant.Scope {
	switch {
	case p.Role.National():
		return tenant.All()
	case (p.Role == OrgAnalyst || p.Role == OrgViewer) && p.Tenant != "":
		return tenant.Only(p.Tenant)
	}
	return tenant.Scope{}
}

// Errors callers distinguish.
var (
	ErrUnauthenticated = errors.New("invalid or expired credentials")
	ErrExists          = errors.New("already exists")
)

// Service stores users, tokens and sessions.
type Service struct {
	// Replicate, when set, takes every write as a Change and returns once
	// the change is applied on this node (it logs it, and every node applies
	// it with Apply); Apply's refusals are returned as its errors. Set it
	// before the service is used. Until Join, new users, tokens and sessions
	// are written to this node only (see Join). Nil: writes apply here.
	Replicate func(ctx context.Context, c Change) error

	db         *sql.DB
	sessionTTL time.Duration

	joinMu sync.RWMutex // held for reading by a write made here before Join
	joined bool         // under joinMu

	mu    sync.Mutex
	cache map[string]cached // token id → verified token, for hot ingest paths; under mu
	gen   uint64            // under mu; flush increments it, so a read racing a revocation is not cached
}

type cached struct {
	hash    [32]byte
	p       Principal
	expires time.Time // zero: never
	until   time.Time // cache entry validity
}

const schema = `
CREATE TABLE IF NOT EXISTS auth_users (
	name     TEXT PRIMARY KEY,
	password BLOB NOT NULL,
	role     TEXT NOT NULL,
	tenant   TEXT NOT NULL,
	created  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS auth_tokens (
	id       TEXT PRIMARY KEY,
	hash     BLOB NOT NULL,
	name     TEXT NOT NULL,
	role     TEXT NOT NULL,
	tenant   TEXT NOT NULL,
	kind     TEXT NOT NULL,
	created  INTEGER NOT NULL,
	expires  INTEGER NOT NULL
);
-- What was deleted, revoked or replaced ("token:<id>", "user:<hash of the
-- password hash>:<name>"), so that an older copy announced later is refused;
-- until: when the mark may be forgotten (a revoked session's expiry), 0 never.
CREATE TABLE IF NOT EXISTS auth_gone (
	key   TEXT PRIMARY KEY,
	until INTEGER NOT NULL
);
`

// Open creates the tables in db if needed. sessionTTL 0 means 12 hours.
func Open(ctx context.Context, db *sql.DB, sessionTTL time.Duration) (*Service, error) {
	if sessionTTL <= 0 {
		sessionTTL = 12 * time.Hour
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return nil, fmt.Errorf("auth: schema: %w", err)
	}
	return &Service{db: db, sessionTTL: sessionTTL, cache: map[string]cached{}}, nil
}

func checkBinding(role Role, tid tenant.ID) error {
	if role.National() {
		if tid != "" {
			return fmt.Errorf("role %s is national: it takes no organisation", role)
		}
		return nil
	}
	if tid == "" {
		return fmt.Errorf("role %s needs an organisation", role)
	}
	return nil
}

// AddUser creates a user. Passwords are stored as bcrypt hashes.
func (s *Service) AddUser(ctx context.Context, name, password string, role Role, tid tenant.ID) error {
	if name == "" || len(name) > 128 {
		return errors.New("auth: user name must be 1-128 characters")
	}
	if len(password) < 10 {
		return errors.New("auth: password must have at least 10 characters")
	}
	if err := checkBinding(role, tid); err != nil {
		return fmt.Errorf("auth: user %s: %w", name, err)
	}
	if ok, err := s.hasUser(ctx, name); err != nil || ok {
		if err == nil {
			err = fmt.Errorf("auth: user %s: %w", name, ErrExists)
		}
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("auth: hash password: %w", err)
	}
	return s.write(ctx, Change{Op: OpUserAdd, At: stamp(), Name: name, Hash: hash, Role: role, Tenant: tid})
}

// SetPassword replaces a user's password and ends the user's sessions.
func (s *Service) SetPassword(ctx context.Context, name, password string) error {
	if len(password) < 10 {
		return errors.New("auth: password must have at least 10 characters")
	}
	if ok, err := s.hasUser(ctx, name); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("auth: no user %q", name)
		}
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("auth: hash password: %w", err)
	}
	return s.write(ctx, Change{Op: OpUserPassword, At: stamp(), Name: name, Hash: hash})
}

// User is a user as listed (no secret).
type User struct {
	Name    string    `json:"name"`
	Role    Role      `json:"role"`
	Tenant  tenant.ID `json:"org_id,omitempty"`
	Created time.Time `json:"created"`
}

// Users lists users.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, role, tenant, created FROM auth_users ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var u User
		var role, tid string
		var created int64
		if err := rows.Scan(&u.Name, &role, &tid, &created); err != nil {
			return nil, err
		}
		u.Role, u.Tenant, u.Created = Role(role), tenant.ID(tid), time.Unix(created, 0).UTC()
		out = append(out, u)
	}
	return out, rows.Err()
}

// DeleteUser removes a user and their sessions.
func (s *Service) DeleteUser(ctx context.Context, name string) error {
	if name == "" {
		return nil // there is no such user
	}
	return s.write(ctx, Change{Op: OpUserDelete, At: stamp(), Name: name})
}

// dummyHash makes a login for an unknown user cost as much as a real one.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("mamori-timing-equaliser"), bcrypt.DefaultCost)

// Login checks a password and opens a session; it returns the session token.
func (s *Service) Login(ctx context.Context, name, password string) (string, Principal, error) {
	p, err := s.CheckPassword(ctx, name, password)
	if err != nil {
		return "", Principal{}, err
	}
	tok, id, err := s.issue(ctx, name, p.Role, p.Tenant, KindSession, stamp().Add(s.sessionTTL))
	if err != nil {
		return "", Principal{}, err
	}
	p.Token = id
	return tok, p, nil
}

// CheckPassword checks a user's password without opening a session (for
// protocols that send credentials with every request, such as TAXII's
// HTTP Basic authentication).
func (s *Service) CheckPassword(ctx context.Context, name, password string) (Principal, error) {
	var hash []byte
	var role, tid string
	err := s.db.QueryRowContext(ctx, `SELECT password, role, tenant FROM auth_users WHERE name = ?`, name).Scan(&hash, &role, &tid)
	if errors.Is(err, sql.ErrNoRows) {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		return Principal{}, ErrUnauthenticated
	}
	return Principal{Name: name, Role: Role(role), Tenant: tenant.ID(tid)}, nil
}

// Token is a token as listed (no secret).
type Token struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Role    Role      `json:"role"`
	Tenant  tenant.ID `json:"org_id,omitempty"`
	Created time.Time `json:"created"`
}

// CreateToken issues a long-lived API or ingest token and returns its secret
// text, which is shown once and never stored.
func (s *Service) CreateToken(ctx context.Context, name string, role Role, tid tenant.ID) (string, error) {
	if err := checkBinding(role, tid); err != nil {
		return "", fmt.Errorf("auth: token %s: %w", name, err)
	}
	tok, _, err := s.issue(ctx, name, role, tid, KindToken, time.Time{})
	return tok, err
}

// Tokens lists API and ingest tokens.
func (s *Service) Tokens(ctx context.Context) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, role, tenant, created FROM auth_tokens WHERE kind = 'token' ORDER BY created, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		var t Token
		var role, tid string
		var created int64
		if err := rows.Scan(&t.ID, &t.Name, &role, &tid, &created); err != nil {
			return nil, err
		}
		t.Role, t.Tenant, t.Created = Role(role), tenant.ID(tid), time.Unix(created, 0).UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}

// Revoke deletes a token or session by id.
func (s *Service) Revoke(ctx context.Context, id string) error {
	if id == "" {
		return nil // there is no such token
	}
	return s.write(ctx, Change{Op: OpTokenRevoke, At: stamp(), ID: id})
}

var enc = base32.StdEncoding.WithPadding(base32.NoPadding)

// issue creates a token "mmr_<id>_<secret>" and stores sha256(secret); the
// secret itself is returned and forgotten.
func (s *Service) issue(ctx context.Context, name string, role Role, tid tenant.ID, kind string, expires time.Time) (token, id string, err error) {
	var idb [10]byte
	var secret [32]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", "", err
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", "", err
	}
	id = strings.ToLower(enc.EncodeToString(idb[:]))
	sec := strings.ToLower(enc.EncodeToString(secret[:]))
	hash := sha256.Sum256([]byte(sec))
	c := Change{Op: OpTokenPut, At: stamp(), ID: id, Hash: hash[:], Name: name, Role: role, Tenant: tid, Kind: kind, Expires: expires}
	if err := s.write(ctx, c); err != nil {
		return "", "", fmt.Errorf("auth: store token: %w", err)
	}
	return "mmr_" + id + "_" + sec, id, nil
}

// Authenticate verifies a token or session secret.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(token), "mmr_")
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	id, sec, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 16 || len(sec) == 0 {
		return Principal{}, ErrUnauthenticated
	}
	got := sha256.Sum256([]byte(sec))
	now := time.Now()
	s.mu.Lock()
	c, hit := s.cache[id]
	gen := s.gen
	s.mu.Unlock()
	if !hit || now.After(c.until) {
		var hash []byte
		var name, role, tid string
		var exp int64
		var kind string
		err := s.db.QueryRowContext(ctx, `SELECT hash, name, role, tenant, expires, kind FROM auth_tokens WHERE id = ?`, id).Scan(&hash, &name, &role, &tid, &exp, &kind)
		if errors.Is(err, sql.ErrNoRows) {
			return Principal{}, ErrUnauthenticated
		}
		if err != nil {
			return Principal{}, err
		}
		c = cached{p: Principal{Name: name, Role: Role(role), Tenant: tenant.ID(tid), Token: id, Session: kind == KindSession}, until: now.Add(10 * time.Second)}
		copy(c.hash[:], hash)
		if exp > 0 {
			c.expires = time.Unix(exp, 0)
		}
		s.mu.Lock()
		if s.gen == gen { // else a revocation may have come between the read and now
			if len(s.cache) > 10000 {
				clear(s.cache)
			}
			s.cache[id] = c
		}
		s.mu.Unlock()
	}
	if subtle.ConstantTimeCompare(c.hash[:], got[:]) != 1 {
		return Principal{}, ErrUnauthenticated
	}
	if !c.expires.IsZero() && now.After(c.expires) {
		return Principal{}, ErrUnauthenticated
	}
	return c.p, nil
}

func (s *Service) flush() {
	s.mu.Lock()
	clear(s.cache)
	s.gen++
	s.mu.Unlock()
}
