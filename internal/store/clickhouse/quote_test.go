package clickhouse

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
	f("", `''`)
	f("org-a", `'org-a'`)
	f(`x' OR '1'='1`, `'x\' OR \'1\'=\'1'`)
	f(`\'`, `'\\\''`)
	f("a\x00b\n", `'a\x00b\x0A'`)
	f("é", `'\xC3\xA9'`)
	f("\xff", `'\xFF'`)
	f("`;--", "'`;--'")
	if got := quoteList([]string{"a", "b'"}); got != `'a', 'b\''` {
		t.Errorf("quoteList = %s", got)
	}
}

// unquote decodes a literal written by quote with ClickHouse's rules for
// the escapes quote uses; ok is false if anything else is found (an
// unescaped quote inside, a dangling backslash).
func unquote(lit string) (string, bool) {
	if len(lit) < 2 || lit[0] != '\'' || lit[len(lit)-1] != '\'' {
		return "", false
	}
	in := lit[1 : len(lit)-1]
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch {
		case c == '\'':
			return "", false
		case c == '\\':
			if i+1 >= len(in) {
				return "", false
			}
			switch in[i+1] {
			case '\\', '\'':
				b.WriteByte(in[i+1])
				i++
			case 'x':
				if i+3 >= len(in) {
					return "", false
				}
				v, err := hex.DecodeString(in[i+2 : i+4])
				if err != nil {
					return "", false
				}
				b.Write(v)
				i += 3
			default:
				return "", false
			}
		case c < 0x20 || c >= 0x7f:
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// serverDecodes asks the server what a literal holds, as hex.
func serverDecodes(t *testing.T, s *Store, in string) {
	t.Helper()
	body, err := s.query(context.Background(), "SELECT hex("+quote(in)+") FORMAT TabSeparated")
	if err != nil {
		t.Fatalf("quote(%q) rejected by the server: %v", in, err)
	}
	if got, want := strings.TrimSpace(string(body)), strings.ToUpper(hex.EncodeToString([]byte(in))); got != want {
		t.Fatalf("server read quote(%q) = %s as %s, want %s", in, quote(in), got, want)
	}
}

// TestQuoteServer checks every byte value and the hostile strings against
// the server itself: what it reads is exactly what was quoted.
func TestQuoteServer(t *testing.T) {
	s := openTest(t)
	var all []byte
	for c := range 256 {
		all = append(all, byte(c))
	}
	serverDecodes(t, s, string(all))
	for _, x := range []string{"", `'`, `\`, `\\'`, "'; DROP DATABASE system; --", "x' OR 1=1 --", "\x00", "日本", "\xc3", "\\x27", "'''", `\'\'`} {
		serverDecodes(t, s, x)
	}
}

func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "org-a", `x' OR '1'='1`, `\'`, "a\x00b", "日本", "\xff\xfe", `\x27`, "'; DROP TABLE events; --"} {
		f.Add(s)
	}
	s := openTest(f) // each fuzz worker process runs TestMain and its own server
	f.Fuzz(func(t *testing.T, in string) {
		lit := quote(in)
		got, ok := unquote(lit)
		if !ok || got != in {
			t.Fatalf("quote(%q) = %s: does not decode back (%q, %v)", in, lit, got, ok)
		}
		serverDecodes(t, s, in)
	})
}
