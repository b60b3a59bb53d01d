package intel

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/ioc"
)

func TestPattern(t *testing.T) {
	tests := []struct {
		kind      ioc.Kind
		value     string
		want, err string
	}{
		{kind: ioc.IP, value: "1.2.3.4", want: `[ipv4-addr:value = '1.2.3.4']`},
		{kind: ioc.IP, value: "2001:db8::1", want: `[ipv6-addr:value = '2001:db8::1']`},
		{kind: ioc.CIDR, value: "10.0.0.0/8", want: `[ipv4-addr:value ISSUBSET '10.0.0.0/8']`},
		{kind: ioc.CIDR, value: "2001:db8::/32", want: `[ipv6-addr:value ISSUBSET '2001:db8::/32']`},
		{kind: ioc.Domain, value: "evil.example", want: `[domain-name:value = 'evil.example']`},
		{kind: ioc.URL, value: `http://x.example/a'b\c?d=1&e=2`, want: `[url:value = 'http://x.example/a\'b\\c?d=1&e=2']`},
		{kind: ioc.MD5, value: "d41d8cd98f00b204e9800998ecf8427f", want: `[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427f']`},
		{kind: ioc.SHA1, value: "da39a3ee5e6b4b0d3255bfef95601890afd80708", want: `[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80708']`},
		{kind: ioc.SHA256, value: strings.Repeat("ab", 32), want: `[file:hashes.'SHA-256' = '` + strings.Repeat("ab", 32) + `']`},
		{kind: ioc.IP, value: "not-an-ip", err: `ip indicator "not-an-ip"`},
		{kind: "rule", value: "x", err: `kind "rule" has no STIX pattern`},
	}
	for _, tc := range tests {
		got, err := Pattern(tc.kind, tc.value)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Pattern(%s, %q) error = %v, want %q", tc.kind, tc.value, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Pattern(%s, %q) = %q, %v; want %q", tc.kind, tc.value, got, err, tc.want)
		}
		// The test parser (ioc.ParseSTIX's stand-in) reads it back.
		ind := ioc.Indicator{Kind: tc.kind, Value: tc.value, Created: time.Unix(1700000000, 0)}
		o, err := IndicatorObject(ind)
		if err != nil {
			t.Fatal(err)
		}
		back, errs := testParse(strings.NewReader(`{"objects":[`+string(mustJSON(t, o))+`]}`), "x")
		if len(errs) > 0 || len(back) != 1 || back[0].Value != tc.value || back[0].Kind != tc.kind {
			t.Errorf("round trip of %s %q = %+v, %v", tc.kind, tc.value, back, errs)
		}
	}
}

func TestIDs(t *testing.T) {
	a, b := ID("campaign", "c1"), ID("campaign", "c1")
	if a != b {
		t.Fatalf("ID is not deterministic: %s, %s", a, b)
	}
	if ID("campaign", "c2") == a || ID("campaign", "c", "1") == ID("campaign", "c1") {
		t.Fatal("distinct parts give the same id")
	}
	if !ValidID(a, "campaign") || ValidID(a, "indicator") {
		t.Fatalf("ValidID(%q) wrong", a)
	}
	if a[len("campaign--")+14] != '5' {
		t.Fatalf("%s is not a version 5 UUID", a)
	}
	if u := uuid4(); u[14] != '4' || !ValidID("sighting--"+u, "") {
		t.Fatalf("uuid4() = %s", u)
	}
	// An indicator that came from STIX keeps its id; others get a derived one.
	stixID := "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
	if got := IndicatorID(ioc.Indicator{ID: stixID}); got != stixID {
		t.Errorf("IndicatorID kept %s as %s", stixID, got)
	}
	if got := IndicatorID(ioc.Indicator{ID: "feed:ip:1.2.3.4"}); !ValidID(got, "indicator") || got != IndicatorID(ioc.Indicator{ID: "feed:ip:1.2.3.4"}) {
		t.Errorf("IndicatorID derived %s", got)
	}
}

func TestTimeFormat(t *testing.T) {
	ts := time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.FixedZone("CET", 3600))
	b, _ := json.Marshal(T(ts))
	if string(b) != `"2026-03-04T04:06:07.891Z"` {
		t.Fatalf("Time marshals as %s", b)
	}
	var back Time
	if err := json.Unmarshal([]byte(`"2026-03-04T04:06:07.891234Z"`), &back); err != nil || !back.Equal(ts.Truncate(time.Microsecond)) {
		t.Fatalf("Time unmarshals as %v, %v", back, err)
	}
	if T(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).String() != "2026-01-01T00:00:00.000Z" {
		t.Fatal("whole seconds lose their milliseconds")
	}
}

