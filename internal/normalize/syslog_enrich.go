package normalize

import (
	"bytes"

	"github.com/mamori-soc/mamori/internal/event"
)

// This file adds the fields of well-known syslog messages (sshd, sudo, su, PAM, cron,
// systemd-logind, shadow-utils, auditd) so that rules and correlations can use user,
// src_ip, auth_result… instead of matching text.
//
// Attackers control parts of these messages: the user name of a failed SSH login is
// whatever the client sent, " from 6.6.6.6 port 1" included. So addresses are read from
// the right, where sshd writes its own text, never from the first " from ".

func hasPrefix(b []byte, s string) bool { return len(b) >= len(s) && string(b[:len(s)]) == s }

func hasSuffix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[len(b)-len(s):]) == s
}

func trimPrefix(b []byte, s string) []byte {
	if hasPrefix(b, s) {
		return b[len(s):]
	}
	return b
}

// cutByte splits b around the first c.
func cutByte(b []byte, c byte) (before, after []byte, found bool) {
	if k := bytes.IndexByte(b, c); k >= 0 {
		return b[:k], b[k+1:], true
	}
	return b, nil, false
}

// ipLike reports whether b is written like an IPv4 or IPv6 address (sshd prints a host
// name instead when UseDNS is on).
func ipLike(b []byte) bool {
	if len(b) < 2 || len(b) > 64 {
		return false
	}
	if bytes.IndexByte(b, ':') >= 0 {
		for _, c := range b {
			if c != ':' && c != '.' && c != '%' && hexVal(c) < 0 {
				return false
			}
		}
		return true
	}
	dots := 0
	for _, c := range b {
		switch {
		case c == '.':
			dots++
		case !isDigit(c):
			return false
		}
	}
	return dots == 3
}

// addUser adds user unless it is empty.
func addUser(ev *event.Event, name string, u []byte) {
	if len(u) > 0 {
		ev.Append(name, u)
	}
}

// addAddr adds a source address as src_ip, or src_host when it is a name.
func addAddr(ev *event.Event, a []byte) {
	switch {
	case len(a) == 0:
	case ipLike(a):
		ev.Append("src_ip", a)
	default:
		ev.Append("src_host", a)
	}
}

// addAddrPort reads "ADDR[ port N…]" and adds src_ip (or src_host) and src_port.
func addAddrPort(ev *event.Event, b []byte) {
	addr, rest, _ := cutByte(b, ' ')
	addAddr(ev, addr)
	if hasPrefix(rest, "port ") {
		rest = rest[5:]
		k := 0
		for k < len(rest) && k < 5 && isDigit(rest[k]) {
			k++
		}
		if k > 0 {
			ev.Append("src_port", rest[:k])
		}
	}
}

// enrichAuth dispatches on the program (already lower-cased in d.prog).
func (d *Decoder) enrichAuth(ev *event.Event, m []byte) {
	switch string(d.prog) {
	case "sshd", "sshd-session", "sshd-auth":
		if d.enrichSSHD(ev, m) {
			return
		}
	case "sudo":
		if enrichSudo(ev, m) {
			return
		}
	case "su":
		if enrichSu(ev, m) {
			return
		}
	case "systemd-logind":
		// "New session 12 of user alice."
		if hasPrefix(m, "New session ") {
			if k := bytes.Index(m, []byte(" of user ")); k > 0 {
				addUser(ev, "user", bytes.TrimSuffix(m[k+len(" of user "):], []byte(".")))
				return
			}
		}
	case "useradd", "adduser":
		// "new user: name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash, from=/dev/pts/0"
		if hasPrefix(m, "new user: name=") {
			u, _, _ := cutByte(m[len("new user: name="):], ',')
			addUser(ev, "user", u)
			return
		}
	}
	enrichPAM(ev, m)
}

