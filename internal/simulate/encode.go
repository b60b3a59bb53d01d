package simulate

import (
	"strconv"
	"time"
)

// enc appends one JSON document to b. It only writes: keys are trusted constants, values
// are escaped. first is true right after an object was opened, so the next key needs no
// comma.
type enc struct {
	b     []byte
	first bool
}

func (e *enc) open() { e.b = append(e.b, '{'); e.first = true }

func (e *enc) close() { e.b = append(e.b, '}'); e.first = false }

func (e *enc) key(k string) {
	if !e.first {
		e.b = append(e.b, ',')
	}
	e.first = false
	e.b = append(e.b, '"')
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
}

// obj opens the object-valued field k.
func (e *enc) obj(k string) { e.key(k); e.open() }

// str writes the string field k.
func (e *enc) str(k, v string) {
	e.key(k)
	e.b = append(e.b, '"')
	e.b = appendEscaped(e.b, v)
	e.b = append(e.b, '"')
}

// strs writes the string field k whose value is the concatenation of parts; it saves
// building the string first.
func (e *enc) strs(k string, parts ...string) {
	e.key(k)
	e.b = append(e.b, '"')
	for _, p := range parts {
		e.b = appendEscaped(e.b, p)
	}
	e.b = append(e.b, '"')
}

// bytes writes the string field k from a byte slice.
func (e *enc) bytes(k string, v []byte) {
	e.key(k)
	e.b = append(e.b, '"')
	e.b = appendEscapedBytes(e.b, v)
	e.b = append(e.b, '"')
}

// int writes the number field k.
func (e *enc) int(k string, v int64) { e.key(k); e.b = strconv.AppendInt(e.b, v, 10) }

// uint writes the number field k.
func (e *enc) uint(k string, v uint64) { e.key(k); e.b = strconv.AppendUint(e.b, v, 10) }

// bool writes the boolean field k.
func (e *enc) bool(k string, v bool) { e.key(k); e.b = strconv.AppendBool(e.b, v) }

// sint writes the string field k holding a decimal number, as Windows EventData does.
func (e *enc) sint(k string, v int64) {
	e.key(k)
	e.b = append(e.b, '"')
	e.b = strconv.AppendInt(e.b, v, 10)
	e.b = append(e.b, '"')
}

// shex writes the string field k holding 0x-prefixed lowercase hex, as Security events do.
func (e *enc) shex(k string, v uint64) {
	e.key(k)
	e.b = append(e.b, '"', '0', 'x')
	e.b = strconv.AppendUint(e.b, v, 16)
	e.b = append(e.b, '"')
}

// time writes field k with a timestamp in the layout f appends.
func (e *enc) time(k string, t time.Time, f func([]byte, time.Time) []byte) {
	e.key(k)
	e.b = append(e.b, '"')
	e.b = f(e.b, t)
	e.b = append(e.b, '"')
}

const hexDigits = "0123456789abcdef"

// appendEscaped appends s as the inside of a JSON string. Input is valid UTF-8 (every
// string comes from this package's tables), so only quotes, backslashes and control
// characters need escaping.
func appendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		b = appendEscapeByte(b, c)
		start = i + 1
	}
	return append(b, s[start:]...)
}

func appendEscapedBytes(b, s []byte) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		b = appendEscapeByte(b, c)
		start = i + 1
	}
	return append(b, s[start:]...)
}

func appendEscapeByte(b []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
}

// Timestamps. All are UTC; the layouts are those the named shippers write.

// appendPad appends v in decimal, zero-padded to width digits.
func appendPad(b []byte, v, width int) []byte {
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
	return append(b, buf[i:]...)
}

func appendDate(b []byte, t time.Time, sep byte) []byte {
	y, m, d := t.Date()
	b = appendPad(b, y, 4)
	b = append(b, '-')
	b = appendPad(b, int(m), 2)
	b = append(b, '-')
	b = appendPad(b, d, 2)
	return append(b, sep)
}

func appendClock(b []byte, t time.Time) []byte {
	h, mi, s := t.Clock()
	b = appendPad(b, h, 2)
	b = append(b, ':')
	b = appendPad(b, mi, 2)
	b = append(b, ':')
	return appendPad(b, s, 2)
}

// appendISOMilli appends "2026-11-23T10:00:00.123Z" (Beats' @timestamp).
func appendISOMilli(b []byte, t time.Time) []byte {
	t = t.UTC()
	b = appendClock(appendDate(b, t, 'T'), t)
	b = append(b, '.')
	b = appendPad(b, t.Nanosecond()/1e6, 3)
	return append(b, 'Z')
}

// appendISOMicro appends "2026-11-23T10:00:00.123456Z" (RFC 5424 TIMESTAMP).
func appendISOMicro(b []byte, t time.Time) []byte {
	t = t.UTC()
	b = appendClock(appendDate(b, t, 'T'), t)
	b = append(b, '.')
	b = appendPad(b, t.Nanosecond()/1e3, 6)
	return append(b, 'Z')
}

// appendEVE appends "2026-11-23T10:00:00.123456+0000" (Suricata EVE timestamp).
func appendEVE(b []byte, t time.Time) []byte {
	t = t.UTC()
	b = appendClock(appendDate(b, t, 'T'), t)
	b = append(b, '.')
	b = appendPad(b, t.Nanosecond()/1e3, 6)
	return append(b, "+0000"...)
}

// appendSysmonTime appends "2026-11-23 10:00:00.123" (Sysmon UtcTime).
func appendSysmonTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	b = appendClock(appendDate(b, t, ' '), t)
	b = append(b, '.')
	return appendPad(b, t.Nanosecond()/1e6, 3)
}

// appendEpoch appends seconds since the epoch with microseconds, "1795428000.123456" (Zeek ts).
func appendEpoch(b []byte, t time.Time) []byte {
	b = strconv.AppendInt(b, t.Unix(), 10)
	b = append(b, '.')
	return appendPad(b, t.Nanosecond()/1e3, 6)
}

const monthNames = "JanFebMarAprMayJunJulAugSepOctNovDec"

// appendRFC3164 appends "Nov  3 10:00:00" (BSD syslog: space-padded day, no year).
func appendRFC3164(b []byte, t time.Time) []byte {
	t = t.UTC()
	_, m, d := t.Date()
	b = append(b, monthNames[3*(m-1):3*m]...)
	b = append(b, ' ')
	if d < 10 {
		b = append(b, ' ')
	}
	b = strconv.AppendInt(b, int64(d), 10)
	b = append(b, ' ')
	return appendClock(b, t)
}

// appendCLF appends "23/Nov/2026:10:00:00 +0000" (Common Log Format).
func appendCLF(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, m, d := t.Date()
	b = appendPad(b, d, 2)
	b = append(b, '/')
	b = append(b, monthNames[3*(m-1):3*m]...)
	b = append(b, '/')
	b = appendPad(b, y, 4)
	b = append(b, ':')
	b = appendClock(b, t)
	return append(b, " +0000"...)
}
