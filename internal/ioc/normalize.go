package ioc

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// maxValueLen bounds an indicator's value (and the event values Set looks at
// as URLs): longer input is rejected rather than truncated.
const maxValueLen = 4096

// Normalize returns value in the canonical form of kind, or an error saying
// why it is not one. Defanged input ("hxxp://evil[.]example") is refanged
// first; surrounding space is dropped.
//
//   - IP: netip's text form (IPv6 compressed, lower case); an IPv4-mapped IPv6
//     address becomes IPv4; "/32" and "/128" are accepted; zones are not.
//   - CIDR: the masked prefix ("10.1.2.3/8" → "10.0.0.0/8"); a bare address
//     becomes a full-length prefix.
//   - Domain: ASCII lower case, without a trailing dot or a leading "*.",
//     internationalized names left as given (UTF-8 or A-labels); at least two
//     labels of letters, digits, '-' and '_' (or non-ASCII), a non-numeric
//     last label, at most 253 bytes.
//   - URL: scheme://host[:port]/rest with the scheme and host in lower case, the
//     host's trailing dot, the scheme's default port (http 80, https 443,
//     ftp 21) and any #fragment dropped, and "/" as the path when it is empty;
//     user info, path and query are kept as given.
//   - MD5, SHA1, SHA256: lower-case hex of 32, 40 or 64 digits.
func Normalize(kind Kind, value string) (string, error) {
	v, err := prepare(value)
	if err != nil {
		return "", err
	}
	switch kind {
	case IP:
		return normIP(v)
	case CIDR:
		return normCIDR(v)
	case Domain:
		return normDomain(v)
	case URL:
		return normURL(v)
	case MD5, SHA1, SHA256:
		return normHash(kind, v)
	}
	return "", fmt.Errorf("unknown kind %q", kind)
}

func prepare(value string) (string, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return "", errors.New("empty value")
	}
	if len(v) > maxValueLen {
		return "", fmt.Errorf("value of %d bytes is longer than %d", len(v), maxValueLen)
	}
	return Refang(v), nil
}

// Guess finds the kind of a value: a hash by its length in hex digits, a URL
// by its "scheme://", then an IP address (an "ip:port" or "[ipv6]:port" loses
// its port), a network, a domain, and last a "host/path" without scheme,
// which becomes an http:// URL. It returns the kind and the normalized
// value, or false when value is none of them.
func Guess(value string) (Kind, string, bool) {
	v, err := prepare(value)
	if err != nil {
		return "", "", false
	}
	if isHex(v) {
		switch len(v) {
		case 32:
			return MD5, strings.ToLower(v), true
		case 40:
			return SHA1, strings.ToLower(v), true
		case 64:
			return SHA256, strings.ToLower(v), true
		}
		// fall through: "1234" could still be... nothing valid, but a domain
		// check below rejects a numeric name.
	}
	if hasScheme(v) {
		if u, err := normURL(v); err == nil {
			return URL, u, true
		}
		return "", "", false
	}
	if s, err := normIP(v); err == nil {
		return IP, s, true
	}
	if host, ok := cutPort(v); ok {
		if s, err := normIP(host); err == nil {
			return IP, s, true
		}
	}
	if strings.IndexByte(v, '/') >= 0 {
		if p, err := netip.ParsePrefix(v); err == nil {
			if p.Addr().Unmap().BitLen() == unmapBits(p) {
				s, _ := normIP(p.Addr().String())
				return IP, s, true
			}
			s, err := normCIDR(v)
			if err == nil {
				return CIDR, s, true
			}
		}
		host, path, _ := strings.Cut(v, "/")
		if isIPHost(host) && allDigits([]byte(path)) {
			return "", "", false // a network with a bad length, not a URL
		}
		if _, err := normDomain(host); err == nil || isIPHost(host) {
			if u, err := normURL("http://" + v); err == nil {
				return URL, u, true
			}
		}
		return "", "", false
	}
	if s, err := normDomain(v); err == nil {
		return Domain, s, true
	}
	return "", "", false
}

func isIPHost(h string) bool {
	if h2, ok := cutPort(h); ok {
		h = h2
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	_, err := netip.ParseAddr(h)
	return err == nil
}

// unmapBits is p's length counted in the unmapped address's family.
func unmapBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return p.Bits() - 96
	}
	return p.Bits()
}

// cutPort splits "1.2.3.4:80" or "[::1]:80" and returns the host when the
// port is all digits.
func cutPort(v string) (string, bool) {
	i := strings.LastIndexByte(v, ':')
	if i <= 0 || i == len(v)-1 {
		return "", false
	}
	for _, c := range []byte(v[i+1:]) {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	host := v[:i]
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		return host[1 : len(host)-1], true
	}
	if strings.IndexByte(host, ':') >= 0 {
		return "", false // a bare IPv6 address: its last group is not a port
	}
	return host, true
}

