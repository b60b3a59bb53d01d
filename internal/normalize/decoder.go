package normalize

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mamori-soc/mamori/internal/event"
)

// Shape is the layout of a JSON record, as recognised by Decoder.JSON.
type Shape uint8

const (
	// ShapeGeneric is any other JSON object (Zeek, Suricata EVE, custom NDJSON): nested
	// objects flatten to dotted names.
	ShapeGeneric Shape = iota
	// ShapeEvtxDump is evtx_dump's {"Event":{"System":{…},"EventData":{…}}}.
	ShapeEvtxDump
	// ShapeWinlogbeat is a Winlogbeat/ECS document (it has a "winlog" object).
	ShapeWinlogbeat
	// ShapeFlatWindows is a flat Windows record as NXLog, Logstash or a SIEM export
	// writes it: System and EventData fields side by side at the top level.
	ShapeFlatWindows
	// ShapeSuricata is a Suricata EVE record (event_type and timestamp, with src_ip,
	// flow_id…): flattened like ShapeGeneric, with Channel suricata/<event_type>.
	ShapeSuricata
	// ShapeZeek is a Zeek JSON log record (_path, or ts, uid and id.orig_h): flattened
	// like ShapeGeneric, with Channel zeek/<path>.
	ShapeZeek
	// ShapeFilebeat is a Filebeat document whose message is a web server access-log line
	// or a syslog line (by event.dataset or log.file.path): the line is decoded with
	// AccessLog or Syslog, the rest flattened.
	ShapeFilebeat
)

func (s Shape) String() string {
	switch s {
	case ShapeEvtxDump:
		return "evtx_dump"
	case ShapeWinlogbeat:
		return "winlogbeat"
	case ShapeFlatWindows:
		return "flat-windows"
	case ShapeSuricata:
		return "suricata"
	case ShapeZeek:
		return "zeek"
	case ShapeFilebeat:
		return "filebeat"
	}
	return "generic"
}

// Decoder turns one JSON document into an event.Event. Reuse it (it keeps a parser and
// buffers); not safe for concurrent use.
//
// After warm-up, decoding does not allocate: the tape, the name and value scratch buffers
// and the event's arena keep their capacity.
type Decoder struct {
	// Now returns the current time. Syslog reads the year of an RFC 3164 timestamp
	// ("Nov 23 14:00:00") from it. nil means time.Now; tests set a fixed clock.
	Now func() time.Time
	// SyslogLocation is the zone of syslog timestamps written without one (RFC 3164's
	// "Nov 23 14:00:00"); nil means UTC. Timestamps with a zone, and JSON ones, do not
	// use it.
	SyslogLocation *time.Location

	sc    scanner // tokenizer of the document
	inner scanner // tokenizer of JSON nested in a string (an EventData column)

	doc  []byte  // document being emitted
	toks []token // its tape (sc.toks or inner.toks)

	name []byte // current field name under construction
	val  []byte // unescaped string value
	key  []byte // unescaped key, for comparisons

	nested []byte // JSON or XML held in a string (Sentinel's EventData), unescaped

	out      int       // bytes of names and values added to the event so far
	outLimit int       // bound on out for this document (see maxOutput)
	timeRank int       // rank in timeKeys of the key ev.Time came from (len(timeKeys): none yet)
	shape    Shape     // shape of the last document
	win      bool      // emitting Windows event fields (see addScalar)
	flags    uint8     // per-document facts found by detect (flag*)
	net      uint16    // facts about network-sensor and Filebeat documents (net*)
	pathTok  uint32    // token of a Zeek _path or @stream (0: none)
	typeTok  uint32    // token of a Suricata event_type
	msgTok   uint32    // token of a Filebeat message
	ref      time.Time // when non-zero, "now" for Syslog (a Filebeat @timestamp)

	// Syslog and access logs.
	facility uint8  // facility of the syslog message being read; 0xff: no PRI
	prog     []byte // its program, lower-cased base name
	num      []byte // scratch for numbers
	web      []byte // unescaped access-log values
}

// Per-document facts.
const (
	// flagNXLogExec: the flat record carries NXLog's execution block (a top-level
	// ThreadID), so ProcessID/ThreadID/UserID there are System fields.
	flagNXLogExec uint8 = 1 << iota
	// flagProvider: Provider_Name has been emitted.
	flagProvider
	// flagComputer: Computer has been emitted.
	flagComputer
	// flagOtherProvider: the flat record names its provider in EventSourceName or
	// Provider (Sentinel), so a SourceName there is an EventData field.
	flagOtherProvider
	// flagEventLog: the flat record is Sentinel's Event table (EventLog is the channel,
	// Source the provider).
	flagEventLog
)

// maxOutput bounds the names and values one document may add to an event: 16 times its
// size plus 1 MiB, at most 1 GiB. Flattening repeats a field's name for every element of an
// array, so without a bound a 16 MiB document (a long key over millions of array elements)
// could ask for terabytes.
func maxOutput(docLen int) int {
	return min(16*docLen+1<<20, 1<<30)
}

