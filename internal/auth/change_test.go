package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// fakeLog stands for the shared state log: Replicate appends a change, and
// every node applies it in order before Replicate returns (the writer's
// outcome is its own node's).
type fakeLog struct {
	mu      sync.Mutex
	nodes   []*Service
	changes []Change
}

func (l *fakeLog) join(t *testing.T, s *Service) {
	t.Helper()
	l.nodes = append(l.nodes, s)
	s.Replicate = func(ctx context.Context, c Change) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.changes = append(l.changes, c)
		var own error
		for _, n := range l.nodes {
			if err := n.Apply(ctx, c); n == s {
				own = err
			}
		}
		return own
	}
	if _, err := s.Join(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// dump renders a node's tables, for comparing nodes.
func dump(t *testing.T, s *Service) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT name, hex(password), role, tenant, created FROM auth_users ORDER BY name`,
		`SELECT id, hex(hash), name, role, tenant, kind, created, expires FROM auth_tokens ORDER BY id`,
		`SELECT key, until FROM auth_gone ORDER BY key`,
	} {
		rows, err := s.db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		rows.Close()
		b.WriteString("--\n")
	}
	return b.String()
}

// secretsAbsent fails if any secret occurs in data, as text or base64.
func secretsAbsent(t *testing.T, what string, data []byte, secrets ...string) {
	t.Helper()
	for _, sec := range secrets {
		for _, form := range []string{sec, base64.StdEncoding.EncodeToString([]byte(sec)), base64.RawURLEncoding.EncodeToString([]byte(sec))} {
			if strings.Contains(string(data), form) {
				t.Errorf("%s contains the secret %q", what, sec)
			}
		}
	}
}

// secretOf returns the secret part of a token text.
func secretOf(tok string) string { return tok[strings.LastIndexByte(tok, '_')+1:] }

// TestReplicatedWrites: two nodes sharing a log. What one writes works on
// the other, what one revokes or deletes stops at once on both, and both
// end with the same rows; no change carries a password or a token secret.
func TestReplicatedWrites(t *testing.T) {
	ctx := context.Background()
	a, b := open(t), open(t)
	var log fakeLog
	log.join(t, a)
	log.join(t, b)
	const pw, pw2 = "correct horse battery", "staple and a second one"

	if err := a.AddUser(ctx, "ana", pw, NationalAnalyst, ""); err != nil {
		t.Fatal(err)
	}
	if err := b.AddUser(ctx, "ana", "another long password", OrgViewer, "org-a"); !errors.Is(err, ErrExists) {
		t.Errorf("AddUser of an existing user on the other node = %v, want ErrExists", err)
	}
	sess, p, err := a.Login(ctx, "ana", pw)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Authenticate(ctx, sess); err != nil || got.Name != "ana" || !got.Session {
		t.Errorf("B.Authenticate(A's session) = %+v, %v", got, err)
	}
	if _, _, err := b.Login(ctx, "ana", pw); err != nil {
		t.Errorf("B.Login(user added on A) = %v", err)
	}
	tok, err := a.CreateToken(ctx, "shippers", Ingest, "org-a")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Authenticate(ctx, tok); err != nil || got.Role != Ingest || got.Tenant != "org-a" {
		t.Errorf("B.Authenticate(A's token) = %+v, %v", got, err)
	}

	// Revoked on B: refused on A at once, though A has the token cached.
	if _, err := a.Authenticate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := b.Revoke(ctx, strings.Split(tok, "_")[1]); err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]*Service{"A": a, "B": b} {
		if _, err := n.Authenticate(ctx, tok); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s.Authenticate(revoked token) = %v", name, err)
		}
	}
	// A new password on B ends A's session and the old password on A.
	if _, err := a.Authenticate(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := b.SetPassword(ctx, "ana", pw2); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, sess); err == nil {
		t.Error("A: a session survived a password change on B")
	}
	if _, _, err := a.Login(ctx, "ana", pw); err == nil {
		t.Error("A: the old password still works")
	}
	sess2, _, err := a.Login(ctx, "ana", pw2)
	if err != nil {
		t.Fatalf("A: new password refused: %v", err)
	}
	// Deleted on A: no login, no session on B.
	if err := a.DeleteUser(ctx, "ana"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Login(ctx, "ana", pw2); err == nil {
		t.Error("B: a deleted user logs in")
	}
	if _, err := b.Authenticate(ctx, sess2); err == nil {
		t.Error("B: a deleted user's session works")
	}
	if err := b.SetPassword(ctx, "ana", pw2); err == nil {
		t.Error("SetPassword of a deleted user succeeded")
	}

	if da, db := dump(t, a), dump(t, b); da != db {
		t.Errorf("the nodes differ:\nA:\n%s\nB:\n%s", da, db)
	}
	data, err := json.Marshal(log.changes)
	if err != nil {
		t.Fatal(err)
	}
	secretsAbsent(t, "the logged changes", data, pw, pw2, secretOf(tok), secretOf(sess), secretOf(sess2), tok, sess)
	if p.Token == "" || !strings.Contains(string(data), p.Token) {
		t.Errorf("the session id %q is not in the log: the test logs nothing?", p.Token)
	}
	// Refusals found on the writing node (an existing user, an unknown
	// one, a wrong password) log nothing.
	if len(log.changes) != 8 {
		t.Errorf("%d changes logged, want 8 (user, 2 sessions, token, revocation, password, session, deletion): %s", len(log.changes), data)
	}
}

func TestApply(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	hash := func(pw string) []byte {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h1, h2 := hash("first password"), hash("second password")
	tokHash := sha256.Sum256([]byte("secret"))
	user := Change{Op: OpUserAdd, At: at, Name: "ana", Hash: h1, Role: OrgAnalyst, Tenant: "org-a"}
	tok := Change{Op: OpTokenPut, At: at, ID: "abcdefghijklmnop", Hash: tokHash[:], Name: "api", Role: NationalAnalyst, Kind: KindToken}
	sess := Change{Op: OpTokenPut, At: at, ID: "qrstuvwxyz234567", Hash: tokHash[:], Name: "ana", Role: OrgAnalyst, Tenant: "org-a", Kind: KindSession, Expires: at.Add(time.Hour)}
	with := func(c Change, f func(*Change)) Change { f(&c); return c }

	// Each case applies its changes in order to a fresh service; want is
	// the outcome of each ("" for success).
	tests := []struct {
		name    string
		changes []Change
		want    []string
	}{
		{"user, again identical", []Change{user, user}, []string{"", ""}},
		{"user, other of the same name", []Change{user, with(user, func(c *Change) { c.Hash = h2 })}, []string{"", "already exists"}},
		{"user, other role", []Change{user, with(user, func(c *Change) { c.Role, c.Tenant = NationalAdmin, "" })}, []string{"", "already exists"}},
		{"user deleted, announced again", []Change{user, {Op: OpUserDelete, Name: "ana"}, user}, []string{"", "", "deleted, revoked or replaced"}},
		{"user re-created after deletion", []Change{user, {Op: OpUserDelete, Name: "ana"}, with(user, func(c *Change) { c.Hash = h2 })}, []string{"", "", ""}},
		{"password changed, old copy announced", []Change{user, {Op: OpUserPassword, Name: "ana", Hash: h2}, user}, []string{"", "", "deleted, revoked or replaced"}},
		{"password changed, the user's session announced again", []Change{user, sess, {Op: OpUserPassword, Name: "ana", Hash: h2}, sess}, []string{"", "", "", "deleted, revoked or replaced"}},
		{"user deleted, the user's session announced again", []Change{user, sess, {Op: OpUserDelete, Name: "ana"}, sess}, []string{"", "", "", "deleted, revoked or replaced"}},
		{"password changed, user deleted, old copy announced",
			[]Change{user, {Op: OpUserPassword, Name: "ana", Hash: h2}, {Op: OpUserDelete, Name: "ana"}, user}, []string{"", "", "", "deleted, revoked or replaced"}},
		{"password change applied twice", []Change{user, {Op: OpUserPassword, Name: "ana", Hash: h2}, {Op: OpUserPassword, Name: "ana", Hash: h2}}, []string{"", "", ""}},
		{"old password change applied after a newer one",
			[]Change{user, {Op: OpUserPassword, Name: "ana", Hash: h2}, {Op: OpUserPassword, Name: "ana", Hash: h1}}, []string{"", "", "deleted, revoked or replaced"}},
		{"password of an unknown user", []Change{{Op: OpUserPassword, Name: "bob", Hash: h1}}, []string{`no user "bob"`}},
		{"delete of an unknown user", []Change{{Op: OpUserDelete, Name: "bob"}}, []string{""}},
		{"token, again identical", []Change{tok, tok}, []string{"", ""}},
		{"token, other of the same id", []Change{tok, with(tok, func(c *Change) { c.Name = "other" })}, []string{"", "already exists"}},
		{"token revoked, announced again", []Change{tok, {Op: OpTokenRevoke, ID: tok.ID}, tok}, []string{"", "", "deleted, revoked or replaced"}},
		{"unknown id revoked, then announced", []Change{{Op: OpTokenRevoke, ID: tok.ID}, tok}, []string{"", "deleted, revoked or replaced"}},
		{"session, revoked, announced again", []Change{sess, {Op: OpTokenRevoke, ID: sess.ID}, sess}, []string{"", "", "deleted, revoked or replaced"}},
		{"invalid: no user name", []Change{with(user, func(c *Change) { c.Name = "" })}, []string{"user name must be"}},
		{"invalid: password not a bcrypt hash", []Change{with(user, func(c *Change) { c.Hash = []byte("correct horse battery") })}, []string{"password hash"}},
		{"invalid: national role with an organisation", []Change{with(user, func(c *Change) { c.Role = NationalAdmin })}, []string{"is national"}},
		{"invalid: unknown role", []Change{with(tok, func(c *Change) { c.Role = "root" })}, []string{`unknown role "root"`}},
		{"invalid: user without a time", []Change{with(user, func(c *Change) { c.At = time.Time{} })}, []string{"no creation time"}},
		{"invalid: token id", []Change{with(tok, func(c *Change) { c.ID = "ABC" })}, []string{"invalid token id"}},
		{"invalid: token hash", []Change{with(tok, func(c *Change) { c.Hash = []byte("secret") })}, []string{"hash of 6 bytes"}},
		{"invalid: token kind", []Change{with(tok, func(c *Change) { c.Kind = "cookie" })}, []string{`unknown kind "cookie"`}},
		{"invalid: session without expiry", []Change{with(sess, func(c *Change) { c.Expires = time.Time{} })}, []string{"no expiry"}},
		{"invalid: ingest token without organisation", []Change{with(tok, func(c *Change) { c.Role = Ingest })}, []string{"needs an organisation"}},
		{"invalid: unknown op", []Change{{Op: "user_rename", Name: "ana"}}, []string{`unknown change "user_rename"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			for i, c := range tc.changes {
				err := s.Apply(ctx, c)
				got := ""
				if err != nil {
					got = err.Error()
				}
				if tc.want[i] == "" && err != nil || tc.want[i] != "" && !strings.Contains(got, tc.want[i]) {
					t.Errorf("change %d (%s): Apply = %v, want %q", i, c.Op, err, tc.want[i])
				}
			}
		})
	}

	// The same changes give the same rows, times included (they come from
	// the changes, not the clock).
	seq := []Change{user, tok, sess, {Op: OpTokenRevoke, ID: sess.ID}, {Op: OpUserPassword, Name: "ana", Hash: h2}, {Op: OpTokenRevoke, ID: tok.ID}}
	s1, s2 := open(t), open(t)
	for _, s := range []*Service{s1, s2} {
		for _, c := range seq {
			if err := s.Apply(ctx, c); err != nil {
				t.Fatalf("Apply(%s): %v", c.Op, err)
			}
		}
	}
	d1, d2 := dump(t, s1), dump(t, s2)
	if d1 != d2 {
		t.Errorf("the same changes gave different rows:\n%s\n%s", d1, d2)
	}
	want := fmt.Sprintf("ana %X org_analyst org-a %d\n--\n--\n", h2, at.Unix()) +
		fmt.Sprintf("token:%s 0\ntoken:%s %d\nuser:", tok.ID, sess.ID, at.Add(time.Hour).Unix())
	if !strings.HasPrefix(d1, want) {
		t.Errorf("rows:\n%s\nwant them to start with\n%s", d1, want)
	}
}