// refangs are the defanged spellings Refang undoes, longest first.
var refangs = strings.NewReplacer(
	"[://]", "://", "[:]", ":", "[.]", ".", "(.)", ".", "{.}", ".",
	"[dot]", ".", "(dot)", ".", "{dot}", ".", "[DOT]", ".", "(DOT)", ".",
	"[@]", "@", "[at]", "@", "(at)", "@", "[/]", "/",
)

// Refang undoes the usual defanging of indicators in reports and feeds:
// "hxxp://", "hxxps://", "fxp://" (any case) → http, https, ftp; "[.]",
// "(.)", "{.}", "[dot]" → "."; "[:]" → ":"; "[://]" → "://"; "[@]", "[at]"
// → "@". Other text is returned unchanged.
func Refang(v string) string {
	if strings.ContainsAny(v, "[({") {
		v = refangs.Replace(v)
	}
	switch {
	case len(v) >= 5 && strings.EqualFold(v[:5], "hxxps"):
		v = "https" + v[5:]
	case len(v) >= 4 && strings.EqualFold(v[:4], "hxxp"):
		v = "http" + v[4:]
	case len(v) >= 3 && strings.EqualFold(v[:3], "fxp"):
		v = "ftp" + v[3:]
	}
	return v
}

func isHex(v string) bool {
	for i := 0; i < len(v); i++ {
		if unhex(v[i]) > 15 {
			return false
		}
	}
	return len(v) > 0
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 0xff
}

func normHash(kind Kind, v string) (string, error) {
	want := hashLen(kind) * 2
	if len(v) != want || !isHex(v) {
		return "", fmt.Errorf("%s must be %d hex digits, not %q", kind, want, clip(v))
	}
	return strings.ToLower(v), nil
}

// hashLen is the length in bytes of a hash of kind k.
func hashLen(k Kind) int {
	switch k {
	case MD5:
		return 16
	case SHA1:
		return 20
	case SHA256:
		return 32
	}
	return 0
}

func normIP(v string) (string, error) {
	s := v
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		p, err := netip.ParsePrefix(s)
		if err != nil || unmapBits(p) != p.Addr().Unmap().BitLen() {
			return "", fmt.Errorf("%q is a network, not an IP address", clip(v))
		}
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", fmt.Errorf("%q is not an IP address", clip(v))
	}
	if a.Zone() != "" {
		return "", fmt.Errorf("IP address %q has a zone", clip(v))
	}
	return a.Unmap().String(), nil
}

func normCIDR(v string) (string, error) {
	if strings.IndexByte(v, '/') < 0 {
		s, err := normIP(v)
		if err != nil {
			return "", fmt.Errorf("%q is not a network or an IP address", clip(v))
		}
		a := netip.MustParseAddr(s)
		return netip.PrefixFrom(a, a.BitLen()).String(), nil
	}
	p, err := netip.ParsePrefix(v)
	if err != nil {
		return "", fmt.Errorf("%q is not a network", clip(v))
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked().String(), nil
}

func normDomain(v string) (string, error) {
	s := strings.TrimPrefix(v, "*.")
	s = strings.TrimSuffix(s, ".")
	if strings.ContainsFunc(s, func(r rune) bool { return r >= 'A' && r <= 'Z' }) {
		b := []byte(s)
		for i, c := range b {
			b[i] = lower(c)
		}
		s = string(b)
	}
	if err := checkDomain(s); err != nil {
		return "", fmt.Errorf("domain %q %w", clip(v), err)
	}
	return s, nil
}

// checkDomain validates a lower-case domain without a trailing dot; it does
// not allocate when s is valid.
func checkDomain(s string) error {
	if s == "" {
		return errors.New("is empty")
	}
	if len(s) > 253 {
		return fmt.Errorf("is longer than 253 bytes (%d)", len(s))
	}
	labels, start, ascii := 0, 0, true
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			if c >= 0x80 {
				ascii = false
			}
			if !domainChar(c) {
				return fmt.Errorf("has a %q", rune(c))
			}
			continue
		}
		n := i - start
		if n == 0 {
			return errors.New("has an empty label")
		}
		if n > 63 {
			return errors.New("has a label longer than 63 bytes")
		}
		labels++
		start = i + 1
	}
	if !ascii && !utf8.ValidString(s) {
		return errors.New("is not valid UTF-8")
	}
	if labels < 2 {
		return errors.New("has a single label")
	}
	if allDigits([]byte(s[strings.LastIndexByte(s, '.')+1:])) {
		return errors.New("has a numeric last label")
	}
	return nil
}

