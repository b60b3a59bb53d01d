package evtx

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

const (
	recordHeaderSize = 24 // signature, size, record ID, written time
	recordMinSize    = recordHeaderSize + 4
	// maxInterned bounds the Decoder's intern table so that a hostile file
	// with endless distinct names cannot grow it without limit; names past
	// the bound are still returned, just allocated per use.
	maxInterned = 1 << 16
)

var recordMagic = []byte{0x2a, 0x2a, 0x00, 0x00}

// Record is one decoded event.
//
// Fields flatten the event XML the way Sigma rules and the SigmaHQ tooling
// name Windows fields:
//   - an element's text becomes a field named after the element (EventID,
//     Channel, Computer), and an attribute becomes <Element>_<Attribute>
//     (Provider_Name, TimeCreated_SystemTime, Security_UserID); nesting
//     does not add prefixes, so UserData leaves are named by their element;
//   - <Data Name="X">v</Data> becomes X=v, with spaces removed from the name
//     (Source Name becomes SourceName); a Data element without a Name is a
//     field named Data, repeated once per element;
//   - an array value (a string array, say) becomes one field per item, all
//     with the same name, as evtx_dump renders it as a JSON array;
//   - xmlns declarations are dropped, and empty or absent values are omitted
//     (evtx_dump renders them as null);
//   - text of one element that child elements split becomes one field per
//     run (Windows events have no such mixed content).
//
// Values are rendered as evtx_dump renders them; see appendValue.
type Record struct {
	ID     uint64    // EventRecordID from the record header
	Time   time.Time // written time from the record header (UTC)
	Fields []Field   // flattened event, valid only during the callback
}

// Field is one flattened name/value pair of a Record.
type Field struct {
	Name  string // interned by the Decoder (no per-record allocation)
	Value []byte // valid only during the callback
}

// Decoder decodes chunks; it is not safe for concurrent use, but one Decoder
// per goroutine can decode different chunks of the same File in parallel.
// Reuse it: it keeps buffers and an intern table.
type Decoder struct {
	// c is the chunk being decoded; every offset in BinXML is relative to it.
	c []byte

	// tplIdx maps a template definition's chunk offset to its compiled form
	// in tpls. Templates are defined per chunk, so both are reset per chunk;
	// the compiled templates keep their slices for the next chunk.
	tplIdx map[uint32]int32
	tpls   []*template
	ntpls  int
	// raw holds, per nesting depth, the scratch template into which BinXML
	// that is not a template instance is compiled before it is run.
	raw []*template

	// Per-record state, reset for every record.
	vals []value // substitution values, a stack across nested templates
	// buf holds the rendered values, and fields slices of it. Fields stay
	// right when an append moves buf: the old array keeps the bytes below
	// the old length, and nothing writes there again during the record.
	buf []byte
	// work counts ops run and bytes read in the chunk, see maxChunkWork.
	work int
	// cs is the compile-time element stack.
	cs []celem

	fields []Field
	rec    Record

	names map[string]string // intern table of field names
	tmp   []byte            // scratch for building names
}

// value is one substitution value of a template instance: its type and its
// bytes as a range of the chunk.
type value struct {
	typ      uint8
	off, end int32
}

// NewDecoder returns a Decoder with empty caches.
func NewDecoder() *Decoder {
	return &Decoder{
		tplIdx: make(map[uint32]int32),
		names:  make(map[string]string),
	}
}

