package auth

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/mamori-soc/mamori/internal/tenant"
)

func open(t *testing.T) *Service {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "a.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := Open(context.Background(), db, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestUsersAndSessions(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if err := s.AddUser(ctx, "ana", "correct horse battery", NationalAnalyst, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser(ctx, "ana", "another long password", NationalAnalyst, ""); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate user: %v", err)
	}
	for _, bad := range []struct {
		role Role
		tid  tenant.ID
		pw   string
	}{{OrgAnalyst, "", "long enough password"}, {NationalAdmin, "org-a", "long enough password"}, {OrgViewer, "org-a", "short"}} {
		if err := s.AddUser(ctx, "x", bad.pw, bad.role, bad.tid); err == nil {
			t.Errorf("AddUser(%v, %q) accepted", bad.role, bad.tid)
		}
	}
	if _, _, err := s.Login(ctx, "ana", "wrong password!!"); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("wrong password: %v", err)
	}
	if _, _, err := s.Login(ctx, "nobody", "whatever password"); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("unknown user: %v", err)
	}
	tok, p, err := s.Login(ctx, "ana", "correct horse battery")
	if err != nil || p.Role != NationalAnalyst {
		t.Fatalf("Login = %v, %v", p, err)
	}
	got, err := s.Authenticate(ctx, tok)
	if err != nil || got.Name != "ana" || !got.Scope().IsAll() {
		t.Errorf("Authenticate(session) = %+v, %v", got, err)
	}
	// The password is not stored in clear.
	var stored []byte
	s.db.QueryRow(`SELECT password FROM auth_users WHERE name = 'ana'`).Scan(&stored)
	if strings.Contains(string(stored), "correct horse") {
		t.Error("password stored in clear")
	}
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	ing, err := s.CreateToken(ctx, "winlogbeat", Ingest, "org-a")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Authenticate(ctx, ing)
	if err != nil || p.Role != Ingest || p.Tenant != "org-a" || !p.Can(SendEvents) || p.Can(ReadData) || !p.Scope().Empty() {
		t.Errorf("ingest token principal = %+v, %v", p, err)
	}
	org, _ := s.CreateToken(ctx, "analyst", OrgAnalyst, "org-b")
	p, _ = s.Authenticate(ctx, org)
	if sc := p.Scope(); !sc.Contains("org-b") || sc.Contains("org-a") || p.Can(Admin) || p.Can(SendEvents) {
		t.Errorf("org analyst scope %v / permissions wrong", sc)
	}
	// Tampered secrets, wrong prefixes and unknown ids are refused.
	for _, bad := range []string{"", "mmr_", ing + "x", strings.Replace(ing, "mmr_", "xyz_", 1), ing[:len(ing)-1] + "a", "mmr_aaaaaaaaaaaaaaaa_bbbb"} {
		if bad == ing {
			continue
		}
		if _, err := s.Authenticate(ctx, bad); err == nil {
			t.Errorf("Authenticate(%q) accepted", bad)
		}
	}
	// Only the hash is stored.
	var hash []byte
	id := strings.Split(ing, "_")[1]
	s.db.QueryRow(`SELECT hash FROM auth_tokens WHERE id = ?`, id).Scan(&hash)
	if len(hash) != 32 || strings.Contains(string(hash), strings.Split(ing, "_")[2]) {
		t.Error("token secret stored in clear")
	}
	toks, _ := s.Tokens(ctx)
	if len(toks) != 2 {
		t.Errorf("Tokens = %v", toks)
	}
	if err := s.Revoke(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, ing); err == nil {
		t.Error("revoked token still accepted")
	}
}

func TestPermissions(t *testing.T) {
	for _, tc := range []struct {
		role Role
		can  []Action
		not  []Action
	}{
		{NationalAdmin, []Action{ReadData, Triage, Admin, ManageRules}, []Action{SendEvents}},
		{NationalAnalyst, []Action{ReadData, Triage, ManageRules}, []Action{Admin, SendEvents}},
		{OrgAnalyst, []Action{ReadData, Triage}, []Action{Admin, ManageRules, SendEvents}},
		{OrgViewer, []Action{ReadData}, []Action{Triage, Admin, ManageRules, SendEvents}},
		{Ingest, []Action{SendEvents}, []Action{ReadData, Triage, Admin}},
	} {
		p := Principal{Role: tc.role, Tenant: "org-a"}
		for _, a := range tc.can {
			if !p.Can(a) {
				t.Errorf("%s cannot %s", tc.role, a)
			}
		}
		for _, a := range tc.not {
			if p.Can(a) {
				t.Errorf("%s can %s", tc.role, a)
			}
		}
	}
}

func TestSessionFlag(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	s.AddUser(ctx, "bob", "a long enough password", NationalAnalyst, "")
	tok, _, err := s.Login(ctx, "bob", "a long enough password")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.Authenticate(ctx, tok)
	api, _ := s.CreateToken(ctx, "api", NationalAnalyst, "")
	q, _ := s.Authenticate(ctx, api)
	if !p.Session || q.Session {
		t.Errorf("Session flags: login %v, token %v", p.Session, q.Session)
	}
	s.Revoke(ctx, p.Token)
	if _, err := s.Authenticate(ctx, tok); err == nil {
		t.Error("session still valid after logout")
	}
}

func TestSetPassword(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	s.AddUser(ctx, "eve", "first password!!", OrgViewer, "org-a")
	old, _, _ := s.Login(ctx, "eve", "first password!!")
	if err := s.SetPassword(ctx, "eve", "second password!!"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Login(ctx, "eve", "first password!!"); err == nil {
		t.Error("old password still works")
	}
	if _, _, err := s.Login(ctx, "eve", "second password!!"); err != nil {
		t.Errorf("new password refused: %v", err)
	}
	if _, err := s.Authenticate(ctx, old); err == nil {
		t.Error("a session opened with the old password survived")
	}
	if err := s.SetPassword(ctx, "nobody", "whatever long"); err == nil {
		t.Error("SetPassword on an unknown user succeeded")
	}
}
