package intel

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mamori-soc/mamori/internal/tenant"
)

// ErrUnauthenticated is what ServerConfig.Authenticate returns for a request
// without valid credentials (any error it returns is answered with 401).
var ErrUnauthenticated = errors.New("taxii: no valid credentials")

// ServerConfig configures a TAXII 2.1 Server.
type ServerConfig struct {
	// Authenticate returns the caller of r, or an error (401) when r carries
	// no valid credentials. Required.
	Authenticate func(r *http.Request) (Caller, error)
	// Indicators is the indicator store behind the indicators and sector
	// collections. Required.
	Indicators Indicators
	// Parse turns posted STIX indicators into indicators (ioc.ParseSTIX).
	// Required.
	Parse ParseFunc
	// Objects keeps the sightings collection; nil means a MemObjects.
	Objects Objects
	// SectorOf returns an organisation's sector: it decides who of the
	// constituency may read an owner's amber indicators and which sector
	// feed an organisation's indicators appear in. nil: sectors of owners
	// are unknown, so owned amber indicators reach only their owner and
	// national callers.
	SectorOf func(tenant.ID) tenant.Sector
	// Sectors lists the sectors that get a feed; nil means tenant.Sectors.
	Sectors []tenant.Sector

	// Prefix is the path the server is mounted at; "" means "/taxii2/".
	Prefix string
	// BaseURL is the external URL of Prefix, e.g.
	// "https://mamori.example.org/taxii2/", used in the discovery resource;
	// "" derives it from each request's Host (https when the request came
	// over TLS).
	BaseURL string
	// Title, Description and Contact describe the server in discovery;
	// Title "" means "Mamori TAXII 2.1".
	Title, Description, Contact string
	// APIRoot is the API root's path segment; "" means "api".
	APIRoot string
	// PageSize is the largest number of objects a response holds (and the
	// default limit); 0 means 1000.
	PageSize int
	// MaxContentLength is the largest POST body in bytes; 0 means 10 MiB.
	MaxContentLength int64
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Log receives one line per failed request; nil means slog.Default().
	Log *slog.Logger
}

// Collection aliases (also accepted in URLs in place of the ids).
const (
	AliasIndicators = "indicators"
	AliasSightings  = "sightings"
	sectorPrefix    = "sector-"
)

// CollectionID returns the TAXII id of the collection with the given alias
// ("indicators", "sightings", "sector-finance"): a UUID derived from it, so
// ids stay the same across restarts and installations.
func CollectionID(alias string) string { return uuid5("taxii-collection\x00" + alias) }

// maxStatuses bounds the status resources kept in memory (oldest dropped).
const maxStatuses = 10000

// Server is a TAXII 2.1 server (an http.Handler) for Mamori's collections:
// "indicators", "sightings" and one "sector-<name>" feed per sector, under
// one API root. See docs/TAXII.md. It is safe for concurrent use.
type Server struct {
	cfg    ServerConfig
	colls  []*collection
	byRef  map[string]*collection // id and alias → collection
	prefix string
	log    *slog.Logger

	mu       sync.Mutex
	statuses map[string]*statusEntry // guarded by mu
	order    []string                // status ids, oldest first; guarded by mu
}

type statusEntry struct {
	owner  string // Caller.Name
	status Status
}

