package batch

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/corpus"
	"github.com/mamori-soc/mamori/internal/event"
	"github.com/mamori-soc/mamori/internal/ingest"
	"github.com/mamori-soc/mamori/internal/normalize"
	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// benchEvents is about one bus message of real Windows events (OTRF, the
// data set of the app benchmarks): ~170 events of ~2.1 KB fill 512 KiB
// of JSON with the raw records in base64.
const benchEvents = 170

// loadBatch returns benchEvents OTRF records in stored form, as ingest
// publishes them (raw records, no fields), and the fields ingest had
// normalised for each.
func loadBatch(b *testing.B) ([]store.Event, [][]store.Field) {
	b.Helper()
	lines := corpus.OTRFLines(b, benchEvents)
	dec := normalize.NewDecoder()
	var ev event.Event
	var evs []store.Event
	var fields [][]store.Field
	received := time.Date(2020, 10, 21, 4, 0, 0, 0, time.UTC)
	for _, raw := range lines {
		if err := dec.JSON(raw, &ev); err != nil {
			b.Fatal(err)
		}
		const org tenant.ID = "org-042"
		se := store.Event{ID: ingest.RecordID(org, "", raw, 0, ev.Time), Tenant: org, Time: ev.Time, Received: received,
			Source: "bulk", Host: normalize.HostOf(&ev), Raw: raw}
		if v, ok := ev.Get("Channel"); ok {
			se.Channel = string(v)
		}
		if v, ok := ev.Get("EventID"); ok {
			se.EventID = string(v)
		}
		fs := make([]store.Field, ev.Len())
		for j := range fs {
			fs[j] = store.Field{Name: string(ev.Name(j)), Value: string(ev.Value(j))}
		}
		evs = append(evs, se)
		fields = append(fields, fs)
	}
	if len(evs) < benchEvents {
		b.Fatalf("OTRF: %d events, want %d", len(evs), benchEvents)
	}
	return evs, fields
}

// BenchmarkBatch compares this encoding with encoding/json (what the bus
// carried before) on the same batch, in the same run: a batch as ingest
// publishes it (raw records only; the worker then normalises them again),
// and one that also carries the normalised fields. decode=…,fields=renormalised
// is decoding plus what the worker does when the fields are not carried.
//
//	go test ./internal/bus/batch -run '^$' -bench Batch -count 6 -benchmem
func BenchmarkBatch(b *testing.B) {
	evs, fields := loadBatch(b)
	withFields := make([]store.Event, len(evs))
	rawBytes := 0
	for i := range evs {
		withFields[i] = evs[i]
		withFields[i].Fields = fields[i]
		rawBytes += len(evs[i].Raw)
	}
	report := func(b *testing.B, size int) {
		b.ReportMetric(float64(size)/float64(len(evs)), "B/ev")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/ev")
	}
	type codec struct {
		name   string
		encode func([]byte, []store.Event) []byte
		decode func([]byte) ([]store.Event, error)
	}
	codecs := []codec{
		{"binary", Append, Decode},
		{"json", func(dst []byte, evs []store.Event) []byte {
			out, err := json.Marshal(evs)
			if err != nil {
				b.Fatal(err)
			}
			return append(dst, out...)
		}, func(data []byte) ([]store.Event, error) {
			var evs []store.Event
			err := json.Unmarshal(data, &evs)
			return evs, err
		}},
	}
	for _, c := range codecs {
		for _, carried := range []bool{false, true} {
			in, fname := evs, "raw"
			if carried {
				in, fname = withFields, "carried"
			}
			data := c.encode(nil, in)
			b.Run("encode="+c.name+",fields="+fname, func(b *testing.B) {
				b.SetBytes(int64(rawBytes))
				b.ReportAllocs()
				var buf []byte
				for b.Loop() {
					buf = c.encode(buf[:0], in)
				}
				report(b, len(data))
			})
			b.Run("decode="+c.name+",fields="+fname, func(b *testing.B) {
				b.SetBytes(int64(rawBytes))
				b.ReportAllocs()
				for b.Loop() {
					out, err := c.decode(data)
					if err != nil || len(out) != len(in) {
						b.Fatal(err)
					}
				}
				report(b, len(data))
			})
			if carried {
				continue
			}
			b.Run("decode="+c.name+",fields=renormalised", func(b *testing.B) {
				b.SetBytes(int64(rawBytes))
				b.ReportAllocs()
				dec := normalize.NewDecoder()
				var ev event.Event
				for b.Loop() {
					out, err := c.decode(data)
					if err != nil {
						b.Fatal(err)
					}
					// What handleBatch's decodeRaw does for each event.
					for i := range out {
						if err := dec.JSON(out[i].Raw, &ev); err != nil {
							b.Fatal(err)
						}
						fs := make([]store.Field, ev.Len())
						for j := range fs {
							fs[j] = store.Field{Name: string(ev.Name(j)), Value: string(ev.Value(j))}
						}
						out[i].Fields = fs
					}
				}
				report(b, len(data))
			})
		}
	}
}
