package rulepack_test

import (
	"strings"
	"testing"

	"github.com/mamori-soc/mamori/internal/rulepack"
	"github.com/mamori-soc/mamori/internal/sigma"
	"gopkg.in/yaml.v3"
)

// TestPackLoads: every built-in rule parses, compiles, is attributed, has a
// unique id and an ATT&CK mapping, and its logsource is mapped.
func TestPackLoads(t *testing.T) {
	rules, errs := sigma.LoadFS(rulepack.Rules(), "rules")
	for _, e := range errs {
		t.Error(e)
	}
	set, errs := sigma.Compile(rules, sigma.CompileOptions{})
	for _, e := range errs {
		t.Error(e)
	}
	if len(set.Unmapped) > 0 {
		for _, i := range set.Unmapped {
			t.Errorf("built-in rule %q has an unmapped logsource %q", set.Rules[i].Title, set.Rules[i].Logsource)
		}
	}
	ids := map[string]bool{}
	for _, r := range rules {
		if r.Author == "" || r.ID == "" || r.Level == "" || r.Description == "" {
			t.Errorf("%s: %q lacks author, id, level or description", r.Path, r.Title)
		}
		if ids[r.ID] {
			t.Errorf("%s: duplicate id %s", r.Path, r.ID)
		}
		ids[r.ID] = true
		if len(r.Techniques()) == 0 && len(r.Tactics()) == 0 {
			t.Errorf("%s: %q has no ATT&CK tag", r.Path, r.Title)
		}
	}
	if len(set.Correlations) < 5 {
		t.Errorf("%d correlation rules, want brute force, spraying, SSH, beaconing, DNS tunnelling, lateral movement", len(set.Correlations))
	}
}

func TestPlaceholdersParse(t *testing.T) {
	var m map[string][]string
	if err := yaml.Unmarshal(rulepack.Placeholders(), &m); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Admins_Workstations", "DC-MACHINE-NAME", "internal_domains"} {
		if _, ok := m[name]; !ok {
			t.Errorf("placeholder %q missing", name)
		}
	}
	for k := range m {
		if strings.Contains(k, "%") {
			t.Errorf("placeholder name %q must not contain %%", k)
		}
	}
}
