package evtx

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDecodeDoesNotAllocate checks that a warm Decoder decodes chunks, and
// so records, without allocating: everything per record lives in buffers the
// Decoder reuses, and compiled templates keep their slices across chunks.
// The first pass over a file may allocate (buffers grow, names are interned);
// later passes must not allocate at all.
func TestDecodeDoesNotAllocate(t *testing.T) {
	// A synthetic chunk always runs; real files run when the data is there.
	cb := newChunkBuilder()
	off := cb.instanceRecord(1, cb.systemDef(func() {
		cb.open("EventData", false)
		cb.closeStart()
		cb.substElem("Data", 6, typeString|typeArray)
		cb.end()
	}), append(systemVals("P", 1, 7), vstr("x")))
	for id := uint64(2); id < 50; id++ {
		cb.record(id, ft2019, func() {
			cb.fragment()
			cb.instance(off, nil, append(systemVals("Provider", 4688, id), tval{typeString | typeArray, utf16le("a\x00b c\x00")}))
			cb.eof()
		})
	}
	inputs := map[string][]byte{"synthetic": buildFile(cb.bytes(true))}

	if root, ok := testDataPath(); ok {
		dir := filepath.Join(root, "evtx", "hayabusa-sample-evtx")
		for _, rel := range []string{
			"EVTX-ATTACK-SAMPLES/Credential Access/CA_sysmon_hashdump_cmd_meterpreter.evtx",
			"DeepBlueCLI/many-events-application.evtx",
			"EVTX-to-MITRE-Attack/TA0007-Discovery/T1046-Network Service Scanning/ID131-RDP brutforce (no user info).evtx",
			"DeepBlueCLI/Powershell-Invoke-Obfuscation-many.evtx",
		} {
			data, err := os.ReadFile(filepath.Join(dir, rel))
			if err != nil {
				t.Fatalf("read %s: %v", rel, err)
			}
			inputs[rel] = data
		}
	}

	for name, data := range inputs {
		f, err := Open(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d := NewDecoder()
		records := 0
		count := func(r *Record) error { records++; return nil }
		decode := func() {
			for i := range f.NumChunks() {
				if err := d.DecodeChunk(f, i, count); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
		}
		decode() // warm up
		perPass := records
		allocs := testing.AllocsPerRun(20, decode)
		t.Logf("%s: %d chunks, %d records per pass, %.2f allocations per pass", name, f.NumChunks(), perPass, allocs)
		if perPass == 0 {
			t.Errorf("%s: decoded no records", name)
		}
		if allocs != 0 {
			t.Errorf("%s: a warm Decoder allocates %.2f times per pass over %d records, want 0", name, allocs, perPass)
		}
	}
}

// TestParallelDecoders decodes the chunks of one File with one Decoder per
// goroutine and checks the result equals a sequential decode (run with
// -race to check that a File is safe to share).
func TestParallelDecoders(t *testing.T) {
	root := testDataDir(t)
	data, err := os.ReadFile(filepath.Join(root, "evtx", "hayabusa-sample-evtx", "DeepBlueCLI", "many-events-application.evtx"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(data)
	if err != nil {
		t.Fatal(err)
	}
	digest := func(d *Decoder, i int) string {
		s, err := decodeDigest(d, f, i)
		if err != nil {
			return err.Error()
		}
		return s
	}
	want := make([]string, f.NumChunks())
	seq := NewDecoder()
	for i := range want {
		want[i] = digest(seq, i)
	}
	got := make([]string, f.NumChunks())
	const workers = 4
	done := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			d := NewDecoder()
			for i := w; i < len(got); i += workers {
				got[i] = digest(d, i)
			}
		}()
	}
	for range workers {
		<-done
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("chunk %d: parallel decode %s, sequential %s", i, got[i], want[i])
		}
	}
}
