package app

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds cmd/mamori once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mamori")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/mamori-soc/mamori/cmd/mamori")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func runCLI(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "MAMORI_RULES=")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mamori %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

// serverProcess is a real `mamori serve` process.
type serverProcess struct {
	cmd *exec.Cmd
	url string
}

func startProcess(t *testing.T, bin, data string, extra ...string) *serverProcess {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--data", data, "--listen", "127.0.0.1:0", "--log-level", "warn"}, extra...)...)
	cmd.Env = append(os.Environ(), "MAMORI_RULES=")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	p := &serverProcess{cmd: cmd}
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Mamori serving on "); ok {
			p.url = strings.Fields(rest)[0]
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if p.url == "" {
		cmd.Process.Kill()
		t.Fatal("server did not print its address")
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return p
}

func crashBatch(b int) []byte {
	var buf bytes.Buffer
	for i := 0; i < 200; i++ {
		doc := map[string]any{
			"@timestamp": time.Now().UTC().Format(time.RFC3339Nano),
			"winlog": map[string]any{"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1, "computer_name": fmt.Sprintf("host-%d", b),
				"event_data": map[string]any{"Marker": fmt.Sprintf("m-%d-%d", b, i), "Image": `C:\Windows\explorer.exe`, "CommandLine": "explorer.exe"}},
		}
		if i == 0 { // one attack per batch: one alert per batch (hosts differ)
			doc["winlog"].(map[string]any)["event_data"] = map[string]any{"Marker": fmt.Sprintf("m-%d-%d", b, i),
				"Image": `C:\Windows\System32\vssadmin.exe`, "CommandLine": "vssadmin.exe delete shadows /all /quiet"}
		}
		line, _ := json.Marshal(doc)
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func postBatch(url, token string, body []byte) error {
	req, _ := http.NewRequest("POST", url+"/api/v1/ingest", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %s", resp.Status, b)
	}
	var r struct{ Accepted int }
	if json.Unmarshal(b, &r) != nil || r.Accepted != 200 {
		return fmt.Errorf("accepted %d of 200: %s", r.Accepted, b)
	}
	return nil
}

// TestCrashLosesNothingAcknowledged kills a real server process with SIGKILL
// while senders are mid-stream, restarts it, lets the senders retry what was
// not acknowledged, and proves that every acknowledged event is stored
// exactly once and that every attack in them raised its alert.
func TestCrashLosesNothingAcknowledged(t *testing.T) { crashTest(t) }

// TestCrashLosesNothingAcknowledgedBus is the same with NATS JetStream
// between ingest and detection (an embedded server, state in the data
// directory): a sender is answered once JetStream has its records, and
// after the kill the worker finishes what was published but not processed.
func TestCrashLosesNothingAcknowledgedBus(t *testing.T) { crashTest(t, "--nats", "embedded") }

func crashTest(t *testing.T, extra ...string) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	bin := buildBinary(t)
	data := t.TempDir()
	runCLI(t, bin, "org", "add", "Org A", "--sector", "finance", "--id", "org-a", "--data", data)
	ingestTok := runCLI(t, bin, "token", "create", "sender", "--role", "ingest", "--org", "org-a", "--data", data)
	readTok := runCLI(t, bin, "token", "create", "reader", "--role", "national_analyst", "--data", data)

	p := startProcess(t, bin, data, extra...)
	const batches = 60
	// A sender retries with the very bytes it sent first.
	bodies := make([][]byte, batches)
	for b := range bodies {
		bodies[b] = crashBatch(b)
	}
	var mu sync.Mutex
	acked := map[int]bool{}
	next := 0
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				b := next
				next++
				mu.Unlock()
				if b >= batches {
					return
				}
				select {
				case <-stop:
					return
				default:
				}
				if postBatch(p.url, ingestTok, bodies[b]) == nil {
					mu.Lock()
					acked[b] = true
					mu.Unlock()
				}
			}
		}()
	}
	// Kill once a good part has been acknowledged, with requests in flight.
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 15 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	close(stop)
	wg.Wait()
	mu.Lock()
	nAcked := len(acked)
	mu.Unlock()
	if nAcked < 15 {
		t.Fatalf("only %d batches acknowledged before the kill", nAcked)
	}

	// Restart; the senders retry every batch they have no acknowledgement for.
	p2 := startProcess(t, bin, data, extra...)
	for b := 0; b < batches; b++ {
		if acked[b] {
			continue
		}
		if err := postBatch(p2.url, ingestTok, bodies[b]); err != nil {
			t.Fatalf("retry of batch %d: %v", b, err)
		}
	}

	// Every event of every batch is stored exactly once (on the bus, once
	// the worker has caught up with what JetStream holds).
	count := func() map[string]int {
		seen := map[string]int{}
		cursor := ""
		for {
			req, _ := http.NewRequest("GET", p2.url+"/api/v1/events?limit=1000&cursor="+cursor, nil)
			req.Header.Set("Authorization", "Bearer "+readTok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var page struct {
				Events []struct{ Fields map[string]any }
				Total  int
				Next   string
			}
			json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			for _, e := range page.Events {
				m, _ := e.Fields["Marker"].(string)
				seen[m]++
			}
			if page.Next == "" {
				return seen
			}
			cursor = page.Next
		}
	}
	// A batch the killed worker held is redelivered once its ack wait
	// (10 s) has passed.
	var seen map[string]int
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if seen = count(); len(seen) >= batches*200 || time.Now().After(deadline) {
			break
		}
	}
	dups := 0
	for m, n := range seen {
		if n != 1 {
			dups++
			if dups < 5 {
				t.Errorf("event %s stored %d times", m, n)
			}
		}
	}
	for b := 0; b < batches; b++ {
		for i := 0; i < 200; i++ {
			if seen[fmt.Sprintf("m-%d-%d", b, i)] != 1 {
				t.Fatalf("event m-%d-%d (batch acknowledged before the crash: %v) is missing", b, i, acked[b])
			}
		}
	}
	if len(seen) != batches*200 {
		t.Errorf("%d distinct events stored, want %d", len(seen), batches*200)
	}

	// Every attack raised its alert, exactly once, after the restart.
	waitFor(t, "one alert per batch", func() bool {
		req, _ := http.NewRequest("GET", p2.url+"/api/v1/alerts?limit=1000&events=false&rule_id=4d8b1f63-9a2e-4c5b-8e70-1f3a6d9c2b48", nil)
		req.Header.Set("Authorization", "Bearer "+readTok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var page struct {
			Alerts []struct {
				Host  string
				Count int
			}
		}
		json.NewDecoder(resp.Body).Decode(&page)
		hosts := map[string]int{}
		for _, a := range page.Alerts {
			hosts[a.Host] += a.Count
		}
		for b := 0; b < batches; b++ {
			if hosts[fmt.Sprintf("host-%d", b)] != 1 {
				return false
			}
		}
		return len(hosts) == batches
	})
	t.Logf("%d batches acknowledged before SIGKILL, %d retried after restart; %d events stored once each", nAcked, batches-nAcked, len(seen))
}

// TestCrashLosesNothingAcknowledgedClickHouse is the scale-out path on one
// machine: NATS JetStream between ingest and detection, events in a real
// ClickHouse server (Debian's, started here), the rest in the embedded
// store. SIGKILL mid-stream; every acknowledged event is stored once and
// every attack's alert raised once.
func TestCrashLosesNothingAcknowledgedClickHouse(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	crashTest(t, "--nats", "embedded", "--clickhouse", scaleStartClickHouse(t)+"/mamori")
}
