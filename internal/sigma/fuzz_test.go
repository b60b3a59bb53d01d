package sigma

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the rule parser and compiler: no input
// may panic, and a rule that parses must compile and match an event.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yml")
	seeds2, _ := filepath.Glob("testdata/invalid/*.yml")
	for _, p := range append(seeds, seeds2...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("title: x\nlogsource: {product: windows, category: process_creation}\ndetection:\n  sel: {CommandLine|contains|windash: ' -x'}\n  condition: sel\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		rules, _ := Parse("fuzz.yml", src)
		set, _ := Compile(rules, CompileOptions{Placeholders: validatePlaceholders{}})
		m := set.NewMatcher()
		ev := mkEvent("Image", `C:\x\a.exe`, "CommandLine", "a -x b", "EventID", "1")
		m.Match(ev, nil)
	})
}

// FuzzCondition feeds arbitrary condition strings to the condition parser.
func FuzzCondition(f *testing.F) {
	for _, s := range []string{"sel", "sel and not filter", "1 of sel_* and not 1 of filter_*", "all of them", "(sel or sel_a) and (not filter)", "sel | count() > 5", "not not sel"} {
		f.Add(s)
	}
	det := &Detection{Searches: map[string]*Search{"sel": {}, "sel_a": {}, "filter": {}, "filter_b": {}}, Order: []string{"sel", "sel_a", "filter", "filter_b"}}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCondition(s, det)
		if err == nil {
			_ = c.String()
		}
	})
}
