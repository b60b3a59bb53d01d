// Package corpus locates the public data sets Mamori's tests and benchmarks
// read (the SigmaHQ corpus, EVTX attack samples, OTRF, Zeek, Suricata and web
// logs): $MAMORI_TESTDATA, else ../shared/data beside the repository. It is
// for tests only; nothing in the binary imports it.
package corpus

import (
	"archive/zip"
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Dir returns the data directory, failing the test (never skipping it)
// with a hint when the data is missing.
func Dir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("MAMORI_TESTDATA")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("test data not found at %s (set MAMORI_TESTDATA or run `make testdata`): %v", dir, err)
	}
	return dir
}

// OTRFLines returns up to n Windows events of an OTRF attack-emulation data
// set (LSASS_campaign_03, a Metasploit comsvcs LSASS dump), one JSON
// document each, exactly as a log shipper sent them. Benchmarks share it.
func OTRFLines(t testing.TB, n int) [][]byte {
	t.Helper()
	path := filepath.Join(Dir(t), "otrf", "compound", "LSASS_campaign_03", "metasploit_comsvcs_lsass_memory_dump.zip")
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	f, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() && len(lines) < n {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			lines = append(lines, bytes.Clone(line))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return lines
}
