package evtx

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

func TestNamesDebug(t *testing.T) {
	if os.Getenv("EVTX_NAMES") == "" {
		t.Skip()
	}
	dir := filepath.Join(testDataDir(t), "evtx", "hayabusa-sample-evtx")
	counts := map[string]int{}
	ex := map[string]string{}
	for _, p := range findFiles(t, dir, ".evtx") {
		ReadFile(p, func(r *Record) error {
			for _, f := range r.Fields {
				counts[f.Name]++
				if _, ok := ex[f.Name]; !ok || len(ex[f.Name]) < 3 {
					ex[f.Name] = string(f.Value)
				}
			}
			return nil
		})
	}
	keys := sortedKeys(counts)
	sort.Slice(keys, func(i, j int) bool { return counts[keys[i]] > counts[keys[j]] })
	for _, k := range keys {
		v := ex[k]
		if len(v) > 60 {
			v = v[:60]
		}
		fmt.Printf("%7d %-40s %q\n", counts[k], k, v)
	}
}
