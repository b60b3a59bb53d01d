// Package batch encodes the messages ingest publishes on the bus and
// detection workers consume: a batch of stored-form events ([]store.Event)
// in a compact binary form.
//
// The bus carried encoding/json of []store.Event before, which put every raw
// record in base64 (a batch was 1.5 times its raw records) and cost a worker
// more CPU to decode than matching the events did. Here every string and the
// raw record travel as length-prefixed bytes: a batch is about the size of
// its raw records, and decoding it is one copy of the message and a walk
// over the lengths. Decode still reads the JSON batches an older version
// published (they start with '['), so an upgrade need not drain the bus.
//
// Version 1 of the format, with u(x) an unsigned and s(x) a zig-zag varint
// as encoding/binary writes them:
//
//	batch = 0xB5 0x01 u(events) u(fields) event*
//	event = s(Seq) str(ID) str(Tenant) time(Time) time(Received)
//	        str(Source) str(Host) str(Channel) str(EventID)
//	        u(n) {str(name) str(value)}*n str(Raw)
//	str   = u(len) byte*len
//	time  = s(Unix seconds) u(nanoseconds)
//
// fields is the number of fields of all the events together, so that
// Decode allocates them at once. Times keep their instant (the zero time
// too, which Unix nanoseconds cannot hold) and come back in UTC.
package batch

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"time"
	"unsafe"

	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// magic and version open every binary batch. magic is a UTF-8
// continuation byte, which no JSON (nor any text) starts with, so JSON
// batches are told apart by their first byte.
const (
	magic   = 0xB5
	version = 1
)

// minEventBytes is the smallest encoded event: one byte for each varint
// and each empty string. Decode checks counts against it before allocating.
const minEventBytes = 1 + 6 + 2*2 + 1 + 1

// HeaderSize is the most bytes a batch has besides its events.
const HeaderSize = 2 + 2*binary.MaxVarintLen64

// EventSize returns the bytes e takes in an encoded batch.
func EventSize(e *store.Event) int {
	n := varintLen(e.Seq) + strLen(e.ID) + strLen(string(e.Tenant)) + timeLen(e.Time) + timeLen(e.Received) +
		strLen(e.Source) + strLen(e.Host) + strLen(e.Channel) + strLen(e.EventID) +
		uvarintLen(uint64(len(e.Fields))) + uvarintLen(uint64(len(e.Raw))) + len(e.Raw)
	for _, f := range e.Fields {
		n += strLen(f.Name) + strLen(f.Value)
	}
	return n
}

func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

func varintLen(x int64) int { return uvarintLen(uint64(x<<1) ^ uint64(x>>63)) }

func strLen(s string) int { return uvarintLen(uint64(len(s))) + len(s) }

func timeLen(t time.Time) int { return varintLen(t.Unix()) + uvarintLen(uint64(t.Nanosecond())) }

