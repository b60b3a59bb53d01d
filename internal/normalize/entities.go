package normalize

import (
	"bytes"

	"github.com/mamori-soc/mamori/internal/event"
)

// Entities are the things an event is about, read from whichever field holds each in the
// event's source: they name an alert's host, user and source address, and group events on
// dashboards. Empty means the event does not say.
type Entities struct {
	Host          string // the machine that logged the event (Computer, the syslog host…)
	User          string // the account acted on or with, as written (DOMAIN\user stays)
	SrcIP         string // the remote or client address; loopback is not a source
	SrcPort       string
	DstIP         string
	DstPort       string
	Domain        string // a DNS name queried or requested
	URL           string
	Process       string // the executable (Image, NewProcessName, exe…)
	CommandLine   string
	ParentProcess string
	Hash          string // SHA256, else SHA1, else MD5 of the file or image
}

// Entity slots.
const (
	entHost uint8 = iota
	entUser
	entSrcIP
	entSrcPort
	entDstIP
	entDstPort
	entDomain
	entURL
	entProcess
	entCommandLine
	entParent
	entHash
	entSlots
)

// entityRef places a field name in a slot with a rank (lower wins).
type entityRef struct{ slot, rank uint8 }

// entityTable maps field names to slots; built once from name lists in priority order.
type entityTable map[string]entityRef

func newEntityTable(lists [entSlots][]string) entityTable {
	t := entityTable{}
	for slot, names := range lists {
		for rank, n := range names {
			t[n] = entityRef{uint8(slot), uint8(rank)}
		}
	}
	return t
}

// The tables, by source. Windows (and any other JSON) is the default: Windows names,
// then Winlogbeat/ECS leftovers, then the common lower-case ones.
var (
	entitiesWindows = newEntityTable([entSlots][]string{
		entHost:        {"Computer", "host.name", "Hostname", "hostname", "HostName", "host"},
		entUser:        {"SubjectUserName", "User", "TargetUserName", "AccountName", "user.name", "UserName", "user"},
		entSrcIP:       {"IpAddress", "SourceIp", "SourceAddress", "ClientAddress", "source.ip", "src_ip", "c-ip"},
		entSrcPort:     {"IpPort", "SourcePort", "source.port", "src_port"},
		entDstIP:       {"DestinationIp", "DestAddress", "destination.ip", "dest_ip", "dst_ip"},
		entDstPort:     {"DestinationPort", "DestPort", "destination.port", "dest_port", "dst_port"},
		entDomain:      {"QueryName", "DestinationHostname", "dns.question.name", "url.domain"},
		entURL:         {"url.original", "url.full"},
		entProcess:     {"Image", "NewProcessName", "ProcessName", "Application", "process.executable"},
		entCommandLine: {"CommandLine", "process.command_line"},
		entParent:      {"ParentImage", "ParentProcessName", "process.parent.executable"},
		entHash:        {"Hashes", "Hash", "hash.sha256", "file.hash.sha256"},
	})
	entitiesLinux = newEntityTable([entSlots][]string{
		entHost:        {"host", "host.name", "hostname", "node"},
		entUser:        {"user", "acct", "user.name"},
		entSrcIP:       {"src_ip", "addr", "source.ip"},
		entSrcPort:     {"src_port", "source.port"},
		entProcess:     {"exe", "program"},
		entCommandLine: {"command"},
	})
	entitiesWeb = newEntityTable([entSlots][]string{
		entHost:    {"host", "host.name", "s-computername"},
		entUser:    {"cs-username", "user.name"},
		entSrcIP:   {"c-ip", "source.ip"},
		entSrcPort: {"c-port", "source.port"},
		entDstIP:   {"s-ip"},
		entDstPort: {"s-port"},
		entDomain:  {"cs-host"},
		entURL:     {"cs-uri", "cs-uri-stem", "url.original"},
	})
	entitiesSuricata = newEntityTable([entSlots][]string{
		entHost:    {"host"},
		entSrcIP:   {"src_ip"},
		entSrcPort: {"src_port"},
		entDstIP:   {"dest_ip"},
		entDstPort: {"dest_port"},
		entDomain:  {"dns.rrname", "dns.query.rrname", "dns.queries.rrname", "http.hostname", "tls.sni"},
		entURL:     {"http.url"},
		entHash:    {"fileinfo.sha256", "fileinfo.sha1", "fileinfo.md5"},
	})
	entitiesZeek = newEntityTable([entSlots][]string{
		entHost:    {"_system_name", "@system", "_node"},
		entUser:    {"user", "username"},
		entSrcIP:   {"id.orig_h"},
		entSrcPort: {"id.orig_p"},
		entDstIP:   {"id.resp_h"},
		entDstPort: {"id.resp_p"},
		entDomain:  {"query", "host", "server_name"},
		entURL:     {"uri"},
		entHash:    {"sha256", "sha1", "md5"},
	})
)

// tableFor picks the entity table of a source by its Channel; network is
// true for network sensors (Suricata, Zeek).
func tableFor(ch []byte) (table entityTable, network bool) {
	switch {
	case hasPrefix(ch, "linux/"):
		return entitiesLinux, false
	case string(ch) == ChannelWebserver:
		return entitiesWeb, false
	case hasPrefix(ch, "suricata/"):
		return entitiesSuricata, true
	case hasPrefix(ch, "zeek/"):
		return entitiesZeek, true
	}
	return entitiesWindows, false
}

