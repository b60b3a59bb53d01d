package evtx

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// BinXML tokens. The 0x40 bit on some of them means "more follows" (more
// attributes, or an attribute list on an element); it does not change how
// the token is read except for open start element.
const (
	tokEOF            = 0x00
	tokOpenStart      = 0x01
	tokCloseStart     = 0x02
	tokCloseEmpty     = 0x03
	tokEndElement     = 0x04
	tokValue          = 0x05
	tokAttribute      = 0x06
	tokCDATA          = 0x07
	tokCharRef        = 0x08
	tokEntityRef      = 0x09
	tokPITarget       = 0x0a
	tokPIData         = 0x0b
	tokTemplate       = 0x0c
	tokSubstitution   = 0x0d
	tokOptionalSubst  = 0x0e
	tokFragmentHeader = 0x0f
	tokMore           = 0x40
)

const (
	// maxFragmentDepth bounds BinXML nested in substitution values. Real
	// events nest one or two levels; the bound stops recursion on hostile
	// input whatever the sizes say.
	maxFragmentDepth = 8
	// maxElementDepth bounds element nesting within one fragment.
	maxElementDepth = 128
	// templateHeaderSize is the header of a template definition: next
	// definition offset, GUID, data size.
	templateHeaderSize = 24

	// A template may refer to the same value many times, and nested BinXML
	// may instantiate templates again, so the output of a record and the
	// work of a chunk are not bounded by their size. These limits stop
	// hostile input from using unbounded memory or time; real data stays far
	// below them (a 64 KiB record of binary renders to 128 KiB and a few
	// hundred fields; the busiest chunk of hayabusa-sample-evtx takes 126,522
	// units of work).
	maxRecordBytes  = 4 << 20
	maxRecordFields = 1 << 16
	maxChunkWork    = 1 << 22 // ops run plus bytes of values, literals and BinXML read
)

var (
	errTruncated = errors.New("binxml truncated")
	errTooLarge  = fmt.Errorf("record renders to more than %d bytes or %d fields", maxRecordBytes, maxRecordFields)
	errTooMuch   = errors.New("chunk takes too much work to render (values or templates reused too often)")
)

// A template is BinXML compiled into a flat list of ops that, run against
// the substitution values of one record, append rendered values to the
// Decoder's buffer and emit fields. Templates are compiled once per chunk,
// so the per-record work is reading values and rendering them.
type template struct {
	ops []op
	lit []byte // rendered literal text the ops refer to
	err error  // compile error, cached so a bad definition is compiled once
}

type opKind uint8

const (
	// opBegin starts a value run: the text from here to the next opEnd
	// becomes one field.
	opBegin opKind = iota
	// opLit appends lit[lo:hi].
	opLit
	// opSubst appends substitution value idx. An array value, or BinXML,
	// ends the current run first and emits fields of its own.
	opSubst
	// opEnd emits the run as a field named name, unless it is empty.
	opEnd
	// opField is opBegin, opSubst, opEnd fused: the common case of an
	// attribute or element whose whole value is one substitution.
	opField
	// opNameBegin and opNameEnd bracket a run that is not a field but the
	// name of the fields of the enclosing Data element (a Name attribute
	// given by a substitution rather than a literal).
	opNameBegin
	opNameEnd
)

type op struct {
	kind   opKind
	dyn    bool // the field takes its name from the last opNameEnd
	idx    uint16
	lo, hi uint32
	name   string
}

// celem is an element on the compile-time stack.
type celem struct {
	name   string // element name
	field  string // name of the field its text becomes
	isData bool   // a <Data> element, whose Name attribute names the field
	dyn    bool   // field name comes from a substitution (opNameEnd)
	run    bool   // an opBegin for its text is open
}

type attrMode uint8

const (
	attrNone  attrMode = iota
	attrField          // the attribute becomes field <Element>_<Attribute>
	attrName           // Name attribute of a Data element
	attrSkip           // xmlns declarations carry no event data
)

