package evtx

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	velocidex "www.velocidex.com/golang/evtx"
)

// corpusResult is what decoding one file gave.
type corpusResult struct {
	records, fields int
	err             error
}

// decodeAll decodes every chunk of data with d, turning a panic into an
// error so that the test names the file.
func decodeAll(d *Decoder, data []byte) (res corpusResult) {
	defer func() {
		if p := recover(); p != nil {
			res.err = fmt.Errorf("panic: %v", p)
		}
	}()
	f, err := Open(data)
	if err != nil {
		res.err = err
		return res
	}
	var errs []error
	for i := range f.NumChunks() {
		err := d.DecodeChunk(f, i, func(r *Record) error {
			res.records++
			res.fields += len(r.Fields)
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		res.err = fmt.Errorf("%w", joinErrs(errs))
	}
	return res
}

func joinErrs(errs []error) error {
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(e.Error())
	}
	return fmt.Errorf("%s", b.String())
}

// velocidexCount counts the events the Velocidex parser gets from data.
func velocidexCount(data []byte) (n int) {
	defer func() { recover() }() // a panic there is not our bug; count what came out
	chunks, err := velocidex.GetChunks(bytes.NewReader(data))
	if err != nil {
		return 0
	}
	for _, c := range chunks {
		recs, _ := c.Parse(0)
		n += len(recs)
	}
	return n
}

// TestCorpus decodes all of hayabusa-sample-evtx: no file may panic, every
// error must name its chunk, and no file may yield fewer events than the
// Velocidex parser gets from it.
func TestCorpus(t *testing.T) {
	dir := filepath.Join(testDataDir(t), "evtx", "hayabusa-sample-evtx")
	files := findFiles(t, dir, ".evtx")
	if len(files) < 500 {
		t.Fatalf("found %d .evtx files under %s, want the ~593 of hayabusa-sample-evtx", len(files), dir)
	}
	d := NewDecoder()
	var nRecords, nFields, nVelocidex, nErrFiles int
	for _, path := range files {
		rel, _ := filepath.Rel(dir, path)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		res := decodeAll(d, data)
		nRecords += res.records
		nFields += res.fields
		if res.err != nil {
			nErrFiles++
			msg := res.err.Error()
			t.Logf("%s: %d records decoded; errors:\n%s", rel, res.records, msg)
			if strings.Contains(msg, "panic") {
				t.Errorf("%s: %v", rel, res.err)
			}
			for _, line := range strings.Split(msg, "\n") {
				if !strings.HasPrefix(line, "chunk ") {
					t.Errorf("%s: error does not name its chunk: %s", rel, line)
				}
			}
		}
		v := velocidexCount(data)
		nVelocidex += v
		if res.records < v {
			t.Errorf("%s: decoded %d records, Velocidex gets %d", rel, res.records, v)
		}
	}
	t.Logf("corpus: %d files, %d records (Velocidex %d), %d fields, %d files with errors", len(files), nRecords, nVelocidex, nFields, nErrFiles)
	if nRecords < nVelocidex || nRecords < 24000 {
		t.Errorf("decoded %d records in all, want at least Velocidex's %d and 24,000", nRecords, nVelocidex)
	}
}

// TestCorruptedRealFile damages copies of a real file in three ways and
// checks that ReadFile reports each damage naming the file, the chunk and
// the record offset, while every other record still comes out.
func TestCorruptedRealFile(t *testing.T) {
	path := filepath.Join(testDataDir(t), "evtx", "hayabusa-sample-evtx", "DeepBlueCLI", "many-events-application.evtx")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	count := func(data []byte) (int, error) {
		p := filepath.Join(t.TempDir(), "damaged.evtx")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		n := 0
		err := ReadFile(p, func(*Record) error { n++; return nil })
		if err != nil && !strings.HasPrefix(err.Error(), p+": ") {
			t.Errorf("error does not name the file %s: %v", p, err)
		}
		return n, err
	}
	all, err := count(orig)
	if err != nil {
		t.Fatalf("undamaged file: %v", err)
	}
	// recordOffset returns the file offset of record k of chunk i.
	recordOffset := func(data []byte, i, k int) int {
		c := data[fileHeaderBlockSize+i*chunkSize:]
		off := chunkHeaderSize
		for range k {
			off += le32(c, off+4)
		}
		return fileHeaderBlockSize + i*chunkSize + off
	}

	tests := []struct {
		name     string
		damage   func(b []byte) []byte
		lost     int // records that must be missing, the damaged ones only
		wantErrs []string
	}{{
		name: "record-signature",
		damage: func(b []byte) []byte {
			b[recordOffset(b, 1, 3)] = 'X'
			return b
		},
		lost:     1,
		wantErrs: []string{"chunk 1: record at offset 0x", "bad record signature"},
	}, {
		name: "binxml-token",
		damage: func(b []byte) []byte {
			b[recordOffset(b, 2, 5)+recordHeaderSize+4] = 0xee // the template instance token
			return b
		},
		lost:     1,
		wantErrs: []string{"chunk 2: record at offset 0x", "binxml unexpected token 0xee"},
	}, {
		// Chunk 20 is the last one in use; it holds 11 records.
		name: "truncated-inside-a-record",
		damage: func(b []byte) []byte {
			return b[:recordOffset(b, 20, 5)+100]
		},
		lost:     6,
		wantErrs: []string{"chunk 20: record at offset 0x", "out of range"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := count(tc.damage(append([]byte(nil), orig...)))
			if err == nil {
				t.Fatalf("no error, want %q", tc.wantErrs)
			}
			for _, w := range tc.wantErrs {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if n != all-tc.lost {
				t.Errorf("decoded %d records, want %d of %d", n, all-tc.lost, all)
			}
			t.Logf("%d of %d records; %v", n, all, err)
		})
	}
}
