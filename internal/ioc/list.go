package ioc

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ListOptions says how to read a plain or CSV list (see ParseList).
type ListOptions struct {
	// Format is "list" (one indicator per line), "csv", or "" to tell by the
	// content: CSV when a header line names a value column.
	Format string
	// Column names the CSV column holding the values, by header name (any
	// case) or 1-based number. "" takes every column whose header says it
	// holds indicators (url, ioc_value, dst_ip, domain, sha256_hash, ...).
	Column string
	// Kind is the kind of every value; "" finds each one's (see Guess).
	Kind Kind
	// Comma is the CSV separator; 0 means ','.
	Comma byte
	// Confidence is given to indicators whose row states none; 0 means
	// DefaultConfidence.
	Confidence int
	// TLP marks every indicator ("" is clear).
	TLP string
	// Labels are added to every indicator.
	Labels []string
	// Lifetime is every indicator's Lifetime (0: the kind's default).
	Lifetime time.Duration
	// Now is when the list is read: a list asserts its lines as of now, so
	// it is their ValidFrom (and Created when no column dates them). Zero
	// means time.Now().
	Now time.Time
}

// maxLine bounds a line of a list; longer lines are reported and skipped.
const maxLine = 1 << 20

// ParseList reads a feed of one indicator per line or a CSV export, with
// source as the indicators' Source. Each error names the line and why it was
// skipped; a bad line never stops the others. The layouts it knows are
// described in docs/INTEL.md:
//
//   - plain lists of IPs, networks, domains, URLs or hashes, defanged or not,
//     with '#', ';' and '//' comment lines and anything after the first
//     space, ';' or '#' of a line kept as its description (Spamhaus DROP's
//     "1.10.16.0/20 ; SBL256894", FireHOL netsets, sha256sum output);
//   - hosts files ("0.0.0.0 evil.example"): the name is the indicator;
//   - JSON lines with a cidr, ip, domain, url, value, indicator or ioc
//     member (Spamhaus DROP JSON; its metadata line is skipped);
//   - CSV with a header, in the first line or in the last comment line before
//     the data (abuse.ch URLhaus, Feodo Tracker, ThreatFox, MalwareBazaar
//     exports): every value column gives an indicator per row, and columns
//     named like threat, tags, malware, first_seen, confidence_level,
//     reporter or ioc_type give its labels, time, confidence, producer and
//     kind.
func ParseList(r io.Reader, source string, opts ListOptions) ([]Indicator, []error) {
	p := listParser{
		source:      source,
		opts:        opts,
		def:         defaults{confidence: opts.Confidence, tlp: opts.TLP, lifetime: opts.Lifetime, labels: opts.Labels},
		now:         opts.Now,
		seen:        map[string]bool{},
		unsupported: map[string]int{},
	}
	if p.now.IsZero() {
		p.now = time.Now()
	}
	p.now = p.now.UTC()
	if p.opts.Comma == 0 {
		p.opts.Comma = ','
	}
	if tlp, ok := ParseTLP(opts.TLP); ok {
		p.def.tlp = tlp
	}
	switch opts.Format {
	case "", "list", "csv":
	default:
		return nil, []error{malformedf("list format %q: want list, csv or empty", opts.Format)}
	}
	if opts.Kind != "" && !opts.Kind.Valid() {
		return nil, []error{malformedf("list kind %q is not a kind", opts.Kind)}
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for lineNo := 1; ; lineNo++ {
		line, err := readLine(br)
		if err == errLongLine {
			p.errs = append(p.errs, fmt.Errorf("line %d: longer than %d bytes", lineNo, maxLine))
			continue
		}
		if lineNo == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		if len(line) > 0 {
			if fatal := p.line(lineNo, string(bytes.TrimSpace(line))); fatal != nil {
				return nil, []error{fatal}
			}
		}
		if err != nil {
			if err != io.EOF {
				p.errs = append(p.errs, fmt.Errorf("line %d: read: %w", lineNo, err))
			}
			break
		}
	}
	if len(p.unsupported) > 0 {
		types := make([]string, 0, len(p.unsupported))
		for t := range p.unsupported {
			types = append(types, t)
		}
		sort.Strings(types)
		var b strings.Builder
		for i, t := range types {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s (%d)", t, p.unsupported[t])
		}
		p.errs = append(p.errs, unsupportedf("rows of unsupported types skipped: %s", b.String()))
	}
	return p.out, p.errs
}

var errLongLine = errors.New("line too long")

// readLine returns the next line without its end of line. A line longer
// than maxLine is consumed and reported as errLongLine.
func readLine(br *bufio.Reader) ([]byte, error) {
	var long []byte
	for {
		frag, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if len(long)+len(frag) > maxLine {
				for err == bufio.ErrBufferFull {
					_, err = br.ReadSlice('\n')
				}
				if err != nil && err != io.EOF {
					return nil, err
				}
				return nil, errLongLine
			}
			long = append(long, frag...)
			continue
		}
		if long != nil {
			if len(long)+len(frag) > maxLine+2 {
				return nil, errLongLine
			}
			frag = append(long, frag...)
		}
		frag = bytes.TrimRight(frag, "\r\n")
		return frag, err
	}
}