type compiler struct {
	d         *Decoder
	t         *template
	c         []byte
	end       int
	attr      attrMode
	attrField string
	attrStart int // index in t.ops of the current attribute's first op
}

// compile compiles BinXML starting at pos, up to and including the end of
// the first element (or an end-of-stream token before any element), and
// returns the position after it. Names are resolved against the chunk.
func (d *Decoder) compile(t *template, pos, end int) (int, error) {
	t.ops = t.ops[:0]
	t.lit = t.lit[:0]
	t.err = nil
	d.cs = d.cs[:0]
	cm := compiler{d: d, t: t, c: d.c, end: end}
	c := d.c
	for {
		if pos >= end {
			return pos, errTruncated
		}
		var err error
		tok := c[pos]
		switch tok {
		case tokEOF:
			if len(d.cs) > 0 {
				return pos, fmt.Errorf("binxml end of stream inside element %q at offset %#x", d.cs[len(d.cs)-1].name, pos)
			}
			return pos + 1, nil
		case tokFragmentHeader:
			pos += 4
		case tokOpenStart, tokOpenStart | tokMore:
			pos, err = cm.openElement(pos)
		case tokCloseStart:
			if len(d.cs) == 0 {
				return pos, fmt.Errorf("binxml close start tag without element at offset %#x", pos)
			}
			cm.closeAttr()
			pos++
		case tokCloseEmpty, tokEndElement:
			if len(d.cs) == 0 {
				return pos, fmt.Errorf("binxml end of element without element at offset %#x", pos)
			}
			cm.closeAttr()
			top := &d.cs[len(d.cs)-1]
			if top.run {
				cm.endRun(top.field, top.dyn)
			}
			d.cs = d.cs[:len(d.cs)-1]
			pos++
			if len(d.cs) == 0 {
				return pos, nil
			}
		case tokAttribute, tokAttribute | tokMore:
			pos, err = cm.attribute(pos)
		case tokValue, tokValue | tokMore:
			pos, err = cm.valueToken(pos)
		case tokCDATA, tokCDATA | tokMore:
			pos, err = cm.cdata(pos)
		case tokCharRef, tokCharRef | tokMore:
			if pos+3 > end {
				return pos, errTruncated
			}
			// AppendRune writes U+FFFD for a surrogate half.
			cm.lit(utf8.AppendRune(cm.litStart(), rune(le16(c, pos+1))))
			pos += 3
		case tokEntityRef, tokEntityRef | tokMore:
			var name string
			name, pos, err = cm.readName(pos + 1)
			if err == nil {
				cm.lit(appendEntity(cm.litStart(), name))
			}
		case tokPITarget:
			_, pos, err = cm.readName(pos + 1)
		case tokPIData:
			if pos+3 > end {
				return pos, errTruncated
			}
			n := le16(c, pos+1)
			pos += 3 + 2*n
		case tokSubstitution, tokOptionalSubst:
			if pos+4 > end {
				return pos, errTruncated
			}
			cm.subst(uint16(le16(c, pos+1)))
			pos += 4
		case tokTemplate:
			return pos, fmt.Errorf("binxml template instance inside an element at offset %#x is not supported", pos)
		default:
			return pos, fmt.Errorf("binxml unknown token %#02x at offset %#x", tok, pos)
		}
		if err != nil {
			return pos, err
		}
	}
}

