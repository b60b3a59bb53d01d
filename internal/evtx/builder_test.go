package evtx

import (
	"encoding/binary"
	"hash/crc32"
	"unicode/utf16"
)

// This file builds synthetic EVTX files for tests: a chunk is written token
// by token so that every chunk-relative offset (inline names, inline template
// definitions) is right by construction.

// chunkBuilder writes one chunk. Its methods append BinXML at the current
// end of the chunk.
type chunkBuilder struct {
	b        []byte
	names    map[string]int // name -> offset of its definition in the chunk
	noDepID  bool           // write element headers without the dependency identifier
	firstID  uint64
	lastID   uint64
	lastRec  int
	nRecords uint64
}

func newChunkBuilder() *chunkBuilder {
	cb := &chunkBuilder{b: make([]byte, chunkHeaderSize), names: map[string]int{}}
	copy(cb.b, chunkMagic)
	return cb
}

func (cb *chunkBuilder) u8(v byte)    { cb.b = append(cb.b, v) }
func (cb *chunkBuilder) u16(v uint16) { cb.b = binary.LittleEndian.AppendUint16(cb.b, v) }
func (cb *chunkBuilder) u32(v uint32) { cb.b = binary.LittleEndian.AppendUint32(cb.b, v) }
func (cb *chunkBuilder) u64(v uint64) { cb.b = binary.LittleEndian.AppendUint64(cb.b, v) }
func (cb *chunkBuilder) pos() int     { return len(cb.b) }

func utf16le(s string) []byte {
	var out []byte
	for _, u := range utf16.Encode([]rune(s)) {
		out = binary.LittleEndian.AppendUint16(out, u)
	}
	return out
}

// name writes a name reference: inline the first time, by offset after.
func (cb *chunkBuilder) name(s string) {
	if off, ok := cb.names[s]; ok {
		cb.u32(uint32(off))
		return
	}
	off := cb.pos() + 4
	cb.names[s] = off
	cb.u32(uint32(off))
	cb.u32(0) // next name in hash bucket
	cb.u16(0) // hash, unchecked
	cb.u16(uint16(len(utf16.Encode([]rune(s)))))
	cb.b = append(cb.b, utf16le(s)...)
	cb.u16(0)
}

func (cb *chunkBuilder) fragment() { cb.b = append(cb.b, tokFragmentHeader, 1, 1, 0) }
func (cb *chunkBuilder) eof()      { cb.u8(tokEOF) }

func (cb *chunkBuilder) open(name string, attrs bool) {
	tok := byte(tokOpenStart)
	if attrs {
		tok |= tokMore
	}
	cb.u8(tok)
	if !cb.noDepID {
		cb.u16(0xffff)
	}
	cb.u32(0) // data size, unchecked beyond plausibility
	cb.name(name)
	if attrs {
		cb.u32(0) // attribute list size
	}
}

func (cb *chunkBuilder) attr(name string, more bool) {
	tok := byte(tokAttribute)
	if more {
		tok |= tokMore
	}
	cb.u8(tok)
	cb.name(name)
}

func (cb *chunkBuilder) closeStart() { cb.u8(tokCloseStart) }
func (cb *chunkBuilder) closeEmpty() { cb.u8(tokCloseEmpty) }
func (cb *chunkBuilder) end()        { cb.u8(tokEndElement) }

func (cb *chunkBuilder) text(s string) {
	u := utf16le(s)
	cb.u8(tokValue)
	cb.u8(typeString)
	cb.u16(uint16(len(u) / 2))
	cb.b = append(cb.b, u...)
}

func (cb *chunkBuilder) subst(idx uint16, typ byte, optional bool) {
	tok := byte(tokSubstitution)
	if optional {
		tok = tokOptionalSubst
	}
	cb.u8(tok)
	cb.u16(idx)
	cb.u8(typ)
}

func (cb *chunkBuilder) charRef(r uint16) { cb.u8(tokCharRef); cb.u16(r) }
func (cb *chunkBuilder) entityRef(name string) {
	cb.u8(tokEntityRef)
	cb.name(name)
}

func (cb *chunkBuilder) cdata(s string) {
	u := utf16le(s)
	cb.u8(tokCDATA)
	cb.u16(uint16(len(u) / 2))
	cb.b = append(cb.b, u...)
}

// elem writes <name>text</name> with a substitution as its text.
func (cb *chunkBuilder) substElem(name string, idx uint16, typ byte) {
	cb.open(name, false)
	cb.closeStart()
	cb.subst(idx, typ, true)
	cb.end()
}

// tval is one template instance value.
type tval struct {
	typ  byte
	data []byte
}

func vstr(s string) tval { return tval{typeString, append(utf16le(s), 0, 0)} }
func vu16(v uint16) tval { return tval{typeUint16, binary.LittleEndian.AppendUint16(nil, v)} }
func vu32(v uint32) tval { return tval{typeUint32, binary.LittleEndian.AppendUint32(nil, v)} }
func vu64(v uint64) tval { return tval{typeUint64, binary.LittleEndian.AppendUint64(nil, v)} }
func vhex64(v uint64) tval {
	return tval{typeHex64, binary.LittleEndian.AppendUint64(nil, v)}
}
func vft(v uint64) tval { return tval{typeFileTime, binary.LittleEndian.AppendUint64(nil, v)} }