type listParser struct {
	source      string
	opts        ListOptions
	def         defaults
	now         time.Time
	out         []Indicator
	errs        []error
	seen        map[string]bool
	unsupported map[string]int

	mode        byte   // 0 undecided, 'l' list, 'c' CSV
	lastComment string // header candidate
	cols        csvColumns
}

// csvColumns says what each CSV column holds.
type csvColumns struct {
	values   []int  // value columns
	valKinds []Kind // kind implied by each value column's name ("" guess)
	typ      int    // column naming each row's kind (-1 none)
	labels   []int
	tags     []int // comma-separated labels
	times    []int
	until    int
	conf     int
	desc     int
	ref      int
	reporter int
	width    int
}

var valueColumns = map[string]Kind{
	"url": URL, "ioc": "", "ioc_value": "", "indicator": "", "value": "", "observable": "",
	"ip": IP, "dst_ip": IP, "src_ip": IP, "ip_address": IP, "ipaddress": IP, "ip_addr": IP,
	"ipv4": IP, "ipv6": IP, "c2_ip": IP,
	"domain": Domain, "domain_name": Domain, "hostname": Domain, "fqdn": Domain, "host": "",
	"cidr": CIDR, "network": CIDR, "netblock": CIDR, "prefix": CIDR,
	"md5": MD5, "md5_hash": MD5, "sha1": SHA1, "sha1_hash": SHA1,
	"sha256": SHA256, "sha256_hash": SHA256,
}

func columnName(s string) string {
	s = strings.ToLower(strings.Trim(strings.TrimSpace(s), `"'`))
	return strings.NewReplacer(" ", "_", "-", "_").Replace(s)
}

// header reads a header line; it reports false when no column holds values.
func (p *listParser) header(line string) (csvColumns, bool) {
	names := splitCSV(line, p.opts.Comma)
	c := csvColumns{typ: -1, until: -1, conf: -1, desc: -1, ref: -1, reporter: -1, width: len(names)}
	for i, raw := range names {
		name := columnName(raw)
		if p.opts.Column != "" {
			if strings.EqualFold(name, columnName(p.opts.Column)) {
				c.values = append(c.values, i)
				c.valKinds = append(c.valKinds, valueColumns[name])
			}
		} else if k, ok := valueColumns[name]; ok {
			c.values = append(c.values, i)
			c.valKinds = append(c.valKinds, k)
		}
		switch name {
		case "ioc_type", "type", "indicator_type", "ioc_kind":
			c.typ = i
		case "threat", "threat_type", "malware", "malware_printable", "malware_family", "family",
			"signature", "category", "label":
			c.labels = append(c.labels, i)
		case "tags", "tag", "labels":
			c.tags = append(c.tags, i)
		case "dateadded", "date_added", "first_seen_utc", "first_seen", "firstseen", "date", "created", "timestamp":
			c.times = append(c.times, i)
		case "valid_until", "expires", "expiration":
			c.until = i
		case "confidence_level", "confidence":
			c.conf = i
		case "description", "comment", "comments", "reason":
			c.desc = i
		case "ioc_id", "id":
			c.ref = i
		case "reporter":
			c.reporter = i
		}
	}
	if len(c.values) == 0 && p.opts.Column != "" {
		if n, err := strconv.Atoi(p.opts.Column); err == nil && n >= 1 && n <= len(names) {
			c.values, c.valKinds = []int{n - 1}, []Kind{""}
		}
	}
	return c, len(c.values) > 0
}

// line handles one trimmed, non-empty line. It returns an error only when
// the input as a whole cannot be read.
func (p *listParser) line(n int, line string) error {
	if line == "" {
		return nil
	}
	if line[0] == '#' || line[0] == ';' || strings.HasPrefix(line, "//") {
		p.lastComment = strings.TrimSpace(strings.TrimLeft(line, "#;/"))
		return nil
	}
	if p.mode == 0 {
		if err := p.decide(line); err != nil {
			return err
		}
		if p.mode == 'h' { // this line was the header
			p.mode = 'c'
			return nil
		}
	}
	if p.mode == 'c' {
		p.csvRow(n, line)
		return nil
	}
	p.listLine(n, line)
	return nil
}

