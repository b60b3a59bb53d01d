package enrich

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/mamori-soc/mamori/internal/tenant"
	"github.com/oschwald/maxminddb-golang/v2"
)

// Config names the databases. An empty path means "not configured".
type Config struct {
	// CountryDB is a country database: GeoLite2-Country or GeoLite2-City
	// (country.iso_code, country.names.en) or an ip-location-db country or
	// city database (country_code).
	CountryDB string
	// ASNDB is an AS database: GeoLite2-ASN or ip-location-db ASN
	// (autonomous_system_number, autonomous_system_organization).
	ASNDB string
}

// Info is what is known about one address. Country and AS fields are empty
// when the address is not public (or Own), a database is off, or the
// database has no record for the address.
type Info struct {
	Country     string // ISO 3166-1 alpha-2 code, e.g. "JP"
	CountryName string // English name; empty for ip-location-db databases, which carry none
	ASN         uint32
	ASOrg       string
	Scope       Scope
}

// Enricher looks addresses up. It is safe for concurrent use.
type Enricher struct {
	mu      sync.RWMutex // write-locked only by Close, which unmaps the databases
	country *db[geo]
	asn     *db[asys]

	ownMu sync.Mutex                                   // serialises SetOwnRanges
	own   atomic.Pointer[map[tenant.ID][]netip.Prefix] // copy-on-write
}

type geo struct{ code, name string }

type asys struct {
	num uint32
	org string
}

// Open opens the configured databases. A database whose file does not exist
// is logged once as a warning and that part of the enrichment is off; any
// other failure (unreadable, corrupt, not an MMDB) is an error naming the
// file. log may be nil.
func Open(cfg Config, log *slog.Logger) (*Enricher, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Enricher{}
	var err error
	if e.country, err = openDB(cfg.CountryDB, "country", log, decodeGeo); err != nil {
		return nil, err
	}
	if e.asn, err = openDB(cfg.ASNDB, "ASN", log, decodeASN); err != nil {
		if e.country != nil {
			_ = e.country.r.Close()
		}
		return nil, err
	}
	return e, nil
}

// Lookup returns the scope of ip and, for public addresses, its country and
// AS. IPv4-mapped IPv6 addresses are treated as the IPv4 address they carry.
func (e *Enricher) Lookup(ip netip.Addr) Info {
	ip = ip.Unmap().WithZone("")
	info := Info{Scope: Classify(ip)}
	if info.Scope == Public {
		e.fill(&info, ip)
	}
	return info
}

// LookupFor is Lookup for tenant t: an address in one of t's declared ranges
// (SetOwnRanges) has Scope Own, with its country and AS filled in when the
// address is also public. Other tenants' ranges do not apply.
func (e *Enricher) LookupFor(t tenant.ID, ip netip.Addr) Info {
	ip = ip.Unmap().WithZone("")
	if m := e.own.Load(); m != nil {
		for _, p := range (*m)[t] {
			if p.Contains(ip) {
				info := Info{Scope: Own}
				if Classify(ip) == Public {
					e.fill(&info, ip)
				}
				return info
			}
		}
	}
	return e.Lookup(ip)
}

// SetOwnRanges declares tenant t's own address ranges, replacing any
// declared before; an empty list removes them. Invalid prefixes are ignored,
// IPv4-mapped IPv6 prefixes are stored as IPv4, and host bits are masked.
func (e *Enricher) SetOwnRanges(t tenant.ID, prefixes []netip.Prefix) {
	norm := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		if !p.IsValid() {
			continue
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		norm = append(norm, netip.PrefixFrom(p.Addr().WithZone(""), p.Bits()).Masked())
	}
	e.ownMu.Lock()
	defer e.ownMu.Unlock()
	m := map[tenant.ID][]netip.Prefix{}
	if old := e.own.Load(); old != nil {
		m = maps.Clone(*old)
	}
	if len(norm) == 0 {
		delete(m, t)
	} else {
		m[t] = norm
	}
	e.own.Store(&m)
}

