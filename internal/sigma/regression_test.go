package sigma

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/mamori-soc/mamori/internal/event"
	"github.com/mamori-soc/mamori/internal/evtx"
)

// regressionCase is one line of sigma-regression-manifest.jsonl.
type regressionCase struct {
	RuleID     string `json:"rule_id"`
	RulePath   string `json:"rule_path"`
	Title      string `json:"title"`
	EVTX       string `json:"evtx"`
	MatchCount int    `json:"match_count"`
}

func regressionCases(t testing.TB) []regressionCase {
	t.Helper()
	f, err := os.Open(filepath.Join(testdataDir(t), "sigma-regression-manifest.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []regressionCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var c regressionCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("manifest: %v", err)
		}
		cases = append(cases, c)
	}
	if len(cases) == 0 {
		t.Fatal("regression manifest is empty")
	}
	return cases
}

// TestSigmaHQRegression runs SigmaHQ's own regression suite: every rule must
// fire at least match_count times (once when unset) on its EVTX sample. The
// whole corpus is compiled together, as in production, and the events come
// through Mamori's EVTX decoder.
func TestSigmaHQRegression(t *testing.T) {
	dir := filepath.Join(testdataDir(t), "sigma")
	set, errs := Compile(loadCorpus(t), CompileOptions{Placeholders: validatePlaceholders{}})
	for _, e := range errs {
		t.Errorf("compile: %v", e)
	}
	m := set.NewMatcher()
	passed, failed := 0, 0
	var ev event.Event
	var hits []int
	for _, c := range regressionCases(t) {
		want := max(c.MatchCount, 1)
		ri := set.RuleIndex(c.RuleID)
		got := 0
		err := evtx.ReadFile(filepath.Join(dir, c.EVTX), func(r *evtx.Record) error {
			ev.Reset()
			ev.Time = r.Time
			for _, f := range r.Fields {
				ev.Append(f.Name, f.Value)
			}
			hits = m.Match(&ev, hits[:0])
			for _, h := range hits {
				if h == ri {
					got++
				}
			}
			return nil
		})
		switch {
		case ri < 0:
			t.Errorf("FAIL %s (%s): rule not loaded", c.Title, c.RulePath)
			failed++
		case err != nil:
			t.Errorf("FAIL %s: reading %s: %v", c.Title, c.EVTX, err)
			failed++
		case got < want:
			t.Errorf("FAIL %s (%s): %d matches, want at least %d", c.Title, c.RulePath, got, want)
			failed++
		default:
			passed++
		}
	}
	t.Logf("SigmaHQ regression: %d passed, %d failed", passed, failed)
}

// TestCorpusLoads checks that every SigmaHQ rule loads and compiles, with
// the default placeholder-free configuration except for expand rules.
func TestCorpusLoads(t *testing.T) {
	rules := loadCorpus(t)
	if len(rules) < 3700 {
		t.Errorf("loaded %d rules, want the whole corpus (>= 3700)", len(rules))
	}
	set, errs := Compile(rules, CompileOptions{Placeholders: validatePlaceholders{}})
	for _, e := range errs {
		t.Errorf("compile: %v", e)
	}
	t.Logf("corpus: %d rules, %d correlations; %s; %d with logsources outside the mapping", len(set.Rules), len(set.Correlations), set.Stats(), len(set.Unmapped))
}
