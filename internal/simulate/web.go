package simulate

import (
	"strconv"
	"time"
)

// access is one HTTP request to an organisation's public web site.
type access struct {
	ip, method, target string
	status, size       int
	referer, ua        string
}

// accessLog emits a Filebeat nginx.access document whose message is the combined log
// format line of request a.
func (g *Generator) accessLog(s *site, t time.Time, a *access) {
	m := g.scratch[:0]
	m = append(m, a.ip...)
	m = append(m, " - - ["...)
	m = appendCLF(m, t)
	m = append(m, "] \""...)
	m = append(m, a.method...)
	m = append(m, ' ')
	m = append(m, a.target...)
	m = append(m, " HTTP/1.1\" "...)
	m = strconv.AppendInt(m, int64(a.status), 10)
	m = append(m, ' ')
	m = strconv.AppendInt(m, int64(a.size), 10)
	m = append(m, " \""...)
	if a.referer == "" {
		m = append(m, '-')
	} else {
		m = append(m, a.referer...)
	}
	m = append(m, "\" \""...)
	m = append(m, a.ua...)
	m = append(m, '"')
	g.scratch = m

	web := &s.lin[s.web]
	e := g.begin()
	e.open()
	e.time("@timestamp", t, appendISOMilli)
	e.obj("agent")
	e.str("type", "filebeat")
	e.str("version", s.AgentVersion)
	e.str("name", web.name)
	e.close()
	e.obj("ecs")
	e.str("version", s.ecsVersion)
	e.close()
	e.obj("host")
	e.str("name", web.name)
	e.close()
	e.obj("event")
	e.str("dataset", "nginx.access")
	e.str("module", "nginx")
	e.close()
	e.obj("fileset")
	e.str("name", "access")
	e.close()
	e.obj("input")
	e.str("type", "log")
	e.close()
	e.obj("log")
	e.int("offset", s.logOff)
	e.obj("file")
	e.str("path", "/var/log/nginx/access.log")
	e.close()
	e.close()
	e.bytes("message", m)
	e.close()
	s.logOff += int64(len(m) + 1)
	g.finish(s, Bulk, t)
}
