package ioc

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mamori-soc/mamori/internal/event"
)

// Hit is an indicator found in an event.
//
// Field and Value alias the event's memory: they are valid until the event
// is reset or modified. Copy them (string(h.Value)) to keep them.
type Hit struct {
	// Indicator is the matched indicator, owned by the Set: do not modify it.
	Indicator *Indicator
	// Field is the name of the event field the value was found in.
	Field []byte
	// Value is the part of the field's value that matched, as the event
	// wrote it: the whole value, one hash of a Sysmon Hashes list, the
	// domain of an e-mail address, a URL found in a command line, or the
	// host of a URL (for a domain or IP indicator).
	Value []byte
}

// CompileStats counts what Compile did with the indicators it was given.
type CompileStats struct {
	Compiled    int // in the Set
	Expired     int // ValidUntil passed
	NotYetValid int // ValidFrom in the future
	Decayed     int // effective confidence 0 (see EffectiveConfidence)
	Invalid     int // value not in the normalized form of its kind
}

// Set is a compiled, immutable set of indicators that matches events. It
// is safe for concurrent use by any number of goroutines.
//
// Lookups are exact, in hash maps keyed by fixed-size arrays (addresses as
// 16 bytes, hashes as 16, 20 or 32 bytes) or by the normalized text (domains,
// URLs); networks are sorted, non-overlapping address ranges each naming the
// longest prefix that covers it, searched by bisection. Indicators with the
// same key are chained.
type Set struct {
	inds []Indicator
	next []int32 // next[i]: the next indicator with the same key as i, or -1

	ip4       map[uint32]int32   // IPv4 addresses
	ip6       map[[16]byte]int32 // other IPv6 addresses
	nets      prefixTable        // IPv4 as IPv4-mapped IPv6
	domains   map[string]int32
	tlds      *[tldBits / 64]uint64 // hashes of the last labels of the domains
	maxLabels int                   // labels of the longest domain
	urls      map[string]int32
	md5       map[[16]byte]int32
	sha1      map[[20]byte]int32
	sha256    map[[32]byte]int32

	hasIP, hasDomain, hasURL, hasHash bool
	scanURLs                          bool // URLs are worth finding: a URL, domain or IP indicator exists

	stats      CompileStats
	nextChange time.Time
}

