package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/api"
	"github.com/mamori-soc/mamori/internal/auth"
	"github.com/mamori-soc/mamori/internal/bus/natsbus"
	"github.com/mamori-soc/mamori/internal/decision"
	"github.com/mamori-soc/mamori/internal/detect"
	"github.com/mamori-soc/mamori/internal/enrich"
	"github.com/mamori-soc/mamori/internal/event"
	"github.com/mamori-soc/mamori/internal/incident"
	"github.com/mamori-soc/mamori/internal/ingest"
	"github.com/mamori-soc/mamori/internal/normalize"
	"github.com/mamori-soc/mamori/internal/query"
	"github.com/mamori-soc/mamori/internal/sigma"
	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/store/clickhouse"
	"github.com/mamori-soc/mamori/internal/store/local"
	"github.com/mamori-soc/mamori/internal/store/replica"
	"github.com/mamori-soc/mamori/internal/tenant"
	"github.com/mamori-soc/mamori/internal/web"
)

// Config is the server configuration file (YAML; unknown keys are errors).
// Flags override it.
type Config struct {
	Listen     string         `yaml:"listen"` // HTTP API and ingest address
	Data       string         `yaml:"data"`   // data directory
	Rules      []string       `yaml:"rules"`  // Sigma rule directories
	NoBuiltin  bool           `yaml:"no_builtin_rules"`
	Logsources string         `yaml:"logsources"`   // extra logsource mapping file
	Placehold  string         `yaml:"placeholders"` // placeholder values file
	Retention  Duration       `yaml:"retention"`    // drop events older than this; default 30 days
	MaxLag     int64          `yaml:"max_lag"`      // ingest answers 429 when detection lags more events than this; default 2,000,000
	Syslog     []SyslogConfig `yaml:"syslog"`
	GeoIP      GeoIPConfig    `yaml:"geoip"`
	LogLevel   string         `yaml:"log_level"` // debug, info, warn, error
	// RatingEvery is how often the security ratings are recomputed; default 1m.
	RatingEvery Duration        `yaml:"rating_interval"`
	Decisions   DecisionsConfig `yaml:"decisions"`
	Intel       IntelConfig     `yaml:"intel"`
	// NATS puts JetStream between ingest and detection: "" keeps the
	// in-process path, "embedded" runs a JetStream server inside this
	// process (state under data/nats), else nats:// URLs (comma-separated).
	NATS string `yaml:"nats"`
	// NATSReplicas is the copies JetStream keeps of Mamori's streams (3 on
	// a 3-node cluster, so that losing a node loses nothing and stops
	// nothing); 0 means 1. Every node must use the same value.
	NATSReplicas int `yaml:"nats_replicas"`
	// ClickHouse keeps events in ClickHouse (http://host:8123/database);
	// it needs NATS (detection then takes events from the bus).
	ClickHouse string `yaml:"clickhouse"`
	// Role is the part of the work this node does with NATS: all (the
	// default), ingest (accept and publish, no detection) or detect
	// (consume and detect, no ingest endpoints or syslog listeners).
	Role string `yaml:"role"`
}

// DecisionsConfig configures prevention decisions (docs/DECISIONS.md).
type DecisionsConfig struct {
	// Allowlist holds addresses, ranges and domains that are never blocked
	// (the organisations' own ranges from geoip.own_ranges are added).
	Allowlist []AllowEntry `yaml:"allowlist"`
	// Policies make decisions automatically from campaigns, rules and feeds.
	Policies []decision.Policy `yaml:"policies"`
}

// AllowEntry is one allowlist entry.
type AllowEntry struct {
	Value string `yaml:"value"`
	Note  string `yaml:"note"`
}

// GeoIPConfig locates MaxMind-format (MMDB) databases for IP enrichment
// (GeoLite2 or ip-location-db layouts). Missing ones only disable enrichment.
type GeoIPConfig struct {
	CountryDB string `yaml:"country_db"`
	ASNDB     string `yaml:"asn_db"`
	// OwnRanges declares each organisation's own networks (organisation id →
	// CIDRs): addresses there are marked as the organisation's own.
	OwnRanges map[string][]string `yaml:"own_ranges"`
}

// SyslogConfig is one syslog listener.
type SyslogConfig struct {
	UDP     string            `yaml:"udp"`
	TCP     string            `yaml:"tcp"`
	TLSCert string            `yaml:"tls_cert"`
	TLSKey  string            `yaml:"tls_key"`
	Org     string            `yaml:"org"`     // organisation id owning this listener
	Sources map[string]string `yaml:"sources"` // sender CIDR → organisation id
}

// Duration is a time.Duration written as "30d", "12h", "90m".
type Duration time.Duration

// UnmarshalYAML parses days as well as Go durations.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDays(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

func parseDays(s string) (time.Duration, error) {
	if len(s) > 1 && s[len(s)-1] == 'd' {
		var n int
		if _, err := fmt.Sscanf(s, "%dd", &n); err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("bad duration %q (want e.g. 30d, 12h)", s)
	}
	return d, nil
}

// LoadConfig reads a config file strictly.
func LoadConfig(path string) (Config, error) {
	var c Config
	f, err := os.Open(path)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

func (c *Config) defaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.Retention == 0 {
		c.Retention = Duration(30 * 24 * time.Hour)
	}
	if c.MaxLag == 0 {
		c.MaxLag = 2_000_000
	}
	if c.RatingEvery == 0 {
		c.RatingEvery = Duration(time.Minute)
	}
}

