package normalize

import (
	"bytes"
	"strconv"

	"github.com/mamori-soc/mamori/internal/event"
)

// This file maps the three Windows shapes to the names Mamori's EVTX reader gives,
// which are the Sigma names: System attributes as <Element>_<Attribute>
// (Provider_Name, TimeCreated_SystemTime, Execution_ProcessID, Security_UserID),
// System text elements by their own name (EventID, Channel, Computer) and EventData
// fields by their Name with spaces removed ("Source Name" becomes SourceName).

// addAs adds value token v under name (containers flattened under it).
// It uses d.name, so callers must not be building a name.
func (d *Decoder) addAs(ev *event.Event, name string, v uint32) {
	d.name = append(d.name[:0], name...)
	d.flatten(ev, v)
}

// emitXML adds the JSON rendering of an XML element (evtx_dump's form) whose name is
// d.name[base:]. Attributes become <name>_<attribute>, "#text" the element itself,
// child elements their own (leaf) names, arrays one field per element; xmlns
// attributes are dropped. Spaces are removed from names.
func (d *Decoder) emitXML(ev *event.Event, v uint32, base int) {
	tk := &d.toks[v]
	switch tk.kind {
	case kindObject:
		mark := len(d.name)
		for k := v + 1; k < tk.next; k = d.toks[k+1].next {
			cv := k + 1
			switch {
			case d.keyIs(k, "#attributes"):
				if d.toks[cv].kind != kindObject {
					continue
				}
				for ak := cv + 1; ak < d.toks[cv].next; ak = d.toks[ak+1].next {
					if bytes.HasPrefix(d.keyText(ak), []byte("xmlns")) {
						continue
					}
					if mark > base {
						d.name = append(d.name, '_')
					}
					d.name = d.appendKey(d.name, ak, true)
					d.emitXML(ev, ak+1, base)
					d.name = d.name[:mark]
				}
			case d.keyIs(k, "#text"):
				d.emitXML(ev, cv, base)
			default:
				d.name = d.appendKey(d.name, k, true)
				d.emitXML(ev, cv, mark)
				d.name = d.name[:mark]
			}
		}
	case kindArray:
		for e := v + 1; e < tk.next; e = d.toks[e].next {
			d.emitXML(ev, e, base)
		}
	default:
		d.addScalar(ev, d.name[base:], v)
	}
}

// emitEvtxDump maps {"Event":{"System":…,"EventData":…,"UserData":…}}.
func (d *Decoder) emitEvtxDump(ev *event.Event) {
	for k := uint32(1); k < d.toks[0].next; k = d.toks[k+1].next {
		v := k + 1
		if !d.keyIs(k, "Event") || d.toks[v].kind != kindObject {
			d.win = false
			d.name = d.appendKey(d.name[:0], k, false)
			d.flatten(ev, v)
			continue
		}
		d.win = true
		for ck := v + 1; ck < d.toks[v].next; ck = d.toks[ck+1].next {
			cv := ck + 1
			switch {
			case d.keyIs(ck, "#attributes"):
				// Only xmlns.
			case d.keyIs(ck, "System"):
				// null System values (an absent Correlation or Security) are omitted,
				// like every null and, for Windows fields, every empty string.
				d.name = d.name[:0]
				d.emitXML(ev, cv, 0)
			case d.keyIs(ck, "RenderingInfo"):
				// Rendered text of Level, Task, Opcode, Keywords... would collide with the
				// numeric System fields of the same names; only the message is kept.
				if d.toks[cv].kind != kindObject {
					continue
				}
				for rk := cv + 1; rk < d.toks[cv].next; rk = d.toks[rk+1].next {
					if d.keyIs(rk, "Message") {
						d.addAs(ev, "Message", rk+1)
					}
				}
			default:
				// EventData, UserData (leaf names), and anything else evtx_dump adds. Their
				// own attributes follow the rule: EventData's template Name attribute is
				// EventData_Name.
				d.name = d.appendKey(d.name[:0], ck, true)
				d.emitXML(ev, cv, 0)
			}
		}
	}
	if t, ok := ev.Get("TimeCreated_SystemTime"); ok {
		if tm, ok := parseTime(t); ok {
			ev.Time = tm
		}
	}
}

