package local

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/store"
)

// BenchmarkAppendEvents measures the embedded store alone: 4 writers of
// 1,000-event batches of ~2 KiB raw records (the size of a Windows event as
// NXLog ships it), durable commits, fields derived from raw (Decode set).
func BenchmarkAppendEvents(b *testing.B) {
	for _, mode := range []string{"raw-only", "raw+fields"} {
		b.Run("mode="+mode, func(b *testing.B) {
			cfg := Config{Dir: b.TempDir()}
			if mode == "raw-only" {
				cfg.Decode = func(string, []byte) ([]store.Field, error) { return nil, nil }
			}
			s, err := Open(context.Background(), cfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			// A Windows event as NXLog ships it: compressible like real ones (~3-4x), not like a run of one byte.
			var rb strings.Builder
			rb.WriteString(`{"EventTime":"2021-01-01 10:00:00","Hostname":"WS-1.corp.example","Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1`)
			for i := 0; rb.Len() < 2000; i++ {
				fmt.Fprintf(&rb, `,"Field%d":"C:\\Users\\user%d\\AppData\\Local\\Temp\\%x.exe %d"`, i, i*7, i*2654435761, i*31)
			}
			rb.WriteString("}")
			raw := []byte(rb.String())
			fields := make([]store.Field, 30)
			for i := range fields {
				fields[i] = store.Field{Name: fmt.Sprintf("Field%02d", i), Value: strings.Repeat("v", 40)}
			}
			var seq int64
			var mu sync.Mutex
			b.ResetTimer()
			start := time.Now()
			n := 0
			for b.Loop() {
				var wg sync.WaitGroup
				for w := 0; w < 4; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						evs := make([]store.Event, 1000)
						for i := range evs {
							mu.Lock()
							seq++
							id := seq
							mu.Unlock()
							evs[i] = store.Event{ID: fmt.Sprintf("%032x", id*2654435761), Tenant: "org-a", Time: time.Now(), Received: time.Now(), Source: "bulk", Raw: raw, Fields: fields}
						}
						if _, err := s.AppendEvents(context.Background(), evs); err != nil {
							b.Error(err)
						}
					}()
				}
				wg.Wait()
				n += 4000
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
		})
	}
}
