package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mamori-soc/mamori/internal/bus"
	"github.com/mamori-soc/mamori/internal/bus/natsbus"
)

// scaleVssadminRule is the built-in rule that the one attack of every
// crashBatch raises (vssadmin delete shadows).
const scaleVssadminRule = "4d8b1f63-9a2e-4c5b-8e70-1f3a6d9c2b48"

// TestScaleOutLosesNothingAcknowledged is the scale-out reliability test of
// issue 7: ingest → NATS (a 3-node JetStream cluster) → 2 detection workers
// → ClickHouse, all real processes but the cluster. A known stream (one
// vssadmin attack per batch of 200 events, so one alert per batch, over
// organisations whose partitions fall on both workers) is sent while one
// worker is killed with SIGKILL and the stream leader's NATS node is
// stopped; both come back. Then every event acknowledged to a sender must be
// in ClickHouse exactly once, and every node (the ingest node and both
// workers) must show every expected alert exactly once and no duplicate.
func TestScaleOutLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes, a NATS cluster and ClickHouse")
	}
	bin := buildBinary(t)
	chURL := scaleStartClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	// The cluster's cleanup is registered first, so it runs after the
	// processes' cleanups (which kill the processes).
	sctx, scancel := context.WithTimeout(ctx, 2*time.Minute)
	cluster, err := natsbus.StartCluster(sctx, 3, t.TempDir(), nil)
	scancel()
	if err != nil {
		t.Fatalf("StartCluster: %v", err)
	}
	t.Cleanup(cluster.Shutdown)

	// Organisations spread over both workers: partition p belongs to
	// live[p mod 2], so three on even and three on odd partitions.
	orgs := scaleOutOrgs(scalePartitions, 3)
	type node struct {
		name, role, data string
		readTok          string
		ingestTok        map[string]string // org → token (ingest node only)
		p                *serverProcess
	}
	nodes := []*node{{name: "ingest", role: "ingest"}, {name: "detect-1", role: "detect"}, {name: "detect-2", role: "detect"}}
	for _, n := range nodes {
		// Each node's data directory gets the organisations and a reader
		// token from the command line (announced to the others at start).
		n.data = t.TempDir()
		for _, o := range orgs {
			runCLI(t, bin, "org", "add", "Org "+o, "--sector", "finance", "--id", o, "--data", n.data)
		}
		n.readTok = runCLI(t, bin, "token", "create", "reader", "--role", "national_analyst", "--data", n.data)
		if n.role == "ingest" {
			n.ingestTok = map[string]string{}
			for _, o := range orgs {
				n.ingestTok[o] = runCLI(t, bin, "token", "create", "sender-"+o, "--role", "ingest", "--org", o, "--data", n.data)
			}
		}
	}
	start := func(n *node) {
		n.p = startProcess(t, bin, n.data, "--role", n.role, "--nats", cluster.URL(), "--nats-replicas", "3", "--clickhouse", chURL+"/mamori")
	}
	for _, n := range nodes {
		start(n)
	}
	ingestNode, victim := nodes[0], nodes[2]

	// The test's own view of JetStream: replicas, leaders, deliveries.
	nc, err := nats.Connect(cluster.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatalf("nats connect: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	streamInfo := func() (*jetstream.StreamInfo, error) {
		ictx, icancel := context.WithTimeout(ctx, 5*time.Second)
		defer icancel()
		st, err := js.Stream(ictx, natsbus.StreamName)
		if err != nil {
			return nil, err
		}
		return st.Info(ictx)
	}
	si, err := streamInfo()
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	replicas := si.Config.Replicas
	if replicas != 3 {
		t.Errorf("stream %s has %d replica(s), want 3 on a 3-node cluster (--nats-replicas 3)", natsbus.StreamName, replicas)
	}

	// Senders: three goroutines take the next batch of the known stream and
	// send it until it is acknowledged (HTTP 200 with all 200 events
	// accepted), with the very bytes of the first attempt; a batch that
	// still has no acknowledgement after sendPatience is given up and
	// counted as not acknowledged. Each sender pauses between batches, so
	// that the stream outlasts the failures and the restarts however fast
	// the machine is (up to about 30 batches/s; an R3 bus takes more than
	// 300/s on 2 cores).
	const (
		maxBatches   = 5000
		sendPatience = 3 * time.Minute
		pause        = 100 * time.Millisecond
	)
	var (
		mu       sync.Mutex
		next     int
		acked    = map[int]bool{}
		failures int // failed attempts
		retried  = map[int]bool{}
		lastErr  error
	)
	ackedN := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	// stop ends the stream (no new batches); abort, on the way out of a
	// failed test, also ends the retries.
	stop, abort := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				b := next
				if b >= maxBatches {
					mu.Unlock()
					return
				}
				next++
				mu.Unlock()
				body, tok := crashBatch(b), ingestNode.ingestTok[orgs[b%len(orgs)]]
				for giveUp := time.Now().Add(sendPatience); ; {
					err := postBatch(ingestNode.p.url, tok, body)
					mu.Lock()
					if err == nil {
						acked[b] = true
						mu.Unlock()
						select {
						case <-abort:
							return
						case <-time.After(pause):
						}
						break
					}
					failures++
					retried[b] = true
					lastErr = err
					mu.Unlock()
					if time.Now().After(giveUp) {
						break
					}
					select {
					case <-abort:
						return
					case <-time.After(250 * time.Millisecond):
					}
				}
			}
		}()
	}
	defer func() {
		close(abort)
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()
	waitAcked := func(n int, d time.Duration) bool {
		for deadline := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
			if ackedN() >= n {
				return true
			}
			if time.Now().After(deadline) {
				return false
			}
		}
	}

	// Mid-stream: SIGKILL a worker and stop the stream leader's node.
	if !waitAcked(30, 3*time.Minute) {
		t.Fatalf("only %d batches acknowledged before the failures (last error: %v)", ackedN(), lastErr)
	}
	if err := victim.p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	victim.p.cmd.Wait()
	ackedAtKill := ackedN()
	stopped := 0
	if si, err := streamInfo(); err == nil && si.Cluster != nil {
		for i, s := range cluster.Servers {
			if s.Name() == si.Cluster.Leader {
				stopped = i
			}
		}
	}
	stoppedName := cluster.Servers[stopped].Name()
	cluster.Stop(stopped)
	ackedAtStop := ackedN()
	t.Logf("SIGKILLed %s after %d acknowledged batches, then stopped NATS node %s (stream leader) after %d", victim.name, ackedAtKill, stoppedName, ackedAtStop)

	// After a while both come back: the worker with the same data
	// directory, the node with its store. 15 s is longer than a worker's
	// membership (6 s) and the ack wait (10 s), so the surviving worker
	// takes the killed one's partitions over, and gets the batch it held,
	// before it returns.
	outage := time.Now()
	time.Sleep(15 * time.Second)
	ackedInOutage := ackedN() - ackedAtStop
	if err := cluster.Restart(stopped); err != nil {
		t.Fatalf("restart NATS node %s: %v", stoppedName, err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 2*time.Minute)
	err = cluster.WaitReady(rctx)
	rcancel()
	if err != nil {
		t.Fatal(err)
	}
	start(victim)
	ackedAtRestart := ackedN()
	t.Logf("restarted %s and %s after %s; %d batches acknowledged meanwhile", stoppedName, victim.name, time.Since(outage).Round(time.Millisecond), ackedInOutage)

	// The stream goes on after the restart, then ends.
	if !waitAcked(ackedAtRestart+30, 3*time.Minute) {
		t.Errorf("only %d batches acknowledged after the restart (last error: %v)", ackedN()-ackedAtRestart, lastErr)
	}
	close(stop)
	wg.Wait()
	mu.Lock()
	sent := next
	nAcked, nRetried, nFailures := len(acked), len(retried), failures
	mu.Unlock()
	if nAcked < sent {
		t.Errorf("%d of %d batches never acknowledged after %s of retries (last error: %v)", sent-nAcked, sent, sendPatience, lastErr)
	}

	// Events: every acknowledged one is in ClickHouse exactly once (rows
	// counted by event id, no FINAL, no deduplicating read).
	var ev scaleCHCount
	complete := func() bool {
		for b := range sent {
			if !acked[b] {
				continue
			}
			for i := range 200 {
				if ev.rows[fmt.Sprintf("m-%d-%d", b, i)] == 0 {
					return false
				}
			}
		}
		return true
	}
	for deadline := time.Now().Add(4 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		ev, err = scaleCountCHEvents(chURL, "mamori")
		if err == nil && complete() || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Errorf("counting events in ClickHouse: %v", err)
	}
	missing, dupEvents := 0, 0
	for b := range sent {
		for i := range 200 {
			m := fmt.Sprintf("m-%d-%d", b, i)
			if n := ev.rows[m]; n > 1 || len(ev.ids[m]) > 1 {
				dupEvents++
				if dupEvents <= 5 {
					t.Errorf("event %s (batch %d, acknowledged %v) stored %d times under %d id(s)", m, b, acked[b], n, len(ev.ids[m]))
				}
			} else if n == 0 && acked[b] {
				missing++
				if missing <= 5 {
					t.Errorf("acknowledged event %s (batch %d) is not in ClickHouse", m, b)
				}
			}
		}
	}
	if ev.dupIDs > 0 {
		t.Errorf("%d event ids have more than one row in ClickHouse", ev.dupIDs)
	}
	if ev.other > 0 {
		t.Errorf("%d rows in ClickHouse are no event of the stream", ev.other)
	}

	// Deliveries beyond one per batch (redeliveries after the kill, the
	// node failure or a handler error), from JetStream's consumer
	// sequences once every partition is drained.
	redeliveries := -1
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if n, ok := scaleRedeliveries(ctx, js); ok {
			redeliveries = n
			break
		}
	}

	// Alerts: through the API of every node, one alert per acknowledged
	// batch (its host, its organisation, the vssadmin rule, count 1), at
	// most one for a batch never acknowledged, and no second alert of any
	// rule for one organisation and host.
	expect := map[scaleAlertKey]bool{}
	for b := range sent {
		expect[scaleAlertKey{scaleVssadminRule, orgs[b%len(orgs)], fmt.Sprintf("host-%d", b)}] = acked[b]
	}
	verdicts := make([]scaleAlertVerdict, len(nodes))
	var differ []string // nodes whose alerts are not the first node's
	check := func() bool {
		ok := true
		var ids []map[string]bool
		for i, n := range nodes {
			alerts, err := scaleListAlerts(n.p.url, n.readTok)
			if err != nil {
				verdicts[i] = scaleAlertVerdict{err: err}
				ok = false
				continue
			}
			verdicts[i] = scaleJudgeAlerts(alerts, expect)
			ok = ok && verdicts[i].ok()
			m := map[string]bool{}
			for _, a := range alerts {
				m[fmt.Sprintf("%s %s/%s/%s", a.ID, a.RuleID, a.OrgID, a.Host)] = true
			}
			ids = append(ids, m)
		}
		// The same alerts (ids, rules, organisations, hosts) on every node.
		differ = differ[:0]
		for i := 1; i < len(ids); i++ {
			if d := scaleSetDiff(ids[0], ids[i]); d != "" {
				differ = append(differ, fmt.Sprintf("%s vs %s: %s", nodes[0].name, nodes[i].name, d))
			}
		}
		return ok && len(differ) == 0
	}
	for deadline := time.Now().Add(2 * time.Minute); !check() && time.Now().Before(deadline); time.Sleep(time.Second) {
	}
	same := "the same alerts on every node"
	if len(differ) > 0 {
		same = "alerts differ between nodes"
	}

	var perNode []string
	for i, n := range nodes {
		perNode = append(perNode, fmt.Sprintf("%s %s", n.name, verdicts[i]))
	}
	t.Logf("scale-out: %d batches sent (%d events, %d organisations), %d acknowledged (%d after a retry, %d failed attempts); SIGKILL of %s after %d, stop of NATS node %s after %d, %d acknowledged while both were down; stream R%d; ClickHouse holds %d rows, %d distinct events, %d acknowledged missing, %d stored more than once; redeliveries %s; alerts (expected %d): %s; %s",
		sent, sent*200, len(orgs), nAcked, nRetried, nFailures, victim.name, ackedAtKill, stoppedName, ackedAtStop, ackedInOutage,
		replicas, ev.total, len(ev.rows), missing, dupEvents, scaleFmtRedeliveries(redeliveries), scaleCountAcked(expect), strings.Join(perNode, ", "), same)
	for _, d := range differ {
		t.Errorf("alerts differ: %s", d)
	}
	for i, n := range nodes {
		if !verdicts[i].ok() {
			t.Errorf("alerts on %s (%s): %s", n.name, n.role, verdicts[i].detail())
		}
	}
}

