//go:build linux

package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mamori-soc/mamori/internal/auth"
	"github.com/mamori-soc/mamori/internal/bus/natsbus"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// scaleBenchOrgs is the number of organisations BenchmarkScaleOut spreads the
// events over (each sends its own share with its own ingest token).
const scaleBenchOrgs = 200

// BenchmarkScaleOut measures the platform's throughput over many
// organisations, in process and split into nodes on NATS JetStream:
//
//   - embedded: one node, no NATS (ingest → SQLite → detection in process);
//   - workers=N: one nats-server reached by URL, one node with role ingest
//     and N nodes with role detect, each with its own data directory.
//
// All nodes run in this process (so on the same cores) with the built-in
// pack and the SigmaHQ rules. A round is 40,000 real Windows events (OTRF)
// spread over 200 organisations, 200 consecutive events each, sent as one
// _bulk request per organisation by MAMORI_BENCH_SENDERS (default 4)
// concurrent senders; it ends when detection has committed every event sent
// (see waitProcessed). One untimed round first lets the workers settle their
// partitions. It reports events/s end to end (ev/s); the rate at which the
// ingest node acknowledged the requests (acked-ev/s: with the bus, once
// JetStream has the events); the CPU this process and the whole machine used
// (cpu-cores, host-cores: a gap means other processes competed); the bus
// batches per round, the bytes JetStream stored per event and the records
// of shared state (alerts) every node applied per round; the busiest
// worker's share of the events; and the hits per round (the same in every
// mode: a check that nothing was lost).
func BenchmarkScaleOut(b *testing.B) {
	docs := loadOTRF(b, 40000)
	rules := []string{filepath.Join(testdataDir(b), "sigma", "rules")}
	b.Run("embedded", func(b *testing.B) { benchScaleOut(b, docs, rules, 0) })
	for _, n := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) { benchScaleOut(b, docs, rules, n) })
	}
}

// scaleBench is the nodes of one BenchmarkScaleOut run.
type scaleBench struct {
	ingest *Server
	detect []*Server // the nodes that run detection: the ingest node itself without NATS
	nodes  []*Server // every node
	url    string    // the ingest node's HTTP address
	tokens []string  // tokens[i] sends as organisation i
	stream jetstream.Stream
}