// domainChar reports whether c may appear in a label of a (lower-case) domain:
// letters, digits, '-', '_' and the bytes of non-ASCII characters.
func domainChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= 0x80
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func normURL(v string) (string, error) {
	if !hasScheme(v) {
		return "", fmt.Errorf("URL %q has no scheme://", clip(v))
	}
	out, h0, h1, ok := appendURL(nil, []byte(v))
	if !ok {
		return "", fmt.Errorf("%q is not a URL", clip(v))
	}
	host := string(out[h0:h1])
	if strings.HasSuffix(host, ".") || strings.HasPrefix(host, ".") {
		return "", fmt.Errorf("URL %q: host %q has an empty label", clip(v), host)
	}
	for _, c := range []byte(out) {
		if c <= ' ' || c == 0x7f {
			return "", fmt.Errorf("URL %q has a space or control character", clip(v))
		}
	}
	if strings.HasPrefix(host, "[") {
		if _, err := netip.ParseAddr(host[1 : len(host)-1]); err != nil {
			return "", fmt.Errorf("URL %q: host %q is not an IPv6 address", clip(v), host)
		}
	} else if _, err := netip.ParseAddr(host); err != nil {
		if _, err := normDomain(host); err != nil {
			if strings.IndexByte(host, '.') >= 0 || !utf8.ValidString(host) {
				return "", fmt.Errorf("URL %q: %w", clip(v), err)
			}
			// A single-label host ("http://intranet/") is a valid URL.
			for _, c := range []byte(host) {
				if !domainChar(c) {
					return "", fmt.Errorf("URL %q: host %q has a %q", clip(v), host, rune(c))
				}
			}
		}
	}
	return string(out), nil
}

// hasScheme reports whether v starts with scheme://.
func hasScheme(v string) bool {
	n := schemeLen([]byte(v))
	return n > 0 && len(v) >= n+3 && v[n:n+3] == "://"
}

// schemeLen is the length of the URL scheme v starts with (a letter, then
// letters, digits, '+', '-', '.'), or 0. At most 32 bytes are examined.
func schemeLen(v []byte) int {
	if len(v) == 0 || !isAlpha(v[0]) {
		return 0
	}
	for i := 1; i < len(v) && i < 32; i++ {
		c := v[i]
		if isAlpha(c) || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.' {
			continue
		}
		if c == ':' {
			return i
		}
		return 0
	}
	return 0
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// appendURL appends the canonical form of the URL u (which starts with
// scheme://) to dst: scheme and host lower-cased, the host's trailing dot,
// the default port and the fragment dropped, "/" for an empty path. It
// returns where the host (an IPv6 one with its brackets) lies in the output.
// It does not allocate when dst has room for len(u)+1 bytes.
func appendURL(dst, u []byte) (out []byte, h0, h1 int, ok bool) {
	n := schemeLen(u)
	if n == 0 || len(u) < n+3 || u[n+1] != '/' || u[n+2] != '/' {
		return dst, 0, 0, false
	}
	base := len(dst)
	for _, c := range u[:n] {
		dst = append(dst, lower(c))
	}
	scheme := dst[base:]
	dst = append(dst, "://"...)
	rest := u[n+3:]
	end := len(rest)
	for i, c := range rest {
		if c == '/' || c == '?' || c == '#' {
			end = i
			break
		}
	}
	auth, rest := rest[:end], rest[end:]
	if at := lastIndexByte(auth, '@'); at >= 0 {
		dst = append(dst, auth[:at+1]...)
		auth = auth[at+1:]
	}
	host, port := auth, []byte(nil)
	if len(auth) > 0 && auth[0] == '[' {
		i := indexByte(auth, ']')
		if i < 0 {
			return dst, 0, 0, false
		}
		host, port = auth[:i+1], auth[i+1:]
		if len(port) > 0 && port[0] != ':' {
			return dst, 0, 0, false
		}
	} else if i := lastIndexByte(auth, ':'); i >= 0 {
		host, port = auth[:i], auth[i:]
	}
	if len(port) > 0 {
		for _, c := range port[1:] {
			if c < '0' || c > '9' {
				return dst, 0, 0, false
			}
		}
	}
	if len(host) > 1 && host[len(host)-1] == '.' {
		host = host[:len(host)-1]
	}
	if len(host) == 0 {
		return dst, 0, 0, false
	}
	h0 = len(dst)
	for _, c := range host {
		dst = append(dst, lower(c))
	}
	h1 = len(dst)
	if len(port) > 1 && !defaultPort(scheme, port[1:]) {
		dst = append(dst, port...)
	}
	if i := indexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	if len(rest) == 0 || rest[0] == '?' {
		dst = append(dst, '/')
	}
	dst = append(dst, rest...)
	return dst, h0, h1, true
}

