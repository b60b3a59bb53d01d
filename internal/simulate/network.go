package simulate

import (
	"strconv"
	"time"
)

// Network sensor output: Suricata EVE JSON and Zeek JSON logs, one object a line.

// flow is a connection's 5-tuple.
type flow struct {
	srcIP   string
	srcPort int // 0 is a random ephemeral port
	dstIP   string
	dstPort int
	udp     bool
}

// signature is a Suricata rule as it appears in an alert.
type signature struct {
	id, rev   int
	text, cat string
	severity  int
}

// eveBegin writes the fields every EVE record starts with and leaves the encoder at
// the top level.
func (g *Generator) eveBegin(t time.Time, typ string, f *flow) *enc {
	if f.srcPort == 0 {
		f.srcPort = 49152 + g.r.IntN(16000)
	}
	e := g.begin()
	e.open()
	e.time("timestamp", t, appendEVE)
	e.int("flow_id", int64(g.r.Uint64()>>14))
	e.str("in_iface", "ens192")
	e.str("event_type", typ)
	e.str("src_ip", f.srcIP)
	e.int("src_port", int64(f.srcPort))
	e.str("dest_ip", f.dstIP)
	e.int("dest_port", int64(f.dstPort))
	if f.udp {
		e.str("proto", "UDP")
	} else {
		e.str("proto", "TCP")
	}
	return e
}

func (g *Generator) eveEnd(s *site, t time.Time) {
	e := &g.e
	e.str("host", s.Sensor)
	e.close()
	g.finish(s, NDJSON, t)
}

// eveAlert emits a Suricata alert for sig on flow f.
func (g *Generator) eveAlert(s *site, t time.Time, f *flow, sig *signature, appProto string) {
	e := g.eveBegin(t, "alert", f)
	if appProto != "" {
		e.str("app_proto", appProto)
	}
	e.obj("alert")
	e.str("action", "allowed")
	e.int("gid", 1)
	e.int("signature_id", int64(sig.id))
	e.int("rev", int64(sig.rev))
	e.str("signature", sig.text)
	e.str("category", sig.cat)
	e.int("severity", int64(sig.severity))
	e.close()
	g.eveEnd(s, t)
}

// eveDNS emits a Suricata dns answer record (EVE DNS version 2).
func (g *Generator) eveDNS(s *site, t time.Time, f *flow, rrname, rrtype, rdata string) {
	e := g.eveBegin(t, "dns", f)
	e.obj("dns")
	e.int("version", 2)
	e.str("type", "answer")
	e.int("id", int64(g.r.IntN(65536)))
	e.str("flags", "8180")
	e.bool("qr", true)
	e.bool("rd", true)
	e.bool("ra", true)
	e.str("rrname", rrname)
	e.str("rrtype", rrtype)
	e.str("rcode", "NOERROR")
	e.key("answers")
	e.b = append(e.b, '[')
	e.open()
	e.str("rrname", rrname)
	e.str("rrtype", rrtype)
	e.int("ttl", int64(60+g.r.IntN(3540)))
	e.str("rdata", rdata)
	e.close()
	e.b = append(e.b, ']')
	e.close()
	g.eveEnd(s, t)
}

// eveFlow emits a Suricata flow record for a finished connection.
func (g *Generator) eveFlow(s *site, t time.Time, f *flow, appProto string, toServer, toClient int, age time.Duration) {
	e := g.eveBegin(t, "flow", f)
	if appProto != "" {
		e.str("app_proto", appProto)
	}
	e.obj("flow")
	e.int("pkts_toserver", int64(2+toServer/900))
	e.int("pkts_toclient", int64(2+toClient/1200))
	e.int("bytes_toserver", int64(toServer))
	e.int("bytes_toclient", int64(toClient))
	e.time("start", t.Add(-age), appendEVE)
	e.time("end", t, appendEVE)
	e.int("age", int64(age/time.Second))
	e.str("state", "closed")
	e.str("reason", "timeout")
	e.bool("alerted", false)
	e.close()
	g.eveEnd(s, t)
}