// ErrOutputTooLarge is returned by JSON for a document whose flattened fields would exceed
// 16 times its size (plus 1 MiB).
var ErrOutputTooLarge = errors.New("flattened fields exceed 16 times the document's size")

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder {
	d := &Decoder{}
	d.sc.tape = true
	d.inner.tape = true
	return d
}

// Shape reports the shape of the last document given to JSON.
func (d *Decoder) Shape() Shape { return d.shape }

// ErrNotObject is returned by JSON for a document whose top-level value is not an object.
var ErrNotObject = errors.New("top-level value is not a JSON object")

// JSON resets ev and fills it from one JSON object. It recognises the shape and maps it
// to Mamori's field names (see the package documentation). Values are the JSON text of
// scalars: strings unescaped, numbers exactly as written, true/false; null adds no field.
// On error ev is left empty; syntax errors are *SyntaxError.
func (d *Decoder) JSON(doc []byte, ev *event.Event) error {
	ev.Reset()
	d.shape = ShapeGeneric
	if uint64(len(doc)) >= math.MaxUint32 {
		return fmt.Errorf("document of %d bytes is too large", len(doc))
	}
	d.sc.reset()
	end, res, err := d.sc.scan(doc, 0)
	if err != nil {
		return err
	}
	if res != scanDone {
		if len(d.sc.toks) == 0 {
			return syntaxErr(end, "empty document")
		}
		return syntaxErr(end, "unexpected end of document")
	}
	for ; end < len(doc); end++ {
		if !spaceTab[doc[end]] {
			return syntaxErr(end, "unexpected %s after the top-level value", quoteByte(doc[end]))
		}
	}
	if k := d.sc.toks[0].kind; k != kindObject {
		return fmt.Errorf("%w: found %s", ErrNotObject, k)
	}
	d.doc, d.toks = doc, d.sc.toks
	d.name = d.name[:0]
	d.timeRank = len(timeKeys)
	d.flags, d.net = 0, 0
	d.pathTok, d.typeTok, d.msgTok = 0, 0, 0
	d.win = false
	d.out, d.outLimit = 0, maxOutput(len(doc))
	d.shape = d.detect()
	switch d.shape {
	case ShapeEvtxDump:
		d.emitEvtxDump(ev)
	case ShapeWinlogbeat:
		d.emitWinlogbeat(ev)
	case ShapeFlatWindows:
		d.emitFlatWindows(ev)
	case ShapeSuricata:
		d.emitSuricata(ev)
	case ShapeZeek:
		d.emitZeek(ev)
	case ShapeFilebeat:
		d.emitFilebeat(ev)
	default:
		d.emitGeneric(ev)
	}
	d.doc = nil
	if d.out > d.outLimit {
		ev.Reset()
		return ErrOutputTooLarge
	}
	return nil
}

// add adds a field unless the document's output bound is reached.
func (d *Decoder) add(ev *event.Event, name, value []byte) {
	d.out += len(name) + len(value)
	if d.out <= d.outLimit {
		ev.Add(name, value)
	}
}

// The emitters walk an object at tape index obj with
//
//	for k := obj + 1; k < d.toks[obj].next; k = d.toks[k+1].next { /* key k, value k+1 */ }

// str returns the text of a string or scalar token, unescaped. The result may alias
// d.val and is valid until the next call.
func (d *Decoder) str(t uint32) []byte {
	tk := &d.toks[t]
	if !tk.esc {
		return d.doc[tk.start:tk.end]
	}
	d.val = appendUnescaped(d.val[:0], d.doc[tk.start:tk.end])
	return d.val
}

// keyIs reports whether key token k equals s (after unescaping).
func (d *Decoder) keyIs(k uint32, s string) bool {
	tk := &d.toks[k]
	if !tk.esc {
		return string(d.doc[tk.start:tk.end]) == s
	}
	d.key = appendUnescaped(d.key[:0], d.doc[tk.start:tk.end])
	return string(d.key) == s
}

// keyText returns the unescaped text of key token k (valid until the next call).
func (d *Decoder) keyText(k uint32) []byte {
	tk := &d.toks[k]
	if !tk.esc {
		return d.doc[tk.start:tk.end]
	}
	d.key = appendUnescaped(d.key[:0], d.doc[tk.start:tk.end])
	return d.key
}

// appendKey appends key token k to dst, unescaped, dropping spaces when noSpace is set.
func (d *Decoder) appendKey(dst []byte, k uint32, noSpace bool) []byte {
	tk := &d.toks[k]
	src := d.doc[tk.start:tk.end]
	if tk.esc {
		d.key = appendUnescaped(d.key[:0], src)
		src = d.key
	}
	if !noSpace {
		return append(dst, src...)
	}
	for _, c := range src {
		if c != ' ' {
			dst = append(dst, c)
		}
	}
	return dst
}

