package ioc

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

var listNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func parseListFile(t *testing.T, path string, opts ListOptions) ([]Indicator, []error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	opts.Now = listNow
	return ParseList(f, "feed", opts)
}

func kindValues(inds []Indicator) []string {
	out := []string{}
	for _, ind := range inds {
		out = append(out, string(ind.Kind)+":"+ind.Value)
	}
	return out
}

func errStrings(errs []error) []string {
	out := []string{}
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func TestParseListLayouts(t *testing.T) {
	tests := []struct {
		file     string
		opts     ListOptions
		want     []string
		wantErrs []string
	}{
		{file: "urlhaus.csv",
			want:     []string{"url:http://198.51.100.23:43133/i", "url:https://cdn.bad-files.example/load/stage2.ps1", "url:http://dl.bad-files.example/x86"},
			wantErrs: []string{`line 12: URL "not a url" has no scheme://`}},
		{file: "feodo.csv",
			want:     []string{"ip:192.0.2.44", "ip:192.0.2.45"},
			wantErrs: []string{`line 11: "192.0.2.999" is not an IP address or network`}},
		{file: "threatfox.csv",
			want: []string{"ip:198.51.100.77", "domain:update-check.example", "url:http://update-check.example/gate.php",
				"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
			wantErrs: []string{`line 14: confidence "high" is not 0-100`, `rows of unsupported types skipped: sha3_384_hash (1)`}},
		{file: "malwarebazaar.csv",
			want: []string{"sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
				"md5:acbd18db4cc2f85cedef654fccc4a4d8", "sha1:0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33"}},
		{file: "drop.txt",
			want:     []string{"cidr:192.0.2.0/25", "cidr:198.51.100.128/25"},
			wantErrs: []string{`line 7: "203.0.113.0/33" is not an IP address, network, domain, URL or hash`}},
		{file: "drop_v4.json", want: []string{"cidr:192.0.2.128/26", "cidr:198.51.100.64/27"}},
		{file: "firehol.netset", want: []string{"cidr:0.0.0.0/8", "ip:192.0.2.200", "cidr:198.51.100.224/27", "cidr:203.0.113.0/24"}},
		{file: "hashes.txt",
			want: []string{"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
				"sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
				"md5:5d41402abc4b2a76b9719d911017c592", "sha1:aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"},
			wantErrs: []string{`line 6: "12345" is not an IP address, network, domain, URL or hash`}},
		{file: "mixed.txt",
			want: []string{"url:http://evil-cdn.example/payload.bin", "domain:c2.evil-cdn.example", "ip:198.51.100.99",
				"ip:2001:db8::dead", "url:http://evil-cdn.example/other/path?q=1", "domain:wildcard.example"},
			wantErrs: []string{`line 8: "localhost" is not an IP address, network, domain, URL or hash`,
				`line 9: "has" is not an IP address, network, domain, URL or hash`}},
		{file: "hosts.txt",
			want:     []string{"domain:ads.tracker.example", "domain:telemetry.tracker.example"},
			wantErrs: []string{`line 4: domain "0.0.0.0" has a numeric last label`}},
		{file: "hashes.txt", opts: ListOptions{Kind: SHA256},
			want: []string{"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
				"sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"},
			wantErrs: []string{`line 4: sha256 must be 64 hex digits, not "5d41402abc4b2a76b9719d911017c592"`,
				`line 5: sha256 must be 64 hex digits, not "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"`,
				`line 6: sha256 must be 64 hex digits, not "12345"`}},
		{file: "urlhaus.csv", opts: ListOptions{Column: "urlhaus_link"},
			want: []string{"url:https://urlhaus.abuse.ch/url/3400001/", "url:https://urlhaus.abuse.ch/url/3400002/",
				"url:https://urlhaus.abuse.ch/url/3400003/", "url:https://urlhaus.abuse.ch/url/3400004/"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			inds, errs := parseListFile(t, "testdata/lists/"+tc.file, tc.opts)
			if got := kindValues(inds); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("indicators:\n got %q\nwant %q", got, tc.want)
			}
			if tc.wantErrs == nil {
				tc.wantErrs = []string{}
			}
			if got := errStrings(errs); !reflect.DeepEqual(got, tc.wantErrs) {
				t.Errorf("errors:\n got %q\nwant %q", got, tc.wantErrs)
			}
			for _, ind := range inds {
				if ind.Source != "feed" || ind.ID != MakeID("feed", ind.Kind, ind.Value) || !ind.ValidFrom.Equal(listNow) || ind.TLP != TLPClear {
					t.Errorf("indicator %+v: wrong source, id, valid_from or TLP", ind)
				}
			}
		})
	}
}

func TestParseListContext(t *testing.T) {
	inds, _ := parseListFile(t, "testdata/lists/threatfox.csv", ListOptions{TLP: "TLP:GREEN", Labels: []string{"threatfox"}})
	got := inds[1]
	want := Indicator{
		ID: MakeID("feed", Domain, "update-check.example"), Kind: Domain, Value: "update-check.example", Source: "feed",
		Confidence: 75, TLP: TLPGreen, ValidFrom: listNow,
		Labels:    []string{"threatfox", "botnet_cc", "Remcos"},
		Created:   time.Date(2025, 3, 1, 9, 0, 2, 0, time.UTC),
		Modified:  listNow,
		SourceRef: "1400002", Producer: "analyst_b",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ThreatFox row:\n got %+v\nwant %+v", got, want)
	}
	urlhaus, _ := parseListFile(t, "testdata/lists/urlhaus.csv", ListOptions{})
	if got, want := urlhaus[0].Labels, []string{"malware_download", "32-bit", "elf", "mips", "Mozi"}; !reflect.DeepEqual(got, want) {
		t.Errorf("URLhaus labels %q, want %q", got, want)
	}
	drop, _ := parseListFile(t, "testdata/lists/drop.txt", ListOptions{Confidence: 90})
	if drop[0].Description != "SBL100001" || drop[0].Confidence != 90 {
		t.Errorf("DROP line: description %q, confidence %d", drop[0].Description, drop[0].Confidence)
	}
	json, _ := parseListFile(t, "testdata/lists/drop_v4.json", ListOptions{})
	if json[0].SourceRef != "SBL100011" {
		t.Errorf("DROP JSON sblid %q", json[0].SourceRef)
	}
}

func TestParseListInline(t *testing.T) {
	tests := []struct {
		name, in string
		opts     ListOptions
		want     []string
		wantErr  string
	}{
		{name: "header in first line", in: "ip,comment\n192.0.2.1,first\n192.0.2.2,second\n", want: []string{"ip:192.0.2.1", "ip:192.0.2.2"}},
		{name: "semicolons", in: "domain;note\na.example;x\n", opts: ListOptions{Comma: ';'}, want: []string{"domain:a.example"}},
		{name: "csv by column number", in: "x,192.0.2.1\ny,192.0.2.2\n", opts: ListOptions{Format: "csv", Column: "2"}, want: []string{"ip:192.0.2.1", "ip:192.0.2.2"}},
		{name: "csv without header", in: "192.0.2.1,x\n", opts: ListOptions{Format: "csv"}, want: []string{}, wantErr: "no header line names a value column"},
		{name: "forced list ignores header look", in: "# url,x\nhttp://a.example/\n", opts: ListOptions{Format: "list"}, want: []string{"url:http://a.example/"}},
		{name: "duplicates once", in: "a.example\nA.example\na.example.\n", want: []string{"domain:a.example"}},
		{name: "crlf and bom", in: "\xef\xbb\xbfa.example\r\nb.example\r\n", want: []string{"domain:a.example", "domain:b.example"}},
		{name: "quoted csv", in: "\"url\",\"tags\"\n\"http://a.example/x,y\",\"a,b\"\n", want: []string{"url:http://a.example/x,y"}},
		{name: "long line", in: "a.example\n" + strings.Repeat("x", maxLine+10) + "\nb.example\n", want: []string{"domain:a.example", "domain:b.example"}, wantErr: "line 2: longer than"},
		{name: "bad format", in: "a.example\n", opts: ListOptions{Format: "xml"}, want: []string{}, wantErr: `list format "xml"`},
		{name: "json without value", in: `{"foo":"bar"}`, want: []string{}, wantErr: "JSON object has no"},
		{name: "empty", in: "", want: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Now = listNow
			inds, errs := ParseList(strings.NewReader(tc.in), "s", tc.opts)
			if got := kindValues(inds); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("indicators %q, want %q", got, tc.want)
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
	_, errs := ParseList(strings.NewReader("1,2\n"), "s", ListOptions{Format: "csv"})
	if len(errs) != 1 || !errors.Is(errs[0], ErrMalformed) {
		t.Errorf("CSV without header: %v, want ErrMalformed", errs)
	}
}
