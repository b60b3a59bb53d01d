package clickhouse

import "testing"

func TestRowBinaryRoundTrip(t *testing.T) {
	var b []byte
	b = appendString(b, "a\x00'")
	b = appendInt64(b, -5)
	b = appendUint64(b, 1<<63)
	b = appendUvarintLen(b, 2)
	b = appendString(b, "")
	b = appendString(b, string(make([]byte, 300))) // a two-byte length
	b = appendBytes(b, []byte{0xff})
	r := &reader{b: b}
	s, i, u, arr, raw := r.string(), r.int64(), r.uint64(), r.strings(), r.bytes()
	if r.err != nil || s != "a\x00'" || i != -5 || u != 1<<63 || len(arr) != 2 || len(arr[1]) != 300 || string(raw) != "\xff" || r.more() {
		t.Fatalf("read back %q %d %d %d %q, err %v", s, i, u, len(arr), raw, r.err)
	}
	// Every truncation fails cleanly, never panics nor reads past the end.
	for n := range len(b) {
		r := &reader{b: b[:n]}
		r.string()
		r.int64()
		r.uint64()
		r.strings()
		r.bytes()
		if r.err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	r = &reader{b: appendUvarintLen(nil, 1<<40)}
	if r.strings(); r.err == nil {
		t.Error("a huge array count was accepted")
	}
}
