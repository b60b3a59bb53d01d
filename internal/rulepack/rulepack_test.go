package rulepack_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/event"

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

// TestBeaconingIgnoresPollingClients: Outlook polling Exchange Online is as
// regular as an implant; only the implant is beaconing.
func TestBeaconingIgnoresPollingClients(t *testing.T) {
	rules, errs := sigma.LoadFS(rulepack.Rules(), "rules")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	set, errs := sigma.Compile(rules, sigma.CompileOptions{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	fires := func(image string) bool {
		m, c := set.NewMatcher(), set.NewCorrelator()
		t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		var ev event.Event
		for i := range 40 {
			ev.Reset()
			ev.Time = t0.Add(time.Duration(i) * 20 * time.Second)
			for _, kv := range [][2]string{{"Channel", "Microsoft-Windows-Sysmon/Operational"}, {"EventID", "3"}, {"Computer", "WS-1.example"},
				{"Image", image}, {"Initiated", "true"}, {"DestinationIp", "52.97.146.162"}, {"DestinationPort", "443"}} {
				ev.AddString(kv[0], kv[1])
			}
			for _, ri := range m.Match(&ev, nil) {
				if !c.Wants(ri) {
					continue
				}
				hits := c.Observe(ri, ev.Time, func(f string) (string, bool) { v, ok := ev.Get(f); return string(v), ok })
				for _, h := range hits {
					if strings.Contains(set.Correlations[h.Corr].Title, "Beaconing") {
						return true
					}
				}
			}
		}
		return false
	}
	if fires(`C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE`) {
		t.Error("Outlook polling its mail server is reported as beaconing")
	}
	if !fires(`C:\Users\Public\Libraries\svchost.exe`) {
		t.Error("an implant calling back every 20 s is not reported")
	}
}