// Compile builds a Set of the indicators active at now: those whose
// EffectiveConfidence(now) is above 0, that is, not expired, already valid
// and not decayed to 0. Indicators whose value is not in the normalized
// form of their kind are left out (counted in Stats). The Set holds copies
// of the indicators: inds may be reused afterwards.
func Compile(inds []Indicator, now time.Time) *Set {
	s := &Set{tlds: new([tldBits / 64]uint64)}
	var counts [8]int
	for i := range inds {
		if k := kindIndex(inds[i].Kind); k >= 0 {
			counts[k]++
		}
	}
	s.ip4 = make(map[uint32]int32, counts[0])
	s.ip6 = map[[16]byte]int32{}
	s.domains = make(map[string]int32, counts[2])
	s.urls = make(map[string]int32, counts[3])
	s.md5 = make(map[[16]byte]int32, counts[4])
	s.sha1 = make(map[[20]byte]int32, counts[5])
	s.sha256 = make(map[[32]byte]int32, counts[6])
	s.inds = make([]Indicator, 0, len(inds))
	s.next = make([]int32, 0, len(inds))
	var prefixes []prefixEntry
	var urlBuf []byte
	var textBuf [64]byte
	for i := range inds {
		ind := &inds[i]
		switch {
		case !ind.ValidUntil.IsZero() && !now.Before(ind.ValidUntil):
			s.stats.Expired++
			continue
		case !ind.ValidFrom.IsZero() && now.Before(ind.ValidFrom):
			s.stats.NotYetValid++
			s.noteChange(ind.ValidFrom)
			continue
		case ind.EffectiveConfidence(now) <= 0:
			s.stats.Decayed++
			continue
		}
		idx := int32(len(s.inds))
		ok := true
		switch ind.Kind {
		case IP:
			a, err := netip.ParseAddr(ind.Value)
			if ok = err == nil && a.Zone() == "" && string(a.Unmap().AppendTo(textBuf[:0])) == ind.Value; ok {
				s.chainIP(a.As16(), idx)
			}
		case CIDR:
			p, err := netip.ParsePrefix(ind.Value)
			if ok = err == nil && p.Masked() == p && !p.Addr().Is4In6() && string(p.AppendTo(textBuf[:0])) == ind.Value; ok {
				a16 := p.Addr().As16()
				bits := p.Bits()
				if p.Addr().Is4() {
					bits += 96
				}
				if bits == 128 {
					s.chainIP(a16, idx)
				} else {
					prefixes = append(prefixes, prefixEntry{lo: u128From(a16), bits: uint8(bits), head: idx})
					s.next = append(s.next, -1)
				}
			}
		case Domain:
			if ok = compiledDomain(ind.Value); ok {
				s.chainString(s.domains, ind.Value, idx)
				h := tldHash([]byte(ind.Value[strings.LastIndexByte(ind.Value, '.')+1:]))
				s.tlds[h/64] |= 1 << (h % 64)
				s.maxLabels = max(s.maxLabels, strings.Count(ind.Value, ".")+1)
			}
		case URL:
			if urlBuf, ok = compiledURL(urlBuf, ind.Value); ok {
				s.chainString(s.urls, ind.Value, idx)
			}
		case MD5:
			var h [16]byte
			if ok = decodeHash(h[:], ind.Value); ok {
				s.chain(s.md5, h, idx)
			}
		case SHA1:
			var h [20]byte
			if ok = decodeHash(h[:], ind.Value); ok {
				s.chain20(s.sha1, h, idx)
			}
		case SHA256:
			var h [32]byte
			if ok = decodeHash(h[:], ind.Value); ok {
				s.chain32(s.sha256, h, idx)
			}
		default:
			ok = false
		}
		if !ok {
			s.stats.Invalid++
			continue
		}
		s.inds = append(s.inds, *ind)
		if !ind.ValidUntil.IsZero() {
			s.noteChange(ind.ValidUntil)
		} else if lt := ind.EffectiveLifetime(); lt >= 0 {
			start := ind.ValidFrom
			if start.IsZero() {
				start = ind.Created
			}
			if !start.IsZero() {
				s.noteChange(start.Add(lt))
			}
		}
	}
	s.stats.Compiled = len(s.inds)
	s.nets = buildPrefixTable(prefixes, s.next)
	s.hasIP = len(s.ip4)+len(s.ip6) > 0 || len(s.nets.starts) > 0
	s.hasDomain = len(s.domains) > 0
	s.hasURL = len(s.urls) > 0
	s.hasHash = len(s.md5)+len(s.sha1)+len(s.sha256) > 0
	s.scanURLs = s.hasURL || s.hasDomain || s.hasIP
	s.inds = slices.Clip(s.inds)
	return s
}

func kindIndex(k Kind) int {
	switch k {
	case IP:
		return 0
	case CIDR:
		return 1
	case Domain:
		return 2
	case URL:
		return 3
	case MD5:
		return 4
	case SHA1:
		return 5
	case SHA256:
		return 6
	}
	return -1
}

// canonical reports whether v is the normalized form of a value of kind k.
func canonical(k Kind, v string) bool {
	n, err := Normalize(k, v)
	return err == nil && n == v
}

// compiledDomain and compiledURL are Compile's cheaper forms of canonical:
// they do not allocate. A URL is taken when it is its own canonical form
// (see appendURL), which is what matching needs.
func compiledDomain(v string) bool {
	return checkDomain(v) == nil && !strings.ContainsFunc(v, func(r rune) bool { return r >= 'A' && r <= 'Z' })
}

