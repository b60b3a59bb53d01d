package evtx

import (
	"encoding/binary"
	"math"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// BinXML value types.
const (
	typeNull     = 0x00
	typeString   = 0x01 // UTF-16LE
	typeAnsi     = 0x02 // code page 1252
	typeInt8     = 0x03
	typeUint8    = 0x04
	typeInt16    = 0x05
	typeUint16   = 0x06
	typeInt32    = 0x07
	typeUint32   = 0x08
	typeInt64    = 0x09
	typeUint64   = 0x0a
	typeReal32   = 0x0b
	typeReal64   = 0x0c
	typeBool     = 0x0d // 32 bits
	typeBinary   = 0x0e
	typeGUID     = 0x0f
	typeSizeT    = 0x10 // 32 or 64 bits, rendered as hex
	typeFileTime = 0x11
	typeSysTime  = 0x12
	typeSID      = 0x13
	typeHex32    = 0x14
	typeHex64    = 0x15
	typeHandle   = 0x20
	typeBinXML   = 0x21
	typeEvtXML   = 0x23
	typeArray    = 0x80 // flag: an array of the type in the low bits
)

// fixedSize returns the size of a fixed-size type, or 0.
func fixedSize(typ uint8) int {
	switch typ {
	case typeInt8, typeUint8:
		return 1
	case typeInt16, typeUint16:
		return 2
	case typeInt32, typeUint32, typeReal32, typeBool, typeHex32:
		return 4
	case typeInt64, typeUint64, typeReal64, typeFileTime, typeHex64:
		return 8
	case typeGUID, typeSysTime:
		return 16
	}
	return 0
}

// appendValue renders a scalar value of type typ held in b, the way
// evtx_dump (and so the SigmaHQ regression .json files) renders it:
//   - strings are decoded to UTF-8, cut at the first NUL, and lose trailing
//     whitespace (see appendUTF16 for why);
//   - signed and unsigned integers are decimal, bool is true/false;
//   - HexInt32/HexInt64 (and SizeT) are 0x and lowercase hex without padding;
//   - binary is uppercase hex;
//   - GUIDs are uppercase, without braces;
//   - SIDs are S-1-5-…;
//   - FILETIME and SYSTEMTIME are 2006-01-02T15:04:05.000000Z (microseconds).
//
// A value too short for its type, a null, a handle or an unknown type
// renders as nothing, so the field is omitted.
func appendValue(dst []byte, typ uint8, b []byte) []byte {
	if n := fixedSize(typ); n > 0 {
		if len(b) < n {
			return dst
		}
		b = b[:n]
	}
	switch typ {
	case typeString:
		return appendUTF16(dst, b, true)
	case typeAnsi:
		return appendANSI(dst, b)
	case typeInt8:
		return strconv.AppendInt(dst, int64(int8(b[0])), 10)
	case typeUint8:
		return strconv.AppendUint(dst, uint64(b[0]), 10)
	case typeInt16:
		return strconv.AppendInt(dst, int64(int16(binary.LittleEndian.Uint16(b))), 10)
	case typeUint16:
		return strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint16(b)), 10)
	case typeInt32:
		return strconv.AppendInt(dst, int64(int32(binary.LittleEndian.Uint32(b))), 10)
	case typeUint32:
		return strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(b)), 10)
	case typeInt64:
		return strconv.AppendInt(dst, int64(binary.LittleEndian.Uint64(b)), 10)
	case typeUint64:
		return strconv.AppendUint(dst, binary.LittleEndian.Uint64(b), 10)
	case typeReal32:
		return appendFloat(dst, float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), 32)
	case typeReal64:
		return appendFloat(dst, math.Float64frombits(binary.LittleEndian.Uint64(b)), 64)
	case typeBool:
		return strconv.AppendBool(dst, binary.LittleEndian.Uint32(b) != 0)
	case typeBinary:
		return appendHexUpper(dst, b)
	case typeGUID:
		return appendGUID(dst, b)
	case typeSizeT:
		switch len(b) {
		case 4:
			return appendHex(dst, uint64(binary.LittleEndian.Uint32(b)))
		case 8:
			return appendHex(dst, binary.LittleEndian.Uint64(b))
		}
		return dst
	case typeFileTime:
		return appendFileTime(dst, binary.LittleEndian.Uint64(b))
	case typeSysTime:
		return appendSysTime(dst, b)
	case typeSID:
		return appendSID(dst, b)
	case typeHex32:
		return appendHex(dst, uint64(binary.LittleEndian.Uint32(b)))
	case typeHex64:
		return appendHex(dst, binary.LittleEndian.Uint64(b))
	}
	return dst
}

// arrayIter walks the items of an array value.
type arrayIter struct {
	typ uint8
	b   []byte
}