// instance writes a template instance. When def is not nil the definition
// is written inline (its first use in the chunk) and its offset returned;
// otherwise the instance refers to the definition at defOff.
func (cb *chunkBuilder) instance(defOff int, def func(), vals []tval) int {
	cb.u8(tokTemplate)
	cb.u8(1)
	cb.u32(uint32(defOff)) // template id, unchecked
	if def != nil {
		defOff = cb.pos() + 4
		cb.u32(uint32(defOff))
		cb.u32(0)                                // next definition
		cb.b = append(cb.b, make([]byte, 16)...) // GUID
		sizeAt := cb.pos()
		cb.u32(0)
		start := cb.pos()
		def()
		binary.LittleEndian.PutUint32(cb.b[sizeAt:], uint32(cb.pos()-start))
	} else {
		cb.u32(uint32(defOff))
	}
	cb.u32(uint32(len(vals)))
	for _, v := range vals {
		cb.u16(uint16(len(v.data)))
		cb.u8(v.typ)
		cb.u8(0)
	}
	for _, v := range vals {
		cb.b = append(cb.b, v.data...)
	}
	return defOff
}

// record writes a record whose BinXML body is written by body.
func (cb *chunkBuilder) record(id, written uint64, body func()) {
	start := cb.pos()
	cb.b = append(cb.b, recordMagic...)
	cb.u32(0) // size, patched
	cb.u64(id)
	cb.u64(written)
	body()
	for (cb.pos()-start+4)%8 != 0 {
		cb.u8(0)
	}
	size := cb.pos() - start + 4
	cb.u32(uint32(size))
	binary.LittleEndian.PutUint32(cb.b[start+4:], uint32(size))
	if cb.nRecords == 0 {
		cb.firstID = id
	}
	cb.lastID, cb.lastRec = id, start
	cb.nRecords++
}

// bytes finishes the chunk header and returns the chunk, cut at its free
// space offset (a truncated chunk, which is what keeps test files small);
// full pads it to chunkSize.
func (cb *chunkBuilder) bytes(full bool) []byte {
	c := cb.b
	binary.LittleEndian.PutUint64(c[8:], 1)
	binary.LittleEndian.PutUint64(c[16:], cb.nRecords)
	binary.LittleEndian.PutUint64(c[24:], cb.firstID)
	binary.LittleEndian.PutUint64(c[32:], cb.lastID)
	binary.LittleEndian.PutUint32(c[40:], 128)
	binary.LittleEndian.PutUint32(c[44:], uint32(cb.lastRec))
	binary.LittleEndian.PutUint32(c[48:], uint32(len(c)))
	binary.LittleEndian.PutUint32(c[52:], crc32.ChecksumIEEE(c[chunkHeaderSize:]))
	h := crc32.NewIEEE()
	h.Write(c[:120])
	h.Write(c[128:chunkHeaderSize])
	binary.LittleEndian.PutUint32(c[124:], h.Sum32())
	if full {
		c = append(c, make([]byte, chunkSize-len(c))...)
	}
	return c
}

// buildFile returns an EVTX file holding chunks.
func buildFile(chunks ...[]byte) []byte {
	f := make([]byte, fileHeaderBlockSize)
	copy(f, fileMagic)
	binary.LittleEndian.PutUint64(f[16:], uint64(len(chunks)-1))
	binary.LittleEndian.PutUint32(f[32:], fileHeaderSize)
	binary.LittleEndian.PutUint16(f[36:], 1)
	binary.LittleEndian.PutUint16(f[38:], 3)
	binary.LittleEndian.PutUint16(f[40:], fileHeaderBlockSize)
	binary.LittleEndian.PutUint16(f[42:], uint16(len(chunks)))
	binary.LittleEndian.PutUint32(f[124:], crc32.ChecksumIEEE(f[:120]))
	for _, c := range chunks {
		f = append(f, c...)
	}
	return f
}

// systemDef writes a template definition with a System element like
// Windows' and an EventData whose Data elements take values 6 and up.
// Values: 0 Provider Name, 1 EventID, 2 Keywords, 3 SystemTime,
// 4 EventRecordID, 5 Channel.
func (cb *chunkBuilder) systemDef(data func()) func() {
	return func() {
		cb.fragment()
		cb.open("Event", true)
		cb.attr("xmlns", false)
		cb.text("http://schemas.microsoft.com/win/2004/08/events/event")
		cb.closeStart()
		cb.open("System", false)
		cb.closeStart()
		cb.open("Provider", true)
		cb.attr("Name", false)
		cb.subst(0, typeString, true)
		cb.closeEmpty()
		cb.substElem("EventID", 1, typeUint16)
		cb.substElem("Keywords", 2, typeHex64)
		cb.open("TimeCreated", true)
		cb.attr("SystemTime", false)
		cb.subst(3, typeFileTime, true)
		cb.closeEmpty()
		cb.substElem("EventRecordID", 4, typeUint64)
		cb.substElem("Channel", 5, typeString)
		cb.end() // System
		data()
		cb.end() // Event
		cb.eof()
	}
}

// systemVals returns values 0-5 of systemDef.
func systemVals(provider string, eventID uint16, recordID uint64) []tval {
	return []tval{
		vstr(provider), vu16(eventID), vhex64(0x8000000000000000),
		vft(132000000000000000), vu64(recordID), vstr("Test/Operational"),
	}
}