func compiledURL(buf []byte, v string) ([]byte, bool) {
	if len(v) > maxValueLen || strings.ContainsAny(v, " \t\r\n") {
		return buf, false
	}
	buf, _, _, ok := appendURL(buf[:0], []byte(v))
	return buf, ok && string(buf) == v
}

func decodeHash(dst []byte, v string) bool {
	if len(v) != 2*len(dst) {
		return false
	}
	for i := range dst {
		h, l := v[2*i], v[2*i+1]
		if h >= 'A' && h <= 'F' || l >= 'A' && l <= 'F' {
			return false // not normalized
		}
		hi, lo := unhex(h), unhex(l)
		if hi > 15 || lo > 15 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func (s *Set) noteChange(t time.Time) {
	if s.nextChange.IsZero() || t.Before(s.nextChange) {
		s.nextChange = t
	}
}

// chainIP adds an address, IPv4 as IPv4-mapped IPv6, to ip4 or ip6.
func (s *Set) chainIP(a [16]byte, idx int32) {
	if v4, ok := mapped4(a); ok {
		head, found := s.ip4[v4]
		if !found {
			head = -1
		}
		s.next = append(s.next, head)
		s.ip4[v4] = idx
		return
	}
	s.chain(s.ip6, a, idx)
}

// mapped4 returns the IPv4 address of an IPv4-mapped IPv6 address.
func mapped4(a [16]byte) (uint32, bool) {
	if binary.BigEndian.Uint64(a[:8]) != 0 || binary.BigEndian.Uint32(a[8:12]) != 0xffff {
		return 0, false
	}
	return binary.BigEndian.Uint32(a[12:]), true
}

// tldBits is the size of the bit set of top-level labels: a value whose last
// label's bit is clear is not looked up as a domain at all.
const tldBits = 1 << 16

// tldHash is FNV-1a of a lower-case label, reduced to tldBits.
func tldHash(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return (h ^ h>>16) % tldBits
}

func (s *Set) chain(m map[[16]byte]int32, k [16]byte, idx int32) {
	head, ok := m[k]
	if !ok {
		head = -1
	}
	s.next = append(s.next, head)
	m[k] = idx
}

func (s *Set) chain20(m map[[20]byte]int32, k [20]byte, idx int32) {
	head, ok := m[k]
	if !ok {
		head = -1
	}
	s.next = append(s.next, head)
	m[k] = idx
}

func (s *Set) chain32(m map[[32]byte]int32, k [32]byte, idx int32) {
	head, ok := m[k]
	if !ok {
		head = -1
	}
	s.next = append(s.next, head)
	m[k] = idx
}

func (s *Set) chainString(m map[string]int32, k string, idx int32) {
	head, ok := m[k]
	if !ok {
		head = -1
	}
	s.next = append(s.next, head)
	m[k] = idx
}

// Len is the number of indicators in the set.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.inds)
}

// Stats says what Compile did.
func (s *Set) Stats() CompileStats { return s.stats }

// NextChange is the earliest time at which an indicator of the set expires
// or decays to 0, or one left out becomes valid: when the set should be
// compiled again. Zero when no such time exists.
func (s *Set) NextChange() time.Time { return s.nextChange }

// Indicators returns the set's indicators. They are owned by the set: do not
// modify them.
func (s *Set) Indicators() []Indicator { return s.inds }

// Match appends to dst a Hit for every indicator found in the values of ev
// and returns it. It does not allocate when dst has room for the hits.
//
// Every value is classified in one pass over its bytes and looked up as
// what it looks like (see docs/INTEL.md):
//   - an IPv4 or IPv6 address, optionally [bracketed] and with a ":port":
//     exact IPs, then the networks that contain it, longest prefix first;
//   - a domain name (any case, trailing dot allowed): the name and each of its
//     parent domains, never the bare top-level label; the part after '@' of
//     an e-mail address likewise;
//   - 32, 40 or 64 hex digits: MD5, SHA-1 or SHA-256 (any case);
//   - a Sysmon Hashes list "SHA1=…,MD5=…,SHA256=…,IMPHASH=…": each hash;
//   - any "scheme://…" in a value, alone or inside text such as a command
//     line: the normalized URL, and its host as a domain or IP.
//
// A value matching several indicators gives a hit for each; an indicator
// found in several fields gives a hit for each field.
func (s *Set) Match(ev *event.Event, dst []Hit) []Hit {
	if s == nil || len(s.inds) == 0 {
		return dst
	}
	for i, n := 0, ev.Len(); i < n; i++ {
		dst = s.matchValue(ev.Name(i), ev.Value(i), dst)
	}
	return dst
}

// MatchValue is Match for one value, reported under the field name field.
// The hits alias field and value.
func (s *Set) MatchValue(field, value []byte, dst []Hit) []Hit {
	if s == nil || len(s.inds) == 0 {
		return dst
	}
	return s.matchValue(field, value, dst)
}

// Byte classes: the a* bits say which kinds of value a byte may appear in
// (ANDed over a value), the p* bits that it is present (ORed).
const (
	aHex  uint16 = 1 << iota // 0-9 a-f A-F
	aIP                      // hex, '.', ':', '[', ']'
	aDom                     // letters, digits, '-', '_', '.', non-ASCII
	aMail                    // aDom and '@', '+', '%'
	aList                    // letters, digits, '=', ','
	aURL                     // any printable but space and quotes
	pDot
	pColon
	pAt
	pEq

	allowMask = aHex | aIP | aDom | aMail | aList | aURL
)

var byteClass = func() (t [256]uint16) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		var v uint16
		hex := b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'
		alnum := b >= '0' && b <= '9' || isAlpha(b)
		if hex {
			v |= aHex | aIP
		}
		if alnum || b == '-' || b == '_' || b == '.' || b >= 0x80 {
			v |= aDom | aMail
		}
		if alnum || b == '=' || b == ',' {
			v |= aList
		}
		if b > ' ' && b < 0x7f && b != '"' && b != '\'' && b != '`' || b >= 0x80 {
			v |= aURL
		}
		switch b {
		case '.':
			v |= aIP | pDot
		case ':':
			v |= aIP | pColon
		case '[', ']':
			v |= aIP
		case '@':
			v |= aMail | pAt
		case '+', '%':
			v |= aMail
		case '=':
			v |= pEq
		}
		t[c] = v
	}
	return t
}()