// decide chooses between list and CSV at the first data line.
func (p *listParser) decide(line string) error {
	if p.opts.Format == "list" {
		p.mode = 'l'
		return nil
	}
	if p.lastComment != "" && strings.IndexByte(p.lastComment, p.opts.Comma) >= 0 {
		if cols, ok := p.header(p.lastComment); ok {
			p.cols, p.mode = cols, 'c'
			return nil
		}
	}
	if cols, ok := p.header(line); ok && (p.opts.Format == "csv" || strings.IndexByte(line, p.opts.Comma) >= 0) {
		if _, _, isValue := Guess(splitCSV(line, p.opts.Comma)[cols.values[0]]); !isValue {
			p.cols, p.mode = cols, 'h'
			return nil
		}
	}
	if p.opts.Format == "csv" {
		if n, err := strconv.Atoi(p.opts.Column); err == nil && n >= 1 {
			p.cols = csvColumns{values: []int{n - 1}, valKinds: []Kind{""}, typ: -1, until: -1, conf: -1, desc: -1, ref: -1, reporter: -1}
			p.mode = 'c'
			return nil
		}
		return malformedf("CSV: no header line names a value column (set the column)")
	}
	p.mode = 'l'
	return nil
}

func emptyCell(s string) bool {
	switch strings.ToLower(s) {
	case "", "none", "null", "n/a", "-", "unknown":
		return true
	}
	return false
}

func (p *listParser) csvRow(n int, line string) {
	cells := splitCSV(line, p.opts.Comma)
	cell := func(i int) string {
		if i < 0 || i >= len(cells) {
			return ""
		}
		if s := strings.TrimSpace(cells[i]); !emptyCell(s) {
			return s
		}
		return ""
	}
	base := p.base()
	for _, i := range p.cols.labels {
		base.Labels = appendUnique(base.Labels, cell(i))
	}
	for _, i := range p.cols.tags {
		base.Labels = appendUnique(base.Labels, strings.Split(cell(i), ",")...)
	}
	base.Labels = slices.Clip(base.Labels)
	for _, i := range p.cols.times {
		if t, ok := parseTime(cell(i)); ok {
			base.Created = t
			break
		}
	}
	if t, ok := parseTime(cell(p.cols.until)); ok {
		base.ValidUntil = t
	}
	if s := cell(p.cols.conf); s != "" {
		if c, err := strconv.Atoi(s); err == nil && c >= 0 && c <= 100 {
			base.Confidence = c
		} else {
			p.errs = append(p.errs, fmt.Errorf("line %d: confidence %q is not 0-100", n, clip(s)))
			return
		}
	}
	base.Description = cell(p.cols.desc)
	base.SourceRef = cell(p.cols.ref)
	base.Producer = cell(p.cols.reporter)
	typeHint := Kind("")
	if t := cell(p.cols.typ); t != "" && p.opts.Kind == "" {
		k, ok := typeKind(t)
		if !ok {
			p.unsupported[t]++
			return
		}
		typeHint = k
	}
	for j, i := range p.cols.values {
		v := cell(i)
		if v == "" {
			if len(p.cols.values) == 1 {
				p.errs = append(p.errs, fmt.Errorf("line %d: no value in column %d", n, i+1))
			}
			continue
		}
		hint := p.opts.Kind
		if hint == "" {
			hint = typeHint
		}
		if hint == "" {
			hint = p.cols.valKinds[j]
		}
		p.add(n, base, hint, v)
	}
}

// typeKind maps an ioc_type cell (ThreatFox and similar) to a kind hint.
func typeKind(t string) (Kind, bool) {
	switch strings.ToLower(t) {
	case "ip", "ip:port", "ipv4", "ipv6", "ip-dst", "ip-src", "ipv4-addr", "ipv6-addr", "ip_address":
		return IP, true
	case "cidr", "network", "netblock":
		return CIDR, true
	case "domain", "hostname", "fqdn", "domain-name", "domain_name":
		return Domain, true
	case "url":
		return URL, true
	case "md5", "md5_hash":
		return MD5, true
	case "sha1", "sha1_hash", "sha-1":
		return SHA1, true
	case "sha256", "sha256_hash", "sha-256":
		return SHA256, true
	}
	return "", false
}

func parseTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.DateTime, time.RFC3339Nano, time.DateOnly, "2006-01-02 15:04:05 MST", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	if sec, err := strconv.ParseInt(s, 10, 64); err == nil && sec > 0 && sec < 1<<33 {
		return time.Unix(sec, 0).UTC(), true
	}
	return time.Time{}, false
}

func (p *listParser) base() Indicator {
	return Indicator{
		Source:     p.source,
		Confidence: p.def.conf(),
		TLP:        p.def.tlp,
		Lifetime:   p.def.lifetime,
		ValidFrom:  p.now,
		Created:    p.now,
		Modified:   p.now,
		Labels:     slices.Clip(slices.Clone(p.def.labels)),
	}
}

