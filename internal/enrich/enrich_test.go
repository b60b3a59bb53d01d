package enrich

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"log/slog"

	"github.com/mamori-soc/mamori/internal/tenant"
	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// entry is one network of a test database.
type entry struct {
	net string
	rec mmdbtype.Map
}

// writeDB builds an MMDB file in dir and returns its path.
func writeDB(t testing.TB, dir, name, dbType string, ipVersion int, reserved bool, entries []entry) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            dbType,
		IPVersion:               ipVersion,
		RecordSize:              24,
		IncludeReservedNetworks: reserved,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		_, n, err := net.ParseCIDR(e.net)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, e.rec); err != nil {
			t.Fatalf("insert %s: %v", e.net, err)
		}
	}
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func geoLite(code, name string) mmdbtype.Map {
	return mmdbtype.Map{
		"continent": mmdbtype.Map{"code": mmdbtype.String("EU")},
		"country": mmdbtype.Map{
			"geoname_id": mmdbtype.Uint32(1),
			"iso_code":   mmdbtype.String(code),
			"names":      mmdbtype.Map{"en": mmdbtype.String(name), "ja": mmdbtype.String("国")},
		},
		"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("ZZ")},
	}
}

func asnRec(n uint32, org string) mmdbtype.Map {
	return mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(n),
		"autonomous_system_organization": mmdbtype.String(org),
	}
}

// geoLiteDBs builds GeoLite2-Country/City and GeoLite2-ASN style databases
// (IPv6 trees holding IPv4 and IPv6 networks).
func geoLiteDBs(t testing.TB) Config {
	dir := t.TempDir()
	return Config{
		CountryDB: writeDB(t, dir, "GeoLite2-City.mmdb", "GeoLite2-City", 6, true, []entry{
			{"81.2.69.0/24", geoLite("GB", "United Kingdom")},
			{"2001:218::/32", geoLite("JP", "Japan")},
			{"10.0.0.0/8", geoLite("XX", "Should Not Appear")}, // private: never looked up
			// Only registered_country (e.g. an anycast or satellite network).
			{"89.160.20.0/24", mmdbtype.Map{"registered_country": mmdbtype.Map{
				"iso_code": mmdbtype.String("SE"), "names": mmdbtype.Map{"en": mmdbtype.String("Sweden")}}}},
		}),
		ASNDB: writeDB(t, dir, "GeoLite2-ASN.mmdb", "GeoLite2-ASN", 6, false, []entry{
			{"81.2.69.0/24", asnRec(20712, "Andrews & Arnold Ltd")},
			{"2001:218::/32", asnRec(2914, "NTT America, Inc.")},
		}),
	}
}

// ipLocationDBs builds ip-location-db style databases: an IPv4-only country
// database (country_code) and a combined ASN database.
func ipLocationDBs(t testing.TB) Config {
	dir := t.TempDir()
	cc := func(c string) mmdbtype.Map { return mmdbtype.Map{"country_code": mmdbtype.String(c)} }
	return Config{
		CountryDB: writeDB(t, dir, "country-ipv4.mmdb", "ip-location-db-country", 4, false, []entry{
			{"81.2.69.0/24", cc("GB")},
			{"133.0.0.0/8", cc("JP")},
		}),
		ASNDB: writeDB(t, dir, "asn.mmdb", "ip-location-db-asn", 6, false, []entry{
			{"81.2.69.0/24", asnRec(20712, "Andrews & Arnold Ltd")},
			{"133.0.0.0/8", asnRec(2907, "Research Organization of Information and Systems")},
			{"2400:8500::/24", asnRec(7684, "SAKURA Internet Inc.")},
		}),
	}
}