// Server is a running Mamori platform.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   *local.Store
	data    store.Store // what reads and writes go to: store, or events in ClickHouse and the rest in store
	auth    *auth.Service
	query   *query.Querier
	det     *detect.Detector
	src     *logSource
	folder  *alert.Folder
	ingest  *ingest.HTTP
	syslogs []*ingest.Syslog
	http    *http.Server
	ln      net.Listener
	rules   *rulesHolder

	sectors  atomic.Pointer[map[tenant.ID]tenant.Sector]
	disabled atomic.Pointer[map[tenant.ID]map[string]bool]

	broker     *broker
	enrich     *enrich.Enricher
	incidents  *incidentStage
	rater      *rater
	decisions  *decision.Service
	intel      *intelHub
	bus        *natsbus.Bus    // JetStream between ingest and detection (config nats:); nil: in process
	natsServer *natsbus.Server // the embedded JetStream server (nats: embedded)
	replica    *replica.Store  // shared state through JetStream (config nats:); nil: this node's own
	caughtUp   atomic.Bool     // the replica has applied the state log as it was at start
	classes    atomic.Pointer[classCache]
	done       chan struct{} // closed when shutdown starts: ends live streams
	ready      atomic.Bool
	started    time.Time
	alerts     atomic.Int64
}

type rulesHolder struct {
	mu   sync.Mutex
	set  *sigma.Set
	srv  *Server
	errs []error
}

func (h *rulesHolder) Set() *sigma.Set {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.set
}

func (h *rulesHolder) SetEnabled(ctx context.Context, t tenant.ID, ruleID string, enabled bool) error {
	set := h.Set()
	if set.RuleIndex(ruleID) < 0 {
		found := false
		for _, c := range set.Correlations {
			found = found || c.ID == ruleID
		}
		if !found {
			return fmt.Errorf("no loaded rule has id %q", ruleID)
		}
	}
	if err := h.srv.shared().SetRuleEnabled(ctx, t, ruleID, enabled); err != nil {
		return err
	}
	return h.srv.refreshTenants(ctx)
}

// uploadedDir holds rules uploaded through the API.
func (s *Server) uploadedDir() string { return filepath.Join(s.cfg.Data, "rules-uploaded") }

// Upload implements api.Rules: validate, install, reload.
func (h *rulesHolder) Upload(ctx context.Context, name string, src []byte) ([]string, []string, error) {
	base := filepath.Base(strings.TrimSpace(name))
	if ext := strings.ToLower(filepath.Ext(base)); ext != ".yml" && ext != ".yaml" {
		base += ".yml"
	}
	rules, errs := sigma.Parse(base, src)
	var problems []string
	for _, e := range errs {
		problems = append(problems, e.Error())
	}
	if len(rules) == 0 && len(problems) == 0 {
		problems = append(problems, base+": no rule in the file")
	}
	if len(problems) > 0 {
		return nil, problems, nil
	}
	// Compile the new rules with the loaded ones, so references and placeholders are checked too.
	h.mu.Lock()
	defer h.mu.Unlock()
	all := append(append([]*sigma.Rule{}, h.set.Rules...), rules...)
	for _, c := range h.set.Correlations {
		all = append(all, c.Rule)
	}
	ph, err := loadPlaceholders(h.srv.cfg.Placehold)
	if err != nil {
		return nil, nil, err
	}
	if _, cerrs := sigma.Compile(all, sigma.CompileOptions{Placeholders: ph}); len(cerrs) > 0 {
		for _, e := range cerrs {
			problems = append(problems, e.Error())
		}
		return nil, problems, nil
	}
	dir := h.srv.uploadedDir()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, nil, err
	}
	tmp := filepath.Join(dir, "."+base+".tmp")
	if err := os.WriteFile(tmp, src, 0o640); err != nil {
		return nil, nil, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, base)); err != nil {
		return nil, nil, err
	}
	ro := h.srv.ruleOptions()
	lr, err := ro.load()
	if err != nil {
		return nil, nil, err
	}
	h.set, h.errs = lr.set, lr.errs
	h.srv.det.SetRules(lr.set)
	var ids []string
	for _, r := range rules {
		ids = append(ids, r.ID)
	}
	h.srv.log.Info("rules uploaded and reloaded", "file", base, "rules", len(lr.set.Rules), "correlations", len(lr.set.Correlations))
	return ids, nil, nil
}

// ruleOptions are the rule sources of the server: configured directories
// plus the rules uploaded through the API.
func (s *Server) ruleOptions() ruleOptions {
	ro := ruleOptions{rules: append([]string{}, s.cfg.Rules...), noBuiltin: s.cfg.NoBuiltin, logsources: s.cfg.Logsources, placeholders: s.cfg.Placehold}
	if st, err := os.Stat(s.uploadedDir()); err == nil && st.IsDir() {
		ro.rules = append(ro.rules, s.uploadedDir())
	}
	return ro
}

