package sigma

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mamori-soc/mamori/internal/corpus"

	"github.com/mamori-soc/mamori/internal/event"
	"github.com/mamori-soc/mamori/internal/evtx"
)

// testdataDir returns the shared test data directory ($MAMORI_TESTDATA,
// default ../shared/data beside the repository).
func testdataDir(t testing.TB) string { return corpus.Dir(t) }

// corpusDirs are the SigmaHQ rule folders Mamori must load entirely.
var corpusDirs = []string{"rules", "rules-emerging-threats", "rules-threat-hunting", "rules-placeholder", "rules-compliance"}

func loadCorpus(t testing.TB) []*Rule {
	t.Helper()
	base := filepath.Join(testdataDir(t), "sigma")
	var dirs []string
	for _, d := range corpusDirs {
		dirs = append(dirs, filepath.Join(base, d))
	}
	rules, errs := LoadDirs(dirs...)
	for _, e := range errs {
		t.Errorf("load: %v", e)
	}
	return rules
}

// loadEVTXEvents decodes every EVTX file under dir into events.
func loadEVTXEvents(t testing.TB, dir string) []*event.Event {
	t.Helper()
	var evs []*event.Event
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".evtx" {
			return err
		}
		_ = evtx.ReadFile(p, func(r *evtx.Record) error {
			ev := &event.Event{Time: r.Time, Source: p}
			for _, f := range r.Fields {
				ev.Append(f.Name, f.Value)
			}
			evs = append(evs, ev)
			return nil
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}
