package ioc_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/corpus"
	"github.com/mamori-soc/mamori/internal/event"
	"github.com/mamori-soc/mamori/internal/ioc"
	"github.com/mamori-soc/mamori/internal/normalize"
)

var benchNow = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// loadBenchEvents decodes real events with the platform's decoder: 3,000
// Windows events of an OTRF LSASS campaign (Sysmon, Security, PowerShell…),
// 1,500 Zeek dns and 500 Zeek ssl records, and the Suricata alerts of
// WRCCDC 2018.
func loadBenchEvents(tb testing.TB) []event.Event {
	tb.Helper()
	dir := corpus.Dir(tb)
	var docs [][]byte
	lines := func(r io.Reader, n int) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for i := 0; i < n && sc.Scan(); i++ {
			if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
				docs = append(docs, bytes.Clone(line))
			}
		}
	}
	zr, err := zip.OpenReader(filepath.Join(dir, "otrf", "compound", "LSASS_campaign_01", "metasploit_logonpasswords_lsass_memory_dump.zip"))
	if err != nil {
		tb.Fatal(err)
	}
	f, err := zr.File[0].Open()
	if err != nil {
		tb.Fatal(err)
	}
	lines(f, 3000)
	f.Close()
	zr.Close()
	for name, n := range map[string]int{"dns.json.gz": 1500, "ssl.json.gz": 500} {
		f, err := os.Open(filepath.Join(dir, "network", "zeek", "zeek-json", name))
		if err != nil {
			tb.Fatal(err)
		}
		gz, err := gzip.NewReader(f)
		if err != nil {
			tb.Fatal(err)
		}
		lines(gz, n)
		f.Close()
	}
	raw, err := os.ReadFile(filepath.Join(dir, "network", "suricata", "samples", "wrccdc-2018", "alerts-only.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var alerts []json.RawMessage
	if err := json.Unmarshal(raw, &alerts); err != nil {
		tb.Fatal(err)
	}
	for _, a := range alerts {
		var c bytes.Buffer
		json.Compact(&c, a)
		docs = append(docs, c.Bytes())
	}
	d := normalize.NewDecoder()
	events := make([]event.Event, 0, len(docs))
	for _, doc := range docs {
		var ev event.Event
		if err := d.JSON(doc, &ev); err != nil {
			tb.Fatalf("decode %.80s: %v", doc, err)
		}
		events = append(events, ev)
	}
	return events
}

// plantedIndicators are values taken from the events, so that matches happen
// (and are timed) as they would on a real day: a few IPs, domains and Sysmon
// image hashes.
func plantedIndicators(events []event.Event) []ioc.Indicator {
	var out []ioc.Indicator
	seen := map[string]bool{}
	add := func(k ioc.Kind, v string) {
		n, err := ioc.Normalize(k, v)
		if err != nil || seen[n] || len(out) >= 60 {
			return
		}
		seen[n] = true
		out = append(out, ioc.Indicator{ID: "planted-" + n, Kind: k, Value: n, Source: "bench", Confidence: 80, ValidFrom: benchNow})
	}
	for i := range events {
		ev := &events[i]
		if i%97 == 0 {
			if v, ok := ev.Get("query"); ok {
				add(ioc.Domain, string(v))
			}
			if v, ok := ev.Get("id.resp_h"); ok {
				add(ioc.IP, string(v))
			}
			if v, ok := ev.Get("src_ip"); ok {
				add(ioc.IP, string(v))
			}
		}
		if i%211 == 0 {
			if v, ok := ev.Get("Hashes"); ok {
				for _, item := range bytes.Split(v, []byte(",")) {
					if h, ok := bytes.CutPrefix(item, []byte("SHA256=")); ok {
						add(ioc.SHA256, string(h))
					}
				}
			}
		}
	}
	return out
}

var tlds = []string{"com", "net", "org", "ru", "info", "xyz", "top", "io", "cn", "de", "biz", "online"}

// genIndicators returns n indicators, deterministically: 35% public IPv4
// addresses, 3% IPv6, 7% public IPv4 networks (/18 to /30, some nested, as
// in DROP or FireHOL lists), 25% domains, 15% URLs, 10% SHA-256, 3% MD5,
// 2% SHA-1.
func genIndicators(n int) []ioc.Indicator {
	r := rand.New(rand.NewPCG(42, 2025))
	name := func() string {
		const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
		b := make([]byte, 5+r.IntN(10))
		for i := range b {
			b[i] = letters[r.IntN(26+10*min(i, 1))]
		}
		return string(b)
	}
	domain := func() string {
		d := name() + "." + tlds[r.IntN(len(tlds))]
		for range r.IntN(3) {
			d = name() + "." + d
		}
		return d
	}
	hex := func(nbytes int) string {
		b := make([]byte, nbytes)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return fmt.Sprintf("%x", b)
	}
	// Public IPv4 addresses: feeds do not list private or reserved space.
	addr4 := func() netip.Addr {
		for {
			a := [4]byte{byte(1 + r.IntN(223)), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}
			if ip := netip.AddrFrom4(a); !ip.IsPrivate() && !ip.IsLoopback() && a[0] != 0 {
				return ip
			}
		}
	}
	inds := make([]ioc.Indicator, 0, n)
	for i := range n {
		var k ioc.Kind
		var v string
		switch p := r.IntN(100); {
		case p < 35:
			k, v = ioc.IP, addr4().String()
		case p < 38:
			var a [16]byte
			a[0], a[1] = 0x2a, byte(r.Uint32())
			for j := 2; j < 16; j++ {
				a[j] = byte(r.Uint32())
			}
			k, v = ioc.IP, netip.AddrFrom16(a).String()
		case p < 45:
			k, v = ioc.CIDR, netip.PrefixFrom(addr4(), 18+r.IntN(13)).Masked().String()
		case p < 70:
			k, v = ioc.Domain, domain()
		case p < 85:
			k, v = ioc.URL, fmt.Sprintf("http://%s/%s/%s.php", domain(), name(), name())
		case p < 95:
			k, v = ioc.SHA256, hex(32)
		case p < 98:
			k, v = ioc.MD5, hex(16)
		default:
			k, v = ioc.SHA1, hex(20)
		}
		inds = append(inds, ioc.Indicator{
			ID: fmt.Sprintf("gen-%d", i), Kind: k, Value: v, Source: "bench", Confidence: 50 + r.IntN(50),
			ValidFrom: benchNow.Add(-time.Duration(r.IntN(20*24)) * time.Hour),
		})
	}
	return inds
}

var (
	benchOnce   sync.Once
	benchEvents []event.Event
	benchSets   map[string]*ioc.Set
	bench1M     []ioc.Indicator
)

func loadBench(b *testing.B) {
	benchOnce.Do(func() {
		benchEvents = loadBenchEvents(b)
		planted := plantedIndicators(benchEvents)
		bench1M = append(genIndicators(1_000_000-len(planted)), planted...)
		benchSets = map[string]*ioc.Set{
			"0":   ioc.Compile(nil, benchNow),
			"10k": ioc.Compile(append(genIndicators(10_000-len(planted)), planted...), benchNow),
			"1M":  ioc.Compile(bench1M, benchNow),
		}
	})
	if benchEvents == nil {
		b.Fatal("no events")
	}
}

// BenchmarkMatch matches real events (OTRF Windows, Zeek, Suricata) against
// 0, 10,000 and 1,000,000 indicators of mixed kinds; ns/event is per event,
// hits/event counts the planted indicators found.
//
// Reproduce: go test ./internal/ioc -run '^$' -bench 'Match|Compile' -benchmem -count 6 | tee new.txt; benchstat old.txt new.txt
func BenchmarkMatch(b *testing.B) {
	loadBench(b)
	fields := 0
	for i := range benchEvents {
		fields += benchEvents[i].Len()
	}
	for _, name := range []string{"0", "10k", "1M"} {
		set := benchSets[name]
		b.Run("indicators="+name, func(b *testing.B) {
			dst := make([]ioc.Hit, 0, 64)
			hits := 0
			b.ReportAllocs()
			for b.Loop() {
				hits = 0
				for i := range benchEvents {
					dst = set.Match(&benchEvents[i], dst[:0])
					hits += len(dst)
				}
			}
			n := float64(b.N) * float64(len(benchEvents))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
			b.ReportMetric(float64(hits)/float64(len(benchEvents)), "hits/event")
			b.ReportMetric(float64(fields)/float64(len(benchEvents)), "fields/event")
			b.ReportMetric(float64(len(benchEvents)), "events/op")
		})
	}
	b.Run("indicators=1M/parallel", func(b *testing.B) {
		set := benchSets["1M"]
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			dst := make([]ioc.Hit, 0, 64)
			i := 0
			for pb.Next() {
				dst = set.Match(&benchEvents[i%len(benchEvents)], dst[:0])
				i++
			}
		})
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
	})
}

