package evtx

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

// decodeFile decodes every chunk of a synthetic file and renders each
// record as "name=value" lines; errors are returned joined.
func decodeFile(tb testing.TB, data []byte) ([]string, error) {
	tb.Helper()
	f, err := Open(data)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	d := NewDecoder()
	var out []string
	var errs []string
	for i := range f.NumChunks() {
		err := d.DecodeChunk(f, i, func(r *Record) error {
			var b strings.Builder
			fmt.Fprintf(&b, "#%d %s", r.ID, r.Time.Format("2006-01-02T15:04:05.0000000Z"))
			for _, fl := range r.Fields {
				fmt.Fprintf(&b, "\n%s=%s", fl.Name, fl.Value)
			}
			out = append(out, b.String())
			return nil
		})
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return out, nil
}

const systemWant = "Provider_Name=P\nEventID=1\nKeywords=0x8000000000000000\nTimeCreated_SystemTime=2019-04-17T18:40:00.000000Z\nEventRecordID=7\nChannel=Test/Operational"

// ft2019 is the FILETIME of systemVals: 2019-04-17T18:40:00Z.
const ft2019 = 132000000000000000

// flattenCase is a synthetic chunk and the records it must decode to. The
// cases also seed the fuzz target and are written to testdata/ by -update.
type flattenCase struct {
	name    string
	build   func(cb *chunkBuilder)
	want    []string
	wantErr string
}

var flattenCases = []flattenCase{{
	name: "event-data",
	build: func(cb *chunkBuilder) {
		def := cb.systemDef(func() {
			cb.open("EventData", false)
			cb.closeStart()
			for i, n := range []string{"CommandLine", "Source Name", "GrantedAccess", "Empty"} {
				cb.open("Data", true)
				cb.attr("Name", false)
				cb.text(n)
				cb.closeStart()
				cb.subst(uint16(6+i), typeString, true)
				cb.end()
			}
			cb.open("Data", false) // unnamed, literal text with references
			cb.closeStart()
			cb.text("a")
			cb.entityRef("amp")
			cb.text("b")
			cb.entityRef("lt")
			cb.charRef(0xe9)
			cb.cdata("<x> ")
			cb.end()
			cb.substElem("Data", 10, typeString)
			cb.substElem("Binary", 11, typeBinary)
			cb.end()
		})
		vals := append(systemVals("P", 1, 7),
			vstr(`"C:\Windows\system32\cmd.exe" `), vstr("Defender"),
			tval{typeHex32, []byte{0xff, 0xff, 0x1f, 0}}, tval{typeNull, nil},
			vstr("second"), tval{typeBinary, []byte{0xde, 0xad, 0x0b}})
		cb.record(1, ft2019, func() { cb.fragment(); cb.instance(0, def, vals); cb.eof() })
	},
	want: []string{"#1 2019-04-17T18:40:00.0000000Z\n" + systemWant +
		"\nCommandLine=\"C:\\Windows\\system32\\cmd.exe\"\nSourceName=Defender\nGrantedAccess=0x1fffff" +
		"\nData=a&b<é<x> \nData=second\nBinary=DEAD0B"},
}, {
	name: "template-reuse-and-string-array",
	build: func(cb *chunkBuilder) {
		def := cb.systemDef(func() {
			cb.open("EventData", false)
			cb.closeStart()
			cb.substElem("Data", 6, typeString|typeArray)
			cb.end()
		})
		arr := tval{typeString | typeArray, append(append(utf16le("one\x00\x00two"), 0, 0), utf16le("three ")...)}
		off := cb.instanceRecord(1, def, append(systemVals("P", 1, 7), arr))
		cb.record(2, ft2019, func() {
			cb.fragment()
			cb.instance(off, nil, append(systemVals("P", 1, 7), vstr("only")))
			cb.eof()
		})
	},
	want: []string{
		"#1 2019-04-17T18:40:00.0000000Z\n" + systemWant + "\nData=one\nData=two\nData=three",
		"#2 2019-04-17T18:40:00.0000000Z\n" + systemWant + "\nData=only",
	},
}, {
	name: "user-data-and-nested-binxml",
	build: func(cb *chunkBuilder) {
		def := cb.systemDef(func() {
			cb.open("UserData", false)
			cb.closeStart()
			cb.subst(6, typeBinXML, true)
			cb.end()
		})
		// Value 6 is BinXML: a fragment with a template instance of its
		// own. It is written in place, after the other values, and its
		// size patched into the value descriptor afterwards.
		cb.record(1, ft2019, func() {
			cb.fragment()
			vals := append(systemVals("P", 1, 7), tval{typeBinXML, nil})
			// Write the outer instance with a placeholder for value 6,
			// then patch its size once the nested fragment is written.
			cb.u8(tokTemplate)
			cb.u8(1)
			cb.u32(0)
			defOff := cb.pos() + 4
			cb.u32(uint32(defOff))
			cb.u32(0)
			cb.b = append(cb.b, make([]byte, 16)...)
			sizeAt := cb.pos()
			cb.u32(0)
			start := cb.pos()
			def()
			binary.LittleEndian.PutUint32(cb.b[sizeAt:], uint32(cb.pos()-start))
			cb.u32(uint32(len(vals)))
			descAt := cb.pos()
			for _, v := range vals {
				cb.u16(uint16(len(v.data)))
				cb.u8(v.typ)
				cb.u8(0)
			}
			for _, v := range vals[:6] {
				cb.b = append(cb.b, v.data...)
			}
			nestedStart := cb.pos()
			cb.fragment()
			cb.instance(0, func() {
				cb.fragment()
				cb.open("LogFileCleared", true)
				cb.attr("xmlns", false)
				cb.text("http://manifests.microsoft.com/win/2004/08/windows/eventlog")
				cb.closeStart()
				cb.substElem("SubjectUserName", 0, typeString)
				cb.open("Param", true)
				cb.attr("Kind", false)
				cb.subst(1, typeUint32, false)
				cb.closeStart()
				cb.subst(2, typeSID, false)
				cb.end()
				cb.end()
				cb.eof()
			}, []tval{vstr("admin"), vu32(42), {typeSID, []byte{1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0}}})
			cb.eof()
			binary.LittleEndian.PutUint16(cb.b[descAt+6*4:], uint16(cb.pos()-nestedStart))
			cb.eof()
		})
	},
	want: []string{"#1 2019-04-17T18:40:00.0000000Z\n" + systemWant +
		"\nSubjectUserName=admin\nParam_Kind=42\nParam=S-1-5-18"},
}, {
	name: "dynamic-data-name",
	build: func(cb *chunkBuilder) {
		def := cb.systemDef(func() {
			cb.open("EventData", true)
			cb.attr("Name", false)
			cb.text("Task Disabled")
			cb.closeStart()
			cb.open("Data", true)
			cb.attr("Name", false)
			cb.subst(6, typeString, false)
			cb.closeStart()
			cb.subst(7, typeString, false)
			cb.end()
			cb.open("Data", true)
			cb.attr("Name", false)
			cb.subst(8, typeNull, true)
			cb.closeStart()
			cb.subst(7, typeString, false)
			cb.end()
			cb.end()
		})
		cb.instanceRecord(1, def, append(systemVals("P", 1, 7), vstr("Target Name"), vstr("v"), tval{typeNull, nil}))
	},
	want: []string{"#1 2019-04-17T18:40:00.0000000Z\n" + systemWant +
		"\nEventData_Name=Task Disabled\nTargetName=v\nData=v"},
}, {
	name: "plain-binxml-without-template",
	build: func(cb *chunkBuilder) {
		cb.noDepID = true
		cb.record(9, ft2019, func() {
			cb.fragment()
			cb.open("Event", false)
			cb.closeStart()
			cb.open("System", false)
			cb.closeStart()
			cb.open("EventID", true)
			cb.attr("Qualifiers", false)
			cb.text("16384")
			cb.closeStart()
			cb.text("7036")
			cb.end()
			cb.open("TimeCreated", true)
			cb.attr("SystemTime", false)
			cb.text("2021-12-16T10:19:07.348731900Z")
			cb.closeEmpty()
			cb.end()
			cb.open("EventData", false)
			cb.closeStart()
			cb.open("Data", true)
			cb.attr("Name", false)
			cb.text("param1")
			cb.closeStart()
			cb.text("Windows Update  ")
			cb.end()
			cb.end()
			cb.end()
			cb.eof()
		})
	},
	want: []string{"#9 2019-04-17T18:40:00.0000000Z\nEventID_Qualifiers=16384\nEventID=7036\nTimeCreated_SystemTime=2021-12-16T10:19:07.348731900Z\nparam1=Windows Update"},
}, {
	name: "corrupt-record-is-skipped",
	build: func(cb *chunkBuilder) {
		def := cb.systemDef(func() {})
		off := cb.instanceRecord(1, def, systemVals("P", 1, 7))
		bad := cb.pos()
		cb.record(2, ft2019, func() {
			cb.fragment()
			cb.instance(off, nil, systemVals("P", 1, 7))
			cb.eof()
		})
		cb.b[bad] = 'X' // break the second record's signature
		cb.record(3, ft2019, func() {
			cb.fragment()
			cb.instance(bad+1, nil, systemVals("P", 1, 7)) // no template there
			cb.eof()
		})
		cb.record(4, ft2019, func() {
			cb.fragment()
			cb.instance(off, nil, systemVals("P", 1, 7))
			cb.eof()
		})
	},
	want: []string{
		"#1 2019-04-17T18:40:00.0000000Z\n" + systemWant,
		"#4 2019-04-17T18:40:00.0000000Z\n" + systemWant,
	},
	wantErr: "chunk 0: record at offset 0x",
}}

func TestFlatten(t *testing.T) {
	for _, tc := range flattenCases {
		t.Run(tc.name, func(t *testing.T) {
			cb := newChunkBuilder()
			tc.build(cb)
			for _, full := range []bool{false, true} {
				got, err := decodeFile(t, buildFile(cb.bytes(full)))
				if tc.wantErr == "" && err != nil {
					t.Fatalf("decode: %v", err)
				}
				if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
					t.Fatalf("decode error = %v, want it to contain %q", err, tc.wantErr)
				}
				if err != nil {
					t.Logf("full chunk %v: %v", full, err)
				}
				if strings.Join(got, "\n\n") != strings.Join(tc.want, "\n\n") {
					t.Errorf("records mismatch\n got: %q\nwant: %q", got, tc.want)
				}
			}
		})
	}
}

