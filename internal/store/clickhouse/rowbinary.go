package clickhouse

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// RowBinary is ClickHouse's plain binary row format, read and written the
// same way by every version: integers little-endian, strings as a varint
// length and the bytes, arrays as a varint count and the elements. It
// carries any bytes exactly (JSON cannot carry invalid UTF-8) and needs no
// escaping, so inserts never put event data into SQL text.

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBytes(dst, s []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendInt64(dst []byte, v int64) []byte { return binary.LittleEndian.AppendUint64(dst, uint64(v)) }

func appendUint64(dst []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(dst, v) }

// reader decodes RowBinary. The first error sticks; later reads return zero values.
type reader struct {
	b   []byte
	err error
}

var errShort = errors.New("rowbinary: truncated response")

func (r *reader) more() bool { return r.err == nil && len(r.b) > 0 }

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errShort
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string { return string(r.bytes()) }

func (r *reader) uint64() uint64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 8 {
		r.err = errShort
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) int64() int64 { return int64(r.uint64()) }

func (r *reader) strings() []string {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) { // each element takes at least one byte
		r.err = fmt.Errorf("rowbinary: array of %d elements in %d bytes", n, len(r.b))
	}
	if r.err != nil || n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.string()
	}
	return out
}