// TestExport: what a node holds, exported and applied to an empty node,
// works there (users, tokens, live sessions; expired sessions are left
// out), and exporting that node gives the same changes.
func TestExport(t *testing.T) {
	ctx := context.Background()
	a := open(t)
	const pw = "a long enough password"
	if err := a.AddUser(ctx, "ana", pw, OrgViewer, "org-a"); err != nil {
		t.Fatal(err)
	}
	tok, _ := a.CreateToken(ctx, "shippers", Ingest, "org-a")
	sess, _, _ := a.Login(ctx, "ana", pw)
	old := time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Second)
	h := sha256.Sum256([]byte("x"))
	expired := Change{Op: OpTokenPut, At: old, ID: "oldsessionaaaaaa", Hash: h[:], Name: "ana", Role: OrgViewer, Tenant: "org-a", Kind: KindSession, Expires: old.Add(time.Hour)}
	if err := a.Apply(ctx, expired); err != nil {
		t.Fatal(err)
	}
	cs, err := a.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	for _, c := range cs {
		ops[c.Op+"/"+c.Kind]++
		if c.ID == expired.ID {
			t.Error("Export lists an expired session")
		}
	}
	if want := map[string]int{"user_add/": 1, "token_put/token": 1, "token_put/session": 1}; fmt.Sprint(ops) != fmt.Sprint(want) {
		t.Errorf("Export = %v, want %v", ops, want)
	}
	data, _ := json.Marshal(cs)
	secretsAbsent(t, "the exported changes", data, pw, secretOf(tok), secretOf(sess))

	b := open(t)
	for _, c := range cs {
		if err := b.Apply(ctx, c); err != nil {
			t.Fatalf("Apply(%s %s%s) on an empty node: %v", c.Op, c.Name, c.ID, err)
		}
		if err := a.Apply(ctx, c); err != nil {
			t.Errorf("Apply(%s) of its own export: %v, want nothing done", c.Op, err)
		}
	}
	if _, _, err := b.Login(ctx, "ana", pw); err != nil {
		t.Errorf("exported user: %v", err)
	}
	for _, x := range []string{tok, sess} {
		if _, err := b.Authenticate(ctx, x); err != nil {
			t.Errorf("exported token or session: %v", err)
		}
	}
	// b's export: a's, and the session of the login on b.
	cs2, _ := b.Export(ctx)
	got := map[string]bool{}
	for _, c := range cs2 {
		got[fmt.Sprint(c)] = true
	}
	for _, c := range cs {
		if !got[fmt.Sprint(c)] {
			t.Errorf("the copy's export lacks %+v", c)
		}
	}
	if len(cs2) != len(cs)+1 {
		t.Errorf("the copy exports %d changes, want %d", len(cs2), len(cs)+1)
	}
}

