package ioc

import (
	"net/netip"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		kind    Kind
		in      string
		want    string
		wantErr string
	}{
		{IP, " 192.0.2.1 ", "192.0.2.1", ""},
		{IP, "2001:DB8:0:0:0:0:0:1", "2001:db8::1", ""},
		{IP, "::ffff:192.0.2.1", "192.0.2.1", ""},
		{IP, "[2001:db8::1]", "2001:db8::1", ""},
		{IP, "192.0.2.1/32", "192.0.2.1", ""},
		{IP, "192[.]0[.]2[.]1", "192.0.2.1", ""},
		{IP, "192.0.2.0/24", "", "is a network"},
		{IP, "192.0.2.256", "", "not an IP address"},
		{IP, "010.0.0.1", "", "not an IP address"},
		{IP, "fe80::1%eth0", "", "has a zone"},
		{IP, "", "", "empty value"},
		{CIDR, "10.1.2.3/8", "10.0.0.0/8", ""},
		{CIDR, "192.0.2.7", "192.0.2.7/32", ""},
		{CIDR, "2001:DB8::1/32", "2001:db8::/32", ""},
		{CIDR, "::ffff:192.0.2.0/120", "192.0.2.0/24", ""},
		{CIDR, "192.0.2.0/33", "", "not a network"},
		{Domain, "Evil.Example.", "evil.example", ""},
		{Domain, "*.evil.example", "evil.example", ""},
		{Domain, "evil[.]example", "evil.example", ""},
		{Domain, "_dmarc.evil.example", "_dmarc.evil.example", ""},
		{Domain, "xn--bcher-kva.example", "xn--bcher-kva.example", ""},
		{Domain, "BÜCHER.example", "bÜcher.example", ""}, // IDNA left as is: only ASCII is folded
		{Domain, "example", "", "single label"},
		{Domain, "evil..example", "", "empty label"},
		{Domain, "has space.example", "", `has a ' '`},
		{Domain, "evil.example/path", "", `has a '/'`},
		{Domain, "192.0.2.1", "", "numeric last label"},
		{Domain, strings.Repeat("a", 64) + ".example", "", "longer than 63"},
		{Domain, strings.Repeat("abcdefgh.", 29) + "example", "", "longer than 253"},
		{URL, "HTTP://Evil.Example:80", "http://evil.example/", ""},
		{URL, "https://Evil.Example.:443/A/B?Q=1#frag", "https://evil.example/A/B?Q=1", ""},
		{URL, "https://evil.example:8443?x", "https://evil.example:8443/?x", ""},
		{URL, "hxxps://evil[.]example/x", "https://evil.example/x", ""},
		{URL, "hXXp://evil[.]example[/]x", "http://evil.example/x", ""},
		{URL, "http://user:Pass@Evil.Example/", "http://user:Pass@evil.example/", ""},
		{URL, "http://[2001:DB8::1]:8080/x", "http://[2001:db8::1]:8080/x", ""},
		{URL, "http://192.0.2.1/x", "http://192.0.2.1/x", ""},
		{URL, "http://intranet/", "http://intranet/", ""},
		{URL, "evil.example/x", "", "no scheme"},
		{URL, "http:///x", "", "not a URL"},
		{URL, "http://evil.example:port/", "", "not a URL"},
		{URL, "http://evil example/", "", "space"},
		{URL, "p://n[.]e[.][.]", "", "empty label"}, // found by FuzzList
		{MD5, "D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e", ""},
		{SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", "da39a3ee5e6b4b0d3255bfef95601890afd80709", ""},
		{SHA256, "d41d8cd98f00b204e9800998ecf8427e", "", "must be 64 hex digits"},
		{MD5, "z41d8cd98f00b204e9800998ecf8427e", "", "must be 32 hex digits"},
		{"email", "a@b.example", "", "unknown kind"},
	}
	for _, tc := range tests {
		got, err := Normalize(tc.kind, tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Normalize(%s, %q) = %q, %v; want error containing %q", tc.kind, tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Normalize(%s, %q) = %q, %v; want %q", tc.kind, tc.in, got, err, tc.want)
			continue
		}
		if again, err := Normalize(tc.kind, got); err != nil || again != got {
			t.Errorf("Normalize(%s, %q) = %q, %v; not idempotent", tc.kind, got, again, err)
		}
	}
}