// scalePartitions is the partition count of the server's bus (natsbus's
// default; openBus sets none).
const scalePartitions = 16

// scaleOutOrgs returns 2*perParity organisation ids on distinct partitions,
// perParity on even and perParity on odd ones, so that both of two workers
// own some.
func scaleOutOrgs(partitions, perParity int) []string {
	var even, odd []string
	used := map[int]bool{}
	for i := 0; len(even) < perParity || len(odd) < perParity; i++ {
		id := fmt.Sprintf("org-%d", i)
		p := bus.Partition(id, partitions)
		if used[p] {
			continue
		}
		if p%2 == 0 && len(even) < perParity {
			even = append(even, id)
			used[p] = true
		} else if p%2 == 1 && len(odd) < perParity {
			odd = append(odd, id)
			used[p] = true
		}
	}
	var out []string
	for i := range perParity {
		out = append(out, even[i], odd[i])
	}
	return out
}

// scaleStartClickHouse starts a throwaway ClickHouse server (Debian's, as
// scripts/install-test-deps.sh installs it) on ports from the OS, and
// returns its HTTP base URL.
func scaleStartClickHouse(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var ports []string
	for range 3 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports = append(ports, strings.TrimPrefix(l.Addr().String(), "127.0.0.1:"))
		l.Close()
	}
	script := filepath.Join("..", "..", "scripts", "clickhouse-test.sh")
	cmd := exec.Command("sh", script, "start", dir)
	cmd.Env = append(os.Environ(), "MAMORI_CH_HTTP_PORT="+ports[0], "MAMORI_CH_TCP_PORT="+ports[1], "MAMORI_CH_INTERSERVER_PORT="+ports[2])
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("starting clickhouse-server (scripts/install-test-deps.sh installs it): %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("sh", script, "stop", dir).Run() })
	return "http://127.0.0.1:" + ports[0]
}

