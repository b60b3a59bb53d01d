package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestConfigDocLoads: the example in docs/CONFIG.md is a valid
// configuration, and a server starts with its decisions and intel parts.
func TestConfigDocLoads(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "CONFIG.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/CONFIG.md has no yaml example")
	}
	path := filepath.Join(t.TempDir(), "mamori.yml")
	if err := os.WriteFile(path, m[1], 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatalf("the documented configuration does not load: %v", err)
	}
	if len(cfg.Decisions.Policies) != 2 || len(cfg.Decisions.Allowlist) != 2 || len(cfg.Intel.Feeds) != 2 || len(cfg.Intel.Partners) != 1 {
		t.Fatalf("decoded %+v", cfg)
	}
	// Start it on a scratch directory, without the files and listeners the example names.
	cfg.Data, cfg.Listen, cfg.Rules, cfg.Syslog, cfg.Logsources, cfg.Placehold = t.TempDir(), "127.0.0.1:0", nil, nil, "", ""
	cfg.GeoIP.CountryDB, cfg.GeoIP.ASNDB = "", ""
	srv, err := NewServer(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("server with the documented decisions and intel: %v", err)
	}
	defer srv.closeAll()
	if got := len(srv.decisions.Policies()); got != 2 {
		t.Errorf("%d policies loaded", got)
	}
	if err := srv.decisions.CheckAllowlist("ip", "192.0.2.53"); err == nil || !strings.Contains(err.Error(), "resolver") {
		t.Errorf("allowlisted resolver: %v", err)
	}
	if err := srv.decisions.CheckAllowlist("ip", "198.51.100.7"); err == nil {
		t.Error("an organisation's own range (geoip.own_ranges) is not protected")
	}
}
