package ioc

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParsePattern(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // kind:value
		wantErr  string
		unsup    bool
	}{
		{name: "ipv4", in: "[ipv4-addr:value = '198.51.100.1']", want: []string{"ip:198.51.100.1"}},
		{name: "double equals", in: "[ipv4-addr:value == '198.51.100.1']", want: []string{"ip:198.51.100.1"}},
		{name: "ipv4 cidr by value", in: "[ipv4-addr:value = '198.51.100.0/24']", want: []string{"cidr:198.51.100.0/24"}},
		{name: "ipv4 /32 is an ip", in: "[ipv4-addr:value = '198.51.100.1/32']", want: []string{"ip:198.51.100.1"}},
		{name: "issubset", in: "[ipv4-addr:value ISSUBSET '198.51.100.7/24']", want: []string{"cidr:198.51.100.0/24"}},
		{name: "ipv6", in: "[ipv6-addr:value = '2001:DB8::1']", want: []string{"ip:2001:db8::1"}},
		{name: "ipv6 issubset", in: "[ipv6-addr:value ISSUBSET '2001:db8::/32']", want: []string{"cidr:2001:db8::/32"}},
		{name: "domain", in: "[domain-name:value = 'Evil.Example']", want: []string{"domain:evil.example"}},
		{name: "url", in: "[url:value = 'HTTP://Evil.Example/a']", want: []string{"url:http://evil.example/a"}},
		{name: "md5 unquoted", in: "[file:hashes.MD5 = 'D41D8CD98F00B204E9800998ECF8427E']", want: []string{"md5:d41d8cd98f00b204e9800998ecf8427e"}},
		{name: "sha1 quoted", in: "[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']", want: []string{"sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709"}},
		{name: "sha256 both spellings", in: "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' OR file:hashes.SHA256 = '2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae']",
			want: []string{"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}},
		{name: "in", in: "[domain-name:value IN ('a.example', 'b.example' , 'c.example')]", want: []string{"domain:a.example", "domain:b.example", "domain:c.example"}},
		{name: "or across observations", in: "[domain-name:value = 'a.example'] OR [ipv4-addr:value = '198.51.100.1'] or ([url:value = 'http://c.example/'])",
			want: []string{"domain:a.example", "ip:198.51.100.1", "url:http://c.example/"}},
		{name: "parentheses", in: "[(domain-name:value = 'a.example' OR (domain-name:value = 'b.example'))]", want: []string{"domain:a.example", "domain:b.example"}},
		{name: "escaped quote", in: `[url:value = 'http://a.example/it\'s']`, want: []string{"url:http://a.example/it's"}},
		{name: "and inside", in: "[ipv4-addr:value = '198.51.100.1' AND domain-name:value = 'a.example']", unsup: true, wantErr: "offset 34: AND is not supported"},
		{name: "and across", in: "[ipv4-addr:value = '198.51.100.1'] AND [domain-name:value = 'a.example']", unsup: true, wantErr: "AND between observation"},
		{name: "followedby", in: "[ipv4-addr:value = '198.51.100.1'] FOLLOWEDBY [domain-name:value = 'a.example']", unsup: true, wantErr: "FOLLOWEDBY"},
		{name: "within", in: "[ipv4-addr:value = '198.51.100.1'] WITHIN 300 SECONDS", unsup: true, wantErr: "WITHIN"},
		{name: "repeats", in: "[ipv4-addr:value = '198.51.100.1'] REPEATS 5 TIMES", unsup: true, wantErr: "REPEATS"},
		{name: "start stop", in: "[ipv4-addr:value = '198.51.100.1'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'", unsup: true, wantErr: "START/STOP"},
		{name: "like", in: "[domain-name:value LIKE '%.example']", unsup: true, wantErr: "operator LIKE"},
		{name: "matches", in: "[url:value MATCHES '^http']", unsup: true, wantErr: "operator MATCHES"},
		{name: "not equal", in: "[ipv4-addr:value != '198.51.100.1']", unsup: true, wantErr: "operator !="},
		{name: "not", in: "[ipv4-addr:value NOT = '198.51.100.1']", unsup: true, wantErr: "NOT"},
		{name: "exists", in: "[EXISTS file:hashes.MD5]", unsup: true, wantErr: "EXISTS"},
		{name: "issubset domain", in: "[domain-name:value ISSUBSET 'a.example']", unsup: true, wantErr: "ISSUBSET on domain-name:value"},
		{name: "other type", in: "[network-traffic:dst_ref.value = '198.51.100.1']", unsup: true, wantErr: "network-traffic:dst_ref.value is not supported"},
		{name: "other property", in: "[file:name = 'evil.exe']", unsup: true, wantErr: "file:name is not supported"},
		{name: "index path", in: "[email-message:to_refs[*].value = 'a@b.example']", unsup: true, wantErr: "email-message:to_refs.[].value"},
		{name: "other hash", in: "[file:hashes.'SHA-512' = 'aa']", unsup: true, wantErr: `hash "SHA-512"`},
		{name: "wrong family", in: "[ipv4-addr:value = '2001:db8::1']", wantErr: "not an address of the family"},
		{name: "bad value kept apart", in: "[ipv4-addr:value IN ('198.51.100.1', '198.51.100.300')]", want: []string{"ip:198.51.100.1"}, wantErr: "offset 37"},
		{name: "number value", in: "[ipv4-addr:value = 5]", wantErr: "not a string"},
		{name: "unclosed", in: "[ipv4-addr:value = '198.51.100.1'", wantErr: "expected ']'"},
		{name: "unterminated string", in: "[ipv4-addr:value = '198.51.100.1]", wantErr: "unterminated string"},
		{name: "no colon", in: "[ipv4-addr = '1']", wantErr: "expected ':'"},
		{name: "garbage after", in: "[ipv4-addr:value = '198.51.100.1'] ]", wantErr: "after the pattern"},
		{name: "empty", in: "", wantErr: "expected '[' or '('"},
		{name: "deep", in: strings.Repeat("(", 100) + "[ipv4-addr:value = '198.51.100.1']" + strings.Repeat(")", 100), wantErr: "nested deeper"},
		{name: "syntax error wins over unsupported", in: "[a:b = 'x' AND", wantErr: "expected an object type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obs, err := ParsePattern(tc.in)
			var got []string
			for _, o := range obs {
				got = append(got, string(o.Kind)+":"+o.Value)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParsePattern(%q) = %q, want %q", tc.in, got, tc.want)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("ParsePattern(%q) error = %v", tc.in, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("ParsePattern(%q) error = %v, want %q", tc.in, err, tc.wantErr)
			case tc.unsup != errors.Is(err, ErrUnsupported):
				t.Errorf("ParsePattern(%q) error = %v, unsupported %v, want %v", tc.in, err, errors.Is(err, ErrUnsupported), tc.unsup)
			}
		})
	}
}