// NewServer returns a Server for cfg.
func NewServer(cfg ServerConfig) (*Server, error) {
	switch {
	case cfg.Authenticate == nil:
		return nil, errors.New("taxii server: Authenticate is nil")
	case cfg.Indicators == nil:
		return nil, errors.New("taxii server: Indicators is nil")
	case cfg.Parse == nil:
		return nil, errors.New("taxii server: Parse is nil")
	}
	if cfg.Objects == nil {
		cfg.Objects = NewMemObjects()
	}
	if cfg.Sectors == nil {
		cfg.Sectors = tenant.Sectors
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/taxii2/"
	}
	if !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	if cfg.BaseURL != "" && !strings.HasSuffix(cfg.BaseURL, "/") {
		cfg.BaseURL += "/"
	}
	if cfg.Title == "" {
		cfg.Title = "Mamori TAXII 2.1"
	}
	if cfg.APIRoot == "" {
		cfg.APIRoot = "api"
	}
	if strings.Contains(cfg.APIRoot, "/") {
		return nil, fmt.Errorf("taxii server: APIRoot %q must be one path segment", cfg.APIRoot)
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 1000
	}
	if cfg.MaxContentLength <= 0 {
		cfg.MaxContentLength = 10 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	s := &Server{cfg: cfg, prefix: cfg.Prefix, log: log.With("component", "taxii"), byRef: map[string]*collection{}, statuses: map[string]*statusEntry{}}
	s.addCollection(&collection{alias: AliasIndicators, kind: collIndicators, title: "Mamori indicators",
		desc: "Indicators of compromise shared by the national SOC, its partners and constituent organisations, as their TLP marking allows."})
	s.addCollection(&collection{alias: AliasSightings, kind: collSightings, title: "Mamori sightings",
		desc: "Sightings reported by organisations (each reads its own) and by the national SOC."})
	for _, sec := range cfg.Sectors {
		if _, err := tenant.ParseSector(string(sec)); err != nil {
			return nil, fmt.Errorf("taxii server: %w", err)
		}
		s.addCollection(&collection{alias: sectorPrefix + string(sec), kind: collSector, sector: sec,
			title: "Mamori " + string(sec) + " sector feed",
			desc:  "Indicators shared by and for organisations of the " + string(sec) + " sector."})
	}
	return s, nil
}

func (s *Server) addCollection(c *collection) {
	c.id = CollectionID(c.alias)
	s.colls = append(s.colls, c)
	s.byRef[c.id] = c
	s.byRef[c.alias] = c
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, s.prefix)
	if !ok {
		if r.URL.Path+"/" != s.prefix {
			s.fail(w, r, http.StatusNotFound, "Not found", "no TAXII resource at this path")
			return
		}
		rest = ""
	}
	caller, err := s.cfg.Authenticate(r)
	if err != nil {
		w.Header().Add("WWW-Authenticate", `Bearer realm="mamori-taxii"`)
		w.Header().Add("WWW-Authenticate", `Basic realm="mamori-taxii", charset="UTF-8"`)
		s.fail(w, r, http.StatusUnauthorized, "Authentication required", "send a Mamori API token as a Bearer token, or HTTP Basic credentials")
		return
	}
	if !acceptable(r.Header.Values("Accept")) {
		s.fail(w, r, http.StatusNotAcceptable, "Not acceptable", "this server answers only "+MediaTypeTAXII+"; set Accept to it")
		return
	}
	var segs []string
	for p := range strings.SplitSeq(rest, "/") {
		if p != "" {
			segs = append(segs, p)
		}
	}
	switch {
	case len(segs) == 0:
		if s.methods(w, r, http.MethodGet) {
			s.discovery(w, r)
		}
	case segs[0] != s.cfg.APIRoot:
		s.fail(w, r, http.StatusNotFound, "Not found", fmt.Sprintf("no API root %q", segs[0]))
	case len(segs) == 1:
		if s.methods(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, APIRoot{Title: s.cfg.Title, Description: s.cfg.Description,
				Versions: []string{MediaTypeTAXII}, MaxContentLength: s.cfg.MaxContentLength})
		}
	case segs[1] == "status" && len(segs) == 3:
		if s.methods(w, r, http.MethodGet) {
			s.status(w, r, caller, segs[2])
		}
	case segs[1] == "collections":
		s.collections(w, r, caller, segs[2:])
	default:
		s.fail(w, r, http.StatusNotFound, "Not found", "no TAXII resource at this path")
	}
}