// add resolves v with the kind hint and appends the indicator.
func (p *listParser) add(n int, base Indicator, hint Kind, v string) {
	kind, val, err := resolve(hint, v)
	if err != nil {
		p.errs = append(p.errs, fmt.Errorf("line %d: %w", n, err))
		return
	}
	ind := base
	ind.Kind, ind.Value = kind, val
	ind.ID = MakeID(p.source, kind, val)
	if p.seen[ind.ID] {
		return
	}
	p.seen[ind.ID] = true
	if ind.Created.After(ind.ValidFrom) {
		ind.Created = ind.ValidFrom
	}
	p.out = append(p.out, ind)
}

// resolve normalizes v of kind hint ("" guesses; IP accepts "ip:port" and
// networks).
func resolve(hint Kind, v string) (Kind, string, error) {
	switch hint {
	case "", IP:
		k, s, ok := Guess(v)
		if !ok || (hint == IP && k != IP && k != CIDR) {
			if hint == IP {
				return "", "", fmt.Errorf("%q is not an IP address or network", clip(v))
			}
			return "", "", fmt.Errorf("%q is not an IP address, network, domain, URL or hash", clip(v))
		}
		return k, s, nil
	case URL:
		s, err := Normalize(URL, v)
		if err != nil {
			if k, s2, ok := Guess(v); ok && k == URL {
				return URL, s2, nil
			}
		}
		return URL, s, err
	}
	s, err := Normalize(hint, v)
	return hint, s, err
}

func (p *listParser) listLine(n int, line string) {
	if line[0] == '{' {
		p.jsonLine(n, line)
		return
	}
	value, rest := line, ""
	if i := strings.IndexAny(line, " \t"); i >= 0 {
		value, rest = line[:i], strings.TrimSpace(line[i+1:])
	}
	if !hasScheme(Refang(value)) {
		if i := strings.IndexAny(value, ";#"); i >= 0 {
			value, rest = value[:i], strings.TrimSpace(line[i:])
		}
	}
	hint := p.opts.Kind
	switch value {
	case "0.0.0.0", "127.0.0.1", "::", "::1":
		// A hosts file: the name that follows is the indicator.
		if rest != "" && rest[0] != '#' && rest[0] != ';' {
			name, after, _ := strings.Cut(rest, " ")
			name, _, _ = strings.Cut(name, "\t")
			value, rest = name, strings.TrimSpace(after)
			if hint == "" {
				hint = Domain
			}
		}
	}
	base := p.base()
	base.Description = strings.TrimSpace(strings.TrimLeft(rest, ";# \t"))
	p.add(n, base, hint, value)
}

// jsonKeys are the members of a JSON line that hold the value, in order.
var jsonKeys = []struct {
	key  string
	kind Kind
}{
	{"cidr", CIDR}, {"ip", IP}, {"domain", Domain}, {"url", URL},
	{"sha256", SHA256}, {"sha1", SHA1}, {"md5", MD5},
	{"value", ""}, {"indicator", ""}, {"ioc", ""},
}

func (p *listParser) jsonLine(n int, line string) {
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		p.errs = append(p.errs, fmt.Errorf("line %d: %w", n, err))
		return
	}
	str := func(k string) string {
		s, _ := m[k].(string)
		return s
	}
	base := p.base()
	base.SourceRef = str("sblid")
	base.Description = str("description")
	for _, jk := range jsonKeys {
		if v := str(jk.key); v != "" {
			hint := p.opts.Kind
			if hint == "" {
				hint = jk.kind
			}
			p.add(n, base, hint, v)
			return
		}
	}
	if str("type") == "metadata" {
		return
	}
	p.errs = append(p.errs, fmt.Errorf("line %d: JSON object has no cidr, ip, domain, url, hash, value, indicator or ioc member", n))
}

// splitCSV splits one CSV record: fields separated by comma, optionally
// "quoted" with "" for a quote, space after a separator ignored.
func splitCSV(line string, comma byte) []string {
	var out []string
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') && comma != ' ' && comma != '\t' {
			i++
		}
		if i < len(line) && line[i] == '"' {
			var b strings.Builder
			i++
			for i < len(line) {
				if line[i] == '"' {
					if i+1 < len(line) && line[i+1] == '"' {
						b.WriteByte('"')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(line[i])
				i++
			}
			// Lazily keep anything between the closing quote and the separator.
			j := strings.IndexByte(line[i:], comma)
			if j < 0 {
				b.WriteString(line[i:])
				out = append(out, b.String())
				return out
			}
			b.WriteString(line[i : i+j])
			out = append(out, b.String())
			i += j + 1
			continue
		}
		j := strings.IndexByte(line[i:], comma)
		if j < 0 {
			out = append(out, line[i:])
			return out
		}
		out = append(out, line[i:i+j])
		i += j + 1
	}
}