func (s *Set) matchValue(name, v []byte, dst []Hit) []Hit {
	if len(v) < 3 || len(v) > maxValueLen {
		return dst
	}
	a, o := allowMask, uint16(0)
	for _, c := range v {
		t := byteClass[c]
		a &= t
		o |= t
		if a&^aURL == 0 {
			// Text, a path, a URL: only a URL inside it can match.
			if s.scanURLs {
				if k := indexSchemeSep(v); k >= 0 {
					return s.matchURLs(name, v, k, dst)
				}
			}
			return dst
		}
	}
	if a&aHex != 0 && s.hasHash {
		switch len(v) {
		case 32, 40, 64:
			return s.matchHash(name, v, v, dst)
		}
	}
	if a&aIP != 0 && o&(pDot|pColon) != 0 && s.hasIP {
		if ip, ok := parseAddr16(v); ok {
			return s.matchIP(name, v, ip, dst)
		}
	}
	if a&aDom != 0 && o&pDot != 0 {
		if s.hasDomain {
			return s.matchDomain(name, v, dst)
		}
		return dst
	}
	if a&aMail != 0 && o&pAt != 0 && s.hasDomain {
		return s.matchDomain(name, v[lastIndexByte(v, '@')+1:], dst)
	}
	if a&aList != 0 && o&pEq != 0 && s.hasHash {
		return s.matchHashList(name, v, dst)
	}
	return dst
}