// next returns the next item. String arrays are NUL-separated UTF-16
// strings; arrays of fixed-size types are packed; other arrays (ANSI,
// binary, SID, SizeT) cannot be split reliably and yield nothing.
func (it *arrayIter) next() ([]byte, bool) {
	typ := it.typ &^ typeArray
	if typ == typeString {
		for len(it.b) >= 2 {
			i := 0
			for i+1 < len(it.b) && (it.b[i] != 0 || it.b[i+1] != 0) {
				i += 2
			}
			item := it.b[:i]
			it.b = it.b[min(i+2, len(it.b)):]
			if len(item) > 0 {
				return item, true
			}
		}
		return nil, false
	}
	n := fixedSize(typ)
	if n == 0 || len(it.b) < n {
		return nil, false
	}
	item := it.b[:n]
	it.b = it.b[n:]
	return item, true
}

// appendArray renders an array inline, items separated by commas, for the
// rare array that names a field rather than filling one.
func appendArray(dst []byte, typ uint8, b []byte) []byte {
	it := arrayIter{typ: typ, b: b}
	first := true
	for {
		item, ok := it.next()
		if !ok {
			return dst
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendValue(dst, typ&^typeArray, item)
	}
}

// appendUTF16 decodes UTF-16LE b to UTF-8, stopping at the first NUL (fixed
// size fields are NUL padded). Unpaired surrogates become U+FFFD and an odd
// trailing byte is ignored.
//
// With trim, trailing Unicode whitespace is removed. evtx_dump does this to
// every string value since evtx 0.9.0 ("fix Extra Whitespace in
// LogonProcessName", Feb 2025), and the SigmaHQ regression .json files, which
// Sigma rules are tested against, were made with it: Sysmon's
// ParentCommandLine `"C:\Windows\system32\cmd.exe" ` is stored with the
// trailing space (Event Viewer and Velocidex show it), the .json has
// `"C:\Windows\system32\cmd.exe"`. We match the .json, so a rule ending in
// `cmd.exe"` matches as it does in SigmaHQ's tests; the truthful bytes lose
// only trailing whitespace.
func appendUTF16(dst []byte, b []byte, trim bool) []byte {
	n := len(b) / 2
	b = b[:2*n]
	start := len(dst)
	if cap(dst)-len(dst) < 3*n {
		dst = append(dst[:cap(dst)], make([]byte, 3*n-(cap(dst)-len(dst)))...)[:start]
	}
	out := dst[start : start+3*n]
	w := 0
	// Fast path: event text is nearly all ASCII.
	for len(b) >= 2 && b[1] == 0 && b[0]-1 < 0x7f {
		out[w] = b[0]
		w++
		b = b[2:]
	}
	for len(b) >= 2 {
		u := uint16(b[0]) | uint16(b[1])<<8
		b = b[2:]
		switch {
		case u == 0:
			b = nil
		case u < 0x80:
			out[w] = byte(u)
			w++
		case u < 0x800:
			out[w] = 0xc0 | byte(u>>6)
			out[w+1] = 0x80 | byte(u)&0x3f
			w += 2
		case utf16.IsSurrogate(rune(u)):
			r := utf8.RuneError
			if u < 0xdc00 && len(b) >= 2 {
				u2 := uint16(b[0]) | uint16(b[1])<<8
				if r2 := utf16.DecodeRune(rune(u), rune(u2)); r2 != utf8.RuneError {
					r = r2
					b = b[2:]
				}
			}
			w += utf8.EncodeRune(out[w:], r)
		default:
			out[w] = 0xe0 | byte(u>>12)
			out[w+1] = 0x80 | byte(u>>6)&0x3f
			out[w+2] = 0x80 | byte(u)&0x3f
			w += 3
		}
	}
	dst = dst[:start+w]
	if trim {
		for len(dst) > start {
			c := dst[len(dst)-1]
			if c < utf8.RuneSelf {
				if c != ' ' && (c < '\t' || c > '\r') {
					break
				}
				dst = dst[:len(dst)-1]
				continue
			}
			r, size := utf8.DecodeLastRune(dst[start:])
			if !unicode.IsSpace(r) {
				break
			}
			dst = dst[:len(dst)-size]
		}
	}
	return dst
}

// cp1252 maps bytes 0x80-0x9f of Windows code page 1252; the other bytes are
// Latin-1. Undefined bytes map to the C1 control of the same value, as
// Windows' own conversion does.
var cp1252 = [32]rune{
	0x20ac, 0x81, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8d, 0x017d, 0x8f,
	0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x9d, 0x017e, 0x0178,
}

// appendANSI decodes a code page 1252 string, dropping NULs as evtx_dump does.
func appendANSI(dst []byte, b []byte) []byte {
	for _, c := range b {
		switch {
		case c == 0:
		case c < 0x80:
			dst = append(dst, c)
		case c < 0xa0:
			dst = utf8.AppendRune(dst, cp1252[c-0x80])
		default:
			dst = utf8.AppendRune(dst, rune(c))
		}
	}
	return dst
}

func appendFloat(dst []byte, f float64, bits int) []byte {
	return strconv.AppendFloat(dst, f, 'f', -1, bits)
}

func appendHex(dst []byte, v uint64) []byte {
	return strconv.AppendUint(append(dst, '0', 'x'), v, 16)
}

const hexUpper = "0123456789ABCDEF"

func appendHexUpper(dst []byte, b []byte) []byte {
	for _, x := range b {
		dst = append(dst, hexUpper[x>>4], hexUpper[x&0xf])
	}
	return dst
}

// appendHexN appends the low n hex digits of v, uppercase, zero padded.
func appendHexN(dst []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, hexUpper[(v>>(4*uint(i)))&0xf])
	}
	return dst
}

