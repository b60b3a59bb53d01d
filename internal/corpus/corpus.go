// Package corpus locates the public data sets Mamori's tests and benchmarks
// read (the SigmaHQ corpus, EVTX attack samples, OTRF, Zeek, Suricata and web
// logs): $MAMORI_TESTDATA, else ../shared/data beside the repository. It is
// for tests only; nothing in the binary imports it.
package corpus

import (
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
