package normalize

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/mamori-soc/mamori/internal/event"
)

// BenchmarkSyslog decodes the syslog seed lines (RFC 5424 with and without structured
// data, RFC 3164 sshd, sudo, PAM, cron and auditd lines), with Syslog and, as the peer,
// with the usual regular expression for RFC 3164 (which does far less: no enrichment,
// no RFC 5424).
//
// Reproduce: go test ./internal/normalize -run '^$' -bench 'Syslog|AccessLog' -count 6 -benchmem | tee new.txt; benchstat old.txt new.txt
func BenchmarkSyslog(b *testing.B) {
	var lines [][]byte
	for _, s := range syslogSeeds {
		lines = append(lines, []byte(s))
	}
	b.Run("engine=mamori", func(b *testing.B) {
		d := newSyslogDecoder(fixedNow)
		var ev event.Event
		benchLines(b, lines, func(l []byte) { _ = d.Syslog(l, &ev) })
	})
	b.Run("engine=regexp", func(b *testing.B) {
		re := regexp.MustCompile(`^(?:<(\d{1,3})>)?([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (\S+) ([^:\[\s]+)(?:\[(\d+)\])?: (.*)$`)
		benchLines(b, lines, func(l []byte) { _ = re.FindSubmatchIndex(l) })
	})
}

// BenchmarkAccessLog decodes the first 5000 lines of the acunetix scan (Combined Log
// Format, wrapped in quotes), with AccessLog and, as the peer, with the usual regular
// expression for the Combined Log Format.
func BenchmarkAccessLog(b *testing.B) {
	f, err := os.Open(filepath.Join(sharedData(b), "web", "apache-scans", "acunetix.txt"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(lines) < 5000 {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	b.Run("engine=mamori", func(b *testing.B) {
		d := NewDecoder()
		var ev event.Event
		benchLines(b, lines, func(l []byte) { _ = d.AccessLog(l, &ev) })
	})
	b.Run("engine=regexp", func(b *testing.B) {
		re := regexp.MustCompile(`^"?(\S+) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}|-) (\d+|-)(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?`)
		benchLines(b, lines, func(l []byte) { _ = re.FindSubmatchIndex(l) })
	})
}

func benchLines(b *testing.B, lines [][]byte, decode func([]byte)) {
	var size int64
	for _, l := range lines {
		size += int64(len(l))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	loops := 0
	for b.Loop() {
		for _, l := range lines {
			decode(l)
		}
		loops++
	}
	// After the loop: b.Loop's reset drops earlier metrics.
	b.ReportMetric(float64(loops*len(lines))/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(len(lines)), "events/op")
}
