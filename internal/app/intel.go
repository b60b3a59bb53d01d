package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/auth"
	"github.com/mamori-soc/mamori/internal/decision"
	"github.com/mamori-soc/mamori/internal/detect"
	"github.com/mamori-soc/mamori/internal/intel"
	"github.com/mamori-soc/mamori/internal/ioc"
	"github.com/mamori-soc/mamori/internal/store/replica"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// IntelConfig configures threat intelligence (docs/INTEL.md, docs/TAXII.md).
type IntelConfig struct {
	// Feeds are pulled on their schedule into the indicator store.
	Feeds []FeedConfig `yaml:"feeds"`
	// Partners are TAXII 2.1 collections polled on their schedule.
	Partners []PartnerConfig `yaml:"partners"`
	// Producer names this centre in what it exports; default "Mamori national SOC".
	Producer string `yaml:"producer"`
	// TAXIIBaseURL is the external URL of /taxii2/ behind a reverse proxy.
	TAXIIBaseURL string `yaml:"taxii_base_url"`
}

// FeedConfig is one indicator feed.
type FeedConfig struct {
	Name       string   `yaml:"name"`
	URL        string   `yaml:"url"`
	Format     string   `yaml:"format"` // stix, list, csv, misp
	Every      Duration `yaml:"every"`
	Confidence int      `yaml:"confidence"`
	TLP        string   `yaml:"tlp"`
	Column     string   `yaml:"column"`
	Labels     []string `yaml:"labels"`
}

// PartnerConfig is one partner's TAXII 2.1 collection.
type PartnerConfig struct {
	Name       string   `yaml:"name"`
	URL        string   `yaml:"url"` // discovery URL, e.g. https://partner.example/taxii2/
	APIRoot    string   `yaml:"api_root"`
	Collection string   `yaml:"collection"` // id, alias or title
	User       string   `yaml:"user"`
	Password   string   `yaml:"password"`
	Token      string   `yaml:"token"`
	Every      Duration `yaml:"every"`
}

// intelHub keeps the indicators detection matches live, and serves and
// fetches them (TAXII, feeds).
type intelHub struct {
	store *ioc.Store
	det   *detect.Detector
	log   *slog.Logger

	mu     sync.Mutex     // serialises compiles
	shared *replica.Store // the state log, with several nodes (indicator changes go through it); nil: this node only
	puller *ioc.Puller
	poller *intel.Poller
	taxii  *intel.Server
}

// compile rebuilds the live indicator set from the store.
func (h *intelHub) compile(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	inds, err := h.store.All(ctx)
	if err != nil {
		return err
	}
	set := ioc.Compile(inds, time.Now())
	h.det.SetIndicators(set)
	return nil
}

// Import parses a body of the given format and stores its indicators, then
// recompiles, so that the next events are matched against them.
// Indicators shared by an organisation (owner) carry it, so TLP rules apply.
func (h *intelHub) Import(ctx context.Context, format, source string, owner tenant.ID, r io.Reader, opts ioc.ListOptions) (added, updated int, errs []error, err error) {
	var inds []ioc.Indicator
	switch strings.ToLower(format) {
	case "stix", "":
		inds, errs = ioc.ParseSTIX(r, source)
	case "misp":
		inds, errs = ioc.ParseMISP(r, source)
	case "list", "csv":
		opts.Format = strings.ToLower(format)
		inds, errs = ioc.ParseList(r, source, opts)
	default:
		return 0, 0, nil, fmt.Errorf("%w: unknown format %q (want stix, misp, list or csv)", ioc.ErrMalformed, format)
	}
	for i := range inds {
		if owner != "" {
			inds[i].Owner = string(owner)
		}
	}
	if h.shared != nil {
		out, err := h.submitIndicators(ctx, inds, nil)
		return out.added, out.updated, errs, err
	}
	if len(inds) > 0 {
		if added, updated, err = h.store.Put(ctx, inds); err != nil {
			return 0, 0, errs, err
		}
	}
	if err := h.compile(ctx); err != nil {
		return added, updated, errs, err
	}
	return added, updated, errs, nil
}

// Sources is the status of every configured feed and partner.
func (h *intelHub) Sources() (feeds []ioc.FeedStatus, partners []intel.PartnerStatus) {
	feeds, partners = []ioc.FeedStatus{}, []intel.PartnerStatus{}
	if h.puller != nil {
		feeds = h.puller.Status()
	}
	if h.poller != nil {
		partners = h.poller.Status()
	}
	return feeds, partners
}

