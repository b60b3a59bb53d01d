package normalize

import (
	"bytes"

	"github.com/mamori-soc/mamori/internal/event"
)

// This file recognises the JSON of network sensors (Suricata EVE, Zeek) and of Filebeat
// shipping web server and syslog files, and gives them the Channel Sigma log sources
// select on (internal/sigma/logsources.yml).

// Facts about network-sensor and Filebeat documents, found by detect.
const (
	netEventType  uint16 = 1 << iota // a string event_type
	netTimestamp                     // a timestamp key
	netSuricata                      // src_ip, dest_ip, flow_id, in_iface or pcap_cnt
	netStats                         // a stats object (Suricata's stats records)
	netZeekPath                      // a string _path
	netZeekTS                        // ts
	netZeekUID                       // uid
	netZeekOrig                      // id.orig_h (or id_orig_h, or id: {orig_h})
	netZeekStream                    // a string @stream (Zeek through some shippers)
	netZeekProc                      // @proc is "zeek"
	netMessage                       // a string message
	netWebAccess                     // event.dataset or log.file.path: a web access log
	netSyslogFile                    // event.dataset or log.file.path: a syslog file
)

// addStr adds name=value, counted against the document's output bound.
func (d *Decoder) addStr(ev *event.Event, name string, value []byte) {
	d.out += len(name) + len(value)
	if d.out <= d.outLimit {
		ev.Append(name, value)
	}
}

// addConst is addStr for a constant value.
func (d *Decoder) addConst(ev *event.Event, name, value string) {
	d.out += len(name) + len(value)
	if d.out <= d.outLimit {
		ev.AddString(name, value)
	}
}

// detectNet notes the facts of top-level key k (text key, value kind vk).
func (d *Decoder) detectNet(k uint32, key []byte, vk kind) {
	v := k + 1
	switch string(key) {
	case "event_type":
		if vk == kindString {
			d.net |= netEventType
			d.typeTok = v
		}
	case "timestamp":
		d.net |= netTimestamp
	case "src_ip", "dest_ip", "flow_id", "in_iface", "pcap_cnt":
		d.net |= netSuricata
	case "stats":
		if vk == kindObject {
			d.net |= netStats
		}
	case "_path":
		if vk == kindString {
			d.net |= netZeekPath
			d.pathTok = v
		}
	case "@stream":
		if vk == kindString {
			d.net |= netZeekStream
			if d.net&netZeekPath == 0 {
				d.pathTok = v
			}
		}
	case "@proc":
		if vk == kindString && string(d.str(v)) == "zeek" {
			d.net |= netZeekProc
		}
	case "ts":
		d.net |= netZeekTS
	case "uid":
		d.net |= netZeekUID
	case "id.orig_h", "id_orig_h":
		d.net |= netZeekOrig
	case "id":
		if vk == kindObject && d.hasMember(v, "orig_h") {
			d.net |= netZeekOrig
		}
	case "message":
		if vk == kindString {
			d.net |= netMessage
			d.msgTok = v
		}
	case "event":
		if vk == kindObject {
			if t, ok := d.member(v, "dataset"); ok && d.toks[t].kind == kindString {
				d.net |= datasetKind(d.str(t))
			}
		}
	case "event.dataset":
		if vk == kindString {
			d.net |= datasetKind(d.str(v))
		}
	case "log":
		if vk == kindObject {
			if f, ok := d.member(v, "file"); ok && d.toks[f].kind == kindObject {
				if p, ok := d.member(f, "path"); ok && d.toks[p].kind == kindString {
					d.net |= fileKind(d.str(p))
				}
			}
		}
	case "log.file.path":
		if vk == kindString {
			d.net |= fileKind(d.str(v))
		}
	}
}

// member returns the value token of key name in object obj.
func (d *Decoder) member(obj uint32, name string) (uint32, bool) {
	for k := obj + 1; k < d.toks[obj].next; k = d.toks[k+1].next {
		if d.keyIs(k, name) {
			return k + 1, true
		}
	}
	return 0, false
}