func defaultPort(scheme, port []byte) bool {
	switch string(port) {
	case "80":
		return string(scheme) == "http"
	case "443":
		return string(scheme) == "https"
	case "21":
		return string(scheme) == "ftp"
	}
	return false
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func lastIndexByte(b []byte, c byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == c {
			return i
		}
	}
	return -1
}

// clip shortens a value quoted in an error message.
func clip(s string) string {
	if len(s) <= 80 {
		return s
	}
	return s[:77] + "..."
}

// parseIPv4 parses a dotted-quad IPv4 address (no leading zeros, as netip).
func parseIPv4(b []byte) (a [4]byte, ok bool) {
	n, digits, val := 0, 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			if digits == 0 || n == 4 {
				return a, false
			}
			a[n] = byte(val)
			n++
			digits, val = 0, 0
			continue
		}
		c := b[i]
		if c < '0' || c > '9' || (digits == 1 && val == 0) {
			return a, false
		}
		val = val*10 + int(c-'0')
		digits++
		if val > 255 {
			return a, false
		}
	}
	return a, n == 4
}

// parseIPv6 parses an IPv6 address without zone into its 16 bytes,
// accepting "::" compression and a dotted IPv4 tail, as netip does.
func parseIPv6(b []byte) (ip [16]byte, ok bool) {
	ellipsis := -1
	if len(b) >= 2 && b[0] == ':' && b[1] == ':' {
		ellipsis = 0
		b = b[2:]
		if len(b) == 0 {
			return ip, true
		}
	}
	i := 0
	for i < 16 {
		off, val := 0, 0
		for off < len(b) && off < 5 {
			d := unhex(b[off])
			if d > 15 {
				break
			}
			val = val<<4 | int(d)
			off++
		}
		if off == 0 || off > 4 {
			return ip, false
		}
		if off < len(b) && b[off] == '.' {
			if ellipsis < 0 && i != 12 || i+4 > 16 {
				return ip, false
			}
			v4, ok := parseIPv4(b)
			if !ok {
				return ip, false
			}
			copy(ip[i:], v4[:])
			i += 4
			b = b[len(b):]
			break
		}
		ip[i], ip[i+1] = byte(val>>8), byte(val)
		i += 2
		b = b[off:]
		if len(b) == 0 {
			break
		}
		if b[0] != ':' || len(b) == 1 {
			return ip, false
		}
		b = b[1:]
		if b[0] == ':' {
			if ellipsis >= 0 {
				return ip, false
			}
			ellipsis = i
			b = b[1:]
			if len(b) == 0 {
				break
			}
		}
	}
	if len(b) != 0 {
		return ip, false
	}
	if i < 16 {
		if ellipsis < 0 {
			return ip, false
		}
		n := 16 - i
		for j := i - 1; j >= ellipsis; j-- {
			ip[j+n] = ip[j]
		}
		for j := ellipsis + n - 1; j >= ellipsis; j-- {
			ip[j] = 0
		}
	} else if ellipsis >= 0 {
		return ip, false // "::" must stand for at least one group
	}
	return ip, true
}

// parseAddr16 parses an IPv4 or IPv6 address (an IPv6 one optionally in
// brackets, either optionally followed by ":port") into its 16-byte form,
// IPv4 as IPv4-mapped IPv6.
func parseAddr16(b []byte) (ip [16]byte, ok bool) {
	if len(b) == 0 {
		return ip, false
	}
	if b[0] == '[' {
		i := indexByte(b, ']')
		if i < 0 || !portOK(b[i+1:]) {
			return ip, false
		}
		return parseIPv6(b[1:i])
	}
	colon := indexByte(b, ':')
	if colon >= 0 && lastIndexByte(b, ':') != colon {
		return parseIPv6(b)
	}
	host := b
	if colon >= 0 {
		if !portOK(b[colon:]) {
			return ip, false
		}
		host = b[:colon]
	}
	v4, ok := parseIPv4(host)
	if !ok {
		return ip, false
	}
	ip[10], ip[11] = 0xff, 0xff
	copy(ip[12:], v4[:])
	return ip, true
}

// portOK reports whether p is empty or ":digits".
func portOK(p []byte) bool {
	if len(p) == 0 {
		return true
	}
	if p[0] != ':' || len(p) == 1 || len(p) > 6 {
		return false
	}
	return allDigits(p[1:])
}