// DecodeChunk calls fn for every record of chunk i, in order. A corrupt
// record is skipped and reported through the returned error (errors.Join of
// per-record errors naming chunk and record offset), the rest of the chunk
// still decoded; a corrupt chunk header returns an error without calling fn.
// If fn returns an error, decoding stops and returns it.
//
// Records are read up to the chunk's free space offset, as evtx_dump and
// Velocidex (by the header's record count) do: bytes past it are slack, and
// in 12 chunks of hayabusa-sample-evtx hold 716 stale records of an earlier
// use of the chunk that are not part of the log. Checksums are not
// verified; every read is bounds-checked instead, so a chunk with a stale
// checksum still yields its records.
func (d *Decoder) DecodeChunk(f *File, i int, fn func(r *Record) error) error {
	if i < 0 || i >= f.nchunks {
		return fmt.Errorf("chunk %d: out of range, file has %d chunks", i, f.nchunks)
	}
	c := f.chunk(i)
	if !bytes.Equal(c[:len(chunkMagic)], chunkMagic) {
		if isZero(c[:chunkHeaderSize]) {
			// Windows preallocates chunks; an all-zero one was never used.
			return nil
		}
		return fmt.Errorf("chunk %d: bad chunk signature %q", i, c[:len(chunkMagic)])
	}
	end := le32(c, 48) // free space offset
	if end < chunkHeaderSize || end > len(c) {
		// A corrupt or (for a truncated file) unreachable free space
		// offset: walk the records until the data stops looking like one.
		end = len(c)
	}
	d.resetChunk(c)
	defer func() { d.c = nil }()

	var errs []error
	off := chunkHeaderSize
	for off+recordHeaderSize <= end {
		size, err := recordSize(c, off, end)
		if err != nil {
			if isZero(c[off : off+4]) {
				break // zeroed slack after the last record
			}
			errs = append(errs, fmt.Errorf("chunk %d: record at offset %#x: %w", i, off, err))
			next := resync(c, off+1, end)
			if next < 0 {
				break
			}
			off = next
			continue
		}
		if err := d.decodeRecord(off, size); err != nil {
			errs = append(errs, fmt.Errorf("chunk %d: record at offset %#x (id %d): %w", i, off, le64(c, off+8), err))
		} else if err := fn(&d.rec); err != nil {
			return err
		}
		off += size
	}
	return errors.Join(errs...)
}

// recordSize validates the record header at off and returns the record size.
func recordSize(c []byte, off, end int) (int, error) {
	if !bytes.Equal(c[off:off+4], recordMagic) {
		return 0, fmt.Errorf("bad record signature % x", c[off:off+4])
	}
	size := le32(c, off+4)
	if size < recordMinSize || size > end-off {
		return 0, fmt.Errorf("record size %d out of range [%d, %d]", size, recordMinSize, end-off)
	}
	if tail := le32(c, off+size-4); tail != size {
		return 0, fmt.Errorf("record size %d does not match its trailing copy %d", size, tail)
	}
	return size, nil
}

// resync finds the next offset at or after from that holds a plausible
// record header, or -1.
func resync(c []byte, from, end int) int {
	for from+recordHeaderSize <= end {
		k := bytes.Index(c[from:end], recordMagic)
		if k < 0 {
			return -1
		}
		from += k
		if from+recordHeaderSize > end {
			return -1
		}
		if _, err := recordSize(c, from, end); err == nil {
			return from
		}
		from++
	}
	return -1
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

func (d *Decoder) resetChunk(c []byte) {
	d.c = c
	d.work = 0
	clear(d.tplIdx)
	d.ntpls = 0
}

// decodeRecord decodes the record at off into d.rec.
func (d *Decoder) decodeRecord(off, size int) error {
	c := d.c
	d.buf = d.buf[:0]
	d.fields = d.fields[:0]
	d.vals = d.vals[:0]
	if err := d.decodeFragment(off+recordHeaderSize, off+size-4, 0); err != nil {
		return err
	}
	d.rec = Record{
		ID:     le64(c, off+8),
		Time:   fileTime(le64(c, off+16)),
		Fields: d.fields,
	}
	return nil
}

// fileTime converts a FILETIME (100 ns ticks since 1601-01-01 UTC).
func fileTime(ft uint64) time.Time {
	const ticksPerSecond = 10_000_000
	const secondsFrom1601To1970 = 11_644_473_600
	return time.Unix(int64(ft/ticksPerSecond)-secondsFrom1601To1970, int64(ft%ticksPerSecond)*100).UTC()
}

// intern returns b as a string, allocating only the first time a name is seen.
func (d *Decoder) intern(b []byte) string {
	if s, ok := d.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.names) < maxInterned {
		d.names[s] = s
	}
	return s
}
