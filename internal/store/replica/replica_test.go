package replica_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/bus/natsbus"
	"github.com/mamori-soc/mamori/internal/incident"
	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/store/local"
	"github.com/mamori-soc/mamori/internal/store/replica"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// node is one Mamori node's view: its own store, applying the shared log.
type node struct {
	own     *local.Store
	r       *replica.Store
	stop    context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	applied []alert.Alert // alerts the Detections hook saw
	tenants int           // Tenants hook calls
}

func (n *node) seen() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.applied)
}

func startNode(t testing.TB, ctx context.Context, srv *natsbus.Server, own *local.Store) *node {
	t.Helper()
	return newNode(t, ctx, srv, own, nil)
}

// newNode starts a node; setup runs before it applies the log.
func newNode(t testing.TB, ctx context.Context, srv *natsbus.Server, own *local.Store, setup func(*replica.Store)) *node {
	t.Helper()
	b, err := srv.Connect(ctx, natsbus.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	sl, err := b.StateLog(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{own: own, done: make(chan struct{})}
	n.r, err = replica.New(ctx, own, sl, replica.Hooks{
		Detections: func(_ context.Context, alerts []alert.Alert, _ time.Time) {
			n.mu.Lock()
			n.applied = append(n.applied, alerts...)
			n.mu.Unlock()
		},
		Tenants: func(context.Context) { n.mu.Lock(); n.tenants++; n.mu.Unlock() },
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(n.r)
	}
	rctx, cancel := context.WithCancel(ctx)
	n.stop = func() { cancel(); <-n.done }
	go func() { defer close(n.done); n.r.Run(rctx) }()
	t.Cleanup(n.stop)
	return n
}

func openLocal(t testing.TB, dir string) *local.Store {
	t.Helper()
	st, err := local.Open(context.Background(), local.Config{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func testAlert(id, host string, count int, at time.Time) alert.Alert {
	return alert.Alert{ID: id, Tenant: "org-a", Sector: tenant.Sector("energy"), RuleID: "r1", RuleTitle: "Brute force", Level: "high",
		Host: host, Count: count, FirstSeen: at, LastSeen: at, Status: alert.StatusNew,
		Event: []alert.Field{{Name: "EventID", Value: "4625"}, {Name: "Computer", Value: host}}}
}

func waitFor(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var orgs = []tenant.ID{"org-a"}

func TestNodesConverge(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := natsbus.Start(natsbus.ServerOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	a := startNode(t, ctx, srv, openLocal(t, t.TempDir()))
	b := startNode(t, ctx, srv, openLocal(t, t.TempDir()))

	// An organisation created on one node exists on both.
	if err := a.r.PutTenant(ctx, tenant.Tenant{ID: "org-a", Name: "Grid A", Sector: "energy", Assets: 40}); err != nil {
		t.Fatal(err)
	}
	if err := a.r.PutTenant(ctx, tenant.Tenant{ID: "Bad Id"}); err == nil {
		t.Error("an invalid organisation id was accepted")
	}
	waitFor(t, "organisation on node b", func() error {
		ts, err := b.own.Tenants(ctx)
		if err != nil || len(ts) != 1 || ts[0].Assets != 40 {
			return fmt.Errorf("node b has %+v (%v)", ts, err)
		}
		return nil
	})

	// Detections logged by one worker are stored on every node, with their event.
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := a.r.CommitDetections(ctx, "batch:1", now.UnixMilli(), []alert.Alert{testAlert("al-1", "ws1", 1, now), testAlert("al-2", "ws2", 1, now)}); err != nil {
		t.Fatal(err)
	}
	// The same batch detected again by another worker (after a failover)
	// is logged once, even if its alerts came out different.
	if err := b.r.CommitDetections(ctx, "batch:1", now.UnixMilli(), []alert.Alert{testAlert("al-other", "ws1", 1, now)}); err != nil {
		t.Fatal(err)
	}
	// A batch without alerts logs nothing.
	if err := a.r.CommitDetections(ctx, "batch:2", now.UnixMilli(), nil); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*node{a, b} {
		waitFor(t, "alerts applied", func() error {
			p, err := n.own.SearchAlerts(ctx, store.AlertQuery{Tenants: orgs, Limit: 10})
			if err != nil {
				return err
			}
			if p.Total != 2 {
				return fmt.Errorf("%d alerts", p.Total)
			}
			return nil
		})
		if _, err := n.own.Alert(ctx, orgs, "al-other"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the duplicate batch's alert was stored: %v", err)
		}
		got, err := n.own.Alert(ctx, orgs, "al-1")
		if err != nil || len(got.Event) != 2 {
			t.Errorf("alert al-1 lost its event: %+v (%v)", got, err)
		}
		if c, _ := n.own.Cursor(ctx, "batch:1"); c != now.UnixMilli() {
			t.Errorf("batch marker %d, want %d", c, now.UnixMilli())
		}
		waitFor(t, "the Detections hook", func() error { // it follows the store's write
			if n.seen() != 2 {
				return fmt.Errorf("saw %d alerts, want 2", n.seen())
			}
			return nil
		})
	}

	// Two analysts change one alert on two nodes at once: the log orders
	// them, and both nodes end in the same state with the same trail.
	closed, inProgress := alert.StatusClosed, alert.StatusInProgress
	tp, bob := store.ResolutionTruePositive, "bob"
	var wg sync.WaitGroup
	var resA, resB []store.UpdateResult
	var errA, errB error
	wg.Add(2)
	go func() {
		defer wg.Done()
		resA, errA = a.r.UpdateAlerts(ctx, orgs, []string{"al-1"}, store.AlertChange{Status: &closed, Resolution: &tp, User: "alice", Comment: "confirmed"})
	}()
	go func() {
		defer wg.Done()
		resB, errB = b.r.UpdateAlerts(ctx, orgs, []string{"al-1", "missing"}, store.AlertChange{Status: &inProgress, Assignee: &bob, User: "bob"})
	}()
	wg.Wait()
	if errA != nil || errB != nil {
		t.Fatalf("triage: %v / %v", errA, errB)
	}
	if len(resA) != 1 || resA[0].Err != nil || len(resB) != 2 || resB[0].Err != nil || !errors.Is(resB[1].Err, store.ErrNotFound) {
		t.Fatalf("outcomes: %+v / %+v", resA, resB)
	}
	// A refused change is refused on the node that made it and changes nothing.
	if res, err := b.r.UpdateAlerts(ctx, orgs, []string{"al-2"}, store.AlertChange{Status: &closed, User: "bob"}); err != nil || !errors.Is(res[0].Err, store.ErrInvalidChange) {
		t.Fatalf("closing without a resolution: %+v, %v", res, err)
	}
	if err := a.r.WaitApplied(ctx, b.r.Applied()); err != nil {
		t.Fatal(err)
	}
	if err := b.r.WaitApplied(ctx, a.r.Applied()); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"al-1", "al-2"} {
		x, err1 := a.own.Alert(ctx, orgs, id)
		y, err2 := b.own.Alert(ctx, orgs, id)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !reflect.DeepEqual(x, y) {
			t.Errorf("alert %s differs:\n a %+v\n b %+v", id, x, y)
		}
		ax, _ := a.own.AlertAudit(ctx, orgs, id)
		bx, _ := b.own.AlertAudit(ctx, orgs, id)
		if !reflect.DeepEqual(ax, bx) {
			t.Errorf("audit of %s differs:\n a %+v\n b %+v", id, ax, bx)
		}
	}
	x, _ := a.own.Alert(ctx, orgs, "al-1")
	if x.Status != alert.StatusClosed && x.Status != alert.StatusInProgress {
		t.Errorf("al-1 status %s", x.Status)
	}
	if x.Assignee != "bob" {
		t.Errorf("al-1 assignee %q, want bob (both changes applied, in log order)", x.Assignee)
	}

	// Incident triage goes through the log too.
	inc := testIncident(now)
	for _, n := range []*node{a, b} {
		if err := n.own.CommitIncidents(ctx, []incidentT{inc}, nil, now); err != nil { // derived state: each node stores its own
			t.Fatal(err)
		}
	}
	ack := alert.StatusAcknowledged
	if res, err := a.r.UpdateIncidents(ctx, orgs, []string{inc.ID}, store.AlertChange{Status: &ack, User: "alice"}); err != nil || res[0].Err != nil {
		t.Fatalf("incident triage: %+v %v", res, err)
	}
	waitFor(t, "incident triage on node b", func() error {
		i, err := b.own.Incident(ctx, orgs, inc.ID)
		if err != nil || i.Status != alert.StatusAcknowledged {
			return fmt.Errorf("%+v %v", i, err)
		}
		return nil
	})

	// A rule disabled on one node is disabled on the other.
	if err := b.r.SetRuleEnabled(ctx, "org-a", "r1", false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "rule setting on node a", func() error {
		d, err := a.own.DisabledRules(ctx)
		if err != nil || !d["org-a"]["r1"] {
			return fmt.Errorf("%v %v", d, err)
		}
		return nil
	})
}

func TestRestartResumesAndSkipsBadRecords(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := natsbus.Start(natsbus.ServerOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	dirB := t.TempDir()
	a := startNode(t, ctx, srv, openLocal(t, t.TempDir()))
	ownB := openLocal(t, dirB)
	b := startNode(t, ctx, srv, ownB)
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := a.r.CommitDetections(ctx, "batch:1", 1, []alert.Alert{testAlert("al-1", "ws1", 1, now)}); err != nil {
		t.Fatal(err)
	}
	if err := a.r.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.r.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	b.stop()
	before := b.r.Applied()

	// While b is down: a record no node can decode, then a fold of the
	// alert (count 3) and a new alert.
	conn, err := srv.Connect(ctx, natsbus.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sl, err := conn.StateLog(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sl.Append(ctx, "garbage", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	al := testAlert("al-1", "ws1", 3, now)
	al.LastSeen = now.Add(time.Minute)
	if err := a.r.CommitDetections(ctx, "batch:2", 2, []alert.Alert{al, testAlert("al-3", "ws3", 1, now)}); err != nil {
		t.Fatal(err)
	}
	// A further fold of al-1: the restarted node commits both records
	// together, and the later one wins.
	al.Count, al.LastSeen = 5, now.Add(2*time.Minute)
	if err := a.r.CommitDetections(ctx, "batch:3", 3, []alert.Alert{al}); err != nil {
		t.Fatal(err)
	}

	b2 := startNode(t, ctx, srv, ownB)
	if b2.r.Applied() != before {
		t.Fatalf("restarted node resumes after %d, want %d", b2.r.Applied(), before)
	}
	if err := b2.r.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := b2.r.Records.Load(); got != 3 {
		t.Errorf("restarted node applied %d records, want 3 (the bad one and two batches)", got)
	}
	for _, m := range []string{"batch:2", "batch:3"} {
		if c, _ := ownB.Cursor(ctx, m); c == 0 {
			t.Errorf("marker %s not set", m)
		}
	}
	if b2.r.Skipped.Load() != 1 {
		t.Errorf("skipped %d records, want 1", b2.r.Skipped.Load())
	}
	got, err := ownB.Alert(ctx, orgs, "al-1")
	if err != nil || got.Count != 5 {
		t.Fatalf("al-1 on the restarted node: %+v %v", got, err)
	}
	if _, err := ownB.Alert(ctx, orgs, "al-3"); err != nil {
		t.Fatal(err)
	}
	if b2.seen() != 3 {
		t.Errorf("Detections hook saw %d alerts after the restart, want 3", b2.seen())
	}
}

type incidentT = incident.Incident

func testIncident(now time.Time) incident.Incident {
	return incident.Incident{ID: "inc-1", Tenant: "org-a", Sector: "energy", Title: "Brute force on ws1", Severity: "high",
		Stages: []string{"credential-access"}, Entities: map[string][]string{"host": {"ws1"}}, AlertIDs: []string{"al-1"},
		FirstSeen: now, LastSeen: now, Techniques: []string{"T1110"}}
}

// TestRegisteredKinds: a package's own record kind is applied on every
// node, and its outcome (a value or a refusal) returns to the writer.
func TestRegisteredKinds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := natsbus.Start(natsbus.ServerOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	type counter struct {
		mu  sync.Mutex
		sum int
	}
	var ca, cb counter
	add := func(c *counter) replica.Applier {
		return func(_ context.Context, data json.RawMessage) (any, error) {
			var n int
			if err := json.Unmarshal(data, &n); err != nil {
				return nil, err
			}
			if n < 0 {
				return nil, fmt.Errorf("negative %d refused", n)
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			c.sum += n
			return c.sum, nil
		}
	}
	// Kinds must be registered before the node applies the log.
	a := newNode(t, ctx, srv, openLocal(t, t.TempDir()), func(r *replica.Store) { r.Handle("add", add(&ca)) })
	b := newNode(t, ctx, srv, openLocal(t, t.TempDir()), func(r *replica.Store) { r.Handle("add", add(&cb)) })
	v, err := a.r.Submit(ctx, "add", 5)
	if err != nil || v != 5 {
		t.Fatalf("Submit = %v, %v; want 5", v, err)
	}
	if _, err := b.r.Submit(ctx, "add", -1); err == nil || !strings.Contains(err.Error(), "negative -1 refused") {
		t.Fatalf("a refusal came back as %v", err)
	}
	if v, err := b.r.Submit(ctx, "add", 2); err != nil || v != 7 {
		t.Fatalf("Submit on b = %v, %v; want 7", v, err)
	}
	if err := a.r.Publish(ctx, "add", "once", 10); err != nil {
		t.Fatal(err)
	}
	if err := b.r.Publish(ctx, "add", "once", 10); err != nil { // the same id: logged once
		t.Fatal(err)
	}
	// The same keyed change from both nodes is applied once.
	if _, err := a.r.SubmitKeyed(ctx, "add", "policy-x", 100); err != nil {
		t.Fatal(err)
	}
	if _, err := b.r.SubmitKeyed(ctx, "add", "policy-x", 100); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both nodes at 117", func() error {
		ca.mu.Lock()
		defer ca.mu.Unlock()
		cb.mu.Lock()
		defer cb.mu.Unlock()
		if ca.sum != 117 || cb.sum != 117 {
			return fmt.Errorf("sums %d and %d", ca.sum, cb.sum)
		}
		return nil
	})
}