func TestParseSTIX(t *testing.T) {
	f, err := os.Open("testdata/stix/bundle.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inds, errs := ParseSTIX(f, "partner-cert")
	byValue := map[string]Indicator{}
	var got []string
	for _, ind := range inds {
		got = append(got, string(ind.Kind)+":"+ind.Value)
		byValue[ind.Value] = ind
	}
	want := []string{
		"ip:198.51.100.7",
		"domain:login-portal.example", "domain:secure-update.example", "url:https://login-portal.example/auth?next=1",
		"sha256:aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f", "md5:d41d8cd98f00b204e9800998ecf8427e", "sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709",
		"cidr:203.0.113.0/24", "ip:2001:db8::1",
		"ip:198.51.100.11",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("indicators:\n got %q\nwant %q", got, want)
	}
	wantErrs := []string{
		`object 6 "indicator--0a6e1b0e-3f5b-4c1f-9d6c-1c2b3a4d5e05": pattern "[ipv4-addr:value = '198.51.100.8' AND domain-name:value = 'both.example']": offset 34: AND is not supported (an indicator must match on one value)`,
		`object 7 "indicator--0a6e1b0e-3f5b-4c1f-9d6c-1c2b3a4d5e06": pattern "[domain-name:value = 'beacon.example'] REPEATS 5 TIMES WITHIN 300 SECONDS": offset 39: qualifier REPEATS is not supported`,
		`object 8 "indicator--0a6e1b0e-3f5b-4c1f-9d6c-1c2b3a4d5e07": pattern_type "sigma" is not supported`,
		`object 9 "indicator--0a6e1b0e-3f5b-4c1f-9d6c-1c2b3a4d5e08": pattern "[network-traffic:dst_ref.value = '198.51.100.9']": offset 1: network-traffic:dst_ref.value is not supported`,
		`object 11 "indicator--0a6e1b0e-3f5b-4c1f-9d6c-1c2b3a4d5e10": pattern "[ipv4-addr:value IN ('198.51.100.11', '198.51.100.300')]": offset 38: ipv4-addr:value: "198.51.100.300" is not an IP address`,
		`object 12 "indicator--0a6e1b0e-3f5b-4c1f-9d6c-1c2b3a4d5e11": pattern "[ipv4-addr:value = '198.51.100.12'": offset 34: expected ']', found end of pattern`,
		`object 13 "indicator--0a6e1b0e-3f5b-4c1f-9d6c-1c2b3a4d5e12": json: cannot unmarshal string into Go struct field stixObject.confidence of type int`,
	}
	var gotErrs []string
	for _, e := range errs {
		gotErrs = append(gotErrs, strings.TrimPrefix(e.Error(), "STIX "))
	}
	if !reflect.DeepEqual(gotErrs, wantErrs) {
		t.Errorf("errors:\n got %q\nwant %q", gotErrs, wantErrs)
	}
	for i, unsup := range []bool{true, true, true, true, false, false, false} {
		if i < len(errs) && errors.Is(errs[i], ErrUnsupported) != unsup {
			t.Errorf("error %d %v: unsupported %v, want %v", i, errs[i], !unsup, unsup)
		}
	}

	c2 := byValue["198.51.100.7"]
	wantC2 := Indicator{
		ID: "indicator--0a6e1b0e-3f5b-4c1f-9d6c-1c2b3a4d5e01", Kind: IP, Value: "198.51.100.7", Source: "partner-cert",
		Confidence: 85, TLP: TLPGreen,
		ValidFrom:   time.Date(2025, 1, 10, 9, 0, 0, 0, time.UTC),
		ValidUntil:  time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC),
		Labels:      []string{"malicious-activity", "cobalt-strike"},
		Description: "C2 server: Cobalt Strike team server",
		Created:     time.Date(2025, 1, 10, 9, 0, 0, 0, time.UTC),
		Modified:    time.Date(2025, 1, 11, 9, 0, 0, 0, time.UTC),
		SourceRef:   "indicator--0a6e1b0e-3f5b-4c1f-9d6c-1c2b3a4d5e01",
		Producer:    "National CERT",
	}
	if !reflect.DeepEqual(c2, wantC2) {
		t.Errorf("C2 indicator:\n got %+v\nwant %+v", c2, wantC2)
	}
	// TLP: standard 1.0 and 2.0 ids, a custom TLP marking of the bundle, the strictest wins.
	for value, tlp := range map[string]string{
		"login-portal.example":             TLPAmberStrict,
		"d41d8cd98f00b204e9800998ecf8427e": TLPAmber, // custom amber + 2.0 green
		"203.0.113.0/24":                   TLPRed,
		"198.51.100.11":                    TLPClear,
	} {
		if got := byValue[value].TLP; got != tlp {
			t.Errorf("TLP of %s = %q, want %q", value, got, tlp)
		}
	}
	// Several values of one STIX indicator: distinct stable ids, one SourceRef, default confidence.
	a, b := byValue["login-portal.example"], byValue["secure-update.example"]
	if a.ID == b.ID || !strings.HasPrefix(a.ID, "indicator--0a6e1b0e-3f5b-4c1f-9d6c-1c2b3a4d5e02/") || a.SourceRef != "indicator--0a6e1b0e-3f5b-4c1f-9d6c-1c2b3a4d5e02" {
		t.Errorf("ids %q and %q, ref %q", a.ID, b.ID, a.SourceRef)
	}
	if a.Confidence != DefaultConfidence {
		t.Errorf("confidence without one given = %d, want %d", a.Confidence, DefaultConfidence)
	}
}