// emitWinlogbeat maps a Winlogbeat/ECS document: the winlog object to the Windows names,
// everything else flattened with dotted names.
func (d *Decoder) emitWinlogbeat(ev *event.Event) {
	for k := uint32(1); k < d.toks[0].next; k = d.toks[k+1].next {
		v := k + 1
		if d.toks[v].kind == kindObject && d.keyIs(k, "winlog") {
			d.win = true
			d.emitWinlog(ev, v)
			d.win = false
			continue
		}
		if d.keyIs(k, "@timestamp") {
			d.offerTime(ev, 0, v)
		}
		d.name = d.appendKey(d.name[:0], k, false)
		d.flatten(ev, v)
	}
	if d.flags&flagComputer == 0 {
		if h, ok := ev.Get("host.name"); ok {
			d.name = append(d.name[:0], "Computer"...)
			d.add(ev, d.name, h)
		}
	}
}

func (d *Decoder) emitWinlog(ev *event.Event, w uint32) {
	for k := uint32(w + 1); k < d.toks[w].next; k = d.toks[k+1].next {
		v := k + 1
		isObj := d.toks[v].kind == kindObject
		switch key := d.keyText(k); string(key) {
		case "event_data":
			d.name = d.name[:0]
			d.emitXML(ev, v, 0)
			continue
		case "user_data":
			if isObj {
				for uk := v + 1; uk < d.toks[v].next; uk = d.toks[uk+1].next {
					if d.keyIs(uk, "xml_name") { // the element's name, not a value of the event
						continue
					}
					d.name = d.appendKey(d.name[:0], uk, true)
					d.emitXML(ev, uk+1, 0)
				}
				continue
			}
		case "channel":
			d.addAs(ev, "Channel", v)
			continue
		case "event_id":
			d.addAs(ev, "EventID", v)
			continue
		case "provider_name":
			d.addAs(ev, "Provider_Name", v)
			continue
		case "provider_guid":
			d.addAs(ev, "Provider_Guid", v)
			continue
		case "computer_name":
			d.addAs(ev, "Computer", v)
			d.flags |= flagComputer
			continue
		case "record_id":
			d.addAs(ev, "EventRecordID", v)
			continue
		case "version":
			d.addAs(ev, "Version", v)
			continue
		case "activity_id":
			d.addAs(ev, "Correlation_ActivityID", v)
			continue
		case "related_activity_id":
			d.addAs(ev, "Correlation_RelatedActivityID", v)
			continue
		case "process":
			if isObj {
				d.emitWinlogProcess(ev, v)
				continue
			}
		case "user":
			if isObj {
				for uk := v + 1; uk < d.toks[v].next; uk = d.toks[uk+1].next {
					if d.keyIs(uk, "identifier") {
						d.addAs(ev, "Security_UserID", uk+1)
						continue
					}
					d.name = append(d.name[:0], "winlog.user."...)
					d.name = d.appendKey(d.name, uk, false)
					d.flatten(ev, uk+1)
				}
				continue
			}
		}
		d.name = append(d.name[:0], "winlog."...)
		d.name = d.appendKey(d.name, k, false)
		d.flatten(ev, v)
	}
}

// emitWinlogProcess maps winlog.process {pid, thread: {id}}.
func (d *Decoder) emitWinlogProcess(ev *event.Event, p uint32) {
	for k := p + 1; k < d.toks[p].next; k = d.toks[k+1].next {
		v := k + 1
		if d.keyIs(k, "pid") {
			d.addAs(ev, "Execution_ProcessID", v)
			continue
		}
		if d.keyIs(k, "thread") && d.toks[v].kind == kindObject {
			for tk := v + 1; tk < d.toks[v].next; tk = d.toks[tk+1].next {
				if d.keyIs(tk, "id") {
					d.addAs(ev, "Execution_ThreadID", tk+1)
					continue
				}
				d.name = append(d.name[:0], "winlog.process.thread."...)
				d.name = d.appendKey(d.name, tk, false)
				d.flatten(ev, tk+1)
			}
			continue
		}
		d.name = append(d.name[:0], "winlog.process."...)
		d.name = d.appendKey(d.name, k, false)
		d.flatten(ev, v)
	}
}