// enrichPAM reads the PAM messages any authenticating program logs:
//
//	pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root
//	PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root
//	pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)
//	pam_unix(passwd:chauthtok): password changed for alice
func enrichPAM(ev *event.Event, m []byte) {
	if k := bytes.Index(m, []byte("authentication failure")); k >= 0 {
		semi := bytes.IndexByte(m[k:], ';')
		if semi < 0 {
			return
		}
		var user, rhost []byte
		for rest := m[k+semi+1:]; len(rest) > 0; {
			var kv []byte
			kv, rest, _ = cutByte(rest, ' ')
			key, val, ok := cutByte(kv, '=')
			if !ok {
				continue
			}
			switch string(key) {
			case "user":
				user = val
			case "rhost":
				rhost = val
			}
		}
		addUser(ev, "user", user)
		addAddr(ev, rhost)
		ev.AddString("auth_result", "failure")
		return
	}
	if k := bytes.Index(m, []byte("session opened for user ")); k >= 0 {
		u, _, _ := cutByte(m[k+len("session opened for user "):], ' ')
		u, _, _ = cutByte(u, '(')
		addUser(ev, "user", u)
		return
	}
	if k := bytes.Index(m, []byte("password changed for ")); k >= 0 {
		addUser(ev, "user", bytes.TrimSpace(m[k+len("password changed for "):]))
	}
}

// enrichSSHD reads OpenSSH's messages:
//
//	Failed password for [invalid user ]USER from IP port N ssh2
//	Accepted publickey for USER from IP port N ssh2: RSA SHA256:…
//	error: maximum authentication attempts exceeded for [invalid user ]USER from IP port N ssh2 [preauth]
//	Invalid user USER from IP port N
//	User USER from IP not allowed because not listed in AllowUsers
//	Connection closed by [authenticating user |invalid user ]USER IP port N [preauth]
//	Disconnected from [authenticating user |invalid user |user ]USER IP port N [preauth]
//	Received disconnect from IP port N:11: Bye Bye [preauth]
//	Did not receive identification string from IP port N
//
// It reports whether it recognised the message.
func (d *Decoder) enrichSSHD(ev *event.Event, m []byte) bool {
	result := ""
	var rest []byte
	switch {
	case hasPrefix(m, "Failed "):
		result, rest = "failure", m[len("Failed "):]
	case hasPrefix(m, "Accepted "):
		result, rest = "success", m[len("Accepted "):]
	case hasPrefix(m, "error: maximum authentication attempts exceeded for "):
		rest = m[len("error: maximum authentication attempts exceeded for "):]
		return userFromAddr(ev, rest, nil, "failure")
	case hasPrefix(m, "Invalid user "):
		return userFromAddr(ev, m[len("Invalid user "):], nil, "failure")
	case hasPrefix(m, "User "):
		rest = m[len("User "):]
		if k := bytes.LastIndex(rest, []byte(" not allowed because ")); k > 0 {
			return userFromAddr(ev, rest[:k], nil, "failure")
		}
		return false
	case hasPrefix(m, "Connection closed by "):
		return userAddrPort(ev, m[len("Connection closed by "):])
	case hasPrefix(m, "Connection reset by "):
		return userAddrPort(ev, m[len("Connection reset by "):])
	case hasPrefix(m, "Disconnected from "):
		return userAddrPort(ev, m[len("Disconnected from "):])
	case hasPrefix(m, "Received disconnect from "):
		addAddrPort(ev, m[len("Received disconnect from "):])
		return true
	case hasPrefix(m, "Did not receive identification string from "):
		addAddrPort(ev, m[len("Did not receive identification string from "):])
		return true
	case hasPrefix(m, "Unable to negotiate with "):
		addAddrPort(ev, m[len("Unable to negotiate with "):])
		return true
	default:
		return false
	}
	// "<method> for [invalid user ]USER from IP port N ssh2…"
	method, rest, ok := cutByte(rest, ' ')
	if !ok || !hasPrefix(rest, "for ") {
		return false
	}
	return userFromAddr(ev, rest[len("for "):], method, result)
}