// addScalar adds scalar token t under name. null adds nothing; containers are not
// scalars and are ignored. In Windows mode (d.win) a string loses its trailing
// whitespace and an empty one adds nothing, as in Mamori's EVTX reader.
func (d *Decoder) addScalar(ev *event.Event, name []byte, t uint32) {
	if len(name) == 0 {
		return
	}
	tk := &d.toks[t]
	switch tk.kind {
	case kindString:
		v := d.str(t)
		if d.win {
			if v = trimRightSpace(v); len(v) == 0 {
				return
			}
		}
		d.add(ev, name, v)
	case kindNumber, kindTrue, kindFalse:
		d.add(ev, name, d.doc[tk.start:tk.end])
	}
}

// timeKeys are the top-level keys a generic record's time is read from, best first.
var timeKeys = [...]string{"@timestamp", "timestamp", "ts", "time", "Timestamp", "TimeGenerated", "EventTime", "eventTime", "TimeCreated"}

// timeRankOf returns the rank of key k in timeKeys, or len(timeKeys).
func (d *Decoder) timeRankOf(k uint32) int {
	key := d.keyText(k)
	if len(key) < 2 || len(key) > 13 {
		return len(timeKeys)
	}
	for i, s := range timeKeys {
		if string(key) == s {
			return i
		}
	}
	return len(timeKeys)
}

// offerTime sets ev.Time from value token v when rank beats the key it was last set from.
func (d *Decoder) offerTime(ev *event.Event, rank int, v uint32) {
	if rank >= d.timeRank {
		return
	}
	tk := &d.toks[v]
	if tk.kind != kindString && tk.kind != kindNumber {
		return
	}
	if t, ok := parseTime(d.str(v)); ok {
		ev.Time = t
		d.timeRank = rank
	}
}

// detect looks at the top-level keys and picks the shape.
func (d *Decoder) detect() Shape {
	var evtx, winlog, eventID, windowsKey bool
	for k := uint32(1); k < d.toks[0].next; k = d.toks[k+1].next {
		v := k + 1
		vk := d.toks[v].kind
		key := d.keyText(k)
		switch string(key) {
		case "Event":
			evtx = vk == kindObject && d.hasMember(v, "System")
		case "winlog":
			winlog = vk == kindObject
		case "EventID":
			eventID = vk == kindNumber || vk == kindString
		case "Channel", "SourceName", "Hostname", "ProviderGuid":
			windowsKey = windowsKey || vk == kindString
		case "EventLog":
			if vk == kindString {
				windowsKey = true
				d.flags |= flagEventLog | flagOtherProvider
			}
		case "EventSourceName", "Provider":
			if vk == kindString {
				windowsKey = true
				d.flags |= flagOtherProvider
			}
		case "ThreadID":
			d.flags |= flagNXLogExec
		default:
			d.detectNet(k, key, vk)
		}
	}
	switch {
	case evtx:
		return ShapeEvtxDump
	case winlog:
		return ShapeWinlogbeat
	case eventID && windowsKey:
		return ShapeFlatWindows
	}
	return d.netShape()
}

// hasMember reports whether object obj has key name.
func (d *Decoder) hasMember(obj uint32, name string) bool {
	for k := obj + 1; k < d.toks[obj].next; k = d.toks[k+1].next {
		if d.keyIs(k, name) {
			return true
		}
	}
	return false
}

// emitGeneric flattens the whole document: nested objects to dotted names, arrays to
// repeated fields; ev.Time from the best top-level time key.
func (d *Decoder) emitGeneric(ev *event.Event) {
	for k := uint32(1); k < d.toks[0].next; k = d.toks[k+1].next {
		v := k + 1
		if r := d.timeRankOf(k); r < len(timeKeys) {
			d.offerTime(ev, r, v)
		}
		d.name = d.appendKey(d.name[:0], k, false)
		d.flatten(ev, v)
	}
}

// flatten adds value token v under the name in d.name, descending into containers.
func (d *Decoder) flatten(ev *event.Event, v uint32) {
	tk := &d.toks[v]
	switch tk.kind {
	case kindObject:
		for k := v + 1; k < tk.next; k = d.toks[k+1].next {
			mark := len(d.name)
			if mark > 0 {
				d.name = append(d.name, '.')
			}
			d.name = d.appendKey(d.name, k, false)
			d.flatten(ev, k+1)
			d.name = d.name[:mark]
		}
	case kindArray:
		for e := v + 1; e < tk.next; e = d.toks[e].next {
			d.flatten(ev, e)
		}
	default:
		d.addScalar(ev, d.name, v)
	}
}

// trimRightSpace drops trailing Unicode whitespace. Mamori's EVTX reader does so to every
// string, as evtx_dump (≥ 0.9) and so the SigmaHQ regression files do: Sysmon's
// ParentCommandLine `"C:\Windows\system32\cmd.exe" ` must read the same whether it came
// from an EVTX file, Winlogbeat or NXLog.
func trimRightSpace(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	if c := b[len(b)-1]; c < utf8.RuneSelf && c != ' ' && (c < '\t' || c > '\r') {
		return b
	}
	return bytes.TrimRightFunc(b, unicode.IsSpace)
}