// scaleCHCount is what ClickHouse holds, by the crashBatch marker of each
// event.
type scaleCHCount struct {
	total  int                        // rows
	rows   map[string]int             // marker → rows
	ids    map[string]map[string]bool // marker → event ids
	dupIDs int                        // ids with more than one row
	other  int                        // rows without a marker
}

// scaleCountCHEvents reads the events table directly over ClickHouse's
// HTTP interface: rows per event id, and each id's marker.
func scaleCountCHEvents(base, db string) (scaleCHCount, error) {
	c := scaleCHCount{rows: map[string]int{}, ids: map[string]map[string]bool{}}
	sql := "SELECT id, count(), any(extract(raw, '\"Marker\":\"([^\"]+)\"')) FROM `" + db + "`.`events` GROUP BY id FORMAT TabSeparated"
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Post(base+"/", "text/plain", strings.NewReader(sql))
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return c, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 {
			return c, fmt.Errorf("unexpected row %q", sc.Text())
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			return c, fmt.Errorf("unexpected row %q", sc.Text())
		}
		c.total += n
		if n > 1 {
			c.dupIDs++
		}
		if f[2] == "" {
			c.other += n
			continue
		}
		c.rows[f[2]] += n
		if c.ids[f[2]] == nil {
			c.ids[f[2]] = map[string]bool{}
		}
		c.ids[f[2]][f[0]] = true
	}
	return c, sc.Err()
}

