package decision

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// sharedLog stands in for the state log several nodes share: a change is
// applied on every node in the order it was logged, once per key, and the
// writer gets its own node's outcome.
type sharedLog struct {
	mu    sync.Mutex
	nodes []*Service
	log   [][]byte
	keys  map[string]bool
}

func (l *sharedLog) replicate(writer int) func(ctx context.Context, c Change) (any, error) {
	return func(ctx context.Context, c Change) (any, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if c.Key != "" && l.keys[c.Key] {
			return nil, nil // logged already by another node
		}
		l.keys[c.Key] = true
		b, err := json.Marshal(c) // what travels between nodes
		if err != nil {
			return nil, err
		}
		l.log = append(l.log, b)
		var out any
		var outErr error
		for i, n := range l.nodes {
			var got Change
			if err := json.Unmarshal(b, &got); err != nil {
				return nil, err
			}
			v, err := n.ApplyChange(ctx, got)
			if i == writer {
				out, outErr = v, err
			}
		}
		return out, outErr
	}
}

func TestReplicatedChanges(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	pol := Policy{Name: "feed-ban", When: WhenFeed, Type: Ban, Target: TargetNational, Duration: time.Hour}
	l := &sharedLog{keys: map[string]bool{}}
	for range 2 {
		l.nodes = append(l.nodes, open(t, Options{Now: clk.Now, Policies: []Policy{pol}}))
	}
	a, b := l.nodes[0], l.nodes[1]
	a.SetReplicate(l.replicate(0))
	b.SetReplicate(l.replicate(1))

	d1 := mustCreate(t, a, mk(clk.Now(), "198.51.100.7", Target{National: true}, time.Hour))
	d2 := mustCreate(t, b, mk(clk.Now(), "evil.example", Target{Sector: "finance"}, time.Hour))
	if d1.ID == 0 || d2.ID == 0 || d1.UUID == "" {
		t.Fatalf("created %+v and %+v", d1, d2)
	}
	// Refusals come back to the writer and change nothing.
	if _, err := a.Create(ctx, mk(clk.Now(), "not a value", Target{National: true}, time.Hour)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid decision: %v", err)
	}
	clk.Advance(time.Minute)
	if err := b.Revoke(ctx, d1.ID, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := a.Revoke(ctx, d1.ID, "ana"); !errors.Is(err, ErrNotActive) {
		t.Fatalf("revoking twice: %v", err)
	}
	// The same feed seen by both nodes makes one decision.
	for _, n := range l.nodes {
		if _, err := n.Apply(ctx, Trigger{Kind: WhenFeed, Ref: "blocklist", Values: []string{"203.0.113.9"}}); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range l.nodes {
		got, total, err := n.List(ctx, Query{All: true})
		if err != nil {
			t.Fatal(err)
		}
		if total != 3 {
			t.Fatalf("node %d holds %d decisions, want 3: %+v", i, total, got)
		}
		x, _ := n.Get(ctx, d1.ID)
		if x.UUID != d1.UUID || x.DeletedBy != "bob" {
			t.Errorf("node %d: decision %d = %+v", i, d1.ID, x)
		}
		audit, _ := n.Audit(ctx, d1.ID)
		if len(audit) != 2 || audit[1].Action != "revoked" || !audit[1].At.Equal(clk.Now()) {
			t.Errorf("node %d: audit %+v", i, audit)
		}
	}

	// A bouncer key made on one node works on the other; its key never
	// travels; deleting it on the other stops it everywhere.
	key := mustBouncer(t, a, "fw-1", "")
	for _, c := range l.log {
		if strings.Contains(string(c), strings.Split(key, "_")[2]) {
			t.Fatalf("the bouncer key's secret is in the log: %s", c)
		}
	}
	pull := func(s *Service) int {
		srv := httptest.NewServer(s.Handler())
		defer srv.Close()
		req, _ := http.NewRequest("GET", srv.URL+"/v1/decisions/stream?startup=true", nil)
		req.Header.Set(apiKeyHeader, key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := pull(b); code != 200 {
		t.Fatalf("node b refused node a's bouncer key: %d", code)
	}
	if err := b.DeleteBouncer(ctx, "fw-1"); err != nil {
		t.Fatal(err)
	}
	if code := pull(a); code != http.StatusForbidden && code != http.StatusUnauthorized {
		t.Fatalf("a deleted bouncer key still works on node a: %d", code)
	}
}