// indexSchemeSep returns the index of the first "://" in v, or -1. It skips
// from '/' to '/' (IndexByte is vectorized): Windows text has few.
func indexSchemeSep(v []byte) int {
	off := 0
	for {
		i := bytes.IndexByte(v[off:], '/')
		if i < 0 {
			return -1
		}
		i += off
		if i > 0 && v[i-1] == ':' && i+1 < len(v) && v[i+1] == '/' {
			return i - 1
		}
		off = i + 1
	}
}

func (s *Set) emit(dst []Hit, head int32, name, v []byte) []Hit {
	for j := head; j >= 0; j = s.next[j] {
		dst = append(dst, Hit{Indicator: &s.inds[j], Field: name, Value: v})
	}
	return dst
}

// matchHash looks hex up as a hash by its length; hit is what hits report.
func (s *Set) matchHash(name, hex, hit []byte, dst []Hit) []Hit {
	switch len(hex) {
	case 32:
		var h [16]byte
		if decodeHex(h[:], hex) {
			if i, ok := s.md5[h]; ok {
				dst = s.emit(dst, i, name, hit)
			}
		}
	case 40:
		var h [20]byte
		if decodeHex(h[:], hex) {
			if i, ok := s.sha1[h]; ok {
				dst = s.emit(dst, i, name, hit)
			}
		}
	case 64:
		var h [32]byte
		if decodeHex(h[:], hex) {
			if i, ok := s.sha256[h]; ok {
				dst = s.emit(dst, i, name, hit)
			}
		}
	}
	return dst
}