// List lists stored indicators.
func (h *intelHub) List(ctx context.Context, q ioc.Query) ([]ioc.Indicator, int, error) {
	return h.store.List(ctx, q)
}

// Delete removes indicators and recompiles.
func (h *intelHub) Delete(ctx context.Context, ids []string) (int, error) {
	if h.shared != nil {
		out, err := h.submitIndicators(ctx, nil, ids)
		return out.deleted, err
	}
	n, err := h.store.Delete(ctx, ids)
	if err != nil {
		return 0, err
	}
	return n, h.compile(ctx)
}

// run recompiles when indicators expire or decay, and pulls feeds and
// partners, until ctx ends.
func (h *intelHub) run(ctx context.Context) {
	var wg sync.WaitGroup
	if h.puller != nil {
		wg.Add(1)
		go func() { defer wg.Done(); _ = h.puller.Run(ctx) }()
	}
	if h.poller != nil {
		wg.Add(1)
		go func() { defer wg.Done(); _ = h.poller.Run(ctx) }()
	}
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case now := <-t.C:
			set := h.det.Indicators()
			if set != nil && !set.NextChange().IsZero() && now.After(set.NextChange()) {
				if err := h.compile(ctx); err != nil && ctx.Err() == nil {
					h.log.Warn("indicators not recompiled", "err", err)
				}
			}
		}
	}
}

// sight records the indicator sightings of stored alerts.
func (h *intelHub) sight(ctx context.Context, alerts []alert.Alert) {
	for _, a := range alerts {
		id, ok := strings.CutPrefix(a.RuleID, detect.IOCPrefix)
		if !ok {
			continue
		}
		s := ioc.Sighting{IndicatorID: id, Tenant: string(a.Tenant), At: a.LastSeen, AlertID: a.ID}
		for _, f := range a.Event {
			switch f.Name {
			case "ioc.field":
				s.Field = f.Value
			case "ioc.value":
				s.Value = f.Value
			}
		}
		if err := h.store.AddSighting(ctx, s); err != nil {
			h.log.Warn("indicator sighting not recorded", "indicator", id, "err", err)
		}
	}
}

// maxFeedDecisions bounds what feed policies ask for in one pull.
const maxFeedDecisions = 10000

// feedPolicies lets "feed" decision policies act on the feeds' addresses,
// ranges and domains (an identical active decision is only extended).
func (s *Server) feedPolicies(ctx context.Context, h *intelHub) {
	var feeds []string
	for _, p := range s.decisions.Policies() {
		if p.When != decision.WhenFeed {
			continue
		}
		for _, f := range s.cfg.Intel.Feeds {
			if (p.Feed == "" || p.Feed == f.Name) && !slices.Contains(feeds, f.Name) {
				feeds = append(feeds, f.Name)
			}
		}
	}
	for _, name := range feeds {
		inds, _, err := h.store.List(ctx, ioc.Query{Source: name, Active: true, Now: time.Now(), Limit: maxFeedDecisions})
		if err != nil {
			s.log.Warn("decision policies: feed", "feed", name, "err", err)
			continue
		}
		var values []string
		for _, ind := range inds {
			switch ind.Kind {
			case ioc.IP, ioc.CIDR, ioc.Domain:
				values = append(values, ind.Value)
			}
		}
		if len(values) == 0 {
			continue
		}
		if _, err := s.decisions.Apply(ctx, decision.Trigger{Kind: decision.WhenFeed, Ref: name, Values: values, Severity: "high",
			Reason: "listed by feed " + name}); err != nil {
			s.log.Warn("decision policies: feed", "feed", name, "err", err)
		}
	}
}

// partnerCursors keeps each TAXII partner's poll cursor (the date_added of
// the last object imported) in the store's cursors, so a restart resumes
// where the last poll ended.
type partnerCursors struct{ s *Server }

func (c partnerCursors) Cursor(ctx context.Context, partner string) (time.Time, error) {
	ns, err := c.s.store.Cursor(ctx, "taxii:"+partner)
	if err != nil || ns == 0 {
		return time.Time{}, err
	}
	return time.Unix(0, ns).UTC(), nil
}

func (c partnerCursors) SetCursor(ctx context.Context, partner string, t time.Time) error {
	return c.s.store.CommitDetections(ctx, "taxii:"+partner, t.UnixNano(), nil)
}