// Close releases the databases. Lookups after Close still report the scope
// (and own ranges) but no country or AS.
func (e *Enricher) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	if e.country != nil {
		errs = append(errs, e.country.r.Close())
		e.country = nil
	}
	if e.asn != nil {
		errs = append(errs, e.asn.r.Close())
		e.asn = nil
	}
	return errors.Join(errs...)
}

func (e *Enricher) fill(info *Info, ip netip.Addr) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.country != nil {
		g := e.country.lookup(ip)
		info.Country, info.CountryName = g.code, g.name
	}
	if e.asn != nil {
		a := e.asn.lookup(ip)
		info.ASN, info.ASOrg = a.num, a.org
	}
}

// maxCache bounds each database's cache of decoded records (keyed by data
// offset; a country database has a few hundred distinct records, an ASN
// database tens of thousands, a city database more).
const maxCache = 1 << 18

// db is one open database with a cache of its decoded records.
type db[T any] struct {
	r      *maxminddb.Reader
	v4only bool // an IPv4 database (ip-location-db ships these): IPv6 lookups miss
	path   string
	kind   string
	log    *slog.Logger
	decode func(maxminddb.Result) (T, error)
	warn   sync.Once // one warning for the first undecodable record

	mu    sync.RWMutex
	cache map[uintptr]T
}

func openDB[T any](path, kind string, log *slog.Logger, decode func(maxminddb.Result) (T, error)) (*db[T], error) {
	if path == "" {
		log.Debug("enrich: database not configured; enrichment off", "database", kind)
		return nil, nil
	}
	r, err := maxminddb.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		log.Warn("enrich: database file missing; enrichment off", "database", kind, "path", path)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("enrich: open %s database %s: %w", kind, path, err)
	}
	return &db[T]{r: r, v4only: r.Metadata.IPVersion == 4, path: path, kind: kind, log: log, decode: decode, cache: map[uintptr]T{}}, nil
}

func (d *db[T]) lookup(ip netip.Addr) T {
	var zero T
	if d.v4only && ip.Is6() {
		return zero
	}
	res := d.r.Lookup(ip)
	if res.Err() != nil || !res.Found() {
		d.fail(res.Err())
		return zero
	}
	off := res.Offset()
	d.mu.RLock()
	v, ok := d.cache[off]
	d.mu.RUnlock()
	if ok {
		return v
	}
	v, err := d.decode(res)
	if err != nil {
		d.fail(err)
		return zero
	}
	d.mu.Lock()
	if len(d.cache) < maxCache {
		d.cache[off] = v
	}
	d.mu.Unlock()
	return v
}

func (d *db[T]) fail(err error) {
	if err != nil {
		d.warn.Do(func() {
			d.log.Warn("enrich: database lookup failed (further failures not logged)", "database", d.kind, "path", d.path, "err", err)
		})
	}
}

type countryRecord struct {
	Country           geoName `maxminddb:"country"`
	RegisteredCountry geoName `maxminddb:"registered_country"`
	CountryCode       string  `maxminddb:"country_code"`
}

type geoName struct {
	ISOCode string `maxminddb:"iso_code"`
	Names   struct {
		En string `maxminddb:"en"`
	} `maxminddb:"names"`
}

// decodeGeo reads GeoLite2 (country, else registered_country) or
// ip-location-db (country_code) records.
func decodeGeo(res maxminddb.Result) (geo, error) {
	var rec countryRecord
	if err := res.Decode(&rec); err != nil {
		return geo{}, err
	}
	switch {
	case rec.Country.ISOCode != "":
		return geo{rec.Country.ISOCode, rec.Country.Names.En}, nil
	case rec.CountryCode != "":
		return geo{code: rec.CountryCode}, nil
	default:
		return geo{rec.RegisteredCountry.ISOCode, rec.RegisteredCountry.Names.En}, nil
	}
}

type asnRecord struct {
	Number uint32 `maxminddb:"autonomous_system_number"`
	Org    string `maxminddb:"autonomous_system_organization"`
}

func decodeASN(res maxminddb.Result) (asys, error) {
	var rec asnRecord
	if err := res.Decode(&rec); err != nil {
		return asys{}, err
	}
	return asys{rec.Number, rec.Org}, nil
}
