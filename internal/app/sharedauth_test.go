package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mamori-soc/mamori/internal/bus/natsbus"
)

// TestSharedAuthAcrossNodes runs nodes on one JetStream behind no sticky
// load balancer: a user made on one node logs in on another, a session
// opened on one is valid on the others, a token made on one authenticates
// on the others, and a revocation or deletion on one is refused everywhere
// as soon as each node has applied it. What the command line wrote to a
// node's data directory reaches every node when it starts. No password or
// token secret is ever in the state log.
func TestSharedAuthAcrossNodes(t *testing.T) {
	ns, err := natsbus.Start(natsbus.ServerOptions{StoreDir: t.TempDir(), Name: "sharedauth", ClientAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown) // after the nodes stopped (cleanups run last-in first-out)
	// startServerWith makes its tokens on the node's own data directory,
	// before it joins the log: the node announces them.
	a := startServerWith(t, Config{NATS: ns.ClientURL()})
	b := startServerWith(t, Config{NATS: ns.ClientURL()})
	adminA, adminB := a.tokens["national_admin"], b.tokens["national_admin"]
	var secrets []string // everything that must never be in the log
	for _, n := range []*testServer{a, b} {
		for _, tok := range n.tokens {
			secrets = append(secrets, tok)
		}
	}
	caughtUp(t, a, b)
	if code, body := b.do(t, "GET", "/api/v1/me", a.tokens["national_analyst"], nil); code != http.StatusOK {
		t.Errorf("a token made on A's data directory, on B: %d %s", code, body)
	}

	// A user made through A's API logs in on B; a session opened on A is
	// valid on B, as a bearer token and as the console's cookie.
	const pw = "kenji's long passphrase"
	secrets = append(secrets, pw)
	if code, body := a.do(t, "POST", "/api/v1/users", adminA, []byte(`{"name":"kenji","password":"`+pw+`","role":"national_analyst"}`)); code != http.StatusCreated {
		t.Fatalf("user on A: %d %s", code, body)
	}
	if code, body := b.do(t, "POST", "/api/v1/users", adminB, []byte(`{"name":"kenji","password":"another long passphrase","role":"national_admin"}`)); code != http.StatusConflict {
		t.Errorf("the same user again on B: %d %s, want 409", code, body)
	}
	caughtUp(t, b)
	if _, err := login(t, b, "kenji", pw); err != nil {
		t.Errorf("login on B of the user made on A: %v", err)
	}
	sess, err := login(t, a, "kenji", pw)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, sess)
	caughtUp(t, b)
	if code := b.withCookie(t, "/api/v1/me", sess); code != http.StatusOK {
		t.Errorf("A's session cookie on B: %d", code)
	}
	if code, body := b.do(t, "GET", "/api/v1/me", sess, nil); code != http.StatusOK || !strings.Contains(string(body), `"kenji"`) {
		t.Errorf("A's session on B: %d %s", code, body)
	}

	// Tokens made through A's API work on B: an API token, an ingest token.
	apiTok, apiID := createToken(t, a, adminA, `{"name":"soar","role":"national_analyst"}`)
	ingTok, _ := createToken(t, a, adminA, `{"name":"shippers","role":"ingest","org_id":"health"}`)
	secrets = append(secrets, apiTok, ingTok)
	caughtUp(t, b)
	if code, body := b.do(t, "GET", "/api/v1/me", apiTok, nil); code != http.StatusOK {
		t.Errorf("A's API token on B: %d %s", code, body)
	}
	if code, body := b.do(t, "POST", "/_bulk", ingTok, []byte(sysmonConn("WS-1.health.example", "192.0.2.10", 1))); code != http.StatusOK {
		t.Errorf("A's ingest token on B: %d %s", code, body)
	}

	// Revoked on B: refused on B at once, and on A as soon as A has
	// applied the revocation, though A has just verified (and cached) it.
	if code, _ := a.do(t, "GET", "/api/v1/me", apiTok, nil); code != http.StatusOK {
		t.Fatalf("A's API token on A: %d", code)
	}
	if code, body := b.do(t, "DELETE", "/api/v1/tokens/"+apiID, adminB, nil); code != http.StatusNoContent {
		t.Fatalf("revoke on B: %d %s", code, body)
	}
	if code, _ := b.do(t, "GET", "/api/v1/me", apiTok, nil); code != http.StatusUnauthorized {
		t.Errorf("the revoked token on B: %d", code)
	}
	caughtUp(t, a)
	if code, _ := a.do(t, "GET", "/api/v1/me", apiTok, nil); code != http.StatusUnauthorized {
		t.Errorf("the token revoked on B, on A: %d", code)
	}

	// Deleted on B: A's session of the user ends, and A refuses the login.
	if code, body := b.do(t, "DELETE", "/api/v1/users/kenji", adminB, nil); code != http.StatusNoContent {
		t.Fatalf("delete on B: %d %s", code, body)
	}
	caughtUp(t, a)
	if code := a.withCookie(t, "/api/v1/me", sess); code != http.StatusUnauthorized {
		t.Errorf("the deleted user's session on A: %d", code)
	}
	if _, err := login(t, a, "kenji", pw); err == nil {
		t.Error("the user deleted on B logs in on A")
	}

	// A third node whose data directory the command line prepared: its
	// user and token work on A, and A's on it.
	const pwC = "rin's long passphrase"
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if cmdUser(context.Background(), []string{"add", "rin", "--role", "national_analyst", "--password", pwC, "--data", dir}, nil, &out, &errb) != ExitOK {
		t.Fatalf("mamori user add: %s", errb.String())
	}
	out.Reset()
	if cmdToken(context.Background(), []string{"create", "reader", "--role", "national_analyst", "--data", dir}, &out, &errb) != ExitOK {
		t.Fatalf("mamori token create: %s", errb.String())
	}
	cliTok := strings.TrimSpace(out.String())
	secrets = append(secrets, pwC, cliTok)
	c := startNode(t, Config{NATS: ns.ClientURL(), Data: dir})
	caughtUp(t, a)
	if _, err := login(t, a, "rin", pwC); err != nil {
		t.Errorf("login on A of the user the command line made on C: %v", err)
	}
	if code, _ := a.do(t, "GET", "/api/v1/me", cliTok, nil); code != http.StatusOK {
		t.Errorf("C's command-line token on A: %d", code)
	}
	if code, _ := c.do(t, "GET", "/api/v1/me", a.tokens["national_analyst"], nil); code != http.StatusOK {
		t.Errorf("A's token on C: %d", code)
	}
	if code, _ := c.do(t, "GET", "/api/v1/me", apiTok, nil); code != http.StatusUnauthorized {
		t.Errorf("the token revoked before C started, on C: %d", code)
	}

	// The log holds the changes, and none of the secrets.
	logged := stateLog(t, ns.ClientURL())
	if !bytes.Contains(logged, []byte(`"op":"auth"`)) || !bytes.Contains(logged, []byte(`"kenji"`)) || !bytes.Contains(logged, []byte(`"rin"`)) {
		t.Fatalf("the state log lacks the auth changes:\n%.2000s", logged)
	}
	for _, sec := range secrets {
		secret := sec[strings.LastIndexByte(sec, '_')+1:] // a token's secret part; a password whole
		for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret)), base64.RawURLEncoding.EncodeToString([]byte(secret))} {
			if bytes.Contains(logged, []byte(form)) {
				t.Errorf("the state log contains the secret %q", sec)
			}
		}
	}
}