// openElement reads an open start element token.
func (cm *compiler) openElement(pos int) (int, error) {
	c, d := cm.c, cm.d
	if len(d.cs) >= maxElementDepth {
		return pos, fmt.Errorf("binxml elements nested deeper than %d at offset %#x", maxElementDepth, pos)
	}
	cm.closeAttr()
	if n := len(d.cs); n > 0 && d.cs[n-1].run {
		top := &d.cs[n-1]
		cm.endRun(top.field, top.dyn)
		top.run = false
	}
	// Element headers in template definitions carry a 2-byte dependency
	// identifier before the data size; those in plain record BinXML and in
	// nested BinXML values do not, and writers are not consistent. Take the
	// layout whose data size fits in a chunk and whose name offset points
	// into it: read at the wrong layout, the data size picks up half of the
	// name offset (>= 512) as its high bytes and cannot fit.
	p := pos + 1
	plausible := func(at int) bool {
		return at+8 <= cm.end && le32(c, at) <= len(c) && le32(c, at+4)+8 <= len(c)
	}
	switch {
	case plausible(p + 2):
		p += 2 + 4
	case plausible(p):
		p += 4
	default:
		return pos, fmt.Errorf("binxml bad element header at offset %#x", pos)
	}
	name, p, err := cm.readName(p)
	if err != nil {
		return p, err
	}
	if c[pos]&tokMore != 0 {
		p += 4 // attribute list size
	}
	d.cs = append(d.cs, celem{name: name, field: name, isData: name == "Data"})
	return p, nil
}

// attribute reads an attribute token; its value tokens follow it.
func (cm *compiler) attribute(pos int) (int, error) {
	d := cm.d
	cm.closeAttr()
	name, p, err := cm.readName(pos + 1)
	if err != nil {
		return p, err
	}
	t := cm.t
	switch {
	case len(d.cs) == 0 || name == "xmlns" || strings.HasPrefix(name, "xmlns:"):
		cm.attr = attrSkip
	case name == "Name" && d.cs[len(d.cs)-1].isData:
		cm.attr = attrName
		cm.attrStart = len(t.ops)
		t.ops = append(t.ops, op{kind: opNameBegin})
	default:
		top := &d.cs[len(d.cs)-1]
		d.tmp = append(append(append(d.tmp[:0], top.name...), '_'), name...)
		cm.attr = attrField
		cm.attrField = d.intern(d.tmp)
		cm.attrStart = len(t.ops)
		t.ops = append(t.ops, op{kind: opBegin})
	}
	return p, nil
}

// closeAttr finishes the attribute being compiled, if any.
func (cm *compiler) closeAttr() {
	t, d := cm.t, cm.d
	switch cm.attr {
	case attrField:
		cm.endRun(cm.attrField, false)
	case attrName:
		top := &d.cs[len(d.cs)-1]
		parts := t.ops[cm.attrStart+1:]
		literal := true
		for _, o := range parts {
			literal = literal && o.kind == opLit
		}
		if literal {
			d.tmp = d.tmp[:0]
			for _, o := range parts {
				d.tmp = append(d.tmp, t.lit[o.lo:o.hi]...)
			}
			if name := removeSpaces(d.tmp); len(name) > 0 {
				top.field = d.intern(name)
			}
			t.ops = t.ops[:cm.attrStart]
		} else {
			t.ops = append(t.ops, op{kind: opNameEnd})
			top.dyn = true
		}
	}
	cm.attr = attrNone
}

// target prepares for a piece of value text and reports whether it is kept:
// it goes to the open attribute, or to the text run of the open element.
func (cm *compiler) target() (name string, dyn, ok bool) {
	switch cm.attr {
	case attrSkip:
		return "", false, false
	case attrField:
		return cm.attrField, false, true
	case attrName:
		return "", false, true
	}
	d := cm.d
	if len(d.cs) == 0 {
		return "", false, false // text outside any element
	}
	top := &d.cs[len(d.cs)-1]
	if !top.run {
		cm.t.ops = append(cm.t.ops, op{kind: opBegin})
		top.run = true
	}
	return top.field, top.dyn, true
}

// litStart returns t.lit for appending a literal; lit then takes the result.
func (cm *compiler) litStart() []byte { return cm.t.lit }