// HostOf returns the host EntitiesOf would give, reading only the host
// fields: cheap enough to run on every event at ingest.
func HostOf(ev *event.Event) string {
	ch, _ := ev.Get("Channel")
	table, _ := tableFor(ch)
	best, rank := -1, 1<<30
	for i := 0; i < ev.Len(); i++ {
		ref, ok := table[string(ev.Name(i))]
		if !ok || ref.slot != entHost || int(ref.rank) >= rank || absent(entHost, ev.Value(i)) {
			continue
		}
		best, rank = i, int(ref.rank)
	}
	if best < 0 {
		return ""
	}
	return string(ev.Value(best))
}

// logonEvents are the Windows events whose account is TargetUserName (the one logging
// on, or whose credentials are checked), not SubjectUserName (the service asking).
func logonEvent(id []byte) bool {
	switch string(id) {
	case "4624", "4625", "4648", "4768", "4771", "4776":
		return true
	}
	return false
}

// EntitiesOf returns the entities of ev, choosing the fields by its source (its Channel:
// linux/…, webserver, suricata/…, zeek/…; anything else is read as Windows, Winlogbeat
// or generic JSON). "-", "?" and empty values count as absent, and so do the loopback
// addresses ::1 and 127.0.0.1 as a source; IPv4-mapped IPv6 addresses
// (::ffff:10.0.0.5, in Kerberos events) are given as IPv4. It allocates the strings it
// returns, and is meant for alerts and dashboards, not for every event.
func EntitiesOf(ev *event.Event) Entities {
	ch, _ := ev.Get("Channel")
	table, network := tableFor(ch)
	logon := false
	if !network && !hasPrefix(ch, "linux/") && string(ch) != ChannelWebserver {
		id, _ := ev.Get("EventID")
		logon = logonEvent(id)
	}
	var best [entSlots]int
	var rank [entSlots]int
	for s := range best {
		best[s], rank[s] = -1, 1<<30
	}
	for i := 0; i < ev.Len(); i++ {
		ref, ok := table[string(ev.Name(i))]
		if !ok {
			continue
		}
		r := int(ref.rank)
		if logon && ref.slot == entUser && string(ev.Name(i)) == "TargetUserName" {
			r = -1
		}
		if r >= rank[ref.slot] || absent(ref.slot, ev.Value(i)) {
			continue
		}
		best[ref.slot], rank[ref.slot] = i, r
	}
	val := func(s uint8) []byte {
		if best[s] < 0 {
			return nil
		}
		return ev.Value(best[s])
	}
	e := Entities{
		Host:          string(val(entHost)),
		User:          string(val(entUser)),
		SrcIP:         string(unmapIPv4(val(entSrcIP))),
		SrcPort:       string(val(entSrcPort)),
		DstIP:         string(unmapIPv4(val(entDstIP))),
		DstPort:       string(val(entDstPort)),
		Domain:        string(val(entDomain)),
		Process:       string(val(entProcess)),
		CommandLine:   string(val(entCommandLine)),
		ParentProcess: string(val(entParent)),
		Hash:          string(hashOf(val(entHash))),
	}
	url := val(entURL)
	if network && len(url) > 0 && url[0] == '/' && e.Domain != "" {
		// Zeek's and Suricata's HTTP records split the host from the path; the
		// traffic is clear-text HTTP.
		e.URL = "http://" + e.Domain + string(url)
	} else {
		e.URL = string(url)
	}
	return e
}

// absent reports whether v holds no value for slot s.
func absent(s uint8, v []byte) bool {
	if len(v) == 0 || (len(v) == 1 && (v[0] == '-' || v[0] == '?')) {
		return true
	}
	if s == entSrcIP {
		v = unmapIPv4(v)
		return string(v) == "::1" || string(v) == "127.0.0.1"
	}
	return false
}

// unmapIPv4 turns ::ffff:10.0.0.5 into 10.0.0.5.
func unmapIPv4(v []byte) []byte {
	if len(v) > 7 && (hasPrefix(v, "::ffff:") || hasPrefix(v, "::FFFF:")) && bytes.IndexByte(v[7:], '.') >= 0 {
		return v[7:]
	}
	return v
}

// hashOf picks one hash from Sysmon's "SHA1=…,MD5=…,SHA256=…,IMPHASH=…": SHA256, else
// SHA1, else MD5. A value without '=' is a hash already.
func hashOf(v []byte) []byte {
	if bytes.IndexByte(v, '=') < 0 {
		return v
	}
	var found [3][]byte // SHA256, SHA1, MD5
	for len(v) > 0 {
		part := v
		if k := bytes.IndexByte(v, ','); k >= 0 {
			part, v = v[:k], v[k+1:]
		} else {
			v = nil
		}
		alg, h, ok := cutByte(part, '=')
		if !ok {
			continue
		}
		alg = bytes.TrimSpace(alg)
		switch {
		case bytes.EqualFold(alg, []byte("SHA256")):
			found[0] = h
		case bytes.EqualFold(alg, []byte("SHA1")):
			found[1] = h
		case bytes.EqualFold(alg, []byte("MD5")):
			found[2] = h
		}
	}
	for _, h := range found {
		if len(h) > 0 {
			return h
		}
	}
	return nil
}
