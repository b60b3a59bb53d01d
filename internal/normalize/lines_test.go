package normalize

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

type linesResult struct {
	docs []string // "line:doc"
	errs []string // "line:error"
}

func runLines(t *testing.T, r io.Reader) (linesResult, error) {
	t.Helper()
	var res linesResult
	err := Lines(r, func(line int, doc []byte) error {
		if !jsonValidObject(doc) {
			t.Errorf("line %d: Lines passed invalid JSON %q", line, doc)
		}
		res.docs = append(res.docs, fmt.Sprintf("%d:%s", line, doc))
		return nil
	}, func(line int, err error) {
		res.errs = append(res.errs, fmt.Sprintf("%d:%v", line, err))
	})
	return res, err
}

func jsonValidObject(doc []byte) bool {
	var s scanner
	s.reset()
	end, res, err := s.scan(doc, 0)
	return err == nil && res == scanDone && end == len(doc) && len(doc) > 0 && doc[0] == '{'
}

func TestLines(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantDocs []string
		wantErrs []string // "line:substring"
	}{
		{name: "ndjson", in: "{\"a\":1}\n{\"b\":2}\n", wantDocs: []string{`1:{"a":1}`, `2:{"b":2}`}},
		{name: "no final newline", in: "{\"a\":1}\n{\"b\":2}", wantDocs: []string{`1:{"a":1}`, `2:{"b":2}`}},
		{name: "crlf blank lines and bom", in: "\xef\xbb\xbf{\"a\":1}\r\n\r\n   \n\t{\"b\":2}  \r\n",
			wantDocs: []string{`1:{"a":1}`, `4:{"b":2}`}},
		{name: "bad line in the middle", in: "{\"a\":1}\n{\"a\" 2}\n{\"c\":3}\n",
			wantDocs: []string{`1:{"a":1}`, `3:{"c":3}`},
			wantErrs: []string{"2:line 2: invalid JSON at offset 5: expected ':' after object key"}},
		{name: "garbage lines", in: "hello\n42\n\"s\"\n{\"ok\":true}\n]\n",
			wantDocs: []string{`4:{"ok":true}`},
			wantErrs: []string{"1:line 1: expected a JSON object, found 'h'", "2:line 2: expected a JSON object, found '4'",
				"3:line 3: expected a JSON object, found '\"'", "5:line 5: expected a JSON object, found ']'"}},
		{name: "truncated line then good ones", in: "{\"a\":1,\n{\"b\":2}\n{\"c\":3}\n",
			wantDocs: []string{`2:{"b":2}`, `3:{"c":3}`},
			wantErrs: []string{"1:line 2 (document from line 1): invalid JSON at offset 8: expected string key, found '{'"}},
		{name: "truncated inside a string", in: "{\"a\":\"abc\n{\"b\":2}\n",
			wantDocs: []string{`2:{"b":2}`},
			wantErrs: []string{"1:line 1: invalid JSON at offset 9: control character byte 0x0a in string"}},
		{name: "pretty printed concatenated", in: "{\n  \"Event\": {\n    \"a\": 1\n  }\n}\n{\n  \"Event\": {\n    \"b\": [\n      2\n    ]\n  }\n}\n",
			wantDocs: []string{"1:{\n  \"Event\": {\n    \"a\": 1\n  }\n}", "6:{\n  \"Event\": {\n    \"b\": [\n      2\n    ]\n  }\n}"}},
		{name: "concatenated on one line", in: "{\"a\":1}{\"b\":2} {\"c\":{}}\n",
			wantDocs: []string{`1:{"a":1}`, `1:{"b":2}`, `1:{"c":{}}`}},
		{name: "closing brace shares a line with the next document", in: "{\n\"a\":1\n}{\"b\":\n2}\n",
			wantDocs: []string{"1:{\n\"a\":1\n}", "3:{\"b\":\n2}"}},
		{name: "broken pretty printed document is reported once", in: "{\n  \"a\": tru,\n  \"b\": 2,\n  \"c\": [1]\n}\n{\n  \"d\": 4\n}\n",
			wantDocs: []string{"6:{\n  \"d\": 4\n}"},
			wantErrs: []string{"1:line 2 (document from line 1): invalid JSON at offset 9: invalid literal, want true"}},
		{name: "top-level array pretty printed", in: "[\n  {\n    \"a\": 1\n  },\n  {\n    \"b\": 2\n  }\n]\n",
			wantDocs: []string{"2:{\n    \"a\": 1\n  }", "5:{\n    \"b\": 2\n  }"}},
		{name: "top-level array on one line", in: "[{\"a\":1}, {\"b\":2}]\n[]\n{\"c\":3}\n",
			wantDocs: []string{`1:{"a":1}`, `1:{"b":2}`, `3:{"c":3}`}},
		{name: "array of non-objects", in: "[1,2]\n{\"c\":3}\n",
			wantDocs: []string{`2:{"c":3}`},
			wantErrs: []string{"1:line 1: expected a JSON object, found '1'"}},
		{name: "array without comma", in: "[{\"a\":1} {\"b\":2}]\n{\"c\":3}\n",
			wantDocs: []string{`1:{"a":1}`, `2:{"c":3}`},
			wantErrs: []string{"1:line 1: expected ',' or ']' after an array element, found '{'"}},
		{name: "unterminated at end of input", in: "{\"a\":1}\n{\"b\":\n",
			wantDocs: []string{`1:{"a":1}`},
			wantErrs: []string{"2:line 2: unexpected end of input inside the document"}},
		{name: "bad bytes after a document", in: "{\"a\":1} x\n{\"b\":2}\n",
			wantDocs: []string{`1:{"a":1}`, `2:{"b":2}`},
			wantErrs: []string{"1:line 1: expected a JSON object, found 'x'"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Reading one byte at a time must change nothing.
			for _, r := range []io.Reader{strings.NewReader(tc.in), iotest.OneByteReader(strings.NewReader(tc.in))} {
				got, err := runLines(t, r)
				if err != nil {
					t.Fatalf("Lines: %v", err)
				}
				if !slices.Equal(got.docs, tc.wantDocs) {
					t.Errorf("docs\n got: %q\nwant: %q", got.docs, tc.wantDocs)
				}
				if len(got.errs) != len(tc.wantErrs) {
					t.Fatalf("errors\n got: %q\nwant: %q", got.errs, tc.wantErrs)
				}
				for i, w := range tc.wantErrs {
					if !strings.HasPrefix(got.errs[i], w) {
						t.Errorf("error %d = %q, want prefix %q", i, got.errs[i], w)
					}
				}
			}
		})
	}
}

