package normalize

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/event"
)

func TestJSONSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, in string
		offset   int    // want SyntaxError.Offset; -1 when the error is not a SyntaxError
		msg      string // substring of the error
	}{
		{name: "empty", in: "", offset: 0, msg: "empty document"},
		{name: "spaces", in: "  \n", offset: 3, msg: "empty document"},
		{name: "truncated object", in: `{"a":1`, offset: 6, msg: "unexpected end of document"},
		{name: "truncated key", in: `{"a`, offset: 3, msg: "unterminated string"},
		{name: "missing colon", in: `{"a" 1}`, offset: 5, msg: "expected ':' after object key, found '1'"},
		{name: "bare key", in: `{a:1}`, offset: 1, msg: "expected string key, found 'a'"},
		{name: "trailing comma", in: `{"a":1,}`, offset: 7, msg: "expected string key, found '}'"},
		{name: "missing comma", in: `{"a":1 "b":2}`, offset: 7, msg: `expected ',' or '}', found '"'`},
		{name: "array close mismatch", in: `{"a":[1}`, offset: 7, msg: `expected ',' or ']', found '}'`},
		{name: "bad literal", in: `{"a":tru}`, offset: 5, msg: "invalid literal, want true"},
		{name: "leading zero", in: `{"a":01}`, offset: 6, msg: `expected ',' or '}', found '1'`},
		{name: "bare minus", in: `{"a":-}`, offset: 6, msg: "invalid number: want a digit"},
		{name: "dot without digits", in: `{"a":1.}`, offset: 7, msg: "want a digit after '.'"},
		{name: "bad exponent", in: `{"a":1e}`, offset: 7, msg: "want a digit in the exponent"},
		{name: "bad escape", in: `{"a":"x\q"}`, offset: 7, msg: `invalid escape \q`},
		{name: "bad unicode escape", in: `{"a":"\u12G4"}`, offset: 10, msg: "invalid hex digit 'G'"},
		{name: "short unicode escape", in: `{"a":"\u12"}`, offset: 10, msg: `invalid hex digit '"'`},
		{name: "truncated unicode escape", in: `{"a":"\u12`, offset: 6, msg: "truncated \\u escape"},
		{name: "raw newline in string", in: "{\"a\":\"x\ny\"}", offset: 7, msg: "control character byte 0x0a in string"},
		{name: "garbage after value", in: `{"a":1} x`, offset: 8, msg: "unexpected 'x' after the top-level value"},
		{name: "two objects", in: `{"a":1}{"b":2}`, offset: 7, msg: "unexpected '{' after the top-level value"},
		{name: "single quotes", in: `{'a':1}`, offset: 1, msg: `expected string key, found '\''`},
		{name: "too deep", in: `{"a":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + "}", offset: 5 + maxDepth - 1, msg: "nesting deeper than 512 levels"},
		{name: "array at top", in: `[{"a":1}]`, offset: -1, msg: "top-level value is not a JSON object: found array"},
		{name: "string at top", in: `"a"`, offset: -1, msg: "top-level value is not a JSON object: found string"},
	}
	d := NewDecoder()
	var ev event.Event
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev.AddString("stale", "field")
			err := d.JSON([]byte(tc.in), &ev)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("JSON(%q) error = %v, want one containing %q", tc.in, err, tc.msg)
			}
			if ev.Len() != 0 {
				t.Errorf("JSON(%q) left %d fields after an error, want none", tc.in, ev.Len())
			}
			var se *SyntaxError
			if errors.As(err, &se) != (tc.offset >= 0) {
				t.Fatalf("JSON(%q) error %T, want SyntaxError: %v", tc.in, err, tc.offset >= 0)
			}
			if se != nil && se.Offset != tc.offset {
				t.Errorf("JSON(%q) error at offset %d, want %d (%v)", tc.in, se.Offset, tc.offset, err)
			}
			if tc.offset < 0 && !errors.Is(err, ErrNotObject) {
				t.Errorf("JSON(%q) error = %v, want ErrNotObject", tc.in, err)
			}
			if json.Valid([]byte(tc.in)) && tc.offset >= 0 && tc.name != "too deep" {
				t.Errorf("encoding/json accepts %q, the test case is wrong", tc.in)
			}
		})
	}
}

func TestJSONValues(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // fields, in order
	}{
		{name: "numbers as written", in: `{"a":4688,"b":-0.50,"c":1E+3,"d":123456789012345678901234567890}`,
			want: []string{"a=4688", "b=-0.50", "c=1E+3", "d=123456789012345678901234567890"}},
		{name: "literals and null", in: `{"t":true,"f":false,"n":null}`, want: []string{"t=true", "f=false"}},
		{name: "escapes", in: `{"s":"a\"b\\c\/d\be\ff\ng\rh\ti"}`, want: []string{"s=a\"b\\c/d\be\ff\ng\rh\ti"}},
		{name: "unicode escapes", in: `{"s":"\u00e9\u4e2d\u0041"}`, want: []string{"s=é中A"}},
		{name: "surrogate pair", in: `{"s":"\ud83d\ude00!"}`, want: []string{"s=😀!"}},
		{name: "lone high surrogate", in: `{"s":"a\ud800b"}`, want: []string{"s=a\uFFFDb"}},
		{name: "lone low surrogate", in: `{"s":"\udc00"}`, want: []string{"s=\uFFFD"}},
		{name: "high surrogate then escape", in: `{"s":"\ud800\n"}`, want: []string{"s=\uFFFD\n"}},
		{name: "raw utf8 kept", in: "{\"s\":\"caf\xc3\xa9 \xff\"}", want: []string{"s=café \xff"}},
		{name: "escaped key", in: `{"k\u0065y":"v","a\"b":1}`, want: []string{"key=v", "a\"b=1"}},
		{name: "empty string kept", in: `{"e":""}`, want: []string{"e="}},
		{name: "empty key dropped", in: `{"":"x","a":{"":"y"}}`, want: []string{"a.=y"}},
		{name: "nested", in: `{"a":{"b":{"c":1}},"d":[1,[2,3],{"e":4}],"f":{},"g":[]}`,
			want: []string{"a.b.c=1", "d=1", "d=2", "d=3", "d.e=4"}},
		{name: "whitespace everywhere", in: " \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\" : { } }\n ", want: []string{"a=1", "a=2"}},
		{name: "long string crossing words", in: `{"s":"0123456789abcdef0123456789\"abcdef\\0123"}`,
			want: []string{`s=0123456789abcdef0123456789"abcdef\0123`}},
	}
	d := NewDecoder()
	var ev event.Event
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := d.JSON([]byte(tc.in), &ev); err != nil {
				t.Fatalf("JSON(%q): %v", tc.in, err)
			}
			got := fields(&ev)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("JSON(%q) fields\n got: %q\nwant: %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestUnescapeMatchesEncodingJSON checks string decoding against encoding/json.
func TestUnescapeMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		`plain`, `\"\\\/\b\f\n\r\t`, `\u0000\u001f\u007f\u00ff\u0100\uffff`, `\ud83d\ude00\ud83d`,
		`\ude00\ud83d\u0041`, `\uD834\uDD1E`, `a\u00e9b\u20acc`, `\ud800\ud800\udc00`,
	} {
		var want string
		if err := json.Unmarshal([]byte(`"`+s+`"`), &want); err != nil {
			t.Fatalf("encoding/json rejects %q: %v", s, err)
		}
		if got := string(appendUnescaped(nil, []byte(s))); got != want {
			t.Errorf("appendUnescaped(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestParseTime(t *testing.T) {
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UTC()
	}
	tests := []struct {
		in   string
		want time.Time // zero: not a time
	}{
		{"2023-08-18T08:56:04.315Z", utc("2023-08-18T08:56:04.315Z")},
		{"2025-11-27T07:22:22.033828Z", utc("2025-11-27T07:22:22.033828Z")},
		{"2017-03-25T16:49:58.856335-0600", utc("2017-03-25T22:49:58.856335Z")},
		{"2017-03-25T16:49:58+05:30", utc("2017-03-25T11:19:58Z")},
		{"2017-03-25T16:49:58+05", utc("2017-03-25T11:49:58Z")},
		{"2019-05-14 22:53:02", utc("2019-05-14T22:53:02Z")},
		{"2021-08-02T13:09:20.04Z", utc("2021-08-02T13:09:20.04Z")},
		{"2022-05-13T08:54:05.1230000123Z", utc("2022-05-13T08:54:05.123000012Z")},
		{"2024-02-29", utc("2024-02-29T00:00:00Z")},
		{"1588205199.82437", utc("2020-04-30T00:06:39.82437Z")},
		{"1588205199", utc("2020-04-30T00:06:39Z")},
		{"1588205199824", utc("2020-04-30T00:06:39.824Z")},
		{"1588205199824370", utc("2020-04-30T00:06:39.82437Z")},
		{"1588205199824370123", utc("2020-04-30T00:06:39.824370123Z")},
		{"2023-02-29T00:00:00Z", time.Time{}},
		{"2023-13-01T00:00:00Z", time.Time{}},
		{"2023-01-01T25:00:00Z", time.Time{}},
		{"2023-01-01T00:00:00.Z", time.Time{}},
		{"2023-01-01T00:00:00Zjunk", time.Time{}},
		{"2023-01-01T00:00", time.Time{}},
		{"yesterday", time.Time{}},
		{"-1", time.Time{}},
		{"1.", time.Time{}},
		{"", time.Time{}},
	}
	for _, tc := range tests {
		got, ok := parseTime([]byte(tc.in))
		if ok != !tc.want.IsZero() || !got.Equal(tc.want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", tc.in, got, ok, tc.want)
		}
	}
}

func TestParseInt64Bits(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true}, {"-9223372036854775808", 0x8000000000000000, true}, {"-9218868437227405312", 0x8010000000000000, true},
		{"18446744073709551615", 0xffffffffffffffff, true}, {"18446744073709551616", 0, false}, {"-9223372036854775809", 0, false},
		{"36028797018963968", 0x80000000000000, true}, {"1.5", 0, false}, {"-", 0, false}, {"", 0, false},
	}
	for _, tc := range tests {
		if got, ok := parseInt64Bits([]byte(tc.in)); got != tc.want || ok != tc.ok {
			t.Errorf("parseInt64Bits(%q) = %#x, %v; want %#x, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