// appendGUID renders 16 bytes as 5770385F-C22A-43E0-BF4C-06F5698FFBD9: the
// first three groups are little-endian integers, the last two are bytes.
// Windows' XML rendering adds braces; evtx_dump, and so the regression .json
// files (Provider_Guid, ProcessGuid, LogonGuid …), do not, and we match them.
// A GUID the event stores as a string keeps whatever braces it has.
func appendGUID(dst []byte, b []byte) []byte {
	dst = appendHexN(dst, uint64(binary.LittleEndian.Uint32(b)), 8)
	dst = append(dst, '-')
	dst = appendHexN(dst, uint64(binary.LittleEndian.Uint16(b[4:])), 4)
	dst = append(dst, '-')
	dst = appendHexN(dst, uint64(binary.LittleEndian.Uint16(b[6:])), 4)
	dst = append(dst, '-')
	dst = appendHexUpper(dst, b[8:10])
	dst = append(dst, '-')
	return appendHexUpper(dst, b[10:16])
}

// appendSID renders a security identifier: revision, sub-authority count,
// 48-bit big-endian authority, then 32-bit little-endian sub-authorities. An
// authority of 2^32 or more is written in hex, as Windows does.
func appendSID(dst []byte, b []byte) []byte {
	if len(b) < 8 || len(b) < 8+4*int(b[1]) {
		return dst
	}
	var auth uint64
	for _, x := range b[2:8] {
		auth = auth<<8 | uint64(x)
	}
	dst = append(dst, 'S', '-')
	dst = strconv.AppendUint(dst, uint64(b[0]), 10)
	dst = append(dst, '-')
	if auth >= 1<<32 {
		dst = appendHexN(append(dst, '0', 'x'), auth, 12)
	} else {
		dst = strconv.AppendUint(dst, auth, 10)
	}
	for i := range int(b[1]) {
		dst = append(dst, '-')
		dst = strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10)
	}
	return dst
}

// appendFileTime renders a FILETIME (100 ns ticks since 1601-01-01 UTC) as
// 2006-01-02T15:04:05.000000Z, truncated to microseconds like evtx_dump.
// It formats by hand: time.Time.AppendFormat would cost several times more
// on the one value every record has.
func appendFileTime(dst []byte, ft uint64) []byte {
	const ticksPerSecond = 10_000_000
	secs := ft / ticksPerSecond
	micros := (ft % ticksPerSecond) / 10
	days := int64(secs / 86400)
	rem := int(secs % 86400)
	y, m, d := civil(days - 134774) // 134774 days from 1601-01-01 to 1970-01-01
	return appendDateTime(dst, y, m, d, rem/3600, rem/60%60, rem%60, int(micros))
}

// appendSysTime renders a SYSTEMTIME (eight 16-bit fields: year, month,
// weekday, day, hour, minute, second, milliseconds) like a FILETIME. An
// all-zero value is 1601-01-01, as in evtx_dump; out-of-range fields are
// written as they are rather than rejected.
func appendSysTime(dst []byte, b []byte) []byte {
	f := func(i int) int { return int(binary.LittleEndian.Uint16(b[2*i:])) }
	y, mo, d, h, mi, s, ms := f(0), f(1), f(3), f(4), f(5), f(6), f(7)
	if y|mo|d|h|mi|s|ms == 0 {
		y, mo, d = 1601, 1, 1
	}
	return appendDateTime(dst, int64(y), mo, d, h, mi, s, ms*1000)
}

func appendDateTime(dst []byte, y int64, mo, d, h, mi, s, micros int) []byte {
	if y > 9999 {
		dst = append(dst, '+') // as chrono writes years past 9999
	}
	dst = appendInt(dst, int(y), 4)
	dst = append(dst, '-')
	dst = appendInt(dst, mo, 2)
	dst = append(dst, '-')
	dst = appendInt(dst, d, 2)
	dst = append(dst, 'T')
	dst = appendInt(dst, h, 2)
	dst = append(dst, ':')
	dst = appendInt(dst, mi, 2)
	dst = append(dst, ':')
	dst = appendInt(dst, s, 2)
	dst = append(dst, '.')
	dst = appendInt(dst, micros, 6)
	return append(dst, 'Z')
}

// appendInt appends non-negative v in decimal, zero padded to width.
func appendInt(dst []byte, v, width int) []byte {
	var buf [20]byte
	i := len(buf)
	for v >= 10 || width > 1 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		width--
	}
	i--
	buf[i] = byte('0' + v)
	return append(dst, buf[i:]...)
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's days_from_civil inverse).
func civil(days int64) (y int64, m, d int) {
	z := days + 719468
	era := z
	if era < 0 {
		era -= 146096
	}
	era /= 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}
