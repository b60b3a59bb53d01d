package sigma

import (
	"unicode"
	"unicode/utf8"
)

// lowerBytes appends the lower-case form of src to dst. ASCII is folded byte
// by byte; other text rune by rune with unicode.ToLower. Invalid UTF-8 bytes
// are copied unchanged, so the result has the same length for ASCII input.
func lowerBytes(dst, src []byte) []byte {
	i := 0
	for i < len(src) {
		c := src[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && n <= 1 {
			dst = append(dst, c)
			i++
			continue
		}
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
		i += n
	}
	return dst
}

// isLowerASCII reports whether b has no upper-case ASCII and no multi-byte runes.
func needsLower(b []byte) bool {
	for _, c := range b {
		if c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}
