package normalize

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/mamori-soc/mamori/internal/event"
)

const formatZeekTSV = "Zeek TSV log"

// ZeekTSV reads Zeek logs in their default tab-separated form (the ASCII writer) and
// calls fn with one event per record, with its 1-based line number. It honours the
// header lines: #separator (written escaped, "\x09"), #set_separator, #empty_field,
// #unset_field, #path, #fields and #types; a new header (concatenated logs) replaces the
// previous one. Each record has Channel zeek/<#path> (zeek/unknown without one) and one
// field per column, named as #fields names it (id.orig_h…), with these rules:
//
//   - an unset value ("-") adds no field;
//   - a set or vector column gives one field per element (split on the set separator;
//     an empty container, "(empty)", gives none);
//   - the empty-field marker in a string column is the empty string;
//   - bool columns become true/false, as in Zeek's JSON;
//   - \xHH escapes (Zeek's for separators and unprintable bytes) are decoded;
//   - ts gives ev.Time.
//
// ev is only valid during the call: ZeekTSV reuses it. An error from fn stops ZeekTSV,
// which returns it; a read error is returned too. A malformed line (a wrong number of
// columns, a record before #fields, a line over MaxDocSize) is reported to onErr with
// its line number, and the rest continues.
func ZeekTSV(r io.Reader, fn func(line int, ev *event.Event) error, onErr func(line int, err error)) error {
	z := zeekReader{br: bufio.NewReaderSize(r, 64<<10), sep: '\t', setSep: ',', empty: []byte("(empty)"), unset: []byte("-")}
	for {
		line, err := z.readLine()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read line %d: %w", z.lineNo+1, err)
		}
		if line == nil {
			z.report(onErr, fmt.Errorf("line %d: %w", z.lineNo, ErrTooLarge))
			continue
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			continue
		}
		if line[0] == '#' {
			if err := z.header(line); err != nil {
				z.report(onErr, err)
			}
			continue
		}
		if err := z.record(line); err != nil {
			z.report(onErr, err)
			continue
		}
		if err := fn(z.lineNo, &z.ev); err != nil {
			return err
		}
	}
}

type zeekReader struct {
	br     *bufio.Reader
	long   []byte
	lineNo int

	sep, setSep  byte
	empty, unset []byte
	channel      []byte   // "zeek/<path>"
	fields       []string // #fields
	sets         []bool   // #types: set[…] or vector[…]
	bools        []bool   // #types: bool
	val          []byte   // unescaped value
	ev           event.Event
}

func (z *zeekReader) report(onErr func(int, error), err error) {
	if onErr != nil {
		onErr(z.lineNo, err)
	}
}