// eveHTTP emits a Suricata http record.
func (g *Generator) eveHTTP(s *site, t time.Time, f *flow, host, url, ua, method string, status, length int) {
	e := g.eveBegin(t, "http", f)
	e.obj("http")
	e.str("hostname", host)
	e.str("url", url)
	e.str("http_user_agent", ua)
	e.str("http_content_type", "text/html")
	e.str("http_method", method)
	e.str("protocol", "HTTP/1.1")
	e.int("status", int64(status))
	e.int("length", int64(length))
	e.close()
	g.eveEnd(s, t)
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// zeekBegin writes the fields every Zeek log record starts with.
func (g *Generator) zeekBegin(t time.Time, path string, f *flow) *enc {
	if f.srcPort == 0 {
		f.srcPort = 49152 + g.r.IntN(16000)
	}
	e := g.begin()
	e.open()
	e.str("_path", path)
	e.key("ts")
	e.b = appendEpoch(e.b, t)
	e.key("uid")
	e.b = append(e.b, '"', 'C')
	for range 17 {
		e.b = append(e.b, base62[g.r.IntN(62)])
	}
	e.b = append(e.b, '"')
	e.str("id.orig_h", f.srcIP)
	e.int("id.orig_p", int64(f.srcPort))
	e.str("id.resp_h", f.dstIP)
	e.int("id.resp_p", int64(f.dstPort))
	if f.udp {
		e.str("proto", "udp")
	} else {
		e.str("proto", "tcp")
	}
	return e
}

// zeekDNS emits a Zeek dns.log record for one query and its answers.
func (g *Generator) zeekDNS(s *site, t time.Time, f *flow, query, qtype string, answers ...string) {
	e := g.zeekBegin(t, "dns", f)
	e.int("trans_id", int64(g.r.IntN(65536)))
	e.key("rtt")
	e.b = append(e.b, "0.00"...)
	e.b = strconv.AppendInt(e.b, int64(1000+g.r.IntN(9000)), 10)
	e.str("query", query)
	e.int("qclass", 1)
	e.str("qclass_name", "C_INTERNET")
	e.int("qtype", int64(qtypeNumber(qtype)))
	e.str("qtype_name", qtype)
	e.int("rcode", 0)
	e.str("rcode_name", "NOERROR")
	e.bool("AA", false)
	e.bool("TC", false)
	e.bool("RD", true)
	e.bool("RA", true)
	e.int("Z", 0)
	e.key("answers")
	e.b = append(e.b, '[')
	for i, a := range answers {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = append(e.b, '"')
		e.b = appendEscaped(e.b, a)
		e.b = append(e.b, '"')
	}
	e.b = append(e.b, ']')
	e.key("TTLs")
	e.b = append(e.b, '[')
	for i := range answers {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = strconv.AppendInt(e.b, int64(30+g.r.IntN(3570)), 10)
		e.b = append(e.b, ".0"...)
	}
	e.b = append(e.b, ']')
	e.bool("rejected", false)
	e.close()
	g.finish(s, NDJSON, t)
}

// zeekConn emits a Zeek conn.log record.
func (g *Generator) zeekConn(s *site, t time.Time, f *flow, service string, dur time.Duration, origBytes, respBytes int, state string) {
	e := g.zeekBegin(t, "conn", f)
	if service != "" {
		e.str("service", service)
	}
	e.key("duration")
	e.b = strconv.AppendFloat(e.b, dur.Seconds(), 'f', 6, 64)
	e.int("orig_bytes", int64(origBytes))
	e.int("resp_bytes", int64(respBytes))
	e.str("conn_state", state)
	e.bool("local_orig", true)
	e.bool("local_resp", isInternal(f.dstIP))
	e.int("missed_bytes", 0)
	e.str("history", "ShADadFf")
	e.int("orig_pkts", int64(2+origBytes/900))
	e.int("orig_ip_bytes", int64(origBytes+40*(2+origBytes/900)))
	e.int("resp_pkts", int64(2+respBytes/1200))
	e.int("resp_ip_bytes", int64(respBytes+40*(2+respBytes/1200)))
	e.close()
	g.finish(s, NDJSON, t)
}

func qtypeNumber(q string) int {
	switch q {
	case "A":
		return 1
	case "CNAME":
		return 5
	case "TXT":
		return 16
	case "AAAA":
		return 28
	case "SRV":
		return 33
	}
	return 1
}

// isInternal reports whether ip is RFC 1918 space (the only private ranges used here).
func isInternal(ip string) bool {
	switch {
	case len(ip) > 3 && ip[:3] == "10.":
		return true
	case len(ip) > 8 && ip[:8] == "192.168.":
		return true
	case len(ip) > 4 && ip[:4] == "172.":
		n, _ := strconv.Atoi(ip[4 : 4+indexDot(ip[4:])])
		return n >= 16 && n <= 31
	}
	return false
}

func indexDot(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return i
		}
	}
	return len(s)
}