// userFromAddr reads "[invalid user ]USER from ADDR[ port N…]" and adds user, src_ip,
// src_port, auth_result and auth_method (when given).
func userFromAddr(ev *event.Event, rest, method []byte, result string) bool {
	rest = trimPrefix(rest, "invalid user ")
	k := bytes.LastIndex(rest, []byte(" from "))
	if k < 0 {
		return false
	}
	addUser(ev, "user", rest[:k])
	addAddrPort(ev, rest[k+len(" from "):])
	if result != "" {
		ev.AddString("auth_result", result)
	}
	if len(method) > 0 {
		ev.Append("auth_method", method)
	}
	return true
}

// userAddrPort reads "[authenticating user |invalid user |user ]USER IP port N [preauth]".
func userAddrPort(ev *event.Event, rest []byte) bool {
	rest = bytes.TrimSuffix(rest, []byte(" [preauth]"))
	withUser := false
	for _, p := range [...]string{"authenticating user ", "invalid user ", "user "} {
		if hasPrefix(rest, p) {
			rest, withUser = rest[len(p):], true
			break
		}
	}
	addr := rest
	var port []byte
	if k := bytes.LastIndex(rest, []byte(" port ")); k >= 0 {
		addr, port = rest[:k], rest[k+len(" port "):]
	}
	if withUser {
		k := bytes.LastIndexByte(addr, ' ')
		if k < 0 {
			return false
		}
		addUser(ev, "user", addr[:k])
		addr = addr[k+1:]
	}
	addAddr(ev, addr)
	n := 0
	for n < len(port) && n < 5 && isDigit(port[n]) {
		n++
	}
	if n > 0 {
		ev.Append("src_port", port[:n])
	}
	return true
}

// enrichSudo reads sudo's command log:
//
//	alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id -u
//	alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/sh
//	mallory : user NOT in sudoers ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/bash
//
// COMMAND comes last and runs to the end of the line, " ; " and all.
func enrichSudo(ev *event.Event, m []byte) bool {
	m = bytes.TrimLeft(m, " ")
	k := bytes.Index(m, []byte(" : "))
	if k <= 0 || bytes.IndexByte(m[:k], ' ') >= 0 {
		return false
	}
	user, rest := m[:k], m[k+3:]
	if !bytes.Contains(rest, []byte("COMMAND=")) && !bytes.Contains(rest, []byte("TTY=")) {
		return false
	}
	ev.Append("user", user)
	failed := false
	for first := true; len(rest) > 0; first = false {
		if hasPrefix(rest, "COMMAND=") {
			ev.Append("command", rest[len("COMMAND="):])
			break
		}
		seg := rest
		if e := bytes.Index(rest, []byte(" ; ")); e >= 0 {
			seg, rest = rest[:e], rest[e+3:]
		} else {
			rest = nil
		}
		key, val, ok := cutByte(seg, '=')
		switch {
		case ok && string(key) == "USER":
			ev.Append("target_user", val)
		case ok && string(key) == "PWD":
			ev.Append("pwd", val)
		case ok && string(key) == "TTY":
			ev.Append("tty", val)
		case ok && string(key) == "GROUP":
			ev.Append("target_group", val)
		case first && !ok:
			// "3 incorrect password attempts", "user NOT in sudoers", "command not allowed"
			failed = true
		}
	}
	if failed {
		ev.AddString("auth_result", "failure")
	}
	return true
}

// enrichSu reads su's "(to root) alice on pts/0" and "FAILED SU (to root) alice on pts/0".
func enrichSu(ev *event.Event, m []byte) bool {
	result := "success"
	if hasPrefix(m, "FAILED SU ") {
		m, result = m[len("FAILED SU "):], "failure"
	}
	if !hasPrefix(m, "(to ") {
		return false
	}
	target, rest, ok := cutByte(m[len("(to "):], ')')
	if !ok {
		return false
	}
	rest = bytes.TrimLeft(rest, " ")
	user, _, _ := cutByte(rest, ' ')
	addUser(ev, "user", user)
	addUser(ev, "target_user", target)
	ev.AddString("auth_result", result)
	return true
}

