package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mamori-soc/mamori/internal/corpus"
)

func testdataDir(t testing.TB) string { return corpus.Dir(t) }

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv("MAMORI_RULES", "")
	t.Setenv("MAMORI_DATA", t.TempDir())
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, nil, &out, &errb)
	return code, out.String(), errb.String()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// TestRulesCheckCorpus: the whole SigmaHQ corpus loads.
func TestRulesCheckCorpus(t *testing.T) {
	base := filepath.Join(testdataDir(t), "sigma")
	var args []string
	for _, d := range []string{"rules", "rules-emerging-threats", "rules-threat-hunting", "rules-placeholder", "rules-compliance"} {
		args = append(args, filepath.Join(base, d))
	}
	code, out, _ := run(t, append([]string{"rules", "check"}, args...)...)
	if code != ExitOK || !strings.HasSuffix(lastLine(out), "rules loaded, 0 failed") {
		t.Errorf("exit %d, last line %q; output:\n%s", code, lastLine(out), out)
	}
}

// TestRulesCheckReportsFailures: bad rules are listed with file and line, the
// good ones still load, and the exit status says so.
func TestRulesCheckReportsFailures(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "good.yml"), []byte("title: ok\nlogsource: {product: windows, category: process_creation}\ndetection:\n  sel: {Image: x}\n  condition: sel\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "bad.yml"), []byte("title: bad\nlogsource: {product: windows}\ndetection:\n  sel:\n    Image|nope: x\n  condition: sel\n"), 0o644)
	code, out, _ := run(t, "rules", "check", dir)
	if code != ExitInputError {
		t.Errorf("exit %d, want %d", code, ExitInputError)
	}
	if !strings.Contains(out, filepath.Join(dir, "bad.yml")+`:5:5: "Image|nope": unknown modifier "nope"`) {
		t.Errorf("output lacks the located error:\n%s", out)
	}
	if lastLine(out) != "1 rules loaded, 1 failed" {
		t.Errorf("last line %q", lastLine(out))
	}
}

// TestHuntJSONL hunts real EVTX samples and checks the jsonl contract.
func TestHuntJSONL(t *testing.T) {
	dir := filepath.Join(testdataDir(t), "evtx", "hayabusa-sample-evtx", "EVTX-ATTACK-SAMPLES", "Credential Access")
	out := filepath.Join(t.TempDir(), "hits.jsonl")
	code, _, stderr := run(t, "hunt", "--format", "jsonl", "--out", out, "--min-level", "high", dir)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4<<20), 4<<20)
	for sc.Scan() {
		var d map[string]any
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		for _, k := range []string{"rule_id", "rule_title", "rule_author", "level", "tags", "timestamp", "computer", "channel", "event_id", "record_id", "file", "event"} {
			if _, ok := d[k]; !ok {
				t.Errorf("line %d lacks %q: %s", n+1, k, sc.Text())
			}
		}
		if l := d["level"]; l != "high" && l != "critical" {
			t.Errorf("line %d has level %v below --min-level high", n+1, l)
		}
		n++
	}
	if n == 0 {
		t.Error("no detections in the credential-access samples")
	}
	if !strings.Contains(stderr, "events/s") || !strings.Contains(stderr, "Top rules") {
		t.Errorf("summary missing from stderr:\n%s", stderr)
	}
}

func TestHuntUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"hunt"}, {"hunt", "--format", "xml", "x"}, {"hunt", "--min-level", "severe", "x"}, {"nope"}} {
		if code, _, _ := run(t, args...); code != ExitFailure {
			t.Errorf("%v: exit %d, want %d", args, code, ExitFailure)
		}
	}
}

// TestAdminCommands: organisations, users and tokens from the command line,
// on a data directory, as an operator sets up a deployment.
func TestAdminCommands(t *testing.T) {
	data := t.TempDir()
	if code, out, errOut := run(t, "org", "add", "Ministry of Health", "--sector", "medical", "--data", data); code != ExitOK || !strings.Contains(out, "ministry-of-health") {
		t.Fatalf("org add: %d %q %q", code, out, errOut)
	}
	if code, out, _ := run(t, "org", "list", "--data", data); code != ExitOK || !strings.Contains(out, "Ministry of Health") {
		t.Errorf("org list: %d %q", code, out)
	}
	if code, _, _ := run(t, "org", "add", "X", "--sector", "mining", "--data", data); code != ExitFailure {
		t.Errorf("org add with an unknown sector: exit %d", code)
	}
	code, out, _ := run(t, "user", "add", "alice", "--role", "org_analyst", "--org", "ministry-of-health", "--data", data)
	if code != ExitOK || !strings.Contains(out, "password: ") {
		t.Fatalf("user add: %d %q", code, out)
	}
	pw := strings.TrimSpace(out[strings.Index(out, "password: ")+len("password: "):])
	for _, bad := range [][]string{{"user", "add", "bob", "--role", "ingest", "--org", "x"}, {"user", "add", "bob", "--role", "org_viewer"}, {"user", "add", "alice", "--role", "org_viewer", "--org", "x"}} {
		if code, _, _ := run(t, append(bad, "--data", data)...); code != ExitFailure {
			t.Errorf("%v: exit %d, want failure", bad, code)
		}
	}
	code, tok, _ := run(t, "token", "create", "winlogbeat", "--role", "ingest", "--org", "ministry-of-health", "--data", data)
	if code != ExitOK || !strings.HasPrefix(tok, "mmr_") {
		t.Fatalf("token create: %d %q", code, tok)
	}
	// The password and the token work against the same data directory.
	st, a, err := openAdmin(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, p, err := a.Login(context.Background(), "alice", pw); err != nil || p.Tenant != "ministry-of-health" {
		t.Errorf("login with the printed password: %v %+v", err, p)
	}
	if p, err := a.Authenticate(context.Background(), strings.TrimSpace(tok)); err != nil || p.Role != "ingest" {
		t.Errorf("printed token: %v %+v", err, p)
	}
}
