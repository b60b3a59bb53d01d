package normalize

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/mamori-soc/mamori/internal/event"
)

// benchEvents is how many OTRF lines the benchmarks load (about 42 MB).
const benchEvents = 20000

// BenchmarkJSON decodes real OTRF events (LSASS campaign 03, NXLog/Logstash-style flat
// Windows JSON), loaded into memory before timing, with Decoder.JSON and, as the peer,
// with encoding/json into map[string]any.
//
// Reproduce: go test ./internal/normalize -run '^$' -bench JSON -count 6 -benchmem | tee new.txt; benchstat old.txt new.txt
func BenchmarkJSON(b *testing.B) {
	p := dataFile(b, "otrf/compound/LSASS_campaign_03/metasploit_comsvcs_lsass_memory_dump.zip")
	lines := readLines(b, zipMember(b, p, ".json"), benchEvents)
	benchDecode(b, lines)
}

// BenchmarkJSONShapes decodes the other shapes: the SigmaHQ regression events (evtx_dump),
// the Winlogbeat fixtures and Zeek DNS records.
func BenchmarkJSONShapes(b *testing.B) {
	b.Run("shape=evtx_dump", func(b *testing.B) {
		root := filepath.Join(sharedData(b), "sigma", "regression_data")
		var docs [][]byte
		_ = filepath.WalkDir(root, func(p string, de os.DirEntry, err error) error {
			if err != nil || de.IsDir() || filepath.Ext(p) != ".json" {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return Lines(bytes.NewReader(data), func(_ int, doc []byte) error {
				docs = append(docs, bytes.Clone(doc))
				return nil
			}, nil)
		})
		if len(docs) == 0 {
			b.Fatal("no regression data")
		}
		benchDecode(b, docs)
	})
	b.Run("shape=winlogbeat", func(b *testing.B) {
		var docs [][]byte
		for _, f := range []string{"sysmon_1.ndjson", "security_4688.ndjson"} {
			data, err := os.ReadFile(filepath.Join("testdata", "winlogbeat", f))
			if err != nil {
				b.Fatal(err)
			}
			docs = append(docs, bytes.TrimSpace(data))
		}
		benchDecode(b, docs)
	})
	b.Run("shape=zeek", func(b *testing.B) {
		f, err := os.Open(dataFile(b, "network/zeek/zeek-json/dns.json.gz"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		zr, err := gzipReader(f)
		if err != nil {
			b.Fatal(err)
		}
		benchDecode(b, readLines(b, zr, benchEvents))
	})
}

func benchDecode(b *testing.B, docs [][]byte) {
	var size int64
	for _, d := range docs {
		size += int64(len(d))
	}
	run := func(b *testing.B, decode func(doc []byte) error) {
		b.SetBytes(size)
		b.ReportAllocs()
		loops := 0
		for b.Loop() {
			for _, doc := range docs {
				if err := decode(doc); err != nil {
					b.Fatal(err)
				}
			}
			loops++
		}
		// After the loop: b.Loop's reset drops earlier metrics.
		b.ReportMetric(float64(loops*len(docs))/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(len(docs)), "events/op")
	}
	b.Run("engine=mamori", func(b *testing.B) {
		d := NewDecoder()
		var ev event.Event
		run(b, func(doc []byte) error { return d.JSON(doc, &ev) })
	})
	b.Run("engine=encoding-json-map", func(b *testing.B) {
		run(b, func(doc []byte) error {
			var m map[string]any
			return json.Unmarshal(doc, &m)
		})
	})
}

// BenchmarkLines splits and decodes the OTRF events from one in-memory NDJSON stream.
func BenchmarkLines(b *testing.B) {
	p := dataFile(b, "otrf/compound/LSASS_campaign_03/metasploit_comsvcs_lsass_memory_dump.zip")
	lines := readLines(b, zipMember(b, p, ".json"), benchEvents)
	stream := append(bytes.Join(lines, []byte("\n")), '\n')
	d := NewDecoder()
	var ev event.Event
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		err := Lines(bytes.NewReader(stream), func(_ int, doc []byte) error {
			n++
			return d.JSON(doc, &ev)
		}, func(line int, err error) { b.Fatalf("line %d: %v", line, err) })
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
