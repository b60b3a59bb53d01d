package normalize

import (
	"archive/zip"
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mamori-soc/mamori/internal/corpus"

	"github.com/mamori-soc/mamori/internal/event"
)

// sharedData returns the shared test data directory; a missing one fails
// the test with a hint (nothing is skipped silently).
func sharedData(tb testing.TB) string { return corpus.Dir(tb) }

// repoRoot walks up from the package directory to the directory holding go.mod.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			tb.Fatalf("no go.mod above %s", dir)
		}
		d = parent
	}
}

// dataFile returns path under the shared data, skipping when it is absent.
func dataFile(tb testing.TB, rel string) string {
	tb.Helper()
	p := filepath.Join(sharedData(tb), filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("%s absent: %v", rel, err)
	}
	return p
}

// zipMember opens the first member of the zip archive at path whose name ends in suffix.
func zipMember(tb testing.TB, path, suffix string) io.ReadCloser {
	tb.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	tb.Cleanup(func() { zr.Close() })
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, suffix) {
			rc, err := f.Open()
			if err != nil {
				tb.Fatalf("open %s in %s: %v", f.Name, path, err)
			}
			tb.Cleanup(func() { rc.Close() })
			return rc
		}
	}
	tb.Fatalf("no member *%s in %s", suffix, path)
	return nil
}

// readLines returns the first max lines of r (all when max <= 0), without line ends.
func readLines(tb testing.TB, r io.Reader, max int) [][]byte {
	tb.Helper()
	var out [][]byte
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), MaxDocSize)
	for sc.Scan() && (max <= 0 || len(out) < max) {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// decodeAll runs Lines and the decoder over r and returns a copy of every event.
func decodeAll(tb testing.TB, r io.Reader) ([]*event.Event, []Shape) {
	tb.Helper()
	d := NewDecoder()
	var ev event.Event
	var evs []*event.Event
	var shapes []Shape
	err := Lines(r, func(line int, doc []byte) error {
		if err := d.JSON(doc, &ev); err != nil {
			tb.Errorf("line %d: decode: %v", line, err)
			return nil
		}
		evs = append(evs, ev.Clone())
		shapes = append(shapes, d.Shape())
		return nil
	}, func(line int, err error) {
		tb.Errorf("line %d: %v", line, err)
	})
	if err != nil {
		tb.Fatal(err)
	}
	return evs, shapes
}

// fields renders ev as "name=value" lines, for diffs.
func fields(ev *event.Event) []string {
	out := make([]string, ev.Len())
	for i := range out {
		out[i] = string(ev.Name(i)) + "=" + string(ev.Value(i))
	}
	return out
}

// all returns every value of field name.
func all(ev *event.Event, name string) []string {
	var out []string
	for i := 0; i < ev.Len(); i++ {
		if string(ev.Name(i)) == name {
			out = append(out, string(ev.Value(i)))
		}
	}
	return out
}

// checkNames fails when any field of ev has an empty name.
func checkNames(tb testing.TB, ev *event.Event, doc []byte) {
	tb.Helper()
	for i := 0; i < ev.Len(); i++ {
		if len(ev.Name(i)) == 0 {
			tb.Fatalf("field %d of %q has an empty name (value %q)", i, doc, ev.Value(i))
		}
	}
}