// NewServer opens the store, loads the rules and prepares every component;
// Run starts them.
func NewServer(ctx context.Context, cfg Config, log *slog.Logger) (*Server, error) {
	cfg.defaults()
	if cfg.Data == "" {
		return nil, errors.New("serve: no data directory (set data: in the config or --data)")
	}
	s := &Server{cfg: cfg, log: log, started: time.Now(), broker: newBroker()}
	st, err := local.Open(ctx, local.Config{Dir: cfg.Data, Decode: decodeRaw}, log)
	if err != nil {
		return nil, err
	}
	s.store, s.data = st, st
	switch cfg.Role {
	case "", "all":
	case "ingest", "detect":
		if cfg.NATS == "" {
			st.Close()
			return nil, fmt.Errorf("serve: role %s needs nats: (the nodes meet on the bus)", cfg.Role)
		}
	default:
		st.Close()
		return nil, fmt.Errorf("serve: unknown role %q (want all, ingest or detect)", cfg.Role)
	}
	if cfg.NATSReplicas < 0 || cfg.NATSReplicas > 5 {
		st.Close()
		return nil, fmt.Errorf("serve: nats_replicas %d: JetStream keeps 1 to 5 copies", cfg.NATSReplicas)
	}
	if cfg.ClickHouse != "" {
		if cfg.NATS == "" {
			st.Close()
			return nil, errors.New("serve: clickhouse: needs nats: (detection takes the events from the bus)")
		}
		ch, err := clickhouse.Open(ctx, clickhouse.Config{URL: cfg.ClickHouse}, log)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("serve: %w", err)
		}
		s.data = &eventsInClickHouse{Store: st, ch: ch}
	}
	if cfg.NATS != "" {
		if err := s.openShared(ctx); err != nil {
			s.data.Close()
			return nil, fmt.Errorf("serve: %w", err)
		}
	}
	if s.auth, err = auth.Open(ctx, st.DB(), 0); err != nil {
		st.Close()
		return nil, err
	}
	if s.replica != nil {
		s.shareAuth(s.replica)
	}
	ro := s.ruleOptions()
	lr, err := ro.load()
	if err != nil {
		st.Close()
		return nil, err
	}
	for _, e := range lr.errs {
		log.Warn("rule not loaded", "err", e)
	}
	log.Info("rules loaded", "rules", len(lr.set.Rules), "correlations", len(lr.set.Correlations), "failed", len(lr.errs), "dirs", lr.dirs)
	s.rules = &rulesHolder{set: lr.set, srv: s, errs: lr.errs}
	s.query = query.New(s.data)
	if err := s.refreshTenants(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if s.enrich, err = enrich.Open(enrich.Config{CountryDB: cfg.GeoIP.CountryDB, ASNDB: cfg.GeoIP.ASNDB}, log); err != nil {
		st.Close()
		return nil, err
	}
	for org, cidrs := range cfg.GeoIP.OwnRanges {
		var ps []netip.Prefix
		for _, c := range cidrs {
			p, err := netip.ParsePrefix(strings.TrimSpace(c))
			if err != nil {
				st.Close()
				return nil, fmt.Errorf("geoip.own_ranges.%s: %w", org, err)
			}
			ps = append(ps, p)
		}
		s.enrich.SetOwnRanges(tenant.ID(org), ps)
	}
	s.folder = alert.NewFolder(0)
	recent, err := st.RecentAlerts(ctx, time.Now().Add(-2*time.Hour))
	if err != nil {
		st.Close()
		return nil, err
	}
	for i := range recent {
		s.folder.Remember(&recent[i])
	}
	s.incidents = newIncidentStage(st, log, s.ruleClasses)
	s.incidents.OnCampaign = s.campaignPolicies
	if s.replica != nil {
		// Grouping runs on the state log's apply loop, which a decision
		// (itself a record of the log) must not wait for: policies act
		// beside it. Every node derives the same campaign; its decisions
		// are keyed, so they are logged once.
		s.incidents.OnCampaign = func(ctx context.Context, c *incident.Campaign, severity string) {
			cp := *c
			go s.campaignPolicies(context.WithoutCancel(ctx), &cp, severity)
		}
	}
	if err := s.incidents.resume(ctx, time.Now()); err != nil {
		st.Close()
		return nil, fmt.Errorf("serve: resume incidents: %w", err)
	}
	allow := []decision.Allow{}
	for _, e := range cfg.Decisions.Allowlist {
		allow = append(allow, decision.Allow{Value: e.Value, Note: e.Note})
	}
	for org, cidrs := range cfg.GeoIP.OwnRanges {
		for _, c := range cidrs {
			allow = append(allow, decision.Allow{Value: strings.TrimSpace(c), Note: "own range of " + org})
		}
	}
	if s.decisions, err = decision.Open(ctx, st.DB(), decision.Options{SectorOf: s.sectorOf, Allowlist: allow, Policies: cfg.Decisions.Policies, Log: log}); err != nil {
		st.Close()
		return nil, fmt.Errorf("serve: decisions: %w", err)
	}
	if s.replica != nil {
		s.shareDecisions(s.replica)
	}
	s.query.SetDecisions(s.decisions)
	s.rater = newRater(s.data, log, s.ruleClasses)
	s.query.SetRatings(s.rater.Latest)
	s.src = &logSource{st: st}
	s.det = detect.New(detect.Config{
		Sector: func(t tenant.ID) tenant.Sector {
			if m := s.sectors.Load(); m != nil {
				if sec, ok := (*m)[t]; ok {
					return sec
				}
			}
			return tenant.Other
		},
		Disabled: func(t tenant.ID, rule string) bool {
			m := s.disabled.Load()
			return m != nil && (*m)[t][rule]
		},
	}, lr.set, s.src, &alertSink{srv: s}, log)
	if err := s.openIntel(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("serve: threat intelligence: %w", err)
	}
	if s.replica != nil {
		s.shareIndicators(s.replica)
	}
	s.query.SetIndicators(s.intel)
	s.ingest = ingest.NewHTTP(ingest.Config{}, &eventSink{srv: s}, &ingestAuth{a: s.auth}, log)
	for _, sc := range cfg.Syslog {
		if cfg.Role == "detect" {
			break // a detection node takes no ingest
		}
		sl, err := s.openSyslog(sc)
		if err != nil {
			s.closeAll()
			return nil, err
		}
		s.syslogs = append(s.syslogs, sl)
	}
	mux := http.NewServeMux()
	if cfg.Role != "detect" {
		s.ingest.Register(mux)
	}
	s.decisions.Register(mux) // the CrowdSec bouncer API (/v1/decisions...), keyed by X-Api-Key
	// TAXII 2.1 by method: a bare "/taxii2/" would clash with the _bulk
	// route ("POST /{index}/_bulk"), and every POST of TAXII is under the
	// API root anyway.
	for _, pat := range []string{"GET /taxii2/", "DELETE /taxii2/", "POST /taxii2/api/"} {
		mux.Handle(pat, s.intel.taxii)
	}
	web.Register(mux)
	s.done = make(chan struct{})
	api.New(api.Options{Auth: s.auth, Query: s.query, Orgs: &orgWriter{srv: s}, Rules: s.rules, Log: log, Metrics: s.writeMetrics,
		Ready: func() error {
			if !s.ready.Load() {
				return errors.New("starting")
			}
			if s.replica != nil && !s.caughtUp.Load() {
				return errors.New("applying the shared state log")
			}
			return nil
		},
		RuleSource: s.ruleSource,
		Producer:   cfg.Intel.Producer,
		Subscribe:  s.broker.Subscribe,
		Done:       s.done,
		Triaged: func(ctx context.Context, alerts []alert.Alert) {
			if s.replica != nil {
				return // every node hears of it when it applies the change (replicaHooks)
			}
			for i := range alerts {
				s.folder.Update(&alerts[i])
			}
			s.broker.publish(alerts)
		},
	}).Register(mux)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		s.closeAll()
		return nil, fmt.Errorf("serve: listen %s: %w", cfg.Listen, err)
	}
	s.ln = ln
	return s, nil
}