// emitFlatWindows maps a flat Windows record (NXLog im_msvistalog, the OTRF exports,
// Logstash, Microsoft Sentinel's SecurityEvent/WindowsEvent/Event tables). Its System
// keys are renamed to the EVTX names; every other key is an EventData name already and
// is kept, with spaces removed. See the package documentation for the table.
func (d *Decoder) emitFlatWindows(ev *event.Event) {
	nx := d.flags&flagNXLogExec != 0
	d.win = true
	for k := uint32(1); k < d.toks[0].next; k = d.toks[k+1].next {
		v := k + 1
		vk := d.toks[v].kind
		if vk != kindObject && vk != kindArray {
			switch key := d.keyText(k); string(key) {
			case "Hostname":
				d.addAs(ev, "Computer", v)
				continue
			case "SourceName":
				// NXLog's provider. Only the first one, and only when no other key names
				// the provider: otherwise it is an EventData field (Windows Defender's
				// "Source Name" with its space already stripped by the shipper).
				if vk == kindString && d.flags&(flagProvider|flagOtherProvider) == 0 {
					d.addAs(ev, "Provider_Name", v)
					d.flags |= flagProvider
					continue
				}
			case "EventSourceName", "Provider":
				// Sentinel's SecurityEvent and WindowsEvent tables.
				if vk == kindString && d.flags&flagProvider == 0 {
					d.addAs(ev, "Provider_Name", v)
					d.flags |= flagProvider
					continue
				}
			case "EventLog":
				if vk == kindString {
					d.addAs(ev, "Channel", v)
					continue
				}
			case "Source":
				if vk == kindString && d.flags&(flagEventLog|flagProvider) == flagEventLog {
					d.addAs(ev, "Provider_Name", v)
					d.flags |= flagProvider
					continue
				}
			case "ProviderGuid":
				d.addAs(ev, "Provider_Guid", v)
				continue
			case "RecordNumber":
				d.addAs(ev, "EventRecordID", v)
				continue
			case "TimeCreated":
				d.offerTime(ev, 0, v)
				d.addAs(ev, "TimeCreated_SystemTime", v)
				continue
			case "EventTime":
				d.offerTime(ev, 1, v)
			case "@timestamp":
				d.offerTime(ev, 2, v)
			case "TimeGenerated":
				d.offerTime(ev, 3, v)
			case "ThreadID":
				if nx {
					d.addAs(ev, "Execution_ThreadID", v)
					continue
				}
			case "ProcessID":
				// NXLog writes the execution process id as ProcessID, but Security
				// 5156/5158 have an EventData field of that very name, and a flat record
				// cannot hold both: keep ProcessID as it is, and when the record carries
				// NXLog's execution block (ThreadID) also offer it as Execution_ProcessID.
				if nx {
					d.addAs(ev, "Execution_ProcessID", v)
				}
			case "UserID":
				if nx {
					d.addAs(ev, "Security_UserID", v)
					continue
				}
			case "EventData":
				if vk == kindString && d.expandEventData(ev, v) {
					continue
				}
			case "Keywords":
				// NXLog writes the keyword mask as a signed decimal integer; the EVTX form,
				// which Sigma rules test ('0x8010000000000000' for audit failure), is hex.
				if u, ok := parseInt64Bits(d.doc[d.toks[v].start:d.toks[v].end]); ok && vk == kindNumber {
					d.val = strconv.AppendUint(append(d.val[:0], "0x"...), u, 16)
					d.name = append(d.name[:0], "Keywords"...)
					d.add(ev, d.name, d.val)
					continue
				}
			}
		}
		d.name = d.appendKey(d.name[:0], k, true)
		d.flatten(ev, v)
	}
}

// parseInt64Bits reads a JSON integer that fits in 64 bits, signed or unsigned, and
// returns its two's-complement bits.
func parseInt64Bits(b []byte) (uint64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		d := uint64(c - '0')
		if u > (1<<64-1-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		u = -u
	}
	return u, true
}
