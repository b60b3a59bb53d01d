package normalize

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// kind is the JSON type of a token.
type kind uint8

const (
	kindString kind = iota + 1
	kindNumber
	kindTrue
	kindFalse
	kindNull
	kindObject
	kindArray
)

func (k kind) String() string {
	switch k {
	case kindString:
		return "string"
	case kindNumber:
		return "number"
	case kindTrue, kindFalse:
		return "bool"
	case kindNull:
		return "null"
	case kindObject:
		return "object"
	case kindArray:
		return "array"
	}
	return "nothing"
}

// token is one JSON value (or object key) on the tape built by scanner.
//
// For strings, start:end is the text between the quotes, still escaped when esc is set;
// for numbers and literals it is the literal; for containers it runs from the opening
// bracket to just past the closing one. next is the index of the first token after the
// value and all its children, so a container can be skipped in O(1). An object's
// children alternate key, value.
type token struct {
	start, end uint32
	next       uint32
	kind       kind
	esc        bool
}

// maxDepth bounds nesting. It protects the recursive flattening from exhausting the
// goroutine stack on hostile input; real log records nest fewer than ten levels.
const maxDepth = 512

// SyntaxError reports malformed JSON.
type SyntaxError struct {
	// Offset is the byte offset of the problem within the document.
	Offset int
	// Msg says what was wrong, e.g. `expected ':' after object key, found '}'`.
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.Offset, e.Msg)
}

// Scanner states: what the next non-space byte may be.
const (
	stValue      uint8 = iota // a value
	stFirstValue              // after '[': a value or ']'
	stFirstKey                // after '{': a key or '}'
	stKey                     // after ',' in an object: a key
	stColon                   // after a key: ':'
	stNext                    // after a value inside a container: ',' or the closing bracket
)

// Scan results.
const (
	scanDone = iota // one complete top-level value was read
	scanMore        // the input ended between tokens; more input may complete the value
)

// scanner is a validating JSON tokenizer. It can stop at the end of its input between
// two tokens and resume with more (Lines feeds it line by line; a valid JSON token
// never spans a newline), and it builds a tape of tokens when tape is set (Decoder).
// Its slices are reused between documents.
type scanner struct {
	toks  []token
	open  []uint32 // tape mode: tape index of each open container
	kinds []kind   // kind of each open container
	state uint8
	tape  bool
}

func (s *scanner) reset() {
	s.toks = s.toks[:0]
	s.open = s.open[:0]
	s.kinds = s.kinds[:0]
	s.state = stValue
}

func (s *scanner) depth() int { return len(s.kinds) }

// spaceTab marks the four JSON whitespace bytes.
var spaceTab = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