func (s *Server) openSyslog(sc SyslogConfig) (*ingest.Syslog, error) {
	c := ingest.SyslogConfig{UDP: sc.UDP, TCP: sc.TCP, Tenant: tenant.ID(sc.Org), Sources: map[netip.Prefix]tenant.ID{}}
	for cidr, org := range sc.Sources {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return nil, fmt.Errorf("syslog sources: %w", err)
		}
		c.Sources[p] = tenant.ID(org)
	}
	if sc.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(sc.TLSCert, sc.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("syslog tls: %w", err)
		}
		c.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return ingest.ListenSyslog(c, &eventSink{srv: s}, s.log)
}

// enrichAlert adds the country and AS of the alert's source address.
func (s *Server) enrichAlert(a *alert.Alert) {
	if a.DstIP == "" {
		a.DstIP = destinationOf(a.Event)
	}
	if a.DstIP != "" && a.DstCountry == "" && a.DstASN == 0 {
		if ip, err := netip.ParseAddr(a.DstIP); err == nil {
			info := s.enrich.LookupFor(a.Tenant, ip)
			a.DstCountry, a.DstASN, a.DstASOrg = info.Country, info.ASN, info.ASOrg
		}
	}
	if a.SrcIP == "" || a.SrcCountry != "" || a.SrcASN != 0 {
		return
	}
	ip, err := netip.ParseAddr(a.SrcIP)
	if err != nil {
		return
	}
	info := s.enrich.LookupFor(a.Tenant, ip)
	a.SrcCountry, a.SrcASN, a.SrcASOrg = info.Country, info.ASN, info.ASOrg
	a.SrcScope = info.Scope.String()
}

// destinationFields name the destination address in the event shapes
// Mamori normalizes (Sysmon, Windows firewall, Zeek, Suricata/ECS).
var destinationFields = []string{"DestinationIp", "DestAddress", "dest_ip", "id.resp_h", "destination.ip", "dst_ip"}

// destinationOf returns the destination address of an alert's event ("" when none).
func destinationOf(fields []alert.Field) string {
	for _, name := range destinationFields {
		for _, f := range fields {
			if f.Name == name {
				if ip, err := netip.ParseAddr(strings.TrimSpace(f.Value)); err == nil {
					return ip.Unmap().String()
				}
			}
		}
	}
	return ""
}

// ruleSource finds a loaded rule (detection or correlation) by id.
func (s *Server) ruleSource(id string) (*sigma.Rule, bool) {
	set := s.rules.Set()
	if i := set.RuleIndex(id); i >= 0 {
		return set.Rules[i], true
	}
	for _, c := range set.Correlations {
		if c.ID == id {
			return c.Rule, true
		}
	}
	return nil, false
}

