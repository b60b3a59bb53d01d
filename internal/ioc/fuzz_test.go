package ioc

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// checkIndicators is the invariant of every parser: what it returns is
// storable (valid kind, normalized value, an id, a known TLP).
func checkIndicators(t *testing.T, inds []Indicator) {
	t.Helper()
	for _, ind := range inds {
		if !ind.Kind.Valid() || !canonical(ind.Kind, ind.Value) {
			t.Fatalf("indicator %q: %s %q is not normalized", ind.ID, ind.Kind, ind.Value)
		}
		if err := check(&ind); err != nil || ind.ID == "" {
			t.Fatalf("indicator %+v does not store: %v", ind, err)
		}
	}
}

func addFiles(f *testing.F, glob string) {
	paths, _ := filepath.Glob(glob)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzSTIX(f *testing.F) {
	addFiles(f, "testdata/stix/*.json")
	f.Add([]byte(`[{"type":"indicator","id":"x","pattern":"[url:value = 'http://a.example/']","valid_from":"2025-01-01T00:00:00Z"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		inds, _ := ParseSTIX(bytes.NewReader(data), "fuzz")
		checkIndicators(t, inds)
	})
}

func FuzzMISP(f *testing.F) {
	addFiles(f, "testdata/misp/*.json")
	f.Add([]byte(`{"response":[{"Event":{"Attribute":[{"type":"domain|ip","value":"a.example|192.0.2.1"}]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		inds, _ := ParseMISP(bytes.NewReader(data), "fuzz")
		checkIndicators(t, inds)
	})
}

func FuzzList(f *testing.F) {
	paths, _ := filepath.Glob("testdata/lists/*")
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		f.Add(b, uint8(0))
		f.Add(b, uint8(1))
	}
	f.Add([]byte("ip;note\n192.0.2.1;x\n"), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		opts := ListOptions{}
		switch mode % 4 {
		case 1:
			opts.Format = "csv"
			opts.Column = "2"
		case 2:
			opts.Comma = ';'
		case 3:
			opts.Format = "list"
			opts.Kind = Domain
		}
		inds, _ := ParseList(bytes.NewReader(data), "fuzz", opts)
		checkIndicators(t, inds)
	})
}

func FuzzPattern(f *testing.F) {
	for _, s := range []string{
		"[ipv4-addr:value = '198.51.100.1']",
		"[ipv4-addr:value ISSUBSET '198.51.100.0/24'] OR [ipv6-addr:value = '2001:db8::1']",
		"[domain-name:value IN ('a.example', 'b.example')] OR ([url:value = 'http://a.example/'])",
		"[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' OR file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']",
		"[a:b = 'x' AND c:d = 'y'] FOLLOWEDBY [e:f = 'z'] WITHIN 5 SECONDS REPEATS 2 TIMES",
		"[email-message:to_refs[*].value = 'a@b.example'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'",
		"[x:y NOT MATCHES h'ff' OR EXISTS x:z OR x:w > -1.5 OR x:v = true]",
		`[url:value = 'it\'s\\']`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		obs, _ := ParsePattern(pattern)
		for _, o := range obs {
			if !canonical(o.Kind, o.Value) {
				t.Fatalf("ParsePattern(%q) gave %s %q, not normalized", pattern, o.Kind, o.Value)
			}
		}
	})
}

// FuzzMatch feeds arbitrary values to a compiled set: no panic, and the
// allocation-free address parser agrees with netip.
func FuzzMatch(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "10.1.2.3:80", "[2001:db8::1]:1", "::ffff:1.2.3.4", "a.b.evil.example.",
		"x@evil.example", "http://evil.example/payload.bin", "cmd http://a http://b://c", "MD5=D41D8CD98F00B204E9800998ECF8427E,SHA1=x",
		"d41d8cd98f00b204e9800998ecf8427e", "1:2:3:4:5:6:1.2.3.4"} {
		f.Add([]byte(s))
	}
	s := testSet(f)
	f.Fuzz(func(t *testing.T, v []byte) {
		s.MatchValue([]byte("f"), v, nil)
		if bytes.IndexAny(v, "[]%") >= 0 {
			return
		}
		if bytes.Count(v, []byte(":")) >= 2 || bytes.IndexByte(v, ':') < 0 {
			a, err := netip.ParseAddr(string(v))
			got, ok := parseAddr16(v)
			if ok != (err == nil) || ok && got != a.As16() {
				t.Fatalf("parseAddr16(%q) = %x, %v; netip: %v, %v", v, got, ok, a, err)
			}
		}
	})
}
