package hunt

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mamori-soc/mamori/internal/corpus"

	"github.com/mamori-soc/mamori/internal/rulepack"
	"github.com/mamori-soc/mamori/internal/sigma"
)

func testdataDir(t testing.TB) string { return corpus.Dir(t) }

func builtinSet(t testing.TB) *sigma.Set {
	t.Helper()
	rules, errs := sigma.LoadFS(rulepack.Rules(), "rules")
	if len(errs) > 0 {
		t.Fatalf("built-in rules: %v", errs)
	}
	set, errs := sigma.Compile(rules, sigma.CompileOptions{})
	if len(errs) > 0 {
		t.Fatalf("compile built-in rules: %v", errs)
	}
	return set
}

func byTitle(dets []Detection) map[string][]Detection {
	m := map[string][]Detection{}
	for _, d := range dets {
		m[d.Rule.Title] = append(m[d.Rule.Title], d)
	}
	return m
}

// TestHuntNDJSONCorrelation hunts a Winlogbeat NDJSON file: the brute-force
// and spraying correlations fire once each, the informational base rule they
// count is not reported, the shadow-copy rule fires, and the bad line is
// reported with its line number without losing the rest.
func TestHuntNDJSONCorrelation(t *testing.T) {
	dets, sum, err := Run(context.Background(), Config{Paths: []string{"testdata/winlogbeat_attack.ndjson"}, Set: builtinSet(t)})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Events != 13 {
		t.Errorf("read %d events, want 13", sum.Events)
	}
	if len(sum.Errors) != 1 || !strings.Contains(sum.Errors[0].Error(), "winlogbeat_attack.ndjson:14") {
		t.Errorf("errors = %v, want one naming line 14", sum.Errors)
	}
	got := byTitle(dets)
	bf := got["Windows Logon Brute Force From One Source"]
	if len(bf) != 1 || bf[0].Count != 10 || bf[0].Group["IpAddress"] != "203.0.113.7" || !bf[0].Correlation {
		t.Errorf("brute force detections = %+v, want one with count 10 for 203.0.113.7", bf)
	}
	if sp := got["Windows Password Spraying From One Source"]; len(sp) != 1 || sp[0].Count != 5 {
		t.Errorf("spraying detections = %+v, want one counting 5 accounts", sp)
	}
	if n := len(got["Failed Windows Logon"]); n != 0 {
		t.Errorf("base rule reported %d times, want 0 (generate: false)", n)
	}
	if sc := got["Shadow Copies Deleted"]; len(sc) != 1 || sc[0].Computer != "ws01.corp.local" || sc[0].EventID != "1" {
		t.Errorf("shadow copy detections = %+v", sc)
	}
	for i := 1; i < len(dets); i++ {
		if dets[i].Time.Before(dets[i-1].Time) {
			t.Errorf("detections out of time order at %d", i)
		}
	}
	// --min-level drops the low ones but keeps the correlations (high).
	dets, _, _ = Run(context.Background(), Config{Paths: []string{"testdata/winlogbeat_attack.ndjson"}, Set: builtinSet(t), MinLevel: "critical"})
	if len(dets) != 1 || dets[0].Rule.Title != "Shadow Copies Deleted" {
		t.Errorf("with MinLevel critical got %d detections, want only the critical one", len(dets))
	}
}

// TestHuntEVTXCorpus hunts the real EVTX attack samples with the built-in
// rules: every event is read, and the credential-dumping samples are caught.
func TestHuntEVTXCorpus(t *testing.T) {
	dir := filepath.Join(testdataDir(t), "evtx", "hayabusa-sample-evtx")
	dets, sum, err := Run(context.Background(), Config{Paths: []string{dir}, Set: builtinSet(t)})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Files < 500 || sum.Events < 24000 {
		t.Errorf("read %d files, %d events; want the whole sample set (>= 500 files, >= 24000 events)", sum.Files, sum.Events)
	}
	got := byTitle(dets)
	if n := len(got["LSASS Memory Read By Unusual Process"]); n < 5 {
		t.Errorf("LSASS access detections = %d, want >= 5 (Mimikatz samples)", n)
	}
	if n := len(got["LSASS Dump With Comsvcs MiniDump"]); n < 1 {
		t.Errorf("comsvcs MiniDump detections = %d, want >= 1", n)
	}
	for _, d := range got["LSASS Memory Read By Unusual Process"] {
		if !strings.HasPrefix(d.File, dir) || d.Computer == "" || d.Rule.Author == "" {
			t.Errorf("detection lacks file, computer or author: %+v", d)
		}
	}
	t.Logf("%d files, %d events, %d detections, %d input errors", sum.Files, sum.Events, len(dets), len(sum.Errors))
}

// TestHuntOTRFZip hunts a zipped OTRF data set (flat NXLog-style JSON inside a zip).
func TestHuntOTRFZip(t *testing.T) {
	matches, _ := filepath.Glob(filepath.Join(testdataDir(t), "otrf", "compound", "LSASS_campaign_01", "*lsass_memory_dump.zip"))
	if len(matches) == 0 {
		t.Fatal("OTRF LSASS_campaign_01 zip not found")
	}
	dets, sum, err := Run(context.Background(), Config{Paths: matches, Set: builtinSet(t)})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Events < 1000 {
		t.Errorf("read %d events from %s, want thousands", sum.Events, matches[0])
	}
	if n := len(byTitle(dets)["LSASS Memory Read By Unusual Process"]); n == 0 {
		t.Errorf("no LSASS access detection in the Mimikatz logonpasswords data set (%d detections in all)", len(dets))
	}
	t.Logf("%d events, %d detections, errors %v", sum.Events, len(dets), sum.Errors)
}

func TestHuntMissingPath(t *testing.T) {
	if _, _, err := Run(context.Background(), Config{Paths: []string{"testdata/nope"}, Set: builtinSet(t)}); err == nil {
		t.Error("Run on a missing path: no error")
	}
}