// Addr returns the HTTP address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Syslogs returns the syslog listeners.
func (s *Server) Syslogs() []*ingest.Syslog { return s.syslogs }

// Auth returns the user and token service.
func (s *Server) Auth() *auth.Service { return s.auth }

// Store returns the store.
func (s *Server) Store() store.Store { return s.store }

// Detector returns the detection loop.
func (s *Server) Detector() *detect.Detector { return s.det }

func (s *Server) refreshTenants(ctx context.Context) error {
	ts, err := s.store.Tenants(ctx)
	if err != nil {
		return err
	}
	m := make(map[tenant.ID]tenant.Sector, len(ts))
	for _, t := range ts {
		m[t.ID] = t.Sector
	}
	s.sectors.Store(&m)
	d, err := s.store.DisabledRules(ctx)
	if err != nil {
		return err
	}
	s.disabled.Store(&d)
	s.query.Invalidate()
	return nil
}

// Run serves until ctx ends, then shuts down gracefully: it stops taking
// requests, lets in-flight ingest finish, lets detection catch up with what
// was acknowledged, and closes the store.
func (s *Server) Run(ctx context.Context) error {
	pos, err := s.store.Cursor(ctx, "detect")
	if err != nil {
		return err
	}
	detCtx, stopDet := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if s.bus != nil {
			if s.replica != nil && !s.syncState(detCtx) {
				return
			}
			if s.cfg.Role != "ingest" {
				s.consumeBus(detCtx) // detection consumes the bus
			}
			return
		}
		s.det.Run(detCtx, pos)
	}()
	slCtx, stopSyslog := context.WithCancel(context.WithoutCancel(ctx))
	for _, sl := range s.syslogs {
		wg.Add(1)
		go func() { defer wg.Done(); sl.Serve(slCtx) }()
	}
	if s.replica != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.replica.Run(detCtx) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); s.retention(detCtx) }()
	wg.Add(1)
	go func() { defer wg.Done(); s.rater.run(detCtx, time.Duration(s.cfg.RatingEvery)) }()
	wg.Add(1)
	go func() { defer wg.Done(); s.expireDecisions(detCtx) }()
	wg.Add(1)
	go func() { defer wg.Done(); s.intel.run(detCtx) }()
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.ln) }()
	s.ready.Store(true)
	s.log.Info("mamori serving", "addr", s.Addr(), "data", s.cfg.Data)
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.ready.Store(false)
	close(s.done)
	s.log.Info("shutting down: draining ingest")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = s.http.Shutdown(sctx)
	stopSyslog()
	// Let detection reach what was acknowledged, within the deadline (on
	// the bus, what is not processed stays in JetStream for the next start).
	last, _ := s.data.LastSeq(sctx)
	for s.bus == nil && s.det.Stats.Position.Load() < last && sctx.Err() == nil {
		s.det.Notify()
		time.Sleep(20 * time.Millisecond)
	}
	stopDet()
	wg.Wait()
	s.closeAll()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (s *Server) closeAll() {
	if s.ln != nil {
		s.ln.Close()
	}
	s.closeBus()
	s.data.Close()
}