// scaleRedeliveries returns the deliveries beyond one per stored batch, over
// all partition consumers, once none has anything pending or
// unacknowledged (every delivery, redeliveries included, takes a consumer
// sequence number).
func scaleRedeliveries(ctx context.Context, js jetstream.JetStream) (int, bool) {
	ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := js.Stream(ictx, natsbus.StreamName)
	if err != nil {
		return 0, false
	}
	si, err := st.Info(ictx)
	if err != nil {
		return 0, false
	}
	var delivered uint64
	for p := range scalePartitions {
		c, err := st.Consumer(ictx, fmt.Sprintf("mamori-p%02d", p))
		if err != nil {
			return 0, false
		}
		ci, err := c.Info(ictx)
		if err != nil || ci.NumPending > 0 || ci.NumAckPending > 0 {
			return 0, false
		}
		delivered += ci.Delivered.Consumer
	}
	return int(delivered) - int(si.State.Msgs), true
}

func scaleFmtRedeliveries(n int) string {
	if n < 0 {
		return "unknown (the bus did not drain)"
	}
	return strconv.Itoa(n)
}

type scaleAlertKey struct{ rule, org, host string }

type scaleAlert struct {
	ID     string `json:"id"`
	OrgID  string `json:"org_id"`
	RuleID string `json:"rule_id"`
	Host   string `json:"host"`
	Count  int    `json:"count"`
}

