package app

import (
	"os/exec"
	"strings"
	"testing"
)

// allowed lists, per internal package, the internal packages it may import
// (docs/ARCHITECTURE.md). Test files are not checked.
var allowed = map[string][]string{
	"tenant":           {},
	"event":            {},
	"evtx":             {},
	"rulepack":         {},
	"ruleupdate":       {},
	"normalize":        {"event", "evtx"},
	"sigma":            {"event"},
	"hunt":             {"event", "evtx", "normalize", "sigma"},
	"alert":            {"tenant"},
	"auth":             {"tenant"},
	"ingest":           {"tenant", "event", "evtx", "normalize"},
	"detect":           {"tenant", "event", "sigma", "alert", "normalize", "ioc"},
	"store":            {"tenant", "alert", "incident"},
	"store/local":      {"tenant", "alert", "incident", "store"},
	"store/storetest":  {"tenant", "alert", "incident", "store"},
	"store/clickhouse": {"tenant", "store"},
	"store/replica":    {"tenant", "alert", "store"},
	"query":            {"tenant", "store", "alert", "incident", "rating", "decision", "ioc", "intel"},
	"api":              {"tenant", "event", "alert", "auth", "query", "store", "sigma", "incident", "rating", "ioc", "decision", "intel"},
	"simulate":         {"tenant", "event"},
	"web":              {},
	"corpus":           {},
	"enrich":           {"tenant"},
	"incident":         {"tenant", "alert"},
	"rating":           {"tenant"},
	"ioc":              {"event"},
	"decision":         {"tenant"},
	"intel":            {"tenant", "ioc", "incident", "alert"},
	"bus":              {},
	"bus/natsbus":      {"bus"},
	"bus/batch":        {"store", "tenant"},
	"app": {"event", "evtx", "normalize", "sigma", "hunt", "rulepack", "ruleupdate", "tenant", "alert", "auth", "store", "store/local",
		"ingest", "detect", "query", "api", "simulate", "web", "enrich", "incident", "rating", "ioc", "decision", "intel", "bus", "bus/natsbus", "bus/batch", "store/clickhouse", "store/replica"},
}

// TestLayers enforces the one-way import graph of the internal packages.
func TestLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "github.com/mamori-soc/mamori/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const prefix = "github.com/mamori-soc/mamori/internal/"
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := fields[0]
		if strings.HasSuffix(pkg, "/cmd/mamori") {
			for _, imp := range fields[1:] {
				if strings.HasPrefix(imp, prefix) && imp != prefix+"app" {
					t.Errorf("cmd/mamori imports %s; it may import only internal/app", imp)
				}
			}
			continue
		}
		name, ok := strings.CutPrefix(pkg, prefix)
		if !ok {
			continue
		}
		allow, known := allowed[name]
		if !known {
			t.Errorf("package internal/%s is not in the layer table of layers_test.go", name)
			continue
		}
		for _, imp := range fields[1:] {
			dep, internal := strings.CutPrefix(imp, prefix)
			if !internal || dep == name || strings.HasPrefix(dep, name+"/") {
				continue
			}
			okDep := false
			for _, a := range allow {
				okDep = okDep || a == dep
			}
			if !okDep {
				t.Errorf("internal/%s imports internal/%s, which the layer table does not allow", name, dep)
			}
		}
	}
}
