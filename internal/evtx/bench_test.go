package evtx

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	velocidex "www.velocidex.com/golang/evtx"
)

// BenchmarkDecode decodes all of hayabusa-sample-evtx, loaded into memory
// before timing, with our Decoder and with Velocidex's parser.
//
// Reproduce: go test ./internal/evtx -run '^$' -bench Decode -benchtime 3x
func BenchmarkDecode(b *testing.B) {
	dir := filepath.Join(testDataDir(b), "evtx", "hayabusa-sample-evtx")
	var files [][]byte
	var size int64
	for _, p := range findFiles(b, dir, ".evtx") {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, data)
		size += int64(len(data))
	}

	b.Run("parser=mamori", func(b *testing.B) {
		d := NewDecoder()
		var events int
		count := func(r *Record) error { events++; return nil }
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			for _, data := range files {
				f, err := Open(data)
				if err != nil {
					continue
				}
				for i := range f.NumChunks() {
					_ = d.DecodeChunk(f, i, count)
				}
			}
		}
		reportEvents(b, events)
	})

	b.Run("parser=velocidex", func(b *testing.B) {
		var events int
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			for _, data := range files {
				chunks, err := velocidex.GetChunks(bytes.NewReader(data))
				if err != nil {
					continue
				}
				for _, c := range chunks {
					recs, _ := c.Parse(0)
					events += len(recs)
				}
			}
		}
		reportEvents(b, events)
	})
}

// reportEvents reports events per second and per run; it must be called
// after the loop, because b.Loop's reset drops metrics reported before.
func reportEvents(b *testing.B, events int) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(events)/float64(b.N), "events/op")
}