// decodeHex decodes hex digits of any case into dst (len(hex) == 2*len(dst)).
func decodeHex(dst, hex []byte) bool {
	_ = hex[2*len(dst)-1]
	for i := range dst {
		hi, lo := unhex(hex[2*i]), unhex(hex[2*i+1])
		if hi|lo > 15 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

// matchHashList reads a Sysmon Hashes value: "ALG=hex" items separated by
// commas, of which MD5, SHA1 and SHA256 are looked up.
func (s *Set) matchHashList(name, v []byte, dst []Hit) []Hit {
	for len(v) > 0 {
		item := v
		if i := indexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		eq := indexByte(item, '=')
		if eq < 0 {
			continue
		}
		alg, hex := item[:eq], item[eq+1:]
		want := 0
		switch {
		case asciiEqualFold(alg, "MD5"):
			want = 32
		case asciiEqualFold(alg, "SHA1"):
			want = 40
		case asciiEqualFold(alg, "SHA256"):
			want = 64
		}
		if want != 0 && len(hex) == want {
			dst = s.matchHash(name, hex, hex, dst)
		}
	}
	return dst
}

func asciiEqualFold(b []byte, upper string) bool {
	if len(b) != len(upper) {
		return false
	}
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != upper[i] {
			return false
		}
	}
	return true
}

func (s *Set) matchIP(name, v []byte, ip [16]byte, dst []Hit) []Hit {
	if v4, ok := mapped4(ip); ok {
		if i, ok := s.ip4[v4]; ok {
			dst = s.emit(dst, i, name, v)
		}
	} else if i, ok := s.ip6[ip]; ok {
		dst = s.emit(dst, i, name, v)
	}
	if len(s.nets.starts) > 0 {
		for p := s.nets.lookup(u128From(ip)); p >= 0; p = s.nets.parent[p] {
			dst = s.emit(dst, s.nets.head[p], name, v)
		}
	}
	return dst
}

// matchDomain looks a name up and each of its parents that has at least two
// labels. raw is reported in the hits.
func (s *Set) matchDomain(name, raw []byte, dst []Hit) []Hit {
	d := raw
	if len(d) > 0 && d[len(d)-1] == '.' {
		d = d[:len(d)-1]
	}
	if len(d) < 3 || len(d) > 253 {
		return dst
	}
	var buf [253]byte
	n := copy(buf[:], d)
	labels := 1
	lastDot := -1
	for i := 0; i < n; i++ {
		c := buf[i]
		if c >= 'A' && c <= 'Z' {
			buf[i] = c + 'a' - 'A'
		} else if c == '.' {
			labels++
			lastDot = i
		}
	}
	if lastDot < 0 {
		return dst
	}
	if h := tldHash(buf[lastDot+1 : n]); s.tlds[h/64]&(1<<(h%64)) == 0 {
		return dst
	}
	p := 0
	for labels > s.maxLabels {
		p += indexByte(buf[p:n], '.') + 1
		labels--
	}
	for labels >= 2 {
		if i, ok := s.domains[string(buf[p:n])]; ok {
			dst = s.emit(dst, i, name, raw)
		}
		p += indexByte(buf[p:n], '.') + 1
		labels--
	}
	return dst
}

// urlStop reports whether c ends a URL found inside text.
func urlStop(c byte) bool {
	return c <= ' ' || c == '"' || c == '\'' || c == '`' || c == '<' || c == '>' || c == '\\' || c == '|' || c == '^' || c == '{' || c == '}' || c == 0x7f
}

// matchURLs finds every scheme://… in v (the first "://" is at k) and looks
// up the URL and its host.
func (s *Set) matchURLs(name, v []byte, k int, dst []Hit) []Hit {
	for {
		start := k
		for start > 0 && schemeByte(v[start-1]) {
			start--
		}
		for start < k && !isAlpha(v[start]) {
			start++
		}
		end := k + 3
		for end < len(v) && !urlStop(v[end]) {
			end++
		}
		if start < k && end > k+3 {
			dst = s.matchURL(name, v[start:end], dst)
		}
		if end >= len(v) {
			return dst
		}
		next := indexSchemeSep(v[end:])
		if next < 0 {
			return dst
		}
		k = end + next
	}
}

func schemeByte(c byte) bool {
	return isAlpha(c) || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

func (s *Set) matchURL(name, u []byte, dst []Hit) []Hit {
	if s.hasURL && len(u) < maxValueLen {
		var buf [maxValueLen + 1]byte
		if out, _, _, ok := appendURL(buf[:0], u); ok && len(out) <= len(buf) {
			if i, ok := s.urls[string(out)]; ok {
				dst = s.emit(dst, i, name, u)
			}
		}
	}
	h0, h1, ok := urlHost(u)
	if !ok {
		return dst
	}
	host := u[h0:h1]
	if host[0] == '[' {
		if s.hasIP {
			if ip, ok := parseIPv6(host[1 : len(host)-1]); ok {
				dst = s.matchIP(name, host, ip, dst)
			}
		}
		return dst
	}
	if s.hasIP {
		if v4, ok := parseIPv4(host); ok {
			var ip [16]byte
			ip[10], ip[11] = 0xff, 0xff
			copy(ip[12:], v4[:])
			return s.matchIP(name, host, ip, dst)
		}
	}
	if s.hasDomain {
		dst = s.matchDomain(name, host, dst)
	}
	return dst
}

// urlHost finds the host of scheme://[userinfo@]host[:port]/… in u.
func urlHost(u []byte) (h0, h1 int, ok bool) {
	n := schemeLen(u)
	if n == 0 || len(u) < n+3 {
		return 0, 0, false
	}
	h0 = n + 3
	end := len(u)
	for i := h0; i < len(u); i++ {
		if c := u[i]; c == '/' || c == '?' || c == '#' {
			end = i
			break
		}
	}
	if at := lastIndexByte(u[h0:end], '@'); at >= 0 {
		h0 += at + 1
	}
	h1 = end
	if h0 < end && u[h0] == '[' {
		i := indexByte(u[h0:end], ']')
		if i < 0 {
			return 0, 0, false
		}
		h1 = h0 + i + 1
	} else if i := lastIndexByte(u[h0:end], ':'); i >= 0 {
		h1 = h0 + i
	}
	return h0, h1, h1 > h0
}

// u128 is an IPv6 address (IPv4 mapped) as a number.
type u128 struct{ hi, lo uint64 }

func u128From(a [16]byte) u128 {
	return u128{binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:])}
}

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

