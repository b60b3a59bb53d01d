package normalize

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mamori-soc/mamori/internal/event"
	"github.com/mamori-soc/mamori/internal/evtx"
)

// TestSameNamesAsEVTXReader decodes each SigmaHQ regression case twice, the .evtx with
// Mamori's EVTX reader and the evtx_dump .json with Decoder.JSON, and requires the same
// field names with the same values. The only value differences allowed are the .json's
// own: evtx_dump renders some strings with another case (Explorer.EXE vs Explorer.exe,
// see SIGMA-NOTES) and some SystemTimes with more digits.
func TestSameNamesAsEVTXReader(t *testing.T) {
	root := filepath.Join(sharedData(t), "sigma", "regression_data")
	var files []string
	err := filepath.WalkDir(root, func(p string, de os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("no regression data: %v", err)
	}
	d := NewDecoder()
	var ev event.Event
	events, valueDiffs := 0, 0
	for _, p := range files {
		var fromEVTX []map[string][]string
		err := evtx.ReadFile(strings.TrimSuffix(p, ".json")+".evtx", func(r *evtx.Record) error {
			m := map[string][]string{}
			for _, f := range r.Fields {
				m[f.Name] = append(m[f.Name], string(f.Value))
			}
			fromEVTX = append(fromEVTX, m)
			return nil
		})
		if err != nil {
			t.Errorf("%s: EVTX reader: %v", p, err)
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		err = Lines(bytes.NewReader(data), func(line int, doc []byte) error {
			if err := d.JSON(doc, &ev); err != nil {
				t.Fatalf("%s line %d: %v", p, line, err)
			}
			if i >= len(fromEVTX) {
				t.Fatalf("%s: more .json documents than .evtx records (%d)", p, len(fromEVTX))
			}
			want := fromEVTX[i]
			i++
			got := map[string][]string{}
			for k := 0; k < ev.Len(); k++ {
				got[string(ev.Name(k))] = append(got[string(ev.Name(k))], string(ev.Value(k)))
			}
			for name, wv := range want {
				gv, ok := got[name]
				switch {
				case !ok:
					t.Errorf("%s record %d: the EVTX reader gives %s = %q, the JSON decoder nothing", p, i, name, wv)
				case slices.Equal(gv, wv):
				case len(gv) == 1 && len(wv) == 1 && (strings.EqualFold(gv[0], wv[0]) ||
					name == "TimeCreated_SystemTime" && strings.HasPrefix(gv[0], strings.TrimSuffix(wv[0], "Z"))):
					valueDiffs++ // the .json's own rendering
				default:
					t.Errorf("%s record %d: %s = %q from the JSON decoder, %q from the EVTX reader", p, i, name, gv, wv)
				}
			}
			for name, gv := range got {
				if _, ok := want[name]; !ok {
					t.Errorf("%s record %d: the JSON decoder gives %s = %q, the EVTX reader nothing", p, i, name, gv)
				}
			}
			events++
			return nil
		}, func(line int, err error) { t.Errorf("%s line %d: %v", p, line, err) })
		if err != nil {
			t.Fatal(err)
		}
		if i != len(fromEVTX) {
			t.Errorf("%s: %d .json documents, %d .evtx records", p, i, len(fromEVTX))
		}
	}
	t.Logf("%d events agree; %d values differ only as the .json renders them", events, valueDiffs)
}
