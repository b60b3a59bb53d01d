package normalize

import (
	"bytes"
	"unicode/utf8"
)

// appendUnescaped appends the JSON string text src (the bytes between the quotes, already
// checked by scanString) to dst with its escapes decoded. \uXXXX pairs that form a UTF-16
// surrogate pair become one code point; a lone surrogate becomes U+FFFD, as in
// encoding/json. Bytes that are not escapes are copied as they are, including invalid
// UTF-8: values stay byte-exact.
func appendUnescaped(dst, src []byte) []byte {
	for len(src) > 0 {
		i := bytes.IndexByte(src, '\\')
		if i < 0 {
			return append(dst, src...)
		}
		dst = append(dst, src[:i]...)
		src = src[i:]
		if len(src) < 2 {
			return dst // cannot happen after scanString
		}
		switch c := src[1]; c {
		case '"', '\\', '/':
			dst = append(dst, c)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(src[2:])
			if !ok {
				return dst
			}
			src = src[6:]
			switch {
			case r >= 0xD800 && r < 0xDC00:
				// A high surrogate: it needs a low one right after it.
				if len(src) >= 6 && src[0] == '\\' && src[1] == 'u' {
					if r2, ok := hex4(src[2:]); ok && r2 >= 0xDC00 && r2 < 0xE000 {
						r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
						src = src[6:]
						dst = utf8.AppendRune(dst, r)
						continue
					}
				}
				r = utf8.RuneError
			case r >= 0xDC00 && r < 0xE000:
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			dst = append(dst, c) // cannot happen after scanString
		}
		src = src[2:]
	}
	return dst
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