// last returns the highest address of the prefix a/bits.
func (a u128) last(bits uint8) u128 {
	switch {
	case bits == 0:
		return u128{^uint64(0), ^uint64(0)}
	case bits <= 64:
		return u128{a.hi | (^uint64(0) >> bits), ^uint64(0)}
	case bits < 128:
		return u128{a.hi, a.lo | (^uint64(0) >> (bits - 64))}
	}
	return a
}

func (a u128) inc() (u128, bool) {
	if a.lo != ^uint64(0) {
		return u128{a.hi, a.lo + 1}, true
	}
	if a.hi != ^uint64(0) {
		return u128{a.hi + 1, 0}, true
	}
	return a, false
}

type prefixEntry struct {
	lo   u128
	bits uint8
	head int32 // chain of indicators
}

// prefixTable maps each address to the longest prefix that contains it: the
// address space is cut into ranges at every prefix's first and one-past-last
// address; starts[i] begins range i, owned by prefix owner[i] (-1: none).
// Prefixes nest or are disjoint, so each prefix's parent is the next-longest
// prefix containing it.
type prefixTable struct {
	starts []u128
	owner  []int32
	head   []int32 // per unique prefix: its chain of indicators
	parent []int32 // per unique prefix: the enclosing prefix, or -1
}

func buildPrefixTable(ps []prefixEntry, next []int32) prefixTable {
	var t prefixTable
	if len(ps) == 0 {
		return t
	}
	slices.SortStableFunc(ps, func(a, b prefixEntry) int {
		switch {
		case a.lo.less(b.lo):
			return -1
		case b.lo.less(a.lo):
			return 1
		}
		return int(a.bits) - int(b.bits)
	})
	// Merge duplicates into one chain.
	uniq := ps[:0]
	for _, p := range ps {
		if n := len(uniq); n > 0 && uniq[n-1].lo == p.lo && uniq[n-1].bits == p.bits {
			// Append p's chain (one element) in front of the unique one.
			next[p.head] = uniq[n-1].head
			uniq[n-1].head = p.head
			continue
		}
		uniq = append(uniq, p)
	}
	t.head = make([]int32, len(uniq))
	t.parent = make([]int32, len(uniq))
	t.starts = make([]u128, 0, 2*len(uniq))
	t.owner = make([]int32, 0, 2*len(uniq))
	emit := func(start u128, owner int32) {
		if n := len(t.starts); n > 0 && t.starts[n-1] == start {
			t.owner[n-1] = owner
			return
		}
		t.starts = append(t.starts, start)
		t.owner = append(t.owner, owner)
	}
	var stack []int32
	ends := make([]u128, len(uniq))
	pop := func(before u128, all bool) {
		for len(stack) > 0 {
			top := stack[len(stack)-1]
			if !all && !ends[top].less(before) {
				return
			}
			stack = stack[:len(stack)-1]
			parent := int32(-1)
			if len(stack) > 0 {
				parent = stack[len(stack)-1]
			}
			if after, ok := ends[top].inc(); ok {
				emit(after, parent)
			}
		}
	}
	for i, p := range uniq {
		t.head[i] = p.head
		ends[i] = p.lo.last(p.bits)
		pop(p.lo, false)
		t.parent[i] = -1
		if len(stack) > 0 {
			t.parent[i] = stack[len(stack)-1]
		}
		emit(p.lo, int32(i))
		stack = append(stack, int32(i))
	}
	pop(u128{}, true)
	t.starts = slices.Clip(t.starts)
	t.owner = slices.Clip(t.owner)
	return t
}

// lookup returns the longest prefix containing a, or -1.
func (t *prefixTable) lookup(a u128) int32 {
	lo, hi := 0, len(t.starts)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if a.less(t.starts[m]) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	if lo == 0 {
		return -1
	}
	return t.owner[lo-1]
}
