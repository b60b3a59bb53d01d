package evtx

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/mamori-soc/mamori/internal/corpus"
)

// testDataDir returns the shared test data directory; a missing one fails
// the test with a hint (nothing is skipped silently).
func testDataDir(tb testing.TB) string { return corpus.Dir(tb) }

// testDataPath returns the shared test data directory and whether it exists.
func testDataPath() (string, bool) {
	dir := os.Getenv("MAMORI_TESTDATA")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		repoRoot := filepath.Join(filepath.Dir(file), "..", "..")
		dir = filepath.Join(repoRoot, "..", "shared", "data")
	}
	_, err := os.Stat(dir)
	return dir, !os.IsNotExist(err)
}

// findFiles returns the files under dir whose names end in ext, sorted.
func findFiles(tb testing.TB, dir, ext string) []string {
	tb.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && filepath.Ext(p) == ext {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("walk %s: %v", dir, err)
	}
	return out
}