func TestLinesTooLarge(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", MaxDocSize) + `"}`
	t.Run("one line", func(t *testing.T) {
		in := "{\"a\":1}\n" + big + "\n{\"b\":2}\n"
		got, err := runLines(t, strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{`1:{"a":1}`, `3:{"b":2}`}; !slices.Equal(got.docs, want) {
			t.Errorf("docs %q, want %q", got.docs, want)
		}
		if len(got.errs) != 1 || !strings.HasPrefix(got.errs[0], "2:document larger than 16 MiB") {
			t.Errorf("errors %q, want one for line 2", got.errs)
		}
	})
	t.Run("many lines", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("{\n")
		line := `"k":"` + strings.Repeat("y", 1<<20) + "\",\n"
		for range 17 {
			b.WriteString(line)
		}
		b.WriteString("\"end\":1}\n{\"b\":2}\n")
		got, err := runLines(t, strings.NewReader(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{`20:{"b":2}`}; !slices.Equal(got.docs, want) {
			t.Errorf("docs %q, want %q", got.docs, want)
		}
		if len(got.errs) != 1 || !strings.HasPrefix(got.errs[0], "1:line 1: document larger than 16 MiB") {
			t.Errorf("errors %q, want one for line 1", got.errs)
		}
	})
	t.Run("largest allowed", func(t *testing.T) {
		doc := `{"a":"` + strings.Repeat("z", MaxDocSize-9) + `"}`
		got, err := runLines(t, strings.NewReader(doc+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if len(got.docs) != 1 || len(got.errs) != 0 {
			t.Errorf("%d docs, errors %q; want the document", len(got.docs), got.errs)
		}
	})
}

func TestLinesStops(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := Lines(strings.NewReader("{}\n{}\n{}\n"), func(line int, doc []byte) error {
		n++
		if line == 2 {
			return stop
		}
		return nil
	}, nil)
	if err != stop || n != 2 {
		t.Errorf("Lines = %v after %d documents, want the callback's error after 2", err, n)
	}

	readErr := errors.New("disk on fire")
	err = Lines(io.MultiReader(strings.NewReader("{}\n"), iotest.ErrReader(readErr)), func(int, []byte) error { return nil }, nil)
	if !errors.Is(err, readErr) {
		t.Errorf("Lines = %v, want the read error", err)
	}
}

// TestLinesDecodesTheRegressionFormat runs Lines over a file in evtx_dump's multi-object
// layout written by hand, with CRLF endings.
func TestLinesDecodesTheRegressionFormat(t *testing.T) {
	in := bytes.ReplaceAll([]byte("{\n  \"Event\": {\n    \"System\": {\n      \"EventID\": 1\n    }\n  }\n}\n{\n  \"Event\": {\n    \"System\": {\n      \"EventID\": 2\n    }\n  }\n}\n"), []byte("\n"), []byte("\r\n"))
	evs, shapes := decodeAll(t, bytes.NewReader(in))
	if len(evs) != 2 || shapes[0] != ShapeEvtxDump || evs[1].GetString("EventID") != "2" {
		t.Errorf("got %d events, shapes %v", len(evs), shapes)
	}
}