// instanceRecord writes a record holding one template instance with its
// definition inline and returns the definition's offset.
func (cb *chunkBuilder) instanceRecord(id uint64, def func(), vals []tval) int {
	var off int
	cb.record(id, ft2019, func() {
		cb.fragment()
		off = cb.instance(0, def, vals)
		cb.eof()
	})
	return off
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "file is 0 bytes, too short for the signature"},
		{"bad-signature", []byte("ElfChnk\x00 and more bytes"), `signature is "ElfChnk\x00", want "ElfFile\x00"`},
		{"short-header", []byte("ElfFile\x00short"), "file is 13 bytes, want at least 128"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open error = %v, want %q", err, tc.want)
			}
		})
	}
	// A header alone is a valid empty log.
	f, err := Open(buildFile())
	if err != nil || f.NumChunks() != 0 {
		t.Fatalf("Open(header only) = %v chunks, %v; want 0 chunks, nil", f.NumChunks(), err)
	}
}

func TestDecodeChunkErrors(t *testing.T) {
	cb := newChunkBuilder()
	cb.instanceRecord(1, cb.systemDef(func() {}), systemVals("P", 1, 7))
	good := cb.bytes(true)
	bad := append([]byte(nil), good...)
	copy(bad, "NotChnk\x00")
	f, err := Open(buildFile(good, make([]byte, chunkSize), bad))
	if err != nil {
		t.Fatal(err)
	}
	if n := f.NumChunks(); n != 3 {
		t.Fatalf("NumChunks = %d, want 3", n)
	}
	d := NewDecoder()
	calls := 0
	fn := func(r *Record) error { calls++; return nil }
	if err := d.DecodeChunk(f, 1, fn); err != nil || calls != 0 {
		t.Errorf("unused (zero) chunk: err %v, %d records; want nil, 0", err, calls)
	}
	if err := d.DecodeChunk(f, 2, fn); err == nil || !strings.Contains(err.Error(), `chunk 2: bad chunk signature "NotChnk\x00"`) || calls != 0 {
		t.Errorf("corrupt chunk header: err %v, %d records; want a signature error and no records", err, calls)
	}
	if err := d.DecodeChunk(f, 3, fn); err == nil || !strings.Contains(err.Error(), "chunk 3: out of range") {
		t.Errorf("chunk out of range: err %v", err)
	}
	stop := fmt.Errorf("stop")
	if err := d.DecodeChunk(f, 0, func(*Record) error { return stop }); err != stop {
		t.Errorf("callback error: got %v, want it returned as is", err)
	}
}
