package evtx

import (
	"encoding/binary"
	"testing"
	"time"
)

func le(v any) []byte {
	b, err := binary.Append(nil, binary.LittleEndian, v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestAppendValue(t *testing.T) {
	tests := []struct {
		name string
		typ  uint8
		in   []byte
		want string
	}{
		{"hex32", typeHex32, le(uint32(0x1fffff)), "0x1fffff"},
		{"hex32-zero", typeHex32, le(uint32(0)), "0x0"},
		{"hex32-high-bit", typeHex32, le(uint32(0xc0000064)), "0xc0000064"},
		{"hex64", typeHex64, le(uint64(0x8000000000000000)), "0x8000000000000000"},
		{"hex64-logon-id", typeHex64, le(uint64(0x3e7)), "0x3e7"},
		{"sizet-4", typeSizeT, le(uint32(0xea0)), "0xea0"},
		{"sizet-8", typeSizeT, le(uint64(0xffff820cb1b23928)), "0xffff820cb1b23928"},
		{"sizet-odd-size", typeSizeT, []byte{1, 2, 3}, ""},
		{"int8", typeInt8, []byte{0xff}, "-1"},
		{"uint8", typeUint8, []byte{0xff}, "255"},
		{"int16", typeInt16, le(int16(-300)), "-300"},
		{"uint16", typeUint16, le(uint16(4624)), "4624"},
		{"int32", typeInt32, le(int32(-2)), "-2"},
		{"uint32", typeUint32, le(uint32(4294967295)), "4294967295"},
		{"int64", typeInt64, le(int64(-9000000000)), "-9000000000"},
		{"uint64", typeUint64, le(uint64(18446744073709551615)), "18446744073709551615"},
		{"uint32-too-short", typeUint32, []byte{1, 2}, ""},
		{"uint32-longer-uses-first-bytes", typeUint32, []byte{1, 0, 0, 0, 9}, "1"},
		{"real32", typeReal32, le(float32(1.5)), "1.5"},
		{"real64", typeReal64, le(3199.234), "3199.234"},
		{"real64-integral", typeReal64, le(2.0), "2"},
		{"bool-true", typeBool, le(uint32(1)), "true"},
		{"bool-other", typeBool, le(uint32(2)), "true"},
		{"bool-false", typeBool, le(uint32(0)), "false"},
		{"binary", typeBinary, []byte{0x00, 0xab, 0x0f}, "00AB0F"},
		{"binary-empty", typeBinary, nil, ""},
		{"guid", typeGUID, []byte{0x5f, 0x38, 0x70, 0x57, 0x2a, 0xc2, 0xe0, 0x43, 0xbf, 0x4c, 0x06, 0xf5, 0x69, 0x8f, 0xfb, 0xd9}, "5770385F-C22A-43E0-BF4C-06F5698FFBD9"},
		{"guid-short", typeGUID, make([]byte, 15), ""},
		{"sid-system", typeSID, []byte{1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0}, "S-1-5-18"},
		{"sid-domain-user", typeSID, append([]byte{1, 5, 0, 0, 0, 0, 0, 5}, le([]uint32{21, 3960063115, 309473240, 3247002503, 500})...), "S-1-5-21-3960063115-309473240-3247002503-500"},
		{"sid-no-subauthorities", typeSID, []byte{1, 0, 0, 0, 0, 0, 0, 1}, "S-1-1"},
		{"sid-large-authority", typeSID, []byte{1, 0, 1, 2, 3, 4, 5, 6}, "S-1-0x010203040506"},
		{"sid-truncated", typeSID, []byte{1, 2, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0}, ""},
		{"filetime", typeFileTime, le(uint64(134208770930920510)), "2026-04-17T05:24:53.092051Z"},
		{"filetime-zero", typeFileTime, le(uint64(0)), "1601-01-01T00:00:00.000000Z"},
		{"filetime-leap-day", typeFileTime, le(uint64(132274080000000000)), "2020-02-29T00:00:00.000000Z"},
		{"filetime-max", typeFileTime, le(uint64(1<<64 - 1)), "+60056-05-28T05:36:10.955161Z"},
		{"systemtime", typeSysTime, le([]uint16{2019, 3, 5, 8, 23, 22, 5, 123}), "2019-03-08T23:22:05.123000Z"},
		{"systemtime-zero", typeSysTime, make([]byte, 16), "1601-01-01T00:00:00.000000Z"},
		{"systemtime-invalid-kept", typeSysTime, le([]uint16{2019, 13, 0, 40, 25, 61, 61, 1000}), "2019-13-40T25:61:61.1000000Z"},
		{"string", typeString, utf16le("Sysmon"), "Sysmon"},
		{"string-nul-terminated", typeString, append(utf16le("abc"), 0, 0, 'x', 0), "abc"},
		{"string-odd-length", typeString, append(utf16le("ab"), 'c'), "ab"},
		{"string-one-byte", typeString, []byte{'a'}, ""},
		{"string-trailing-space", typeString, utf16le(`"C:\Windows\system32\cmd.exe" `), `"C:\Windows\system32\cmd.exe"`},
		{"string-trailing-unicode-space", typeString, utf16le("x\u00a0\u3000\r\n\t"), "x"},
		{"string-leading-space-kept", typeString, utf16le("  x"), "  x"},
		{"string-only-space", typeString, utf16le("   "), ""},
		{"string-non-ascii", typeString, utf16le("Microsoft® Windows® é ü 日本"), "Microsoft® Windows® é ü 日本"},
		{"string-surrogate-pair", typeString, utf16le("a😀b"), "a😀b"},
		{"string-lone-high-surrogate", typeString, le([]uint16{'a', 0xd800, 'b'}), "a\uFFFDb"},
		{"string-lone-low-surrogate", typeString, le([]uint16{0xdc00}), "\uFFFD"},
		{"string-high-surrogate-at-end", typeString, le([]uint16{'a', 0xd83d}), "a\uFFFD"},
		{"ansi", typeAnsi, []byte("caf\xe9 \x80\x00"), "café €"},
		{"null", typeNull, []byte{1, 2}, ""},
		{"handle", typeHandle, []byte{1, 2}, ""},
		{"unknown", 0x7f, []byte{1, 2}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(appendValue([]byte("prefix:"), tc.typ, tc.in))
			if got != "prefix:"+tc.want {
				t.Errorf("appendValue(%#02x, % x) = %q, want %q", tc.typ, tc.in, got[len("prefix:"):], tc.want)
			}
		})
	}
}

func TestAppendArray(t *testing.T) {
	tests := []struct {
		name string
		typ  uint8
		in   []byte
		want string
	}{
		{"strings", typeString | typeArray, append(append(utf16le("a"), 0, 0), utf16le("b c ")...), "a,b c"},
		{"strings-empty-items-dropped", typeString | typeArray, le([]uint16{0, 'x', 0, 0, 0}), "x"},
		{"strings-odd-length", typeString | typeArray, append(utf16le("ab"), 0), "ab"},
		{"uint16", typeUint16 | typeArray, le([]uint16{1, 2, 3}), "1,2,3"},
		{"hex64", typeHex64 | typeArray, le([]uint64{1, 255}), "0x1,0xff"},
		{"partial-item-dropped", typeUint32 | typeArray, []byte{1, 0, 0, 0, 2}, "1"},
		{"binary-not-splittable", typeBinary | typeArray, []byte{1, 2}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(appendArray(nil, tc.typ, tc.in)); got != tc.want {
				t.Errorf("appendArray(%#02x, % x) = %q, want %q", tc.typ, tc.in, got, tc.want)
			}
		})
	}
}

// TestFileTimeMatchesTime checks the hand-written FILETIME formatter against
// the standard library over a spread of instants.
func TestFileTimeMatchesTime(t *testing.T) {
	for ft := uint64(0); ft < 1<<62; ft = ft*3 + 987654321 {
		got := string(appendFileTime(nil, ft))
		want := fileTime(ft).Truncate(time.Microsecond).Format("2006-01-02T15:04:05.000000Z")
		if fileTime(ft).Year() > 9999 {
			want = "+" + want
		}
		if got != want {
			t.Fatalf("appendFileTime(%d) = %s, want %s", ft, got, want)
		}
	}
}