func open(t testing.TB, cfg Config, log *slog.Logger) *Enricher {
	t.Helper()
	e, err := Open(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func TestLookupPublic(t *testing.T) {
	tests := []struct {
		layout string
		ip     string
		want   Info
	}{
		{"geolite", "81.2.69.142", Info{"GB", "United Kingdom", 20712, "Andrews & Arnold Ltd", Public}},
		{"geolite", "2001:218:1::1", Info{"JP", "Japan", 2914, "NTT America, Inc.", Public}},
		{"geolite", "::ffff:81.2.69.1", Info{"GB", "United Kingdom", 20712, "Andrews & Arnold Ltd", Public}},
		{"geolite", "89.160.20.112", Info{Country: "SE", CountryName: "Sweden", Scope: Public}},
		{"geolite", "8.8.8.8", Info{Scope: Public}},
		{"geolite", "2a00:1450::1", Info{Scope: Public}},
		{"geolite", "10.1.2.3", Info{Scope: Private}},
		{"ip-location-db", "81.2.69.142", Info{"GB", "", 20712, "Andrews & Arnold Ltd", Public}},
		{"ip-location-db", "133.11.0.1", Info{"JP", "", 2907, "Research Organization of Information and Systems", Public}},
		{"ip-location-db", "::ffff:133.11.0.1", Info{"JP", "", 2907, "Research Organization of Information and Systems", Public}},
		// IPv6 against the IPv4-only country database: no country, but AS.
		{"ip-location-db", "2400:8500:1::1", Info{ASN: 7684, ASOrg: "SAKURA Internet Inc.", Scope: Public}},
		{"ip-location-db", "8.8.8.8", Info{Scope: Public}},
	}
	cfgs := map[string]Config{"geolite": geoLiteDBs(t), "ip-location-db": ipLocationDBs(t)}
	for _, tc := range tests {
		t.Run(tc.layout+"/"+tc.ip, func(t *testing.T) {
			var buf bytes.Buffer
			cfg := cfgs[tc.layout]
			e := open(t, cfg, slog.New(slog.NewTextHandler(&buf, nil)))
			for range 2 { // the second lookup is served from the cache
				if got := e.Lookup(netip.MustParseAddr(tc.ip)); got != tc.want {
					t.Errorf("Lookup(%s) = %+v, want %+v", tc.ip, got, tc.want)
				}
			}
			if buf.Len() != 0 {
				t.Errorf("unexpected log output: %s", buf.String())
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		ip   string
		want Scope
	}{
		{"8.8.8.8", Public},
		{"2606:4700::1111", Public},
		{"2002:c000:204::1", Public}, // 6to4 is globally routable
		{"10.0.0.1", Private},
		{"172.16.0.1", Private},
		{"172.31.255.255", Private},
		{"172.32.0.1", Public},
		{"192.168.1.1", Private},
		{"fd12:3456::1", Private},
		{"fc00::1", Private},
		{"127.0.0.1", Loopback},
		{"127.255.255.254", Loopback},
		{"::1", Loopback},
		{"169.254.1.1", LinkLocal},
		{"fe80::1", LinkLocal},
		{"fe80::1%eth0", LinkLocal},
		{"0.0.0.0", Reserved},
		{"0.1.2.3", Reserved},
		{"::", Reserved},
		{"100.64.0.1", Reserved},       // CGNAT
		{"100.127.255.255", Reserved},  // CGNAT
		{"100.128.0.1", Public},        // just past CGNAT
		{"192.0.0.8", Reserved},        // IETF protocol assignments
		{"192.0.2.1", Reserved},        // TEST-NET-1
		{"198.51.100.7", Reserved},     // TEST-NET-2
		{"203.0.113.9", Reserved},      // TEST-NET-3
		{"198.18.0.1", Reserved},       // benchmarking
		{"198.19.255.255", Reserved},   // benchmarking
		{"192.88.99.1", Reserved},      // 6to4 relay anycast
		{"224.0.0.251", Reserved},      // multicast
		{"239.255.255.250", Reserved},  // multicast
		{"240.0.0.1", Reserved},        // future use
		{"255.255.255.255", Reserved},  // broadcast
		{"2001:db8::1", Reserved},      // documentation
		{"3fff::1", Reserved},          // documentation (RFC 9637)
		{"ff02::fb", Reserved},         // multicast
		{"100::1", Reserved},           // discard-only
		{"2001:2::1", Reserved},        // benchmarking
		{"2001:20::1", Reserved},       // ORCHIDv2
		{"fec0::1", Reserved},          // site-local
		{"::ffff:10.1.2.3", Private},   // IPv4-mapped
		{"::ffff:127.0.0.1", Loopback}, // IPv4-mapped
		{"::ffff:169.254.9.9", LinkLocal},
		{"::ffff:100.64.1.1", Reserved},
		{"::ffff:8.8.8.8", Public},
	}
	e := open(t, Config{}, nil) // no databases: scope only
	for _, tc := range tests {
		t.Run(tc.ip, func(t *testing.T) {
			ip := netip.MustParseAddr(tc.ip)
			if got := Classify(ip); got != tc.want {
				t.Errorf("Classify(%s) = %v, want %v", tc.ip, got, tc.want)
			}
			if got := e.Lookup(ip); got != (Info{Scope: tc.want}) {
				t.Errorf("Lookup(%s) = %+v, want scope %v only", tc.ip, got, tc.want)
			}
		})
	}
	if got := Classify(netip.Addr{}); got != Reserved {
		t.Errorf("Classify(invalid) = %v, want reserved", got)
	}
}

func TestOwnRanges(t *testing.T) {
	e := open(t, geoLiteDBs(t), nil)
	a, b := tenant.ID("org-a"), tenant.ID("org-b")
	e.SetOwnRanges(a, []netip.Prefix{
		netip.MustParsePrefix("81.2.69.0/25"),
		netip.MustParsePrefix("10.20.0.0/16"),
		netip.MustParsePrefix("::ffff:100.64.0.0/112"), // mapped → 100.64.0.0/16
		netip.MustParsePrefix("2001:218:ab::5/48"),     // host bits masked
		{}, // invalid: ignored
	})
	e.SetOwnRanges(b, []netip.Prefix{netip.MustParsePrefix("192.168.7.0/24")})
	tests := []struct {
		t    tenant.ID
		ip   string
		want Info
	}{
		{a, "81.2.69.5", Info{"GB", "United Kingdom", 20712, "Andrews & Arnold Ltd", Own}},
		{a, "81.2.69.200", Info{"GB", "United Kingdom", 20712, "Andrews & Arnold Ltd", Public}},
		{a, "10.20.3.4", Info{Scope: Own}},
		{a, "10.21.3.4", Info{Scope: Private}},
		{a, "100.64.9.9", Info{Scope: Own}},
		{a, "::ffff:100.64.9.9", Info{Scope: Own}},
		{a, "100.65.0.1", Info{Scope: Reserved}},
		{a, "2001:218:ab:1::1", Info{"JP", "Japan", 2914, "NTT America, Inc.", Own}},
		{a, "192.168.7.1", Info{Scope: Private}}, // b's range
		{b, "192.168.7.1", Info{Scope: Own}},
		{b, "81.2.69.5", Info{"GB", "United Kingdom", 20712, "Andrews & Arnold Ltd", Public}}, // a's range
		{b, "10.20.3.4", Info{Scope: Private}},
		{"org-c", "10.20.3.4", Info{Scope: Private}},
	}
	for _, tc := range tests {
		t.Run(string(tc.t)+"/"+tc.ip, func(t *testing.T) {
			if got := e.LookupFor(tc.t, netip.MustParseAddr(tc.ip)); got != tc.want {
				t.Errorf("LookupFor(%s, %s) = %+v, want %+v", tc.t, tc.ip, got, tc.want)
			}
		})
	}
	// Lookup ignores every tenant's ranges; clearing a tenant's ranges works.
	if got := e.Lookup(netip.MustParseAddr("10.20.3.4")).Scope; got != Private {
		t.Errorf("Lookup(10.20.3.4) scope = %v, want private", got)
	}
	e.SetOwnRanges(a, nil)
	if got := e.LookupFor(a, netip.MustParseAddr("10.20.3.4")).Scope; got != Private {
		t.Errorf("after clearing, scope = %v, want private", got)
	}
	if got := e.LookupFor(b, netip.MustParseAddr("192.168.7.1")).Scope; got != Own {
		t.Errorf("clearing org-a changed org-b: scope = %v, want own", got)
	}
}

func TestMissingDB(t *testing.T) {
	good := geoLiteDBs(t)
	missing := filepath.Join(t.TempDir(), "nope.mmdb")
	tests := []struct {
		name       string
		cfg        Config
		warnings   int
		wantGB     Info
		wantInPath string
	}{
		{"country missing", Config{CountryDB: missing, ASNDB: good.ASNDB}, 1,
			Info{ASN: 20712, ASOrg: "Andrews & Arnold Ltd", Scope: Public}, missing},
		{"asn missing", Config{CountryDB: good.CountryDB, ASNDB: missing}, 1,
			Info{Country: "GB", CountryName: "United Kingdom", Scope: Public}, missing},
		{"both missing", Config{CountryDB: missing, ASNDB: missing + "2"}, 2, Info{Scope: Public}, missing},
		{"not configured", Config{}, 0, Info{Scope: Public}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			e := open(t, tc.cfg, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
			for range 3 {
				if got := e.Lookup(netip.MustParseAddr("81.2.69.142")); got != tc.wantGB {
					t.Errorf("Lookup = %+v, want %+v", got, tc.wantGB)
				}
				if got := e.Lookup(netip.MustParseAddr("192.168.0.1")); got != (Info{Scope: Private}) {
					t.Errorf("Lookup(private) = %+v", got)
				}
				if got := e.LookupFor("org", netip.MustParseAddr("2001:218::1")).Scope; got != Public {
					t.Errorf("LookupFor scope = %v", got)
				}
			}
			out := buf.String()
			if n := strings.Count(out, "level=WARN"); n != tc.warnings {
				t.Errorf("%d warnings, want %d:\n%s", n, tc.warnings, out)
			}
			if strings.Count(out, "\n") != tc.warnings {
				t.Errorf("unexpected log lines:\n%s", out)
			}
			if tc.wantInPath != "" && !strings.Contains(out, tc.wantInPath) {
				t.Errorf("warning does not name %s:\n%s", tc.wantInPath, out)
			}
		})
	}
}

func TestCorruptDB(t *testing.T) {
	dir := t.TempDir()
	good := geoLiteDBs(t)
	valid, err := os.ReadFile(good.CountryDB)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	garbage := write("garbage.mmdb", bytes.Repeat([]byte("not an mmdb "), 100))
	empty := write("empty.mmdb", nil)
	truncated := write("truncated.mmdb", valid[:len(valid)/3])
	subdir := filepath.Join(dir, "a-directory.mmdb")
	if err := os.Mkdir(subdir, 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		path string
	}{
		{"garbage country", Config{CountryDB: garbage, ASNDB: good.ASNDB}, garbage},
		{"garbage asn", Config{CountryDB: good.CountryDB, ASNDB: garbage}, garbage},
		{"empty", Config{CountryDB: empty}, empty},
		{"truncated", Config{ASNDB: truncated}, truncated},
		{"directory", Config{CountryDB: subdir}, subdir},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Open(tc.cfg, nil)
			if err == nil {
				_ = e.Close()
				t.Fatal("Open succeeded on a corrupt database")
			}
			if !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error %q does not name %s", err, tc.path)
			}
		})
	}
}

func TestCloseAndConcurrency(t *testing.T) {
	e, err := Open(geoLiteDBs(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	ips := []netip.Addr{
		netip.MustParseAddr("81.2.69.142"), netip.MustParseAddr("2001:218::1"),
		netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("8.8.8.8"),
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				ip := ips[(g+i)%len(ips)]
				if g%2 == 0 && i%100 == 0 {
					e.SetOwnRanges(tenant.ID("t"), []netip.Prefix{netip.PrefixFrom(ip, 32)})
				}
				if info := e.LookupFor("t", ip); ip == ips[0] && info.Country != "GB" && info.Country != "" {
					t.Errorf("country %q", info.Country)
				}
			}
		})
	}
	wg.Wait()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if got := e.Lookup(ips[0]); got != (Info{Scope: Public}) {
		t.Errorf("Lookup after Close = %+v, want scope only", got)
	}
}

func TestScopeText(t *testing.T) {
	for s := Public; s <= Own; s++ {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Scope
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("round trip of %v: %v, %v", s, back, err)
		}
	}
	if Scope(99).String() != "scope(99)" {
		t.Errorf("String(99) = %s", Scope(99))
	}
	var s Scope
	if s.UnmarshalText([]byte("galactic")) == nil {
		t.Error("UnmarshalText accepted an unknown name")
	}
}

func BenchmarkLookup(b *testing.B) {
	e := open(b, geoLiteDBs(b), nil)
	e.SetOwnRanges("org", []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")})
	cases := []struct {
		name string
		ip   netip.Addr
	}{
		{"public-v4", netip.MustParseAddr("81.2.69.142")},
		{"public-v6", netip.MustParseAddr("2001:218:1::1")},
		{"public-miss", netip.MustParseAddr("8.8.8.8")},
		{"private", netip.MustParseAddr("192.168.1.1")},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = e.Lookup(c.ip)
			}
		})
	}
	b.Run("lookupfor-own", func(b *testing.B) {
		ip := netip.MustParseAddr("10.20.1.1")
		b.ReportAllocs()
		for b.Loop() {
			_ = e.LookupFor("org", ip)
		}
	})
	b.Run("parallel-public-v4", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = e.Lookup(cases[0].ip)
			}
		})
	})
}