// BenchmarkCompile compiles 1,000,000 indicators; MB-retained is the heap
// the Set keeps (the indicators' copies included), B/op what compiling
// allocates in all.
func BenchmarkCompile(b *testing.B) {
	loadBench(b)
	var set *ioc.Set
	b.ReportAllocs()
	for b.Loop() {
		set = ioc.Compile(bench1M, benchNow)
	}
	set = nil
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	set = ioc.Compile(bench1M, benchNow)
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "MB-retained")
	b.ReportMetric(float64(set.Len()), "indicators")
	runtime.KeepAlive(set)
}

// TestMatchRealEvents checks, on the real events, that the planted
// indicators are found and that matching does not allocate.
func TestMatchRealEvents(t *testing.T) {
	events := loadBenchEvents(t)
	planted := plantedIndicators(events)
	if len(planted) < 10 {
		t.Fatalf("only %d planted indicators", len(planted))
	}
	t.Logf("%d events, %d planted indicators", len(events), len(planted))
	set := ioc.Compile(append(genIndicators(20_000), planted...), benchNow)
	found := map[string]bool{}
	dst := make([]ioc.Hit, 0, 64)
	for i := range events {
		dst = set.Match(&events[i], dst[:0])
		for _, h := range dst {
			found[h.Indicator.ID] = true
		}
	}
	for _, p := range planted {
		if !found[p.ID] {
			t.Errorf("planted %s %q not found", p.Kind, p.Value)
		}
	}
	allocs := testing.AllocsPerRun(5, func() {
		for i := range events {
			dst = set.Match(&events[i], dst[:0])
		}
	})
	if allocs != 0 {
		t.Errorf("Match allocates %.1f times per %d events, want 0", allocs, len(events))
	}
}