func (s *Server) retention(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := s.data.DeleteBefore(ctx, time.Now().Add(-time.Duration(s.cfg.Retention)))
		if err != nil && ctx.Err() == nil {
			s.log.Warn("retention", "err", err)
		} else if n > 0 {
			s.log.Info("retention: dropped old events and alerts", "rows", n)
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// eventSink makes ingested records durable in the store.
type eventSink struct{ srv *Server }

func (e *eventSink) Publish(ctx context.Context, recs []ingest.Record) error {
	s := e.srv
	last, err := s.data.LastSeq(ctx)
	if err == nil && s.bus == nil && last-s.det.Stats.Position.Load() > s.cfg.MaxLag {
		return fmt.Errorf("detection is %d events behind: %w", last-s.det.Stats.Position.Load(), ingest.ErrBusy)
	}
	evs := make([]store.Event, len(recs))
	for i := range recs {
		r := &recs[i]
		ev := r.Event
		ch, hasCh := ev.Get("Channel")
		se := store.Event{ID: r.ID, Tenant: r.Tenant, Time: ev.Time, Received: r.Received, Source: r.Source, Host: normalize.HostOf(ev), Raw: r.Raw}
		if hasCh {
			se.Channel = string(ch)
		}
		if v, ok := ev.Get("EventID"); ok {
			se.EventID = string(v)
		}
		if len(r.Raw) == 0 { // the store derives the fields of raw records itself
			se.Fields = make([]store.Field, ev.Len())
			for j := range se.Fields {
				se.Fields[j] = store.Field{Name: string(ev.Name(j)), Value: string(ev.Value(j))}
			}
		}
		evs[i] = se
	}
	if s.bus != nil {
		return s.publishBatches(ctx, evs) // acknowledged once JetStream has them
	}
	if _, err := s.store.AppendEvents(ctx, evs); err != nil {
		if errors.Is(err, store.ErrReadOnly) {
			return fmt.Errorf("%w: %w", err, ingest.ErrBusy)
		}
		return err
	}
	items := make([]detect.Item, 0, len(evs))
	for i := range evs {
		if evs[i].Seq != 0 { // 0: a duplicate, already stored and detected
			items = append(items, detect.Item{Seq: evs[i].Seq, Tenant: recs[i].Tenant, Event: recs[i].Event})
		}
	}
	s.src.push(items)
	s.det.Notify()
	return nil
}

var rawDecoders = sync.Pool{New: func() any { return &rawDecoder{dec: normalize.NewDecoder()} }}

type rawDecoder struct {
	dec *normalize.Decoder
	ev  event.Event
}

// decodeRaw re-derives a stored event's fields from its raw record, exactly as
// ingest normalized it (the store keeps only the raw record).
func decodeRaw(source string, raw []byte) ([]store.Field, error) {
	d := rawDecoders.Get().(*rawDecoder)
	defer rawDecoders.Put(d)
	var err error
	switch source {
	case "ndjson-syslog", "syslog-udp", "syslog-tcp", "syslog-tls":
		err = d.dec.Syslog(raw, &d.ev)
	case "ndjson-access":
		err = d.dec.AccessLog(raw, &d.ev)
	case "ndjson-zeek-tsv":
		// Stored as name=value pairs separated by tabs.
		d.ev.Reset()
		for _, kv := range bytes.Split(bytes.TrimRight(raw, "\t"), []byte{'\t'}) {
			if k, v, ok := bytes.Cut(kv, []byte{'='}); ok {
				d.ev.Add(k, v)
			}
		}
	default:
		err = d.dec.JSON(raw, &d.ev)
	}
	if err != nil {
		return nil, err
	}
	fields := make([]store.Field, d.ev.Len())
	for i := range fields {
		fields[i] = store.Field{Name: string(d.ev.Name(i)), Value: string(d.ev.Value(i))}
	}
	return fields, nil
}

// ingestAuth accepts ingest tokens only.
type ingestAuth struct{ a *auth.Service }

func (i *ingestAuth) IngestTenant(ctx context.Context, cred string) (tenant.ID, error) {
	p, err := i.a.Authenticate(ctx, cred)
	if err != nil {
		return "", err
	}
	if !p.Can(auth.SendEvents) || p.Tenant == "" {
		return "", errors.New("not an ingest token")
	}
	return p.Tenant, nil
}

// logSource feeds detection. Events just committed by ingest are handed
// over in memory (no read-back, no re-decoding); the stored log is read
// when they are not there (after a restart, or when the hand-over queue
// overflowed), so nothing stored is ever skipped.
type logSource struct {
	st   *local.Store
	pool []*event.Event

	mu      sync.Mutex
	queue   map[int64]detect.Item // committed, not yet detected, by Seq
	gapFrom time.Time             // when Next first found the queue not starting at after+1
}

// maxHandover bounds the in-memory hand-over queue.
const maxHandover = 500_000

// push hands committed events to detection.
func (l *logSource) push(items []detect.Item) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.queue == nil {
		l.queue = map[int64]detect.Item{}
	}
	for _, it := range items {
		if len(l.queue) >= maxHandover {
			return // detection will read these from the store
		}
		l.queue[it.Seq] = it
	}
}

func (l *logSource) Next(ctx context.Context, after int64, max int) ([]detect.Item, error) {
	l.mu.Lock()
	var items []detect.Item
	for seq := after + 1; len(items) < max; seq++ {
		it, ok := l.queue[seq]
		if !ok {
			break
		}
		delete(l.queue, seq)
		items = append(items, it)
	}
	// Forget anything at or before after (already detected through the store).
	if len(items) == 0 && len(l.queue) > 0 {
		for seq := range l.queue {
			if seq <= after {
				delete(l.queue, seq)
			}
		}
	}
	pending := len(l.queue)
	l.mu.Unlock()
	if len(items) > 0 {
		l.gapFrom = time.Time{}
		return items, nil
	}
	last, err := l.st.LastSeq(ctx)
	if err != nil || last <= after {
		return nil, err
	}
	// Stored events that are not (yet) in the queue: a concurrent ingest may
	// be about to hand them over; give it a moment before reading the store.
	if pending > 0 {
		if l.gapFrom.IsZero() {
			l.gapFrom = time.Now()
		}
		if time.Since(l.gapFrom) < 200*time.Millisecond {
			return nil, nil
		}
	}
	l.gapFrom = time.Time{}
	return l.fromStore(ctx, after, max)
}

func (l *logSource) fromStore(ctx context.Context, after int64, max int) ([]detect.Item, error) {
	evs, err := l.st.EventsAfter(ctx, after, max)
	if err != nil || len(evs) == 0 {
		return nil, err
	}
	for len(l.pool) < len(evs) {
		l.pool = append(l.pool, &event.Event{})
	}
	items := make([]detect.Item, len(evs))
	for i := range evs {
		ev := l.pool[i]
		ev.Reset()
		ev.Time, ev.Tenant, ev.Source = evs[i].Time, string(evs[i].Tenant), evs[i].Source
		for _, f := range evs[i].Fields {
			ev.AddString(f.Name, f.Value)
		}
		items[i] = detect.Item{Seq: evs[i].Seq, Tenant: evs[i].Tenant, Event: ev}
	}
	return items, nil
}

// alertSink folds hits into alerts and stores them with the cursor.
type alertSink struct {
	srv    *Server
	cursor string // the detection cursor committed with the alerts; "" means "detect"
}

func (a *alertSink) Commit(ctx context.Context, seq int64, hits []alert.Hit) error {
	alerts := a.srv.folder.Fold(hits)
	for i := range alerts {
		a.srv.enrichAlert(&alerts[i])
	}
	cursor := a.cursor
	if cursor == "" {
		cursor = "detect"
	}
	if r := a.srv.replica; r != nil {
		// Shared state: the alerts go to the state log, and every node
		// (this one too) stores them, groups them into incidents and
		// streams them to consoles when it applies the record.
		if err := r.CommitDetections(ctx, cursor, seq, alerts); err != nil {
			return err
		}
		a.srv.alerts.Add(int64(len(hits)))
	} else {
		if err := a.srv.store.CommitDetections(ctx, cursor, seq, alerts); err != nil {
			return err
		}
		a.srv.broker.publish(alerts)
		a.srv.alerts.Add(int64(len(hits)))
		// The alerts are safe; a failure here is healed by the next alert of
		// the incident or by the replay at the next start.
		if err := a.srv.incidents.add(ctx, alerts, time.Now().UTC()); err != nil {
			a.srv.log.Warn("incidents not stored", "err", err)
		}
	}
	a.srv.rulePolicies(ctx, alerts)
	if a.srv.replica == nil {
		a.srv.intel.sight(ctx, alerts) // with shared state, every node records sightings as it applies the alerts
	}
	return nil
}

// campaignPolicies lets decision policies act on a campaign's infrastructure.
func (s *Server) campaignPolicies(ctx context.Context, c *incident.Campaign, severity string) {
	if s.decisions == nil || len(s.decisions.Policies()) == 0 {
		return
	}
	var values []string
	for _, ind := range c.Indicators {
		switch ind.Kind {
		case incident.IndicatorIP, incident.IndicatorNet, incident.IndicatorDomain:
			values = append(values, ind.Value)
		}
	}
	if len(values) == 0 {
		return
	}
	reason := fmt.Sprintf("campaign %s across %d organisations (%s)", c.ID, len(c.Orgs), strings.Join(sectorList(c.Sectors), ", "))
	for _, sec := range c.Sectors {
		if _, err := s.decisions.Apply(ctx, decision.Trigger{Kind: decision.WhenCampaign, Ref: c.ID, Values: values, Sector: sec,
			Severity: severity, Reason: reason}); err != nil {
			s.log.Warn("decision policies: campaign", "campaign", c.ID, "err", err)
		}
	}
}

// rulePolicies lets decision policies act on the public sources of alerts.
func (s *Server) rulePolicies(ctx context.Context, alerts []alert.Alert) {
	if s.decisions == nil || len(s.decisions.Policies()) == 0 {
		return
	}
	for _, a := range alerts {
		ip, ok := incident.PublicIP(a.SrcIP)
		if !ok || a.SrcScope == "own" {
			continue
		}
		if _, err := s.decisions.Apply(ctx, decision.Trigger{Kind: decision.WhenRule, Ref: a.RuleID, Values: []string{ip.String()},
			Org: a.Tenant, Sector: a.Sector, Severity: a.Level, Reason: a.RuleTitle + " from " + ip.String()}); err != nil {
			s.log.Warn("decision policies: rule", "rule", a.RuleID, "err", err)
		}
	}
}

func sectorList(ss []tenant.Sector) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

// sectorOf is an organisation's sector, from the cache refreshTenants keeps.
func (s *Server) sectorOf(t tenant.ID) (tenant.Sector, bool) {
	if m := s.sectors.Load(); m != nil {
		sec, ok := (*m)[t]
		return sec, ok
	}
	return "", false
}

// expireDecisions records the expiry of decisions as their time comes.
func (s *Server) expireDecisions(ctx context.Context) {
	t := time.NewTicker(15 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if _, err := s.decisions.Expire(ctx, time.Now()); err != nil && ctx.Err() == nil {
				s.log.Warn("decisions: expiry", "err", err)
			}
		case <-ctx.Done():
			return
		}
	}
}