// caughtUp waits until each node has applied every record the state log
// held when called: what was written anywhere before is in force there.
func caughtUp(t *testing.T, nodes ...*testServer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range nodes {
		if err := n.srv.replica.CatchUp(ctx); err != nil {
			t.Fatalf("%s catching up with the state log: %v", n.url, err)
		}
	}
}

// login opens a session and returns its token.
func login(t *testing.T, n *testServer, user, password string) (string, error) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	code, resp := n.do(t, "POST", "/api/v1/login", "", body)
	var r struct{ Token string }
	if code != http.StatusOK || json.Unmarshal(resp, &r) != nil || r.Token == "" {
		return "", fmt.Errorf("login of %s on %s: %d %s", user, n.url, code, resp)
	}
	return r.Token, nil
}

// createToken makes a token through a node's API and returns it and its id.
func createToken(t *testing.T, n *testServer, admin, req string) (tok, id string) {
	t.Helper()
	code, body := n.do(t, "POST", "/api/v1/tokens", admin, []byte(req))
	var r struct{ Token string }
	if code != http.StatusCreated || json.Unmarshal(body, &r) != nil || strings.Count(r.Token, "_") != 2 {
		t.Fatalf("token %s on %s: %d %s", req, n.url, code, body)
	}
	return r.Token, strings.Split(r.Token, "_")[1]
}

// withCookie GETs path as the console does, with the session cookie.
func (ts *testServer) withCookie(t *testing.T, path, session string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.url+path, nil)
	req.AddCookie(&http.Cookie{Name: "mamori_session", Value: session})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// startNode runs a server on cfg.Data as it is (startServerWith prepares
// a fresh one).
func startNode(t *testing.T, cfg Config) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Listen = "127.0.0.1:0"
	srv, err := NewServer(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ts := &testServer{srv: srv, url: "http://" + srv.Addr(), tokens: map[string]string{}, cancel: cancel, done: make(chan error, 1)}
	ts.run(t, ctx)
	return ts
}

// stateLog returns every message of the state stream, raw.
func stateLog(t *testing.T, url string) []byte {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, natsbus.StateStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && seq > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("state log message %d: %v", seq, err)
		}
		all.Write(m.Data)
		all.WriteByte('\n')
	}
	return all.Bytes()
}
