package ioc

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseMISP(t *testing.T) {
	f, err := os.Open("testdata/misp/event.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inds, errs := ParseMISP(f, "misp-partner")
	want := []string{
		"ip:192.0.2.61", "ip:192.0.2.62", "domain:exfil.example", "ip:192.0.2.63", "url:http://exfil.example/upload",
		"sha256:fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9", "sha1:f572d396fae9206628714fb2ce00f72e94f2258f",
	}
	if got := kindValues(inds); !reflect.DeepEqual(got, want) {
		t.Errorf("indicators:\n got %q\nwant %q", got, want)
	}
	wantErrs := []string{
		`MISP event "5e8f0c2a-0a1b-4c2d-8e3f-4a5b6c7d8e9f" attribute "a0000000-0000-4000-8000-000000000010" (md5): md5 must be 32 hex digits, not "not-a-hash"`,
		`MISP: 2 attributes skipped: to_ids is false or deleted`,
		`MISP: attributes of unsupported types skipped: email-src (2), regkey (1)`,
	}
	if got := errStrings(errs); !reflect.DeepEqual(got, wantErrs) {
		t.Errorf("errors:\n got %q\nwant %q", got, wantErrs)
	}
	if len(errs) == 3 && (!errors.Is(errs[1], ErrSkipped) || !errors.Is(errs[2], ErrUnsupported)) {
		t.Errorf("errors %v: want ErrSkipped then ErrUnsupported", errs)
	}
	c2 := inds[0]
	wantC2 := Indicator{
		ID: "a0000000-0000-4000-8000-000000000001", Kind: IP, Value: "192.0.2.61", Source: "misp-partner",
		Confidence: DefaultConfidence, TLP: TLPAmber,
		ValidFrom:   time.Unix(1740001000, 0).UTC(),
		Labels:      []string{`misp-galaxy:ransomware="LockBit"`},
		Description: "C2",
		Created:     time.Date(2025, 2, 20, 0, 0, 0, 0, time.UTC),
		Modified:    time.Unix(1740001000, 0).UTC(),
		SourceRef:   "a0000000-0000-4000-8000-000000000001",
		Producer:    "CERT-Partner",
	}
	if !reflect.DeepEqual(c2, wantC2) {
		t.Errorf("first attribute:\n got %+v\nwant %+v", c2, wantC2)
	}
	if inds[1].Description != "Ransomware intrusion: infrastructure and samples" {
		t.Errorf("description without comment = %q, want the event info", inds[1].Description)
	}
	if inds[2].ID != "a0000000-0000-4000-8000-000000000003/domain" || inds[3].ID != "a0000000-0000-4000-8000-000000000003/ip" {
		t.Errorf("domain|ip ids %q, %q", inds[2].ID, inds[3].ID)
	}
	url := inds[4]
	if url.TLP != TLPRed || !reflect.DeepEqual(url.Labels, []string{`misp-galaxy:ransomware="LockBit"`, "exfiltration"}) {
		t.Errorf("attribute tags: TLP %q, labels %q", url.TLP, url.Labels)
	}
}

func TestParseMISPLayouts(t *testing.T) {
	ev := `{"Event":{"uuid":"e1","Attribute":[{"uuid":"a1","type":"domain","value":"a.example","to_ids":true}]}}`
	tests := []struct {
		name, in string
		n        int
		wantErr  string
	}{
		{name: "event", in: ev, n: 1},
		{name: "array", in: "[" + ev + "," + ev + "]", n: 2},
		{name: "rest response", in: `{"response":[` + ev + `]}`, n: 1},
		{name: "no to_ids means yes", in: `{"Event":{"Attribute":[{"type":"ip-src","value":"192.0.2.0/24"}]}}`, n: 1},
		{name: "deleted", in: `{"Event":{"Attribute":[{"type":"ip-src","value":"192.0.2.1","deleted":true}]}}`, wantErr: "1 attributes skipped"},
		{name: "not json", in: `nope`, wantErr: "MISP: not a MISP event"},
		{name: "no event", in: `{"foo":1}`, wantErr: `no "Event"`},
		{name: "bad element", in: `[1]`, wantErr: `element 0 is not {"Event": ...}`},
		{name: "bad event", in: `{"Event":{"Attribute":5}}`, wantErr: "MISP event 0: json: cannot unmarshal"},
		{name: "bad to_ids", in: `{"Event":{"Attribute":[{"type":"ip-src","value":"192.0.2.1","to_ids":"maybe"}]}}`, wantErr: "is not a boolean"},
		{name: "pipe missing", in: `{"Event":{"Attribute":[{"uuid":"a","type":"domain|ip","value":"a.example"}]}}`, wantErr: "has no '|'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inds, errs := ParseMISP(strings.NewReader(tc.in), "s")
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
