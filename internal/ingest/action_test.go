package ingest

import (
	"encoding/json"
	"testing"
)

// TestParseActionAgreesWithJSON: the fast action-line reader must give what
// decoding the line with encoding/json gives, or defer to it.
func TestParseActionAgreesWithJSON(t *testing.T) {
	lines := []string{
		`{"index":{}}`, `{"create":{"_index":"logs","_id":"a1"}}`, ` { "index" : { "_id" : "x" , "_index" : "y" } } `,
		`{"index":{"_id":"1","_id":"2"}}`, `{"index":{"_id":"caf\u00e9"}}`, `{"index":{"_id":"a\"b"}}`, `{"Index":{}}`,
		`{"index":{"routing":"r","_id":"z"}}`, `{"index":{},"create":{}}`, `{"delete":{"_id":"9"}}`, `{}`, `[1]`, `{"index":`,
		`{"index":{"_index":123}}`, `{"update":{"_id":"2","retry_on_conflict":3}}`, `{"index":null}`,
	}
	for _, l := range lines {
		op, meta, ok := parseAction([]byte(l))
		var a map[string]bulkAction
		err := json.Unmarshal([]byte(l), &a)
		wantOK := err == nil && len(a) == 1
		if ok != wantOK {
			t.Errorf("%s: ok = %v, encoding/json says %v (%v)", l, ok, wantOK, err)
			continue
		}
		if !ok {
			continue
		}
		for wop, wmeta := range a {
			if op != wop || meta != wmeta {
				t.Errorf("%s: got %q %+v, want %q %+v", l, op, meta, wop, wmeta)
			}
		}
	}
}

// FuzzParseAction checks the fast reader against encoding/json on any input.
func FuzzParseAction(f *testing.F) {
	for _, s := range []string{`{"index":{}}`, `{"create":{"_index":"logs","_id":"a1"}}`, `{"index":{"_id":"1","_id":"2"}}`, `{"delete":{"_id":"9"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		op, meta, ok := parseAction(line)
		var a map[string]bulkAction
		err := json.Unmarshal(line, &a)
		if want := err == nil && len(a) == 1; ok != want {
			t.Fatalf("%q: ok = %v, encoding/json %v", line, ok, want)
		}
		for wop, wmeta := range a {
			if ok && (op != wop || meta != wmeta) {
				t.Fatalf("%q: got %q %+v, want %q %+v", line, op, meta, wop, wmeta)
			}
		}
	})
}