func benchScaleOut(b *testing.B, docs [][]byte, rules []string, workers int) {
	b.Setenv("MAMORI_RULES", "")
	ctx := context.Background()
	orgs := make([]tenant.Tenant, scaleBenchOrgs)
	for i := range orgs {
		orgs[i] = tenant.Tenant{ID: tenant.ID(fmt.Sprintf("org-%03d", i)), Name: fmt.Sprintf("Org %d", i), Sector: tenant.Sectors[i%len(tenant.Sectors)]}
	}
	cfg := Config{Rules: rules}
	c := &scaleBench{}
	if workers == 0 {
		c.ingest = startScaleBenchNode(b, cfg, orgs)
		c.detect = []*Server{c.ingest}
		c.nodes = c.detect
	} else {
		ns, err := natsbus.Start(natsbus.ServerOptions{StoreDir: b.TempDir(), Name: "bench", ClientAddr: "127.0.0.1:0"})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(ns.Shutdown) // after the nodes have stopped (cleanups run last first)
		cfg.NATS = ns.ClientURL()
		cfg.Role = "ingest"
		c.ingest = startScaleBenchNode(b, cfg, orgs)
		cfg.Role = "detect"
		for range workers {
			c.detect = append(c.detect, startScaleBenchNode(b, cfg, orgs))
		}
		c.nodes = append([]*Server{c.ingest}, c.detect...)
		nc, err := nats.Connect(cfg.NATS)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			b.Fatal(err)
		}
		if c.stream, err = js.Stream(ctx, natsbus.StreamName); err != nil {
			b.Fatal(err)
		}
		kv, err := js.KeyValue(ctx, natsbus.MembersBucket)
		if err != nil {
			b.Fatal(err)
		}
		if err := waitBusMembers(ctx, kv, workers); err != nil {
			b.Fatal(err)
		}
	}
	c.url = "http://" + c.ingest.Addr()
	for _, o := range orgs {
		tok, err := c.ingest.Auth().CreateToken(ctx, "bench "+string(o.ID), auth.Ingest, o.ID)
		if err != nil {
			b.Fatal(err)
		}
		c.tokens = append(c.tokens, tok)
	}
	senders := 4
	if v := os.Getenv("MAMORI_BENCH_SENDERS"); v != "" {
		fmt.Sscan(v, &senders)
	}

	// An untimed round: the workers' partitions settle, caches warm up.
	c.send(b, docs, 0, senders)
	sent := int64(len(docs))
	if err := c.waitProcessed(ctx, sent); err != nil {
		b.Fatal(err)
	}
	var batches0, bytes0 int64
	if c.stream != nil {
		batches0, bytes0 = c.streamState(b)
	}
	var records0 uint64
	if c.ingest.replica != nil {
		records0 = c.ingest.replica.Applied()
	}
	cpu0, host0 := processCPUTime(), hostCPUTime()
	start := time.Now()
	rounds := 0
	var sending time.Duration // the time ingest took to acknowledge the rounds
	for b.Loop() {
		rounds++
		t0 := time.Now()
		c.send(b, docs, rounds, senders)
		sending += time.Since(t0)
		sent += int64(len(docs))
		if err := c.waitProcessed(ctx, sent); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	cpu, host := processCPUTime()-cpu0, hostCPUTime()-host0
	events := float64(rounds * len(docs))
	b.ReportMetric(events/elapsed.Seconds(), "ev/s")
	b.ReportMetric(events/sending.Seconds(), "acked-ev/s")
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "cpu-cores")
	if host > 0 {
		// What the whole machine used: more than cpu-cores means other
		// processes competed for the cores (the figures are then low).
		b.ReportMetric(host.Seconds()/elapsed.Seconds(), "host-cores")
	}
	var hits, busiest int64
	for _, s := range c.detect {
		hits += s.det.Stats.Hits.Load()
		busiest = max(busiest, s.det.Stats.Position.Load())
	}
	b.ReportMetric(float64(hits)/float64(rounds+1), "hits/round")
	if c.stream != nil {
		n, size := c.streamState(b)
		n, size = n-batches0, size-bytes0
		b.ReportMetric(float64(n)/float64(rounds), "batches/round")
		b.ReportMetric(float64(size)/events, "bus-B/ev")
		if c.ingest.replica != nil {
			// Every node applies every record of the state log.
			b.ReportMetric(float64(c.ingest.replica.Applied()-records0)/float64(rounds), "state-records/round")
		}
		b.ReportMetric(events/float64(n), "ev/batch")
		b.ReportMetric(100*float64(busiest)/float64(sent), "busiest-worker-%")
	}
	b.ReportAllocs()
}

// startScaleBenchNode starts a node with cfg in a data directory of its own, the
// organisations created in its store, and stops it when the benchmark ends.
func startScaleBenchNode(b *testing.B, cfg Config, orgs []tenant.Tenant) *Server {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Listen, cfg.Data = "127.0.0.1:0", b.TempDir()
	srv, err := NewServer(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	for _, o := range orgs {
		if err := srv.store.PutTenant(ctx, o); err != nil {
			srv.closeAll()
			cancel()
			b.Fatal(err)
		}
	}
	if err := srv.refreshTenants(ctx); err != nil {
		srv.closeAll()
		cancel()
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("node %s (role %q): %v", cfg.Data, cfg.Role, err)
		}
	})
	if err := waitReady(ctx, "http://"+srv.Addr()); err != nil {
		b.Fatal(err)
	}
	return srv
}