// classCache holds the rule classes of one rule set.
type classCache struct {
	set     *sigma.Set
	classes *ruleClasses
}

// ruleClasses returns the classes of the rules loaded now.
func (s *Server) ruleClasses() *ruleClasses {
	set := s.rules.Set()
	if c := s.classes.Load(); c != nil && c.set == set {
		return c.classes
	}
	c := &classCache{set: set, classes: classify(set)}
	s.classes.Store(c)
	return c.classes
}

// orgWriter creates organisations and refreshes the caches that know them.
type orgWriter struct{ srv *Server }

func (o *orgWriter) PutTenant(ctx context.Context, t tenant.Tenant) error {
	if err := o.srv.shared().PutTenant(ctx, t); err != nil {
		return err
	}
	return o.srv.refreshTenants(ctx)
}

func (s *Server) writeMetrics(w io.Writer) {
	acc, rej, busy, reqs := s.ingest.Stats().Snapshot()
	last, _ := s.data.LastSeq(context.Background())
	pos := s.det.Stats.Position.Load()
	set := s.rules.Set()
	fmt.Fprintf(w, "# HELP mamori_ingest_events_total Events accepted by ingest.\n# TYPE mamori_ingest_events_total counter\nmamori_ingest_events_total %d\n", acc)
	fmt.Fprintf(w, "# HELP mamori_ingest_rejected_total Records rejected as malformed.\n# TYPE mamori_ingest_rejected_total counter\nmamori_ingest_rejected_total %d\n", rej)
	fmt.Fprintf(w, "# HELP mamori_ingest_busy_total Requests refused with 429/503 because the pipeline was saturated.\n# TYPE mamori_ingest_busy_total counter\nmamori_ingest_busy_total %d\n", busy)
	fmt.Fprintf(w, "# HELP mamori_ingest_requests_total Ingest requests served.\n# TYPE mamori_ingest_requests_total counter\nmamori_ingest_requests_total %d\n", reqs)
	for _, sl := range s.syslogs {
		r, b, u := sl.Counters()
		fmt.Fprintf(w, "mamori_syslog_messages_total %d\nmamori_syslog_bad_total %d\nmamori_syslog_unknown_sender_total %d\n", r, b, u)
	}
	fmt.Fprintf(w, "# HELP mamori_events_stored_seq Highest stored event sequence number.\n# TYPE mamori_events_stored_seq gauge\nmamori_events_stored_seq %d\n", last)
	fmt.Fprintf(w, "# HELP mamori_detect_queue_depth Stored events not yet run through detection.\n# TYPE mamori_detect_queue_depth gauge\nmamori_detect_queue_depth %d\n", last-pos)
	fmt.Fprintf(w, "# HELP mamori_detect_events_total Events run through the rules.\n# TYPE mamori_detect_events_total counter\nmamori_detect_events_total %d\n", s.det.Stats.Events.Load())
	fmt.Fprintf(w, "# HELP mamori_detect_rule_eval_seconds_total Time spent matching events against the rules.\n# TYPE mamori_detect_rule_eval_seconds_total counter\nmamori_detect_rule_eval_seconds_total %g\n", float64(s.det.Stats.MatchNanos.Load())/1e9)
	fmt.Fprintf(w, "# HELP mamori_detect_hits_total Rule and correlation hits.\n# TYPE mamori_detect_hits_total counter\nmamori_detect_hits_total %d\n", s.det.Stats.Hits.Load())
	fmt.Fprintf(w, "# HELP mamori_rules_loaded Detection and correlation rules loaded.\n# TYPE mamori_rules_loaded gauge\nmamori_rules_loaded %d\n", len(set.Rules)+len(set.Correlations))
	fmt.Fprintf(w, "# HELP mamori_incident_alerts_total Alerts grouped into incidents and campaigns.\n# TYPE mamori_incident_alerts_total counter\nmamori_incident_alerts_total %d\n", s.incidents.Alerts.Load())
	fmt.Fprintf(w, "# HELP mamori_incident_grouping_seconds_total Time spent grouping alerts and linking campaigns (storage excluded).\n# TYPE mamori_incident_grouping_seconds_total counter\nmamori_incident_grouping_seconds_total %g\n", float64(s.incidents.Nanos.Load())/1e9)
	fmt.Fprintf(w, "# HELP mamori_incident_store_failures_total Incident batches the store refused (healed by later alerts or the replay at start).\n# TYPE mamori_incident_store_failures_total counter\nmamori_incident_store_failures_total %d\n", s.incidents.Failures.Load())
	if s.bus != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		lag, err := s.bus.Lag(ctx)
		cancel()
		if err == nil {
			fmt.Fprintf(w, "# HELP mamori_bus_pending Batches in JetStream not yet delivered to a worker, per partition.\n# TYPE mamori_bus_pending gauge\n")
			for _, l := range lag {
				fmt.Fprintf(w, "mamori_bus_pending{partition=\"%d\"} %d\n", l.Partition, l.Pending)
			}
			fmt.Fprintf(w, "# HELP mamori_bus_unacked Batches delivered and not yet acknowledged, per partition.\n# TYPE mamori_bus_unacked gauge\n")
			for _, l := range lag {
				fmt.Fprintf(w, "mamori_bus_unacked{partition=\"%d\"} %d\n", l.Partition, l.Unacked)
			}
		}
	}
	if r := s.replica; r != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		lag, err := r.Lag(ctx)
		cancel()
		fmt.Fprintf(w, "# HELP mamori_state_records_total State log records applied by this node.\n# TYPE mamori_state_records_total counter\nmamori_state_records_total %d\n", r.Records.Load())
		fmt.Fprintf(w, "# HELP mamori_state_skipped_total State log records skipped (undecodable or of an unknown kind).\n# TYPE mamori_state_skipped_total counter\nmamori_state_skipped_total %d\n", r.Skipped.Load())
		if err == nil {
			fmt.Fprintf(w, "# HELP mamori_state_lag State log records not yet applied by this node.\n# TYPE mamori_state_lag gauge\nmamori_state_lag %d\n", lag)
		}
	}
	fmt.Fprintf(w, "# HELP mamori_uptime_seconds Seconds since start.\n# TYPE mamori_uptime_seconds gauge\nmamori_uptime_seconds %g\n", time.Since(s.started).Seconds())
}
