package clickhouse

import (
	"regexp"
	"strconv"
	"strings"
)

// ClickHouse 18.16 has no server-side query parameters, so every value
// that reaches SQL text goes through quote (strings) or strconv (numbers).
// Identifiers (the database name) are validated by validIdent and never
// come from requests.

const hexDigits = "0123456789ABCDEF"

// appendQuoted appends s as a ClickHouse string literal. Printable ASCII
// other than the quote and the backslash is copied; every other byte
// (controls, NUL, bytes of multi-byte UTF-8, invalid UTF-8) is written as
// \xHH, which ClickHouse decodes back to that exact byte. The literal can
// therefore never end early or carry anything but data, whatever s holds.
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '\\':
			dst = append(dst, '\\', c)
		case c >= 0x20 && c < 0x7f:
			dst = append(dst, c)
		default:
			dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		}
	}
	return append(dst, '\'')
}

// quote returns s as a ClickHouse string literal (see appendQuoted).
func quote(s string) string { return string(appendQuoted(make([]byte, 0, len(s)+2), s)) }

// quoteList renders vals as a comma-separated list of literals.
func quoteList[T ~string](vals []T) string {
	var b []byte
	for i, v := range vals {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendQuoted(b, string(v))
	}
	return string(b)
}

// num renders an integer for SQL text.
func num(n int64) string { return strconv.FormatInt(n, 10) }

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// validIdent reports whether s may be used as a database name: plain
// letters, digits and underscores, so that it needs no quoting rules of
// its own (it is still written between backquotes).
func validIdent(s string) bool { return identRE.MatchString(s) && !strings.EqualFold(s, "system") }
