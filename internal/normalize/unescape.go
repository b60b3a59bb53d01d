package normalize

import (
	"bytes"
	"encoding/binary"
	"slices"
	"unicode/utf8"
)

// appendUnescaped appends the JSON string text src (the bytes between the quotes, already
// checked by scanString) to dst with its escapes decoded. \uXXXX pairs that form a UTF-16
// surrogate pair become one code point; a lone surrogate becomes U+FFFD, as in
// encoding/json. Bytes that are not escapes are copied as they are, including invalid
// UTF-8: values stay byte-exact.
func appendUnescaped(dst, src []byte) []byte {
	// The decoded text is never longer than the escaped one (\uXXXX gives at most 3 bytes,
	// a 12-byte surrogate pair 4), so write in place into grown capacity. Escapes are
	// dense in rendered Windows messages (\r\n\t every few bytes), where a byte loop beats
	// searching for each backslash.
	i := bytes.IndexByte(src, '\\')
	if i < 0 {
		return append(dst, src...)
	}
	dst = slices.Grow(dst, len(src))
	n := len(dst)
	dst = append(dst, src[:i]...)
	out := dst[n : n+len(src)]
	w := i
	for i < len(src) {
		// Copy eight bytes at a time while there is no backslash among them.
		for i+8 <= len(src) {
			x := binary.LittleEndian.Uint64(src[i:])
			if bs := x ^ (lsb * '\\'); (bs-lsb)&^bs&msb != 0 {
				break
			}
			binary.LittleEndian.PutUint64(out[w:], x)
			i += 8
			w += 8
		}
		if i >= len(src) {
			break
		}
		c := src[i]
		if c != '\\' {
			out[w] = c
			w++
			i++
			continue
		}
		if i+1 >= len(src) {
			break // cannot happen after scanString
		}
		i += 2
		switch c = src[i-1]; c {
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		case 'u':
			r, ok := hex4(src[i:])
			if !ok {
				return dst[:n+w] // cannot happen after scanString
			}
			i += 4
			switch {
			case r >= 0xD800 && r < 0xDC00:
				// A high surrogate: it needs a low one right after it.
				r1 := utf8.RuneError
				if i+6 <= len(src) && src[i] == '\\' && src[i+1] == 'u' {
					if r2, ok := hex4(src[i+2:]); ok && r2 >= 0xDC00 && r2 < 0xE000 {
						r1 = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
						i += 6
					}
				}
				r = r1
			case r >= 0xDC00 && r < 0xE000:
				r = utf8.RuneError
			}
			w += utf8.EncodeRune(out[w:], r)
			continue
		}
		// '"', '\\', '/' and the letters above.
		out[w] = c
		w++
	}
	return dst[:n+w]
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		v := hexVal(c)
		if v < 0 {
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}