func (s *Server) collections(w http.ResponseWriter, r *http.Request, c Caller, segs []string) {
	if len(segs) == 0 {
		if !s.methods(w, r, http.MethodGet) {
			return
		}
		var res Collections
		for _, col := range s.colls {
			if rd, wr := col.rights(c); rd || wr {
				res.Collections = append(res.Collections, col.resource(c))
			}
		}
		writeJSON(w, http.StatusOK, res)
		return
	}
	col := s.byRef[segs[0]]
	if col == nil {
		s.fail(w, r, http.StatusNotFound, "Collection not found", fmt.Sprintf("no collection %q", segs[0]))
		return
	}
	read, write := col.rights(c)
	if !read && !write {
		s.fail(w, r, http.StatusForbidden, "Forbidden", fmt.Sprintf("%s may not use collection %q", c.Name, col.alias))
		return
	}
	needRead := func() bool {
		if !read {
			s.fail(w, r, http.StatusForbidden, "Forbidden", fmt.Sprintf("%s may not read collection %q", c.Name, col.alias))
		}
		return read
	}
	switch {
	case len(segs) == 1:
		if s.methods(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, col.resource(c))
		}
	case len(segs) == 2 && segs[1] == "objects":
		if !s.methods(w, r, http.MethodGet, http.MethodPost) {
			return
		}
		if r.Method == http.MethodPost {
			if !write {
				s.fail(w, r, http.StatusForbidden, "Forbidden", fmt.Sprintf("%s may not write to collection %q", c.Name, col.alias))
				return
			}
			s.addObjects(w, r, c, col)
			return
		}
		if needRead() {
			s.getObjects(w, r, c, col, "", viewObjects)
		}
	case len(segs) == 2 && segs[1] == "manifest":
		if s.methods(w, r, http.MethodGet) && needRead() {
			s.getObjects(w, r, c, col, "", viewManifest)
		}
	case len(segs) == 3 && segs[1] == "objects":
		if !s.methods(w, r, http.MethodGet, http.MethodDelete) || !needRead() {
			return
		}
		if r.Method == http.MethodDelete {
			if !write {
				s.fail(w, r, http.StatusForbidden, "Forbidden", fmt.Sprintf("%s may not delete from collection %q", c.Name, col.alias))
				return
			}
			s.deleteObject(w, r, c, col, segs[2])
			return
		}
		s.getObjects(w, r, c, col, segs[2], viewObjects)
	case len(segs) == 4 && segs[1] == "objects" && segs[3] == "versions":
		if s.methods(w, r, http.MethodGet) && needRead() {
			s.getObjects(w, r, c, col, segs[2], viewVersions)
		}
	default:
		s.fail(w, r, http.StatusNotFound, "Not found", "no TAXII resource at this path")
	}
}

func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	base := s.cfg.BaseURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host + s.prefix
	}
	root := base + s.cfg.APIRoot + "/"
	writeJSON(w, http.StatusOK, Discovery{Title: s.cfg.Title, Description: s.cfg.Description, Contact: s.cfg.Contact,
		Default: root, APIRoots: []string{root}})
}

func (s *Server) status(w http.ResponseWriter, r *http.Request, c Caller, id string) {
	s.mu.Lock()
	e := s.statuses[id]
	s.mu.Unlock()
	if e == nil || (!c.National && e.owner != c.Name) {
		s.fail(w, r, http.StatusNotFound, "Status not found", fmt.Sprintf("no status %q", id))
		return
	}
	writeJSON(w, http.StatusOK, e.status)
}

func (s *Server) saveStatus(owner string, st Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statuses[st.ID] = &statusEntry{owner: owner, status: st}
	s.order = append(s.order, st.ID)
	if len(s.order) > maxStatuses {
		delete(s.statuses, s.order[0])
		s.order = s.order[1:]
	}
}

// methods answers 405 unless r uses one of allowed.
func (s *Server) methods(w http.ResponseWriter, r *http.Request, allowed ...string) bool {
	for _, m := range allowed {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	s.fail(w, r, http.StatusMethodNotAllowed, "Method not allowed", r.Method+" is not supported here; use "+strings.Join(allowed, " or "))
	return false
}

// fail writes a TAXII error message resource.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, code int, title, desc string) {
	if code >= 500 {
		s.log.Error("taxii request failed", "method", r.Method, "path", r.URL.Path, "status", code, "error", desc)
	} else {
		s.log.Debug("taxii request refused", "method", r.Method, "path", r.URL.Path, "status", code, "reason", desc)
	}
	writeJSON(w, code, Error{Title: title, Description: desc, HTTPStatus: strconv.Itoa(code)})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(Error{Title: "Internal error", Description: "cannot encode the response", HTTPStatus: "500"})
	}
	w.Header().Set("Content-Type", MediaTypeTAXII)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