// lit adds the bytes appended to t.lit since litStart as literal text.
func (cm *compiler) lit(grown []byte) {
	t := cm.t
	lo := len(t.lit)
	if len(grown) == lo {
		return
	}
	t.lit = grown
	if _, _, ok := cm.target(); !ok {
		t.lit = t.lit[:lo] // dropped, but keep the capacity it may have grown
		return
	}
	hi := len(t.lit)
	if n := len(t.ops); n > 0 && t.ops[n-1].kind == opLit && int(t.ops[n-1].hi) == lo {
		t.ops[n-1].hi = uint32(hi)
		return
	}
	t.ops = append(t.ops, op{kind: opLit, lo: uint32(lo), hi: uint32(hi)})
}

func (cm *compiler) subst(idx uint16) {
	name, dyn, ok := cm.target()
	if !ok {
		return
	}
	cm.t.ops = append(cm.t.ops, op{kind: opSubst, idx: idx, name: name, dyn: dyn})
}

// endRun closes a value run as field name, fusing the common
// begin-substitution-end sequence into one op.
func (cm *compiler) endRun(name string, dyn bool) {
	t := cm.t
	n := len(t.ops)
	switch {
	case n >= 2 && t.ops[n-2].kind == opBegin && t.ops[n-1].kind == opSubst:
		t.ops[n-2] = op{kind: opField, idx: t.ops[n-1].idx, name: name, dyn: dyn}
		t.ops = t.ops[:n-1]
	case n >= 1 && t.ops[n-1].kind == opBegin:
		t.ops = t.ops[:n-1] // nothing in the run
	default:
		t.ops = append(t.ops, op{kind: opEnd, name: name, dyn: dyn})
	}
}

// valueToken compiles a literal value token.
func (cm *compiler) valueToken(pos int) (int, error) {
	c, end := cm.c, cm.end
	if pos+2 > end {
		return pos, errTruncated
	}
	typ := c[pos+1]
	p := pos + 2
	var size int
	switch typ {
	case typeString:
		if p+2 > end {
			return pos, errTruncated
		}
		size = 2 * le16(c, p)
		p += 2
	case typeSID:
		if p+8 > end {
			return pos, errTruncated
		}
		size = 8 + 4*int(c[p+1])
	default:
		size = fixedSize(typ)
		if size == 0 {
			return pos, fmt.Errorf("binxml value token of type %#02x at offset %#x is not supported", typ, pos)
		}
	}
	if p+size > end {
		return pos, errTruncated
	}
	cm.lit(appendValue(cm.litStart(), typ, c[p:p+size]))
	return p + size, nil
}

// cdata compiles a CDATA section: its text is kept as is.
func (cm *compiler) cdata(pos int) (int, error) {
	c, end := cm.c, cm.end
	if pos+3 > end {
		return pos, errTruncated
	}
	size := 2 * le16(c, pos+1)
	p := pos + 3
	if p+size > end {
		return pos, errTruncated
	}
	cm.lit(appendUTF16(cm.litStart(), c[p:p+size], false))
	return p + size, nil
}

// readName reads a name reference at p: a chunk offset, followed by the name
// itself when it is defined here (the offset points just past itself).
func (cm *compiler) readName(p int) (string, int, error) {
	if p+4 > cm.end {
		return "", p, errTruncated
	}
	off := le32(cm.c, p)
	p += 4
	if off == p {
		name, size, err := cm.d.nameAt(off, cm.end)
		return name, p + size, err
	}
	name, _, err := cm.d.nameAt(off, len(cm.c))
	return name, p, err
}

// nameAt reads the name structure at chunk offset off (next offset, hash,
// character count, UTF-16 characters, NUL) and returns the interned name and
// the structure's size.
func (d *Decoder) nameAt(off, limit int) (string, int, error) {
	if off < 0 || off+8 > limit {
		return "", 0, fmt.Errorf("binxml name at offset %#x out of bounds", off)
	}
	n := le16(d.c, off+6)
	size := 8 + 2*n + 2
	if off+size > limit {
		return "", 0, fmt.Errorf("binxml name at offset %#x: %d characters overrun the data", off, n)
	}
	d.tmp = appendUTF16(d.tmp[:0], d.c[off+8:off+8+2*n], false)
	return d.intern(d.tmp), size, nil
}