// waitBusMembers waits until n workers are members and each has heartbeated
// since all n were: every worker has then computed its share of the
// partitions from the full set (natsbus: partition p to live[p mod n]).
func waitBusMembers(ctx context.Context, kv jetstream.KeyValue, n int) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var floor uint64 // the revision every member must have written after
	for {
		keys, err := kv.Keys(ctx)
		if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
			return fmt.Errorf("workers: %w", err)
		}
		if len(keys) == n {
			var newest uint64
			all := floor != 0
			for _, k := range keys {
				e, err := kv.Get(ctx, k)
				if err != nil {
					return fmt.Errorf("worker %s: %w", k, err)
				}
				newest = max(newest, e.Revision())
				all = all && e.Revision() > floor
			}
			if all {
				return nil
			}
			if floor == 0 {
				floor = newest
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d workers did not join (members: %v): %w", n, keys, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// send posts one round of docs: organisation i sends its share (consecutive
// events) in one _bulk request with its own token; ids are unique per round.
func (c *scaleBench) send(b *testing.B, docs [][]byte, round, senders int) {
	per := len(docs) / len(c.tokens)
	jobs := make(chan int)
	client := &http.Client{Timeout: time.Minute}
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for org := range jobs {
				lo, hi := org*per, (org+1)*per
				if org == len(c.tokens)-1 {
					hi = len(docs)
				}
				buf.Reset()
				for i := lo; i < hi; i++ {
					fmt.Fprintf(&buf, "{\"create\":{\"_id\":\"r%d-%d\"}}\n", round, i)
					buf.Write(docs[i])
					buf.WriteByte('\n')
				}
				if err := c.post(client, c.tokens[org], buf.Bytes()); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for org := range c.tokens {
		jobs <- org
	}
	close(jobs)
	wg.Wait()
}

// post sends one _bulk request, backing off on 429 and 503 as a shipper does.
func (c *scaleBench) post(client *http.Client, tok string, body []byte) error {
	for {
		req, _ := http.NewRequest("POST", c.url+"/_bulk", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			if bytes.Contains(out, []byte(`"errors":true`)) {
				return fmt.Errorf("_bulk: records refused: %.300s", out)
			}
			return nil
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			time.Sleep(50 * time.Millisecond)
		default:
			return fmt.Errorf("_bulk: %s: %.300s", resp.Status, out)
		}
	}
}

// waitProcessed returns once detection has committed want events in all.
//
// A detection node's Stats.Position is the highest sequence number of a
// batch it has finished (stored, detected, alerts committed), and sequence
// numbers count the events its own store holds (ids are unique, nothing is
// deleted): so the positions add up to want only when every event sent has
// been stored by some node and the batch holding each node's newest event is
// finished. In process that is all (detection goes in order). On the bus,
// batches of different partitions are handled in parallel, so an older
// batch may still be in its handler: the round also waits until no
// partition has a batch pending or unacknowledged (a handler acknowledges
// after its commit). With shared state, a worker's commit puts the alerts in
// the state log and every node stores them as it applies the log: the round
// also waits until every node has applied all of it.
func (c *scaleBench) waitProcessed(ctx context.Context, want int64) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for {
		var pos int64
		for _, s := range c.detect {
			pos += s.det.Stats.Position.Load()
		}
		switch {
		case pos > want:
			return fmt.Errorf("detection passed %d events, %d were sent", pos, want)
		case pos == want && c.ingest.bus == nil:
			return nil
		case pos == want:
			lag, err := c.ingest.bus.Lag(ctx)
			if err != nil {
				return err
			}
			busy := false
			for _, l := range lag {
				busy = busy || l.Pending > 0 || l.Unacked > 0
			}
			for _, s := range c.nodes {
				if busy || s.replica == nil {
					continue
				}
				n, err := s.replica.Lag(ctx)
				if err != nil {
					return err
				}
				busy = n > 0
			}
			if !busy {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("detection at %d of %d events: %w", pos, want, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// streamState returns the number of batches the bus stream holds and their size.
func (c *scaleBench) streamState(b *testing.B) (int64, int64) {
	info, err := c.stream.Info(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return int64(info.State.Msgs), int64(info.State.Bytes)
}

// processCPUTime returns the CPU time (user and system) this process has used.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// hostCPUTime returns the CPU time the whole machine has spent busy (all
// cores, from /proc/stat), or 0 when it cannot be read.
func hostCPUTime() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	f := bytes.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || string(f[0]) != "cpu" {
		return 0
	}
	var busy int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		var v int64
		fmt.Sscan(string(f[i]), &v)
		busy += v
	}
	return time.Duration(busy) * time.Second / 100 // USER_HZ is 100 on Linux
}