// datasetKind maps a Filebeat event.dataset to netWebAccess or netSyslogFile.
func datasetKind(ds []byte) uint16 {
	switch string(ds) {
	case "nginx.access", "apache.access", "apache2.access", "iis.access":
		return netWebAccess
	case "system.auth", "system.syslog":
		return netSyslogFile
	}
	return 0
}

// fileKind maps a log file path to netWebAccess (…access.log, …access_log, rotated
// .N too) or netSyslogFile (auth.log, secure, syslog, messages, cron).
func fileKind(p []byte) uint16 {
	if k := bytes.LastIndexAny(p, `/\`); k >= 0 {
		p = p[k+1:]
	}
	// Rotated: access.log.1, secure-20240502.
	if k := bytes.LastIndexAny(p, ".-"); k > 0 && allDigits(p[k+1:]) {
		p = p[:k]
	}
	switch {
	case hasSuffix(p, "access.log"), hasSuffix(p, "access_log"):
		return netWebAccess
	}
	switch string(p) {
	case "auth.log", "secure", "syslog", "messages", "cron", "kern.log", "daemon.log", "user.log":
		return netSyslogFile
	}
	return 0
}

// netShape picks the shape of a document that is not a Windows one.
func (d *Decoder) netShape() Shape {
	n := d.net
	const zeekConn = netZeekTS | netZeekUID | netZeekOrig
	switch {
	case n&(netEventType|netTimestamp) == netEventType|netTimestamp && n&(netSuricata|netStats) != 0:
		return ShapeSuricata
	case n&netZeekPath != 0, n&(netZeekStream|netZeekProc) == netZeekStream|netZeekProc, n&zeekConn == zeekConn:
		return ShapeZeek
	case n&netMessage != 0 && n&(netWebAccess|netSyslogFile) != 0:
		return ShapeFilebeat
	}
	return ShapeGeneric
}

// emitSuricata adds Channel suricata/<event_type>, then flattens the record.
func (d *Decoder) emitSuricata(ev *event.Event) {
	d.name = append(append(d.name[:0], "suricata/"...), d.str(d.typeTok)...)
	d.addStr(ev, "Channel", d.name)
	d.emitGeneric(ev)
}

// emitZeek adds Channel zeek/<path>, then flattens the record. The path is _path (or
// @stream), else inferred from the fields. Top-level id_orig_h, id_orig_p, id_resp_h and
// id_resp_p (Zeek through shippers that replace dots) are named id.orig_h… as in Zeek's
// own JSON and in Sigma's Zeek rules.
func (d *Decoder) emitZeek(ev *event.Event) {
	d.name = append(d.name[:0], "zeek/"...)
	if d.pathTok != 0 {
		d.name = append(d.name, d.str(d.pathTok)...)
	} else {
		d.name = append(d.name, d.zeekInfer()...)
	}
	d.addStr(ev, "Channel", d.name)
	for k := uint32(1); k < d.toks[0].next; k = d.toks[k+1].next {
		v := k + 1
		if r := d.timeRankOf(k); r < len(timeKeys) {
			d.offerTime(ev, r, v)
		}
		d.name = d.appendKey(d.name[:0], k, false)
		if len(d.name) == 9 && hasPrefix(d.name, "id_") {
			switch string(d.name[3:]) {
			case "orig_h", "orig_p", "resp_h", "resp_p":
				d.name[2] = '.'
			}
		}
		d.flatten(ev, v)
	}
}

// Zeek fields that tell the log apart when a record has no _path.
const (
	zkQuery uint64 = 1 << iota
	zkConnState
	zkMethod
	zkURI
	zkCipher
	zkSSLHistory
	zkServerName
	zkAuthAttempts
	zkHassh
	zkRequestType
	zkOperation
	zkEndpoint
	zkShareType
	zkAction
	zkName
	zkSecurityProtocol
	zkCookie
	zkHelo
	zkMailFrom
	zkNote
	zkAnalyzerName
	zkAnalyzer
	zkFailureReason
	zkReplyCode
	zkCommand
	zkCommunity
	zkStratum
	zkNTLMServer
	zkClientMajor
	zkAssignedAddr
	zkTunnelType
	zkFacility
	zkSeverity
	zkMessage
	zkPeer
	zkScope
	zkFilter
	zkUnit
	zkFunc
)

// zeekInfer names the Zeek log of a record without _path from its fields.
func (d *Decoder) zeekInfer() string {
	var m uint64
	for k := uint32(1); k < d.toks[0].next; k = d.toks[k+1].next {
		switch string(d.keyText(k)) {
		case "query":
			m |= zkQuery
		case "conn_state":
			m |= zkConnState
		case "method":
			m |= zkMethod
		case "uri":
			m |= zkURI
		case "cipher":
			m |= zkCipher
		case "ssl_history":
			m |= zkSSLHistory
		case "server_name":
			m |= zkServerName
		case "auth_attempts":
			m |= zkAuthAttempts
		case "hassh":
			m |= zkHassh
		case "request_type":
			m |= zkRequestType
		case "operation":
			m |= zkOperation
		case "endpoint":
			m |= zkEndpoint
		case "share_type":
			m |= zkShareType
		case "action":
			m |= zkAction
		case "name":
			m |= zkName
		case "security_protocol":
			m |= zkSecurityProtocol
		case "cookie":
			m |= zkCookie
		case "helo":
			m |= zkHelo
		case "mailfrom", "rcptto":
			m |= zkMailFrom
		case "note":
			m |= zkNote
		case "analyzer_name", "analyzer_kind":
			m |= zkAnalyzerName
		case "analyzer":
			m |= zkAnalyzer
		case "failure_reason":
			m |= zkFailureReason
		case "reply_code":
			m |= zkReplyCode
		case "command":
			m |= zkCommand
		case "community":
			m |= zkCommunity
		case "stratum":
			m |= zkStratum
		case "server_nb_computer_name", "server_dns_computer_name":
			m |= zkNTLMServer
		case "client_major_version":
			m |= zkClientMajor
		case "assigned_addr", "msg_types":
			m |= zkAssignedAddr
		case "tunnel_type":
			m |= zkTunnelType
		case "facility":
			m |= zkFacility
		case "severity":
			m |= zkSeverity
		case "message":
			m |= zkMessage
		case "peer":
			m |= zkPeer
		case "scope":
			m |= zkScope
		case "filter":
			m |= zkFilter
		case "unit":
			m |= zkUnit
		case "func":
			m |= zkFunc
		}
	}
	all := func(bits uint64) bool { return m&bits == bits }
	switch {
	case all(zkQuery):
		return "dns"
	case all(zkConnState):
		return "conn"
	case all(zkMethod | zkURI):
		return "http"
	case m&(zkSSLHistory|zkCipher|zkServerName) != 0:
		return "ssl"
	case m&(zkAuthAttempts|zkHassh) != 0:
		return "ssh"
	case all(zkRequestType):
		return "kerberos"
	case all(zkOperation | zkEndpoint):
		return "dce_rpc"
	case all(zkShareType):
		return "smb_mapping"
	case all(zkAction | zkName):
		return "smb_files"
	case m&(zkSecurityProtocol|zkCookie) != 0:
		return "rdp"
	case m&(zkHelo|zkMailFrom) != 0:
		return "smtp"
	case all(zkNote):
		return "notice"
	case all(zkAnalyzerName):
		return "analyzer"
	case all(zkAnalyzer | zkFailureReason):
		return "dpd"
	case all(zkReplyCode | zkCommand):
		return "ftp"
	case all(zkCommunity):
		return "snmp"
	case all(zkStratum):
		return "ntp"
	case all(zkNTLMServer):
		return "ntlm"
	case all(zkClientMajor):
		return "rfb"
	case all(zkAssignedAddr):
		return "dhcp"
	case all(zkTunnelType):
		return "tunnel"
	case all(zkFacility | zkSeverity | zkMessage):
		return "syslog"
	case all(zkUnit | zkFunc):
		return "modbus"
	case all(zkScope | zkFilter):
		return "ldap_search"
	case all(zkName | zkPeer):
		return "weird"
	}
	return "unknown"
}
