package ruleupdate

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func makeZip(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// server serves a GitHub-style release description and its asset.
func server(t *testing.T, pkg []byte, digest string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("GET /releases/latest", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"tag_name":"r2026-11-01","assets":[{"name":"other.zip","browser_download_url":"%[1]s/x","digest":""},{"name":"sigma_all_rules.zip","browser_download_url":"%[1]s/dl/sigma_all_rules.zip","digest":"%[2]s"}]}`, srv.URL, digest)
	})
	mux.HandleFunc("GET /dl/sigma_all_rules.zip", func(w http.ResponseWriter, r *http.Request) { w.Write(pkg) })
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func TestUpdateInstallsVerifiedRelease(t *testing.T) {
	pkg := makeZip(t, map[string]string{"rules/windows/a.yml": "title: a\n", "rules/linux/b.yml": "title: b\n", "README.md": "x"})
	srv := server(t, pkg, "sha256:"+sum(pkg))
	dir := filepath.Join(t.TempDir(), "rules")
	// A previous install is replaced as a whole.
	os.MkdirAll(filepath.Join(dir, "old"), 0o755)
	os.WriteFile(filepath.Join(dir, "old", "stale.yml"), []byte("title: stale\n"), 0o644)
	res, err := Update(context.Background(), Options{API: srv.URL + "/releases/latest", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if res.Release != "r2026-11-01" || res.Files != 2 || res.SHA256 != sum(pkg) {
		t.Errorf("result = %+v", res)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "rules", "windows", "a.yml")); err != nil || string(b) != "title: a\n" {
		t.Errorf("a.yml = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "old", "stale.yml")); !os.IsNotExist(err) {
		t.Error("stale rule from the previous install survived")
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); !os.IsNotExist(err) {
		t.Error("non-rule file installed")
	}
}

func TestUpdateRefusesBadDigest(t *testing.T) {
	pkg := makeZip(t, map[string]string{"rules/a.yml": "title: a\n"})
	for name, digest := range map[string]string{
		"mismatch": "sha256:" + strings.Repeat("0", 64),
		"missing":  "",
	} {
		t.Run(name, func(t *testing.T) {
			srv := server(t, pkg, digest)
			dir := filepath.Join(t.TempDir(), "rules")
			os.MkdirAll(dir, 0o755)
			os.WriteFile(filepath.Join(dir, "keep.yml"), []byte("title: keep\n"), 0o644)
			if _, err := Update(context.Background(), Options{API: srv.URL + "/releases/latest", Dir: dir}); err == nil {
				t.Fatal("Update accepted an unverifiable package")
			}
			if _, err := os.Stat(filepath.Join(dir, "keep.yml")); err != nil {
				t.Error("the installed rules were touched by a failed update")
			}
		})
	}
}

func TestUpdateRefusesZipSlip(t *testing.T) {
	pkg := makeZip(t, map[string]string{"../evil.yml": "title: evil\n"})
	srv := server(t, pkg, "sha256:"+sum(pkg))
	base := t.TempDir()
	_, err := Update(context.Background(), Options{API: srv.URL + "/releases/latest", Dir: filepath.Join(base, "rules")})
	if err == nil || !strings.Contains(err.Error(), "escapes") {
		t.Errorf("err = %v, want an escape error", err)
	}
	if _, err := os.Stat(filepath.Join(base, "evil.yml")); !os.IsNotExist(err) {
		t.Error("zip entry escaped the target directory")
	}
}