func TestParseSTIXLayouts(t *testing.T) {
	one := `{"type":"indicator","id":"indicator--1","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2025-01-01T00:00:00Z"}`
	tests := []struct {
		name, in string
		n        int
		wantErr  string
	}{
		{name: "single object", in: one, n: 1},
		{name: "array", in: "[" + one + "," + one + "]", n: 2},
		{name: "taxii envelope", in: `{"more":false,"objects":[` + one + `]}`, n: 1},
		{name: "empty bundle", in: `{"type":"bundle","id":"bundle--1"}`, n: 0},
		{name: "stix 2.0 without pattern_type", in: `{"type":"bundle","objects":[{"type":"indicator","id":"indicator--2","labels":["x"],"pattern":"[domain-name:value = 'a.example']","valid_from":"2017-01-01T00:00:00Z"}]}`, n: 1},
		{name: "not json", in: `hello`, wantErr: "STIX: not a bundle: invalid character"},
		{name: "no objects", in: `{"type":"report"}`, wantErr: `no "objects"`},
		{name: "bad time", in: `{"type":"indicator","id":"indicator--3","pattern":"[ipv4-addr:value = '198.51.100.1']","valid_from":"yesterday"}`, wantErr: "valid_from \"yesterday\" is not an RFC 3339 timestamp"},
		{name: "until before from", in: `{"type":"indicator","id":"indicator--4","pattern":"[ipv4-addr:value = '198.51.100.1']","valid_from":"2025-01-02T00:00:00Z","valid_until":"2025-01-01T00:00:00Z"}`, wantErr: "is not after valid_from"},
		{name: "no pattern", in: `{"type":"indicator","id":"indicator--5"}`, wantErr: "has no pattern"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inds, errs := ParseSTIX(strings.NewReader(tc.in), "s")
			if len(inds) != tc.n {
				t.Errorf("%d indicators, want %d", len(inds), tc.n)
			}
			if tc.wantErr == "" {
				if len(errs) > 0 {
					t.Errorf("errors %v", errs)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.wantErr) {
				t.Errorf("errors %v, want one containing %q", errs, tc.wantErr)
			}
		})
	}
}
