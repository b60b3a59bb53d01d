package sigma

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInvalidRules checks that each file of testdata/invalid fails with an
// error naming the file, the line and the reason.
func TestInvalidRules(t *testing.T) {
	want := map[string]string{
		"unknown_modifier.yml":         `unknown_modifier.yml:5:9: "Image|endswithh": unknown modifier "endswithh"`,
		"bad_condition.yml":            `bad_condition.yml:6:16: condition "sel and (sel": at end: expected ")"`,
		"bad_regex.yml":                `bad_regex.yml:5:9: "CommandLine|re": bad regular expression "a(b": missing closing ): ` + "`a(b`",
		"bad_yaml.yml":                 `bad_yaml.yml:5: invalid YAML: found unexpected end of stream`,
		"unknown_search.yml":           `unknown_search.yml:6:16: condition "selection and not filter": column 19: unknown search identifier "filter"`,
		"bad_cidr.yml":                 `bad_cidr.yml:5:9: "DestinationIp|cidr": bad CIDR "10.0.0.0/33"`,
		"obsolete_aggregation.yml":     `obsolete_aggregation.yml:6:16: condition "sel | count() by IpAddress > 10": column 5: aggregations ("| count() ...") are obsolete in Sigma; write a correlation rule instead`,
		"correlation_unknown_type.yml": `correlation_unknown_type.yml:3:5: unknown correlation type "event_sum"`,
	}
	files, _ := filepath.Glob("testdata/invalid/*.yml")
	if len(files) != len(want) {
		t.Errorf("%d files in testdata/invalid, %d expectations", len(files), len(want))
	}
	for _, p := range files {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(p)
		rules, errs := Parse(name, src)
		if len(rules) != 0 || len(errs) != 1 {
			t.Errorf("%s: %d rules and errors %v, want one error", name, len(rules), errs)
			continue
		}
		if got := errs[0].Error(); !strings.HasPrefix(got, want[name]) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want[name])
		}
	}
}

// TestBadDocumentDoesNotHideOthers checks that one broken document of a
// multi-document file leaves the others loaded.
func TestBadDocumentDoesNotHideOthers(t *testing.T) {
	src := "title: a\nlogsource: {product: windows}\ndetection: {sel: {A: 1}, condition: sel}\n---\ntitle: b\ndetection: {sel: {A: 'x}, condition: sel}\n---\ntitle: c\nlogsource: {product: windows}\ndetection: {sel: {A: 1}, condition: sel}\n"
	rules, errs := Parse("multi.yml", []byte(src))
	if len(rules) != 2 || rules[0].Title != "a" || rules[1].Title != "c" {
		t.Errorf("got %d rules, want a and c", len(rules))
	}
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "multi.yml:6: invalid YAML") {
		t.Errorf("errors = %v, want one at multi.yml:6", errs)
	}
	if rules[1].Line != 8 {
		t.Errorf("rule c starts on line %d, want 8", rules[1].Line)
	}
}

func TestRuleMetadata(t *testing.T) {
	src, err := os.ReadFile("testdata/all_modifiers.yml")
	if err != nil {
		t.Fatal(err)
	}
	rules, errs := Parse("all_modifiers.yml", src)
	if len(errs) > 0 || len(rules) != 1 {
		t.Fatalf("Parse: %v", errs)
	}
	r := rules[0]
	if r.ID != "0d4c1a9e-8f2b-4e6d-9a3c-5b7e1f0d2c48" || r.Author != "Mamori" || r.Level != "medium" || r.Logsource.Category != "process_creation" {
		t.Errorf("metadata = %+v", r)
	}
	if len(r.Detection.Searches) != 13 {
		t.Errorf("%d searches, want 13", len(r.Detection.Searches))
	}
	r2 := &Rule{Tags: []string{"attack.execution", "attack.t1059.001", "attack.T1003", "cve.2021-1234", "attack.g0016"}}
	if got := strings.Join(r2.Techniques(), ","); got != "T1059.001,T1003" {
		t.Errorf("Techniques() = %q", got)
	}
	if got := strings.Join(r2.Tactics(), ","); got != "execution" {
		t.Errorf("Tactics() = %q", got)
	}
}

func TestBase64Offsets(t *testing.T) {
	// The three encodings pySigma produces for "http://".
	got := strings.Join(base64Offsets([]byte("http://")), ",")
	if want := "aHR0cDovL,h0dHA6Ly,odHRwOi8v"; got != want {
		t.Errorf("base64Offsets(http://) = %s, want %s", got, want)
	}
}

func TestWindash(t *testing.T) {
	var got []string
	for _, p := range windash(parsePattern(" -a /b c-d")) {
		got = append(got, p.String())
	}
	if len(got) != 25 {
		t.Errorf("windash gave %d variants, want 25 (5 dashes at 2 places): %q", len(got), got)
	}
	if got[0] != " -a -b c-d" || got[6] != " /a /b c-d" {
		t.Errorf("unexpected variants %q, %q", got[0], got[6])
	}
}
