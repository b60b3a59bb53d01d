package evtx

import (
	"encoding/binary"
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite testdata/*.evtx and their .golden renderings")

// TestTestdata decodes the small synthetic files in testdata/ and compares
// them with their .golden renderings. With -update it first rewrites them
// from flattenCases, plus a file whose only chunk is cut inside its header.
func TestTestdata(t *testing.T) {
	if *update {
		for _, tc := range flattenCases {
			cb := newChunkBuilder()
			tc.build(cb)
			writeTestdata(t, tc.name, buildFile(cb.bytes(false)))
		}
		cb := newChunkBuilder()
		cb.instanceRecord(1, cb.systemDef(func() {}), systemVals("P", 1, 7))
		writeTestdata(t, "truncated-chunk-header", buildFile(cb.bytes(false))[:fileHeaderBlockSize+300])
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.evtx"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.evtx (%v); run go test -run TestTestdata -update", err)
	}
	var total int64
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		total += int64(len(data))
		got := renderForGolden(data)
		golden := strings.TrimSuffix(path, ".evtx") + ".golden"
		if *update {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s decodes to\n%s\nwant (%s)\n%s", path, got, golden, want)
		}
	}
	if total > 200<<10 {
		t.Errorf("testdata/*.evtx total %d bytes, keep it under 200 KiB", total)
	}
}

func writeTestdata(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join("testdata", name+".evtx"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// renderForGolden decodes data and renders records and errors as text.
func renderForGolden(data []byte) string {
	var b strings.Builder
	f, err := Open(data)
	if err != nil {
		fmt.Fprintf(&b, "open error: %v\n", err)
		return b.String()
	}
	fmt.Fprintf(&b, "chunks: %d\n", f.NumChunks())
	d := NewDecoder()
	for i := range f.NumChunks() {
		err := d.DecodeChunk(f, i, func(r *Record) error {
			fmt.Fprintf(&b, "record %d %s\n", r.ID, r.Time.Format("2006-01-02T15:04:05.0000000Z"))
			for _, fl := range r.Fields {
				fmt.Fprintf(&b, "  %s=%q\n", fl.Name, fl.Value)
			}
			return nil
		})
		if err != nil {
			fmt.Fprintf(&b, "error: %v\n", err)
		}
	}
	return b.String()
}

// FuzzOpenDecode feeds arbitrary files to Open and DecodeChunk. Decoding
// must never panic, every field must have a non-empty UTF-8 value and a
// UTF-8 name, and a chunk must decode to the same records and errors
// whatever was decoded before it (the caches must not leak across chunks).
//
// Inputs are compact files (see fuzzExpand): without the 3,968 zero bytes
// that pad every file header, and with real chunks cut after a few records,
// inputs stay a few KiB, so that the fuzzer's minimization of each new input
// takes less time. Go minimizes every new input for up to
// -fuzzminimizetime (60 s by default), so a short run spends most of its
// time minimizing; prefer:
//
//	go test ./internal/evtx -run '^$' -fuzz FuzzOpenDecode -fuzztime 60s -fuzzminimizetime 100x
func FuzzOpenDecode(f *testing.F) {
	for _, tc := range flattenCases {
		cb := newChunkBuilder()
		tc.build(cb)
		f.Add(fuzzCompact(buildFile(cb.bytes(false))))
	}
	if files, _ := filepath.Glob(filepath.Join("testdata", "*.evtx")); len(files) > 0 {
		for _, p := range files {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(fuzzCompact(data))
			}
		}
	}
	// A few real chunks from the shared data, cut after their first records.
	if root, ok := testDataPath(); ok {
		dir := filepath.Join(root, "evtx", "hayabusa-sample-evtx")
		for _, rel := range []string{
			"EVTX-ATTACK-SAMPLES/Credential Access/CA_sysmon_hashdump_cmd_meterpreter.evtx",
			"EVTX-to-MITRE-Attack/TA0007-Discovery/T1046-Network Service Scanning/ID131-RDP brutforce (no user info).evtx",
			"YamatoSecurity/Persistence/T1197_BitsClient.evtx",
			"DeepBlueCLI/many-events-application.evtx",
		} {
			data, err := os.ReadFile(filepath.Join(dir, rel))
			if err != nil || len(data) < fileHeaderBlockSize+chunkHeaderSize {
				continue
			}
			f.Add(fuzzCompact(cutChunk(data, 3)))
		}
	}

	f.Fuzz(func(t *testing.T, in []byte) {
		file, err := Open(fuzzExpand(in))
		if err != nil {
			return
		}
		n := min(file.NumChunks(), 4)
		d := NewDecoder()
		first := make([]string, n)
		for i := range n {
			if first[i], err = decodeDigest(d, file, i); err != nil {
				t.Fatal(err)
			}
		}
		for i := n - 1; i >= 0; i-- {
			if again, _ := decodeDigest(d, file, i); again != first[i] {
				t.Fatalf("chunk %d decodes differently the second time:\nfirst:  %s\nsecond: %s", i, first[i], again)
			}
		}
	})
}

// fuzzExpand turns a compact fuzz input into a file: its first 128 bytes
// are the file header, followed by the zero padding to 4096 bytes that real
// files carry (Open reads nothing there), then the rest: the chunks.
func fuzzExpand(in []byte) []byte {
	if len(in) <= fileHeaderSize {
		return in
	}
	out := make([]byte, 0, len(in)+fileHeaderBlockSize-fileHeaderSize)
	out = append(out, in[:fileHeaderSize]...)
	out = append(out, make([]byte, fileHeaderBlockSize-fileHeaderSize)...)
	return append(out, in[fileHeaderSize:]...)
}

// fuzzCompact is the inverse of fuzzExpand.
func fuzzCompact(file []byte) []byte {
	if len(file) <= fileHeaderBlockSize {
		return append([]byte(nil), file[:min(len(file), fileHeaderSize)]...)
	}
	return append(append([]byte(nil), file[:fileHeaderSize]...), file[fileHeaderBlockSize:]...)
}

// cutChunk returns the file header and the first chunk of data, cut after
// at most n records, with the chunk's free space offset set to the cut.
// Templates are defined inline where first used, so the records kept decode.
func cutChunk(data []byte, n int) []byte {
	c := append([]byte(nil), data[fileHeaderBlockSize:min(len(data), fileHeaderBlockSize+chunkSize)]...)
	end := chunkHeaderSize
	for range n {
		size, err := recordSize(c, end, min(le32(c, 48), len(c)))
		if err != nil {
			break
		}
		end += size
	}
	binary.LittleEndian.PutUint32(c[48:], uint32(end))
	return append(append([]byte(nil), data[:fileHeaderBlockSize]...), c[:end]...)
}

// decodeDigest decodes chunk i and returns a digest of its records and
// errors, and an error if a field breaks the Field invariants (non-empty
// UTF-8 value, UTF-8 name). Hashing rather than formatting keeps huge
// outputs (hostile chunks may render megabytes) from dominating fuzzing.
func decodeDigest(d *Decoder, f *File, i int) (string, error) {
	h := fnv.New128a()
	records := 0
	var bad error
	err := d.DecodeChunk(f, i, func(r *Record) error {
		records++
		fmt.Fprintf(h, "record %d %d\n", r.ID, r.Time.UnixNano())
		for _, fl := range r.Fields {
			if bad == nil && (len(fl.Value) == 0 || !utf8.Valid(fl.Value) || !utf8.ValidString(fl.Name)) {
				bad = fmt.Errorf("chunk %d record %d: bad field %q=%q", i, r.ID, fl.Name, fl.Value)
			}
			h.Write([]byte(fl.Name))
			h.Write([]byte{0})
			h.Write(fl.Value)
			h.Write([]byte{0})
		}
		return nil
	})
	return fmt.Sprintf("%d records, digest %x, error %v", records, h.Sum(nil), err), bad
}