// enrichCron reads cron's "(root) CMD (/usr/local/bin/backup.sh)".
func (d *Decoder) enrichCron(ev *event.Event, m []byte) {
	if !hasPrefix(m, "(") {
		enrichPAM(ev, m)
		return
	}
	user, rest, ok := cutByte(m[1:], ')')
	if !ok || !hasPrefix(rest, " CMD (") || !hasSuffix(rest, ")") {
		return
	}
	addUser(ev, "user", user)
	ev.Append("command", rest[len(" CMD ("):len(rest)-1])
}

// isAudit reports whether m is an audit record: "type=SYSCALL msg=audit(…): …" as
// audisp-syslog sends it (possibly after node=…), or the kernel's
// "audit: type=1400 audit(…): …".
func isAudit(m []byte) bool {
	m = trimPrefix(m, "audit: ")
	if hasPrefix(m, "node=") {
		_, m, _ = cutByte(m, ' ')
	}
	return hasPrefix(m, "type=") && bytes.Contains(m, []byte("audit("))
}

func auditKeyByte(c byte) bool {
	return c == '_' || c == '-' || isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

// auditFields adds the key=value pairs of an audit record as fields: "…" values lose
// their quotes; msg=audit(1700000000.123:42): becomes msg=audit(1700000000.123:42); a
// '…' value (USER_* records' msg='op=PAM:authentication acct="root" … res=failed') is
// added whole and its own pairs too. Hex-encoded values stay encoded. The record's time
// is ev.Time when the syslog header had none.
func (d *Decoder) auditFields(ev *event.Event, m []byte) {
	m = trimPrefix(m, "audit: ")
	d.auditPairs(ev, m, true)
}

func (d *Decoder) auditPairs(ev *event.Event, m []byte, outer bool) {
	i := 0
	for i < len(m) {
		// 0x1d separates a record from the fields auditd's enriched format appends.
		for i < len(m) && (m[i] == ' ' || m[i] == 0x1d) {
			i++
		}
		start := i
		for i < len(m) && auditKeyByte(m[i]) {
			i++
		}
		if i == start || i >= len(m) || m[i] != '=' {
			// A bare word: the kernel's "audit(…):" or noise.
			for i < len(m) && m[i] != ' ' && m[i] != 0x1d {
				i++
			}
			if w := m[start:i]; hasPrefix(w, "audit(") {
				d.auditStamp(ev, bytes.TrimSuffix(w, []byte(":")))
			}
			continue
		}
		key := m[start:i]
		i++
		var val []byte
		quote := byte(0)
		if i < len(m) && (m[i] == '"' || m[i] == '\'') {
			quote = m[i]
			e := bytes.IndexByte(m[i+1:], quote)
			if e < 0 {
				val, i = m[i+1:], len(m)
			} else {
				val, i = m[i+1:i+1+e], i+e+2
			}
		} else {
			s := i
			for i < len(m) && m[i] != ' ' && m[i] != 0x1d {
				i++
			}
			val = m[s:i]
		}
		if string(key) == "msg" && hasPrefix(val, "audit(") {
			d.auditStamp(ev, bytes.TrimSuffix(val, []byte(":")))
			continue
		}
		ev.Add(key, val)
		if quote == '\'' && outer {
			d.auditPairs(ev, val, false)
		}
	}
}

// auditStamp adds msg=audit(SECONDS.MILLIS:SERIAL) and takes the time from it when the
// event has none.
func (d *Decoder) auditStamp(ev *event.Event, w []byte) {
	ev.Append("msg", w)
	if !ev.Time.IsZero() || len(w) < len("audit()") || w[len(w)-1] != ')' {
		return
	}
	stamp, _, _ := cutByte(w[len("audit("):len(w)-1], ':')
	if t, ok := parseEpoch(stamp); ok {
		ev.Time = t
	}
}