// taxiiIndicators adapts the indicator store to the TAXII server.
type taxiiIndicators struct{ h *intelHub }

func (t taxiiIndicators) Put(ctx context.Context, inds []ioc.Indicator) error {
	if t.h.shared != nil {
		_, err := t.h.submitIndicators(ctx, inds, nil)
		return err
	}
	if _, _, err := t.h.store.Put(ctx, inds); err != nil {
		return err
	}
	return t.h.compile(ctx)
}

func (t taxiiIndicators) Since(ctx context.Context, after time.Time) ([]intel.StoredIndicator, error) {
	inds, at, err := t.h.store.StoredSince(ctx, after)
	if err != nil {
		return nil, err
	}
	out := make([]intel.StoredIndicator, len(inds))
	for i := range inds {
		out[i] = intel.StoredIndicator{Indicator: inds[i], Added: at[i]}
	}
	return out, nil
}

func (t taxiiIndicators) Delete(ctx context.Context, ids []string) (int, error) {
	return t.h.Delete(ctx, ids)
}

// taxiiCaller authenticates a TAXII request with a Mamori token (Bearer)
// or a user's password (HTTP Basic).
func (s *Server) taxiiCaller(r *http.Request) (intel.Caller, error) {
	var p auth.Principal
	var err error
	if user, pass, ok := r.BasicAuth(); ok {
		p, err = s.auth.CheckPassword(r.Context(), user, pass)
	} else if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		p, err = s.auth.Authenticate(r.Context(), strings.TrimSpace(tok))
	} else {
		return intel.Caller{}, intel.ErrUnauthenticated
	}
	if err != nil || p.Role == auth.Ingest {
		return intel.Caller{}, errors.Join(intel.ErrUnauthenticated, err)
	}
	c := intel.Caller{Name: p.Name, National: p.Role.National(), Org: p.Tenant, Write: p.Can(auth.Triage)}
	if c.Org != "" {
		c.Sector, _ = s.sectorOf(c.Org)
	}
	return c, nil
}

// openIntel opens the indicator store and the TAXII server, and the feed
// puller and partner poller when configured.
func (s *Server) openIntel(ctx context.Context) error {
	st, err := ioc.Open(ctx, s.store.DB())
	if err != nil {
		return err
	}
	h := &intelHub{store: st, det: s.det, log: s.log}
	if err := h.compile(ctx); err != nil {
		return err
	}
	sectorOf := func(t tenant.ID) tenant.Sector { sec, _ := s.sectorOf(t); return sec }
	if h.taxii, err = intel.NewServer(intel.ServerConfig{Authenticate: s.taxiiCaller, Indicators: taxiiIndicators{h}, Parse: ioc.ParseSTIX,
		SectorOf: sectorOf, BaseURL: s.cfg.Intel.TAXIIBaseURL, Log: s.log}); err != nil {
		return err
	}
	var feeds []ioc.Feed
	for _, f := range s.cfg.Intel.Feeds {
		feeds = append(feeds, ioc.Feed{Name: f.Name, URL: f.URL, Format: f.Format, Every: time.Duration(f.Every), Confidence: f.Confidence,
			TLP: f.TLP, Column: f.Column, Labels: f.Labels})
	}
	if len(feeds) > 0 {
		if h.puller, err = ioc.NewPuller(st, feeds, ioc.PullerConfig{Log: s.log, OnChange: func() {
			cctx := context.WithoutCancel(ctx)
			if err := h.compile(cctx); err != nil {
				s.log.Warn("indicators not recompiled", "err", err)
			}
			s.feedPolicies(cctx, h)
		}}); err != nil {
			return fmt.Errorf("intel.feeds: %w", err)
		}
	}
	var partners []intel.Partner
	for _, p := range s.cfg.Intel.Partners {
		partners = append(partners, intel.Partner{Name: p.Name, URL: p.URL, APIRoot: p.APIRoot, Collection: p.Collection, User: p.User,
			Password: p.Password, Token: p.Token, Every: time.Duration(p.Every)})
	}
	if len(partners) > 0 {
		if h.poller, err = intel.NewPoller(intel.PollerConfig{Partners: partners, Parse: ioc.ParseSTIX, Store: taxiiIndicators{h},
			Cursors: partnerCursors{s}, Log: s.log}); err != nil {
			return fmt.Errorf("intel.partners: %w", err)
		}
	}
	s.intel = h
	return nil
}