func removeSpaces(b []byte) []byte {
	w := 0
	for _, x := range b {
		if x != ' ' {
			b[w] = x
			w++
		}
	}
	return b[:w]
}

func appendEntity(dst []byte, name string) []byte {
	switch name {
	case "amp":
		return append(dst, '&')
	case "lt":
		return append(dst, '<')
	case "gt":
		return append(dst, '>')
	case "quot":
		return append(dst, '"')
	case "apos":
		return append(dst, '\'')
	}
	dst = append(dst, '&')
	dst = append(dst, name...)
	return append(dst, ';')
}

// decodeFragment decodes the BinXML in [pos, end): fragment headers,
// template instances and plain elements, until end of stream.
func (d *Decoder) decodeFragment(pos, end, depth int) error {
	if depth > maxFragmentDepth {
		return fmt.Errorf("binxml nested deeper than %d levels", maxFragmentDepth)
	}
	c := d.c
	for pos < end {
		var err error
		switch c[pos] {
		case tokEOF:
			return nil
		case tokFragmentHeader:
			pos += 4
		case tokTemplate:
			pos, err = d.execInstance(pos, end, depth)
		case tokOpenStart, tokOpenStart | tokMore:
			for len(d.raw) <= depth {
				d.raw = append(d.raw, &template{})
			}
			t := d.raw[depth]
			start := pos
			if pos, err = d.compile(t, pos, end); err == nil {
				d.work += pos - start
				err = d.exec(t, len(d.vals), 0, depth)
			}
		default:
			return fmt.Errorf("binxml unexpected token %#02x at offset %#x", c[pos], pos)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// execInstance reads the template instance at pos, compiling its template
// on first use in the chunk, and runs it on the instance's values.
func (d *Decoder) execInstance(pos, end, depth int) (int, error) {
	c := d.c
	if pos+10 > end {
		return pos, errTruncated
	}
	defOff := le32(c, pos+6)
	p := pos + 10
	if defOff == p {
		// The definition is inline, on its first use in the chunk.
		if p+templateHeaderSize > end {
			return pos, errTruncated
		}
		size := le32(c, p+20)
		if size > end-p-templateHeaderSize {
			return pos, fmt.Errorf("binxml template definition at offset %#x: size %d overruns the record", p, size)
		}
		p += templateHeaderSize + size
	}
	if d.work > maxChunkWork {
		return pos, errTooMuch
	}
	t, err := d.template(defOff)
	if err != nil {
		return pos, err
	}
	if p+4 > end {
		return pos, errTruncated
	}
	n := le32(c, p)
	p += 4
	if n > (end-p)/4 {
		return pos, fmt.Errorf("binxml template instance at offset %#x: %d values overrun the record", pos, n)
	}
	d.work += 1 + n
	base := len(d.vals)
	vp := p + 4*n
	for k := range n {
		size := le16(c, p+4*k)
		if vp+size > end {
			d.vals = d.vals[:base]
			return pos, fmt.Errorf("binxml template instance at offset %#x: value %d overruns the record", pos, k)
		}
		d.vals = append(d.vals, value{typ: c[p+4*k+2], off: int32(vp), end: int32(vp + size)})
		vp += size
	}
	err = d.exec(t, base, n, depth)
	d.vals = d.vals[:base]
	return vp, err
}

// template returns the compiled template defined at chunk offset defOff.
func (d *Decoder) template(defOff int) (*template, error) {
	if k, ok := d.tplIdx[uint32(defOff)]; ok {
		t := d.tpls[k]
		return t, t.err
	}
	if d.ntpls == len(d.tpls) {
		d.tpls = append(d.tpls, &template{})
	}
	t := d.tpls[d.ntpls]
	d.tplIdx[uint32(defOff)] = int32(d.ntpls)
	d.ntpls++
	c := d.c
	switch {
	case defOff < chunkHeaderSize || defOff+templateHeaderSize > len(c):
		t.err = fmt.Errorf("binxml template definition offset %#x out of bounds", defOff)
	case le32(c, defOff+20) > len(c)-defOff-templateHeaderSize:
		t.err = fmt.Errorf("binxml template definition at offset %#x: size %d overruns the chunk", defOff, le32(c, defOff+20))
	default:
		start := defOff + templateHeaderSize
		end, err := d.compile(t, start, start+le32(c, defOff+20))
		if err != nil {
			t.err = fmt.Errorf("binxml template definition at offset %#x: %w", defOff, err)
		}
		d.work += end - start
	}
	return t, t.err
}

// exec runs t on the n values at d.vals[base:].
func (d *Decoder) exec(t *template, base, n, depth int) error {
	mark := len(d.buf)
	dyn := ""
	for i := range t.ops {
		o := &t.ops[i]
		d.work++
		if len(d.buf) > maxRecordBytes || len(d.fields) > maxRecordFields {
			return errTooLarge
		}
		if d.work > maxChunkWork {
			return errTooMuch
		}
		switch o.kind {
		case opBegin, opNameBegin:
			mark = len(d.buf)
		case opLit:
			d.buf = append(d.buf, t.lit[o.lo:o.hi]...)
			d.work += int(o.hi - o.lo)
		case opSubst:
			if err := d.subst(o, base, n, &mark, dyn, depth); err != nil {
				return err
			}
		case opEnd:
			d.emit(o, dyn, mark)
		case opField:
			mark = len(d.buf)
			if err := d.subst(o, base, n, &mark, dyn, depth); err != nil {
				return err
			}
			d.emit(o, dyn, mark)
		case opNameEnd:
			if name := removeSpaces(d.buf[mark:]); len(name) > 0 {
				dyn = d.intern(name)
			} else {
				dyn = ""
			}
			d.buf = d.buf[:mark]
		}
	}
	return nil
}

// emit makes the text appended since mark a field, unless it is empty.
func (d *Decoder) emit(o *op, dyn string, mark int) {
	if len(d.buf) <= mark {
		return
	}
	name := o.name
	if o.dyn && dyn != "" {
		name = dyn
	}
	d.fields = append(d.fields, Field{Name: name, Value: d.buf[mark:len(d.buf):len(d.buf)]})
}

// subst appends substitution value o.idx. An array becomes one field per
// item, and BinXML is decoded in place, each after the text run so far was
// emitted; outside a field (a Data element's Name) they are rendered inline.
func (d *Decoder) subst(o *op, base, n int, mark *int, dyn string, depth int) error {
	if int(o.idx) >= n {
		return nil // absent value, as for an optional substitution
	}
	v := d.vals[base+int(o.idx)]
	b := d.c[v.off:v.end]
	d.work += len(b)
	inField := o.name != "" || o.dyn
	switch {
	case v.typ == typeBinXML && inField:
		d.emit(o, dyn, *mark)
		if err := d.decodeFragment(int(v.off), int(v.end), depth+1); err != nil {
			return err
		}
		*mark = len(d.buf)
	case v.typ&typeArray != 0 && inField:
		d.emit(o, dyn, *mark)
		for it := (arrayIter{typ: v.typ, b: b}); ; {
			item, ok := it.next()
			if !ok {
				break
			}
			start := len(d.buf)
			d.buf = appendValue(d.buf, v.typ&^typeArray, item)
			d.emit(o, dyn, start)
			if len(d.fields) > maxRecordFields {
				return errTooLarge
			}
		}
		*mark = len(d.buf)
	case v.typ&typeArray != 0:
		d.buf = appendArray(d.buf, v.typ, b)
	default:
		d.buf = appendValue(d.buf, v.typ, b)
	}
	return nil
}
