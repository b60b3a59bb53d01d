package normalize

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mamori-soc/mamori/internal/event"
)

// addSeeds adds every line of the hand-written seed files, the Winlogbeat fixtures and
// the evtx_dump twins (whole), and a few malformed documents.
func addSeeds(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "seeds", "*.ndjson"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	more, _ := filepath.Glob(filepath.Join("testdata", "winlogbeat", "*"))
	for _, p := range append(files, more...) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if strings.HasSuffix(p, ".ndjson") {
			for _, line := range bytes.Split(data, []byte("\n")) {
				if len(line) > 0 {
					f.Add(line)
				}
			}
		} else {
			f.Add(data)
		}
	}
	for _, s := range []string{
		`{"a":1,}`, `{"a":"\ud83d"}`, `{"a":[[[[]]]]}`, `{"Event":{"System":null}}`, `{"Event":{"System":{"#attributes":{"":1}}}}`,
		`{"winlog":{"process":{"thread":5}},"host":{"name":null}}`, `{"EventID":1,"Channel":"x","EventData":"<Data Name=\"\">"}`,
		`{"EventID":1,"Provider":"p","EventData":"{\"a\":{\"\":[1]}}"}`, `{"ts":"2020-02-30T00:00:00Z"}`, "{\"a\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
}

// FuzzJSON checks that the decoder never panics, that every field it outputs has a
// non-empty name, and that it accepts exactly the objects encoding/json accepts
// (apart from nesting deeper than maxDepth), with the same string values.
func FuzzJSON(f *testing.F) {
	addSeeds(f)
	d := NewDecoder()
	var ev event.Event
	f.Fuzz(func(t *testing.T, doc []byte) {
		err := d.JSON(doc, &ev)
		valid := json.Valid(doc)
		isObject := bytes.HasPrefix(bytes.TrimLeft(doc, " \t\r\n"), []byte("{"))
		if err != nil {
			if ev.Len() != 0 {
				t.Fatalf("JSON(%q) failed (%v) but left %d fields", doc, err, ev.Len())
			}
			var se *SyntaxError
			tooDeep := errors.As(err, &se) && strings.HasPrefix(se.Msg, "nesting deeper")
			if valid && isObject && !tooDeep {
				t.Fatalf("JSON(%q) = %v, but encoding/json accepts it", doc, err)
			}
			if se != nil && (se.Offset < 0 || se.Offset > len(doc)) {
				t.Fatalf("JSON(%q): error offset %d outside the document", doc, se.Offset)
			}
			return
		}
		if !valid || !isObject {
			t.Fatalf("JSON(%q) accepted a document encoding/json rejects (valid %v, object %v)", doc, valid, isObject)
		}
		for i := 0; i < ev.Len(); i++ {
			if len(ev.Name(i)) == 0 {
				t.Fatalf("JSON(%q): field %d has an empty name (value %q)", doc, i, ev.Value(i))
			}
		}
		if (d.Shape() != ShapeGeneric && d.Shape() != ShapeSuricata) || !utf8.Valid(doc) {
			return
		}
		// Generic and Suricata records: every top-level string comes out under its key
		// unchanged.
		var m map[string]any
		jd := json.NewDecoder(bytes.NewReader(doc))
		jd.UseNumber() // 1e700 is valid JSON but no float64
		if err := jd.Decode(&m); err != nil {
			t.Fatalf("encoding/json cannot decode %q: %v", doc, err)
		}
		for k, v := range m {
			s, ok := v.(string)
			if !ok || k == "" {
				continue
			}
			found := false
			for _, got := range all(&ev, k) {
				found = found || got == s
			}
			if !found {
				t.Fatalf("JSON(%q): %q = %q missing, fields %q", doc, k, s, fields(&ev))
			}
		}
	})
}

// FuzzLines checks that Lines never panics and passes on only valid JSON objects.
func FuzzLines(f *testing.F) {
	addSeeds(f)
	f.Add([]byte("{\"a\":1}\n{\"b\":\n2}{\"c\":3}\n[{\"d\":4},\n{}]\nx\n{"))
	f.Fuzz(func(t *testing.T, in []byte) {
		lastLine := 0
		err := Lines(bytes.NewReader(in), func(line int, doc []byte) error {
			if !json.Valid(doc) || doc[0] != '{' {
				t.Fatalf("Lines(%q) passed %q", in, doc)
			}
			if line < lastLine || line < 1 {
				t.Fatalf("Lines(%q): line %d after %d", in, line, lastLine)
			}
			lastLine = line
			return nil
		}, func(line int, err error) {
			if line < 1 || err == nil {
				t.Fatalf("Lines(%q): onErr(%d, %v)", in, line, err)
			}
		})
		if err != nil {
			t.Fatalf("Lines(%q) = %v", in, err)
		}
	})
}