func TestGuess(t *testing.T) {
	tests := []struct {
		in   string
		kind Kind
		want string
	}{
		{"192.0.2.1", IP, "192.0.2.1"},
		{"192.0.2.1:443", IP, "192.0.2.1"},
		{"[2001:db8::1]:443", IP, "2001:db8::1"},
		{"2001:db8::1", IP, "2001:db8::1"},
		{"192.0.2.0/24", CIDR, "192.0.2.0/24"},
		{"192.0.2.9/32", IP, "192.0.2.9"},
		{"Evil.Example", Domain, "evil.example"},
		{"evil[.]example", Domain, "evil.example"},
		{"hxxp://evil[.]example/a", URL, "http://evil.example/a"},
		{"evil.example/a/b", URL, "http://evil.example/a/b"},
		{"192.0.2.1:8080/a", URL, "http://192.0.2.1:8080/a"},
		{"D41D8CD98F00B204E9800998ECF8427E", MD5, "d41d8cd98f00b204e9800998ecf8427e"},
		{"da39a3ee5e6b4b0d3255bfef95601890afd80709", SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"12345", "", ""},
		{"localhost", "", ""},
		{"has space.example", "", ""},
		{"a/b", "", ""},
		{"", "", ""},
	}
	for _, tc := range tests {
		k, got, ok := Guess(tc.in)
		if ok != (tc.kind != "") || k != tc.kind || got != tc.want {
			t.Errorf("Guess(%q) = %q, %q, %v; want %q, %q", tc.in, k, got, ok, tc.kind, tc.want)
		}
	}
}

// TestParseAddr16 compares the allocation-free address parser with netip.
func TestParseAddr16(t *testing.T) {
	for _, s := range []string{
		"0.0.0.0", "192.0.2.1", "255.255.255.255", "256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1..2.3",
		"::", "::1", "1::", "2001:db8::1", "2001:DB8:0:0:0:0:0:1", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9",
		"1:2:3:4:5:6:7::", "::1:2:3:4:5:6:7", "1::2::3", ":1", "1:", "::ffff:192.0.2.1", "::192.0.2.1",
		"1:2:3:4:5:6:192.0.2.1", "1:2:3:4:5:6:7:192.0.2.1", "12345::1", "g::1", "1:2:3:4:5:6:7:8::",
		"::1.2.3", "fe80::1%eth0", "1.2.3.4:", ":::", "1:::2",
	} {
		a, err := netip.ParseAddr(s)
		want := err == nil && a.Zone() == ""
		got, ok := parseAddr16([]byte(s))
		if ok != want {
			t.Errorf("parseAddr16(%q) ok = %v, netip says %v (%v)", s, ok, want, err)
			continue
		}
		if ok && got != a.As16() {
			t.Errorf("parseAddr16(%q) = %x, want %x", s, got, a.As16())
		}
	}
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"192.0.2.1:443", "192.0.2.1"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"[2001:db8::1]", "2001:db8::1"},
		{"192.0.2.1:", ""},
		{"192.0.2.1:44x", ""},
		{"[2001:db8::1", ""},
	} {
		got, ok := parseAddr16([]byte(tc.in))
		if tc.want == "" {
			if ok {
				t.Errorf("parseAddr16(%q) = %x, want failure", tc.in, got)
			}
			continue
		}
		if want := netip.MustParseAddr(tc.want).As16(); !ok || got != want {
			t.Errorf("parseAddr16(%q) = %x, %v; want %x", tc.in, got, ok, want)
		}
	}
}

func TestRefang(t *testing.T) {
	for in, want := range map[string]string{
		"hxxp://a[.]b(.)c{.}d[dot]e/x": "http://a.b.c.d.e/x",
		"HXXPS[://]a[.]b":              "https://a.b",
		"fxp://a.b":                    "ftp://a.b",
		"user[@]a[.]b":                 "user@a.b",
		"plain.example":                "plain.example",
	} {
		if got := Refang(in); got != want {
			t.Errorf("Refang(%q) = %q, want %q", in, got, want)
		}
	}
}
