package decision

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/tenant"
)

// customBouncerPath returns Debian's crowdsec-custom-bouncer, a test
// dependency (scripts/install-test-deps.sh installs it);
// MAMORI_CUSTOM_BOUNCER overrides its path.
func customBouncerPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("MAMORI_CUSTOM_BOUNCER")
	if p == "" {
		p = "/usr/bin/crowdsec-custom-bouncer"
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the end-to-end bouncer test needs CrowdSec's custom bouncer at %s (%v): run "+
			"`apt-get install -y --no-install-recommends crowdsec-custom-bouncer` (scripts/install-test-deps.sh does it), "+
			"or set MAMORI_CUSTOM_BOUNCER to a crowdsec-custom-bouncer binary", p, err)
	}
	return p
}

// syncBuffer collects a subprocess's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestCustomBouncerEndToEnd runs the real crowdsec-custom-bouncer against
// Mamori. Its script records every call ("add|del <value> <seconds>
// <scenario>"), as a firewall script would apply them.
func TestCustomBouncerEndToEnd(t *testing.T) {
	bin := customBouncerPath(t)
	ctx := context.Background()
	s := open(t, Options{})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)

	early := mk(time.Now(), "192.0.2.44", Target{Org: "power-a"}, time.Hour)
	early.Reason = "brute force on the VPN"
	early = mustCreate(t, s, early)
	key := mustBouncer(t, s, "custom-power-a", "power-a")

	dir := t.TempDir()
	actions := filepath.Join(dir, "actions.log")
	script := filepath.Join(dir, "record.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$1 $2 $3 $4\" >> '"+actions+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The keys of Debian's /etc/crowdsec/bouncers/crowdsec-custom-bouncer.yaml,
	// logging to stdout, without daemon mode or Prometheus listener.
	cfg := filepath.Join(dir, "crowdsec-custom-bouncer.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`bin_path: %s
feed_via_stdin: false
total_retries: 0
scenarios_containing: []
scenarios_not_containing: []
origins: []
piddir: %s
update_frequency: 1s
cache_retention_duration: 10s
daemonize: false
log_mode: stdout
log_level: info
api_url: %s/
api_key: %s
prometheus:
  enabled: false
  listen_addr: 127.0.0.1
  listen_port: 60602
`, script, dir, srv.URL, key)), 0o600); err != nil {
		t.Fatal(err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(runCtx, bin, "-c", cfg)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-exited
	})

	lines := func() []string {
		b, _ := os.ReadFile(actions)
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	find := func(prefix string) string {
		for _, l := range lines() {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
		return ""
	}
	wait := func(prefix string) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			if l := find(prefix); l != "" {
				return l
			}
			select {
			case err := <-exited:
				t.Fatalf("the custom bouncer exited (%v) before %q:\n%s", err, prefix, out.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %q from the custom bouncer in 30s; script calls: %q\nbouncer output:\n%s", prefix, lines(), out.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// The decision made before the bouncer started comes with the startup pull.
	add := wait("add 192.0.2.44 ")
	f := strings.SplitN(add, " ", 4)
	if secs, err := strconv.Atoi(f[2]); err != nil || secs < 3500 || secs > 3600 || f[3] != "mamori: brute force on the VPN" {
		t.Errorf("script called with %q, want about 3600 seconds and the scenario \"mamori: brute force on the VPN\"", add)
	}
	// Later decisions: the organisation's sector's, and another sector's.
	mustCreate(t, s, mk(time.Now(), "198.51.100.0/24", Target{Sector: tenant.EnergyPower}, 2*time.Hour))
	mustCreate(t, s, mk(time.Now(), "192.0.2.99", Target{Sector: tenant.Finance}, time.Hour))
	wait("add 198.51.100.0/24 ")
	// The revocation removes the first ban.
	if err := s.Revoke(ctx, early.ID, "ana"); err != nil {
		t.Fatal(err)
	}
	wait("del 192.0.2.44 ")
	if l := find("add 192.0.2.99 "); l != "" {
		t.Errorf("power-a's bouncer applied finance's ban: %q", l)
	}
	if l := find("del 198.51.100.0/24"); l != "" {
		t.Errorf("the sector ban was removed: %q", l)
	}
	t.Logf("script calls:\n%s", strings.Join(lines(), "\n"))
	bs, err := s.Bouncers(ctx)
	if err != nil || len(bs) != 1 || !strings.HasPrefix(bs[0].LastUserAgent, "crowdsec-custom-bouncer/") || bs[0].LastIP != "127.0.0.1" {
		t.Errorf("Bouncers = %+v, %v, want the custom bouncer's user agent and address", bs, err)
	}
}