// scaleListAlerts pages through every alert a national analyst sees on a node.
func scaleListAlerts(base, token string) ([]scaleAlert, error) {
	var out []scaleAlert
	cursor := ""
	for {
		req, _ := http.NewRequest("GET", base+"/api/v1/alerts?limit=1000&events=false&cursor="+url.QueryEscape(cursor), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			return nil, err
		}
		var page struct {
			Alerts []scaleAlert
			Next   string
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET /api/v1/alerts: %s", resp.Status)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, page.Alerts...)
		if page.Next == "" {
			return out, nil
		}
		cursor = page.Next
	}
}

// scaleAlertVerdict compares a node's alerts with the expected ones.
type scaleAlertVerdict struct {
	err        error
	found      int      // expected alerts present exactly once, with count 1
	missing    []string // expected (of an acknowledged batch) and absent
	duplicated []string // more than one alert, or a count above 1, for one rule, organisation and host
	unexpected []string // vssadmin alerts for no batch sent
	others     int      // alerts of other rules
	total      int
}

func scaleJudgeAlerts(alerts []scaleAlert, expect map[scaleAlertKey]bool) scaleAlertVerdict {
	v := scaleAlertVerdict{total: len(alerts)}
	n, hits := map[scaleAlertKey]int{}, map[scaleAlertKey]int{}
	for _, a := range alerts {
		k := scaleAlertKey{a.RuleID, a.OrgID, a.Host}
		n[k]++
		hits[k] += a.Count
		if a.RuleID != scaleVssadminRule {
			v.others++
		}
	}
	for k, c := range n {
		if c > 1 || hits[k] > 1 {
			v.duplicated = append(v.duplicated, fmt.Sprintf("%s/%s/%s ×%d (count %d)", k.rule[:8], k.org, k.host, c, hits[k]))
		}
		if _, ok := expect[k]; !ok && k.rule == scaleVssadminRule {
			v.unexpected = append(v.unexpected, k.org+"/"+k.host)
		}
	}
	for k, ackd := range expect {
		switch {
		case n[k] == 1 && hits[k] == 1:
			v.found++
		case n[k] == 0 && ackd:
			v.missing = append(v.missing, k.org+"/"+k.host)
		}
	}
	sort.Strings(v.missing)
	sort.Strings(v.duplicated)
	sort.Strings(v.unexpected)
	return v
}

func (v scaleAlertVerdict) ok() bool {
	return v.err == nil && len(v.missing) == 0 && len(v.duplicated) == 0 && len(v.unexpected) == 0
}

func (v scaleAlertVerdict) String() string {
	if v.err != nil {
		return "error: " + v.err.Error()
	}
	return fmt.Sprintf("%d found once, %d missing, %d duplicated, %d unexpected (%d alerts, %d of other rules)",
		v.found, len(v.missing), len(v.duplicated), len(v.unexpected), v.total, v.others)
}

func (v scaleAlertVerdict) detail() string {
	first := func(s []string) string {
		if len(s) > 5 {
			return strings.Join(s[:5], " ") + " ..."
		}
		return strings.Join(s, " ")
	}
	return fmt.Sprintf("%s; missing: %s; duplicated: %s; unexpected: %s", v, first(v.missing), first(v.duplicated), first(v.unexpected))
}

// scaleSetDiff describes how b differs from a, or returns "".
func scaleSetDiff(a, b map[string]bool) string {
	var only []string
	for k := range a {
		if !b[k] {
			only = append(only, "-"+k)
		}
	}
	for k := range b {
		if !a[k] {
			only = append(only, "+"+k)
		}
	}
	if len(only) == 0 {
		return ""
	}
	sort.Strings(only)
	if len(only) > 3 {
		return fmt.Sprintf("%d differences, e.g. %s", len(only), strings.Join(only[:3], "; "))
	}
	return strings.Join(only, "; ")
}

func scaleCountAcked(m map[scaleAlertKey]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}