// Append appends the encoding of evs to dst and returns the extended slice.
func Append(dst []byte, evs []store.Event) []byte {
	size, fields := HeaderSize, 0
	for i := range evs {
		size += EventSize(&evs[i])
		fields += len(evs[i].Fields)
	}
	dst = slices.Grow(dst, size)
	dst = append(dst, magic, version)
	dst = binary.AppendUvarint(dst, uint64(len(evs)))
	dst = binary.AppendUvarint(dst, uint64(fields))
	for i := range evs {
		e := &evs[i]
		dst = binary.AppendVarint(dst, e.Seq)
		dst = appendString(dst, e.ID)
		dst = appendString(dst, string(e.Tenant))
		dst = appendTime(dst, e.Time)
		dst = appendTime(dst, e.Received)
		dst = appendString(dst, e.Source)
		dst = appendString(dst, e.Host)
		dst = appendString(dst, e.Channel)
		dst = appendString(dst, e.EventID)
		dst = binary.AppendUvarint(dst, uint64(len(e.Fields)))
		for _, f := range e.Fields {
			dst = appendString(dst, f.Name)
			dst = appendString(dst, f.Value)
		}
		dst = binary.AppendUvarint(dst, uint64(len(e.Raw)))
		dst = append(dst, e.Raw...)
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendTime(dst []byte, t time.Time) []byte {
	dst = binary.AppendVarint(dst, t.Unix())
	return binary.AppendUvarint(dst, uint64(t.Nanosecond()))
}

// Decode returns the events of a batch Append encoded, or of a JSON batch
// (encoding/json of []store.Event, as older versions published).
//
// The events do not alias data: Decode copies it once, and the strings and
// raw records of the events share that copy, which is never written. So a
// string kept after the batch is done keeps the whole copy alive; a caller
// that keeps one for long should clone it. Tenant is the exception: it is
// kept in maps by detection, so it has storage of its own.
//
// Malformed input gives an error that says what is wrong and where, never
// a panic. Counts and lengths are checked against the bytes left before
// anything is allocated for them, so a forged one cannot make Decode
// allocate more than a small multiple of the input.
func Decode(data []byte) ([]store.Event, error) {
	if len(data) == 0 {
		return nil, errors.New("empty batch")
	}
	switch data[0] {
	case '[':
		var evs []store.Event
		if err := json.Unmarshal(data, &evs); err != nil {
			return nil, fmt.Errorf("json batch: %w", err)
		}
		return evs, nil
	case magic:
	default:
		return nil, fmt.Errorf("not a batch: first byte 0x%02x, want 0x%02x (binary) or '[' (json)", data[0], magic)
	}
	if len(data) < 2 {
		return nil, errors.New("truncated batch: no version byte")
	}
	if data[1] != version {
		return nil, fmt.Errorf("batch version %d unknown (this version reads %d): was it published by a newer Mamori?", data[1], version)
	}
	d := decoder{buf: data[2:]}
	nev, ok := d.uvarint()
	if !ok {
		return nil, d.err("header", "event count")
	}
	nf, ok := d.uvarint()
	if !ok {
		return nil, d.err("header", "field count")
	}
	// Check the counts against the input before allocating for them.
	if left := uint64(d.left()); nev > left/minEventBytes {
		return nil, fmt.Errorf("batch header: %d events cannot fit in the %d bytes left", nev, left)
	} else if nf > left/2 {
		return nil, fmt.Errorf("batch header: %d fields cannot fit in the %d bytes left", nf, left)
	}
	if nev == 0 {
		if nf != 0 || d.left() != 0 {
			return nil, fmt.Errorf("batch of no events: header says %d fields, %d bytes follow", nf, d.left())
		}
		return []store.Event{}, nil
	}
	// One copy of the rest: the events' strings and raw records point into it.
	d.buf = append([]byte(nil), d.buf[d.off:]...)
	d.off = 0
	evs := make([]store.Event, nev)
	var fields []store.Field
	if nf > 0 {
		fields = make([]store.Field, nf)
	}
	var tenantBytes []byte // the previous event's tenant, whose string evs already holds
	for i := range evs {
		e := &evs[i]
		if e.Seq, ok = d.varint(); !ok {
			return nil, d.eventErr(i, nev, "Seq")
		}
		if e.ID, ok = d.str(); !ok {
			return nil, d.eventErr(i, nev, "ID")
		}
		t, ok := d.bytes()
		if !ok {
			return nil, d.eventErr(i, nev, "Tenant")
		}
		if i > 0 && string(t) == string(tenantBytes) {
			e.Tenant = evs[i-1].Tenant
		} else {
			e.Tenant, tenantBytes = tenant.ID(t), t // a copy: detection keeps it
		}
		if e.Time, ok = d.time(); !ok {
			return nil, d.eventErr(i, nev, "Time")
		}
		if e.Received, ok = d.time(); !ok {
			return nil, d.eventErr(i, nev, "Received")
		}
		if e.Source, ok = d.str(); !ok {
			return nil, d.eventErr(i, nev, "Source")
		}
		if e.Host, ok = d.str(); !ok {
			return nil, d.eventErr(i, nev, "Host")
		}
		if e.Channel, ok = d.str(); !ok {
			return nil, d.eventErr(i, nev, "Channel")
		}
		if e.EventID, ok = d.str(); !ok {
			return nil, d.eventErr(i, nev, "EventID")
		}
		n, ok := d.uvarint()
		if !ok {
			return nil, d.eventErr(i, nev, "field count")
		}
		if n > uint64(len(fields)) {
			return nil, fmt.Errorf("batch event %d of %d: %d fields, but the header counts %d left", i, nev, n, len(fields))
		}
		if n > 0 {
			e.Fields, fields = fields[:n:n], fields[n:]
			for j := range e.Fields {
				f := &e.Fields[j]
				if f.Name, ok = d.str(); !ok {
					return nil, d.eventErr(i, nev, fmt.Sprintf("field %d name", j))
				}
				if f.Value, ok = d.str(); !ok {
					return nil, d.eventErr(i, nev, fmt.Sprintf("field %d (%q) value", j, f.Name))
				}
			}
		}
		raw, ok := d.bytes()
		if !ok {
			return nil, d.eventErr(i, nev, "Raw")
		}
		if len(raw) > 0 {
			e.Raw = raw[:len(raw):len(raw)] // an append to it must not run into what follows
		}
	}
	if len(fields) != 0 {
		return nil, fmt.Errorf("batch: the header counts %d fields more than the events carry", len(fields))
	}
	if d.left() != 0 {
		return nil, fmt.Errorf("batch: %d bytes after the last of %d events", d.left(), nev)
	}
	return evs, nil
}

// decoder reads a batch. Its methods return false when the input ends
// early or holds an invalid varint; err then says which.
type decoder struct {
	buf []byte
	off int
	// why is what went wrong in the last failed read.
	why string
}

func (d *decoder) left() int { return len(d.buf) - d.off }

func (d *decoder) uvarint() (uint64, bool) {
	v, n := binary.Uvarint(d.buf[d.off:])
	if n <= 0 {
		d.why = varintWhy(n)
		return 0, false
	}
	d.off += n
	return v, true
}

func (d *decoder) varint() (int64, bool) {
	v, n := binary.Varint(d.buf[d.off:])
	if n <= 0 {
		d.why = varintWhy(n)
		return 0, false
	}
	d.off += n
	return v, true
}

func varintWhy(n int) string {
	if n == 0 {
		return "the batch ends inside a number"
	}
	return "a number overflows 64 bits"
}

// bytes returns the next length-prefixed bytes, which alias d.buf.
func (d *decoder) bytes() ([]byte, bool) {
	n, ok := d.uvarint()
	if !ok {
		return nil, false
	}
	if n > uint64(d.left()) {
		d.why = fmt.Sprintf("length %d beyond the end of the batch (%d bytes left)", n, d.left())
		return nil, false
	}
	b := d.buf[d.off : d.off+int(n)]
	d.off += int(n)
	return b, true
}

// str returns the next length-prefixed string, which shares d.buf's
// storage: d.buf is a private copy nobody writes to after Decode.
func (d *decoder) str() (string, bool) {
	b, ok := d.bytes()
	if !ok || len(b) == 0 {
		return "", ok
	}
	return unsafe.String(&b[0], len(b)), true
}

func (d *decoder) time() (time.Time, bool) {
	sec, ok := d.varint()
	if !ok {
		return time.Time{}, false
	}
	nsec, ok := d.uvarint()
	if !ok {
		return time.Time{}, false
	}
	if nsec >= 1e9 {
		d.why = fmt.Sprintf("nanoseconds %d out of range", nsec)
		return time.Time{}, false
	}
	return time.Unix(sec, int64(nsec)).UTC(), true
}

func (d *decoder) err(where, what string) error {
	return fmt.Errorf("batch %s: %s: %s", where, what, d.why)
}

func (d *decoder) eventErr(i int, n uint64, what string) error {
	return fmt.Errorf("batch event %d of %d: %s: %s", i, n, what, d.why)
}