// TestJoin: with Replicate set, a node writes new users and tokens to
// itself until it joins (its log is not applied yet), and Join lists them;
// after Join every write goes through Replicate; revocations always do.
func TestJoin(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	var logged []string
	s.Replicate = func(ctx context.Context, c Change) error {
		logged = append(logged, c.Op)
		return s.Apply(ctx, c)
	}
	early, err := s.CreateToken(ctx, "early", NationalAnalyst, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, early); err != nil {
		t.Errorf("a token made before Join: %v", err)
	}
	if len(logged) != 0 {
		t.Errorf("before Join, Replicate got %v", logged)
	}
	gone, _ := s.CreateToken(ctx, "gone", NationalAnalyst, "")
	if err := s.Revoke(ctx, strings.Split(gone, "_")[1]); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(logged) != "[token_revoke]" {
		t.Errorf("a revocation before Join: Replicate got %v, want [token_revoke]", logged)
	}
	cs, err := s.Join(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].ID != strings.Split(early, "_")[1] {
		t.Errorf("Join = %+v, want the early token", cs)
	}
	logged = nil
	if _, err := s.CreateToken(ctx, "late", NationalAnalyst, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser(ctx, "ana", "a long enough password", NationalAdmin, ""); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(logged) != "[token_put user_add]" {
		t.Errorf("after Join, Replicate got %v", logged)
	}
	// A refusal comes back from Replicate as the write's error.
	s.Replicate = func(ctx context.Context, c Change) error { return fmt.Errorf("log: %w", ErrExists) }
	if _, err := s.CreateToken(ctx, "x", NationalAnalyst, ""); !errors.Is(err, ErrExists) {
		t.Errorf("CreateToken with a refusing log = %v", err)
	}
}