func syntaxErr(off int, format string, args ...any) error {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// quoteByte renders b for error messages.
func quoteByte(b byte) string {
	if b >= 0x20 && b < 0x7f {
		return fmt.Sprintf("%q", rune(b))
	}
	return fmt.Sprintf("byte 0x%02x", b)
}

// scan tokenizes b[i:], continuing from the scanner's state. Offsets on the tape and in
// errors are relative to b. It returns the index just past the complete top-level value
// (scanDone), or len(b) when the input ends before the value does (scanMore).
func (s *scanner) scan(b []byte, i int) (int, int, error) {
	n := len(b)
	for {
		for i < n && spaceTab[b[i]] {
			i++
		}
		if i >= n {
			return i, scanMore, nil
		}
		c := b[i]
		switch s.state {
		case stValue, stFirstValue:
			if c == ']' && s.state == stFirstValue {
				i = s.close(i)
				break
			}
			switch {
			case c == '"':
				end, esc, err := scanString(b, i+1)
				if err != nil {
					return i, 0, err
				}
				s.scalar(kindString, i+1, end, esc)
				i = end + 1
			case c == '{' || c == '[':
				if len(s.kinds) >= maxDepth {
					return i, 0, syntaxErr(i, "nesting deeper than %d levels", maxDepth)
				}
				k := kindObject
				s.state = stFirstKey
				if c == '[' {
					k = kindArray
					s.state = stFirstValue
				}
				if s.tape {
					s.open = append(s.open, uint32(len(s.toks)))
					s.toks = append(s.toks, token{start: uint32(i), kind: k})
				}
				s.kinds = append(s.kinds, k)
				i++
				continue
			case c == 't':
				if !hasLiteral(b, i, "true") {
					return i, 0, syntaxErr(i, "invalid literal, want true")
				}
				s.scalar(kindTrue, i, i+4, false)
				i += 4
			case c == 'f':
				if !hasLiteral(b, i, "false") {
					return i, 0, syntaxErr(i, "invalid literal, want false")
				}
				s.scalar(kindFalse, i, i+5, false)
				i += 5
			case c == 'n':
				if !hasLiteral(b, i, "null") {
					return i, 0, syntaxErr(i, "invalid literal, want null")
				}
				s.scalar(kindNull, i, i+4, false)
				i += 4
			case c == '-' || (c >= '0' && c <= '9'):
				end, err := scanNumber(b, i)
				if err != nil {
					return i, 0, err
				}
				s.scalar(kindNumber, i, end, false)
				i = end
			default:
				return i, 0, syntaxErr(i, "expected a value, found %s", quoteByte(c))
			}
		case stFirstKey, stKey:
			if c == '}' && s.state == stFirstKey {
				i = s.close(i)
				break
			}
			if c != '"' {
				return i, 0, syntaxErr(i, "expected string key, found %s", quoteByte(c))
			}
			end, esc, err := scanString(b, i+1)
			if err != nil {
				return i, 0, err
			}
			if s.tape {
				s.toks = append(s.toks, token{start: uint32(i + 1), end: uint32(end), next: uint32(len(s.toks) + 1), kind: kindString, esc: esc})
			}
			s.state = stColon
			i = end + 1
			continue
		case stColon:
			if c != ':' {
				return i, 0, syntaxErr(i, "expected ':' after object key, found %s", quoteByte(c))
			}
			s.state = stValue
			i++
			continue
		case stNext:
			top := s.kinds[len(s.kinds)-1]
			switch {
			case c == ',':
				s.state = stValue
				if top == kindObject {
					s.state = stKey
				}
				i++
				continue
			case (c == '}' && top == kindObject) || (c == ']' && top == kindArray):
				i = s.close(i)
			default:
				want := "'}'"
				if top == kindArray {
					want = "']'"
				}
				return i, 0, syntaxErr(i, "expected ',' or %s, found %s", want, quoteByte(c))
			}
		}
		// A value ended at i.
		if len(s.kinds) == 0 {
			return i, scanDone, nil
		}
		s.state = stNext
	}
}

// scalar records a scalar value.
func (s *scanner) scalar(k kind, start, end int, esc bool) {
	if s.tape {
		s.toks = append(s.toks, token{start: uint32(start), end: uint32(end), next: uint32(len(s.toks) + 1), kind: k, esc: esc})
	}
}

// close ends the innermost container at the bracket b[i] and returns i+1.
func (s *scanner) close(i int) int {
	if s.tape {
		o := s.open[len(s.open)-1]
		s.open = s.open[:len(s.open)-1]
		s.toks[o].end = uint32(i + 1)
		s.toks[o].next = uint32(len(s.toks))
	}
	s.kinds = s.kinds[:len(s.kinds)-1]
	return i + 1
}

func hasLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// hasBackslashOrCtl reports whether any byte of x is '\\' or a control character (< 0x20).
// Like all such word tricks it may flag extra bytes above a real match, never miss one.
func hasBackslashOrCtl(x uint64) bool {
	bs := x ^ (lsb * '\\')
	return ((bs-lsb)&^bs|(x-lsb*0x20)&^x)&msb != 0
}

// scanString finds the closing quote of a string whose text starts at b[i]. It checks
// escapes and rejects raw control characters, as JSON requires. It returns the index
// of the closing quote and whether the text holds escapes.
//
// It looks for the next '"' with bytes.IndexByte (vectorised), then checks the bytes before
// it eight at a time for a backslash or a control character; only escapes are handled
// one by one.
func scanString(b []byte, i int) (int, bool, error) {
	esc := false
	n := len(b)
	end := -1 // candidate closing quote, or n when there is none
	for {
		if end < i {
			if q := bytes.IndexByte(b[i:], '"'); q >= 0 {
				end = i + q
			} else {
				end = n
			}
		}
		j := i
		for j+8 <= end && !hasBackslashOrCtl(binary.LittleEndian.Uint64(b[j:])) {
			j += 8
		}
		for j < end && b[j] != '\\' && b[j] >= 0x20 {
			j++
		}
		if j == end {
			if end == n {
				return 0, false, syntaxErr(n, "unterminated string")
			}
			return end, esc, nil
		}
		if c := b[j]; c < 0x20 {
			return 0, false, syntaxErr(j, "control character %s in string", quoteByte(c))
		}
		// A backslash at j. An escaped quote moves i past end, so the next round looks
		// for another closing quote.
		esc = true
		if j+1 >= n {
			return 0, false, syntaxErr(n, "unterminated string")
		}
		switch b[j+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i = j + 2
		case 'u':
			if j+6 > n {
				return 0, false, syntaxErr(j, "truncated \\u escape in string")
			}
			for k := j + 2; k < j+6; k++ {
				if hexVal(b[k]) < 0 {
					return 0, false, syntaxErr(k, "invalid hex digit %s in \\u escape", quoteByte(b[k]))
				}
			}
			i = j + 6
		default:
			return 0, false, syntaxErr(j, "invalid escape \\%s in string", string(rune(b[j+1])))
		}
	}
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanNumber checks the JSON number grammar from b[i] and returns the index past it.
func scanNumber(b []byte, i int) (int, error) {
	n := len(b)
	j := i
	if b[j] == '-' {
		j++
	}
	switch {
	case j < n && b[j] == '0':
		j++
	case j < n && b[j] >= '1' && b[j] <= '9':
		for j < n && isDigit(b[j]) {
			j++
		}
	default:
		return 0, syntaxErr(j, "invalid number: want a digit")
	}
	if j < n && b[j] == '.' {
		j++
		if j >= n || !isDigit(b[j]) {
			return 0, syntaxErr(j, "invalid number: want a digit after '.'")
		}
		for j < n && isDigit(b[j]) {
			j++
		}
	}
	if j < n && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < n && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if j >= n || !isDigit(b[j]) {
			return 0, syntaxErr(j, "invalid number: want a digit in the exponent")
		}
		for j < n && isDigit(b[j]) {
			j++
		}
	}
	return j, nil
}
