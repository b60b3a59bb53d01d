package normalize

import (
	"bytes"
	"unicode/utf8"

	"github.com/mamori-soc/mamori/internal/event"
)

// expandEventData expands the EventData column of Microsoft Sentinel's tables (as in the
// OTRF Log4Shell and Golden SAML exports): a string holding JSON (WindowsEvent) or XML
// <Data Name="…"> elements (SecurityEvent, Event). Each field becomes a field of the
// event, with spaces removed from its name. A field the record already has with the same
// value is not repeated: SecurityEvent also promotes most of EventData to columns.
// It reports whether the string was expanded; if not, the caller keeps it as it is.
func (d *Decoder) expandEventData(ev *event.Event, v uint32) bool {
	s := bytes.TrimLeft(d.str(v), " \t\r\n")
	if len(s) == 0 || (s[0] != '{' && s[0] != '<') {
		return false
	}
	// Copy: d.str may return d.val, which emitting reuses.
	d.nested = append(d.nested[:0], s...)
	if d.nested[0] == '<' {
		return d.expandXMLData(ev, d.nested)
	}
	d.inner.reset()
	end, res, err := d.inner.scan(d.nested, 0)
	if err != nil || res != scanDone || len(bytes.TrimLeft(d.nested[end:], " \t\r\n")) != 0 || d.inner.toks[0].kind != kindObject {
		return false
	}
	doc, toks := d.doc, d.toks
	d.doc, d.toks = d.nested, d.inner.toks
	for k := uint32(1); k < d.toks[0].next; k = d.toks[k+1].next {
		d.name = d.appendKey(d.name[:0], k, true)
		d.flatten(ev, k+1)
	}
	d.doc, d.toks = doc, toks
	return true
}

// expandXMLData adds the <Data Name="N">V</Data> elements of x (unnamed ones as Data).
func (d *Decoder) expandXMLData(ev *event.Event, x []byte) bool {
	found := false
	for {
		i := bytes.Index(x, []byte("<Data"))
		if i < 0 || i+5 >= len(x) {
			return found
		}
		x = x[i+5:]
		if c := x[0]; c != '>' && c != '/' && !spaceTab[c] {
			continue // <DataItem …>
		}
		j := bytes.IndexByte(x, '>')
		if j < 0 {
			return found
		}
		tag, selfClose := x[:j], j > 0 && x[j-1] == '/'
		if selfClose {
			tag = tag[:j-1]
		}
		x = x[j+1:]
		var val []byte
		if !selfClose {
			e := bytes.Index(x, []byte("</Data>"))
			if e < 0 {
				return found
			}
			val, x = x[:e], x[e+7:]
		}
		d.name = d.name[:0]
		if name, ok := xmlAttr(tag, "Name"); ok {
			d.name = appendXMLText(d.name, name, true)
		} else {
			d.name = append(d.name, "Data"...)
		}
		if len(d.name) == 0 {
			continue
		}
		d.val = appendXMLText(d.val[:0], val, false)
		found = true
		v := trimRightSpace(d.val) // Windows values, as in addScalar
		if len(v) == 0 || hasField(ev, d.name, v) {
			continue
		}
		d.add(ev, d.name, v)
	}
}

// hasField reports whether ev has the field name=val. Past maxDedupFields fields it says no
// without looking: real records have far fewer, and the search must not turn a hostile
// document with a million <Data> elements into 10¹² comparisons.
func hasField(ev *event.Event, name, val []byte) bool {
	if ev.Len() > maxDedupFields {
		return false
	}
	for i := 0; i < ev.Len(); i++ {
		if bytes.Equal(ev.Name(i), name) && bytes.Equal(ev.Value(i), val) {
			return true
		}
	}
	return false
}

const maxDedupFields = 512

// xmlAttr returns the raw value of attribute name in the start tag text tag.
func xmlAttr(tag []byte, name string) ([]byte, bool) {
	for i := 0; i+len(name)+2 < len(tag); i++ {
		if string(tag[i:i+len(name)]) != name || (i > 0 && !spaceTab[tag[i-1]]) {
			continue
		}
		j := i + len(name)
		for j < len(tag) && spaceTab[tag[j]] {
			j++
		}
		if j >= len(tag) || tag[j] != '=' {
			continue
		}
		j++
		for j < len(tag) && spaceTab[tag[j]] {
			j++
		}
		if j >= len(tag) || (tag[j] != '"' && tag[j] != '\'') {
			continue
		}
		q := tag[j]
		e := bytes.IndexByte(tag[j+1:], q)
		if e < 0 {
			return nil, false
		}
		return tag[j+1 : j+1+e], true
	}
	return nil, false
}

// appendXMLText appends XML character data with its entity and character references
// decoded (unknown ones are kept as written), dropping spaces when noSpace is set.
func appendXMLText(dst, src []byte, noSpace bool) []byte {
	for len(src) > 0 {
		c := src[0]
		if c == ' ' && noSpace {
			src = src[1:]
			continue
		}
		if c != '&' {
			dst = append(dst, c)
			src = src[1:]
			continue
		}
		semi := bytes.IndexByte(src, ';')
		if semi < 0 || semi > 10 {
			dst = append(dst, c)
			src = src[1:]
			continue
		}
		ent := src[1:semi]
		switch string(ent) {
		case "lt":
			dst = append(dst, '<')
		case "gt":
			dst = append(dst, '>')
		case "amp":
			dst = append(dst, '&')
		case "quot":
			dst = append(dst, '"')
		case "apos":
			dst = append(dst, '\'')
		default:
			r, ok := charRef(ent)
			if !ok {
				dst = append(dst, src[:semi+1]...)
			} else {
				dst = utf8.AppendRune(dst, r)
			}
		}
		src = src[semi+1:]
	}
	return dst
}

// charRef decodes the body of &#NNN; or &#xHHH;.
func charRef(ent []byte) (rune, bool) {
	if len(ent) < 2 || ent[0] != '#' {
		return 0, false
	}
	var r rune
	if ent[1] == 'x' || ent[1] == 'X' {
		if len(ent) < 3 {
			return 0, false
		}
		for _, c := range ent[2:] {
			v := hexVal(c)
			if v < 0 {
				return 0, false
			}
			r = r<<4 | rune(v)
		}
	} else {
		for _, c := range ent[1:] {
			if !isDigit(c) {
				return 0, false
			}
			r = r*10 + rune(c-'0')
		}
	}
	if r > utf8.MaxRune {
		return 0, false
	}
	return r, true
}