// readLine returns the next line without its '\n', nil for a line over MaxDocSize (which
// is skipped), or io.EOF.
func (z *zeekReader) readLine() ([]byte, error) {
	line, err := z.br.ReadSlice('\n')
	if err == nil || (err == io.EOF && len(line) > 0) {
		z.lineNo++
		return bytes.TrimSuffix(line, []byte("\n")), nil
	}
	if err != bufio.ErrBufferFull {
		return nil, err
	}
	z.long = append(z.long[:0], line...)
	tooLarge := false
	for err == bufio.ErrBufferFull {
		line, err = z.br.ReadSlice('\n')
		if !tooLarge && len(z.long)+len(line) > MaxDocSize {
			tooLarge, z.long = true, z.long[:0]
		}
		if !tooLarge {
			z.long = append(z.long, line...)
		}
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	z.lineNo++
	if tooLarge {
		if cap(z.long) > 1<<20 {
			z.long = nil
		}
		return nil, nil
	}
	return bytes.TrimSuffix(z.long, []byte("\n")), nil
}

// header reads one #directive line.
func (z *zeekReader) header(line []byte) error {
	if hasPrefix(line, "#separator ") {
		v := appendZeekUnescaped(nil, line[len("#separator "):])
		if len(v) != 1 {
			return &ParseError{Format: formatZeekTSV, Offset: len("#separator "), Msg: fmt.Sprintf("line %d: separator %q is not one byte", z.lineNo, line[len("#separator "):])}
		}
		z.sep = v[0]
		return nil
	}
	name, rest, _ := bytes.Cut(line, []byte{z.sep})
	switch string(name) {
	case "#set_separator":
		v := appendZeekUnescaped(nil, rest)
		if len(v) != 1 {
			return &ParseError{Format: formatZeekTSV, Offset: len(name) + 1, Msg: fmt.Sprintf("line %d: set separator %q is not one byte", z.lineNo, rest)}
		}
		z.setSep = v[0]
	case "#empty_field":
		z.empty = appendZeekUnescaped(z.empty[:0], rest)
	case "#unset_field":
		z.unset = appendZeekUnescaped(z.unset[:0], rest)
	case "#path":
		z.channel = append(append(z.channel[:0], "zeek/"...), rest...)
	case "#fields":
		z.fields = z.fields[:0]
		for _, f := range bytes.Split(rest, []byte{z.sep}) {
			z.fields = append(z.fields, string(f))
		}
		z.sets, z.bools = z.sets[:0], z.bools[:0]
	case "#types":
		z.sets, z.bools = z.sets[:0], z.bools[:0]
		for _, t := range bytes.Split(rest, []byte{z.sep}) {
			z.sets = append(z.sets, hasPrefix(t, "set[") || hasPrefix(t, "vector["))
			z.bools = append(z.bools, string(t) == "bool")
		}
	}
	return nil
}

// errNoFields is reported for a record before any #fields line.
var errNoFields = errors.New("record before the #fields header")

// record fills z.ev from one data line.
func (z *zeekReader) record(line []byte) error {
	if len(z.fields) == 0 {
		return fmt.Errorf("line %d: %w", z.lineNo, errNoFields)
	}
	if n := bytes.Count(line, []byte{z.sep}) + 1; n != len(z.fields) {
		return &ParseError{Format: formatZeekTSV, Offset: 0, Msg: fmt.Sprintf("line %d has %d values, #fields names %d", z.lineNo, n, len(z.fields))}
	}
	typed := len(z.sets) == len(z.fields)
	ev := &z.ev
	ev.Reset()
	if len(z.channel) > 0 {
		ev.Append("Channel", z.channel)
	} else {
		ev.AddString("Channel", "zeek/unknown")
	}
	rest := line
	for i, name := range z.fields {
		v := rest
		if k := bytes.IndexByte(rest, z.sep); k >= 0 {
			v, rest = rest[:k], rest[k+1:]
		}
		if len(name) == 0 || bytes.Equal(v, z.unset) {
			continue // a field needs a name, as in Decoder.JSON
		}
		switch {
		case typed && z.sets[i]:
			if bytes.Equal(v, z.empty) {
				continue
			}
			for len(v) > 0 {
				e := v
				if k := bytes.IndexByte(v, z.setSep); k >= 0 {
					e, v = v[:k], v[k+1:]
				} else {
					v = nil
				}
				z.val = appendZeekUnescaped(z.val[:0], e)
				ev.Append(name, z.val)
			}
			continue
		case bytes.Equal(v, z.empty):
			v = nil
		case typed && z.bools[i] && len(v) == 1 && (v[0] == 'T' || v[0] == 'F'):
			if v[0] == 'T' {
				ev.AddString(name, "true")
			} else {
				ev.AddString(name, "false")
			}
			continue
		}
		z.val = appendZeekUnescaped(z.val[:0], v)
		ev.Append(name, z.val)
		if name == "ts" {
			if t, ok := parseTime(z.val); ok {
				ev.Time = t
			}
		}
	}
	return nil
}

// appendZeekUnescaped appends v with its \xHH escapes decoded; other bytes are kept.
func appendZeekUnescaped(dst, v []byte) []byte {
	if bytes.IndexByte(v, '\\') < 0 {
		return append(dst, v...)
	}
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+3 < len(v) && v[i+1] == 'x' {
			h, l := hexVal(v[i+2]), hexVal(v[i+3])
			if h >= 0 && l >= 0 {
				dst = append(dst, byte(h<<4|l))
				i += 3
				continue
			}
		}
		dst = append(dst, v[i])
	}
	return dst
}