func TestTLP(t *testing.T) {
	for tlp, id := range map[string]string{"": TLPClearID, "clear": TLPClearID, "WHITE": TLPClearID, "green": TLPGreenID,
		"TLP:AMBER": TLPAmberID, "amber+strict": TLPAmberStrictID, "red": TLPRedID, "purple": TLPRedID} {
		if got := TLPMarkingRef(tlp); got != id {
			t.Errorf("TLPMarkingRef(%q) = %s, want %s", tlp, got, id)
		}
	}
	for _, tlp := range []string{ioc.TLPClear, ioc.TLPGreen, ioc.TLPAmber, ioc.TLPAmberStrict, ioc.TLPRed} {
		m := TLPMarking(tlp)
		if m.ID != TLPMarkingRef(tlp) || m.Name != "TLP:"+strings.ToUpper(tlp) {
			t.Errorf("TLPMarking(%q) = %s %s", tlp, m.ID, m.Name)
		}
		validateSTIX(t, mustJSON(t, m))
		if got, ok := TLPOf([]string{m.ID}); !ok || got != tlp {
			t.Errorf("TLPOf(%s) = %q, %v", m.ID, got, ok)
		}
	}
	// The official TLP 2.0 definition of amber, as the OASIS extension's example has it.
	want := `{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421","created":"2022-10-01T00:00:00.000Z","name":"TLP:AMBER","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"amber"}}}`
	if got := string(mustJSON(t, TLPMarking("amber"))); got != want {
		t.Errorf("TLPMarking(amber) =\n%s\nwant\n%s", got, want)
	}
	if got, _ := TLPOf([]string{TLPGreenID, "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "marking-definition--00000000-0000-4000-8000-000000000000"}); got != ioc.TLPRed {
		t.Errorf("TLPOf(green, TLP 1.0 red) = %q, want red", got)
	}
	if _, ok := TLPOf([]string{"marking-definition--00000000-0000-4000-8000-000000000000"}); ok {
		t.Error("TLPOf found a TLP in a non-TLP marking")
	}
}

func TestIndicatorObjectValidates(t *testing.T) {
	base := time.Date(2026, 5, 1, 10, 0, 0, 123456789, time.UTC)
	inds := []ioc.Indicator{
		{ID: "f:1", Kind: ioc.IP, Value: "203.0.113.9", TLP: ioc.TLPAmber, Confidence: 80, Labels: []string{"c2"}, Description: "C2", ValidFrom: base, ValidUntil: base.Add(time.Hour), Created: base, Modified: base.Add(time.Minute)},
		{ID: "f:2", Kind: ioc.CIDR, Value: "198.51.100.0/24"},                                                             // no times at all
		{ID: "f:3", Kind: ioc.URL, Value: "https://x.example/p?q='1'", ValidFrom: base, ValidUntil: base.Add(-time.Hour)}, // until before from
		{ID: "f:4", Kind: ioc.SHA256, Value: strings.Repeat("0f", 32), TLP: "red", Modified: base, Created: base.Add(time.Hour)},
	}
	for _, ind := range inds {
		o, err := IndicatorObject(ind)
		if err != nil {
			t.Fatal(err)
		}
		validateSTIX(t, mustJSON(t, o))
		if o.Modified.Before(o.Created.Time) {
			t.Errorf("%s: modified %s before created %s", ind.ID, o.Modified, o.Created)
		}
		if !o.ValidUntil.IsZero() && !o.ValidUntil.After(o.ValidFrom.Time) {
			t.Errorf("%s: valid_until %s not after valid_from %s", ind.ID, o.ValidUntil, o.ValidFrom)
		}
		if len(o.ObjectMarkingRefs) != 1 || o.ObjectMarkingRefs[0] != TLPMarkingRef(ind.TLP) {
			t.Errorf("%s: markings %v", ind.ID, o.ObjectMarkingRefs)
		}
	}
	if _, err := IndicatorObject(ioc.Indicator{Kind: "asn", Value: "64500"}); err == nil {
		t.Error("IndicatorObject accepted a kind without pattern")
	}
}

// TestSchemasRejectBadObjects proves the schema check has teeth: the
// official schemas refuse objects that break STIX 2.1 rules.
func TestSchemasRejectBadObjects(t *testing.T) {
	o, err := IndicatorObject(ioc.Indicator{ID: "x", Kind: ioc.IP, Value: "192.0.2.1", Created: time.Unix(1700000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	good := string(mustJSON(t, o))
	bad := map[string]string{
		"created without milliseconds": strings.Replace(good, `"created":"2023-11-14T22:13:20.000Z"`, `"created":"2023-11-14T22:13:20Z"`, 1),
		"no pattern":                   strings.Replace(good, `"pattern":`, `"not_pattern":`, 1),
		"bad id":                       strings.Replace(good, o.ID, "indicator--1234", 1),
		"empty labels":                 strings.Replace(good, `"pattern":`, `"labels":[],"pattern":`, 1),
	}
	for name, doc := range bad {
		if doc == good {
			t.Fatalf("%s: the replacement did not apply", name)
		}
		inst, err := jsonschemaUnmarshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		if schemaFor(t, schemaOfType["indicator"]).Validate(inst) == nil {
			t.Errorf("%s: the indicator schema accepted %s", name, doc)
		}
	}
}
