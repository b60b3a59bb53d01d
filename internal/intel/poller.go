package intel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Partner is a TAXII 2.1 collection the poller imports indicators from.
type Partner struct {
	// Name identifies the partner; it becomes the Source of every
	// indicator imported from it. Required and unique.
	Name string
	// URL is the partner's discovery URL (https://host/taxii2/) or an API
	// root URL. Required.
	URL string
	// APIRoot picks an API root when URL is a discovery URL: its URL or its
	// title; "" means the discovery's default, else its only API root.
	APIRoot string
	// Collection is the collection's id, alias or title. Required.
	Collection string
	// User and Password (HTTP Basic) or Token (Bearer) authenticate to the
	// partner.
	User, Password, Token string
	// Every is the time between polls; 0 means one hour.
	Every time.Duration
	// Timeout bounds each request; 0 means one minute.
	Timeout time.Duration
}

// CursorStore keeps the poller's cursors (the date_added of the last
// object imported from each partner) across restarts.
type CursorStore interface {
	Cursor(ctx context.Context, partner string) (time.Time, error)
	SetCursor(ctx context.Context, partner string, t time.Time) error
}

// PollerConfig configures a Poller.
type PollerConfig struct {
	Partners []Partner
	// Parse turns STIX bundles into indicators (ioc.ParseSTIX). Required.
	Parse ParseFunc
	// Store receives the imported indicators. Required.
	Store IndicatorSink
	// Cursors persists cursors; nil keeps them in memory only, so a
	// restarted poller fetches each collection whole once.
	Cursors CursorStore
	// HTTPClient sends the requests; nil means one per partner with its Timeout.
	HTTPClient *http.Client
	// Log receives a line per poll; nil means slog.Default().
	Log *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// PartnerStatus is what the poller knows of one partner.
type PartnerStatus struct {
	Name        string    `json:"name"`
	Cursor      time.Time `json:"cursor,omitzero"`       // date_added of the last object imported
	LastPoll    time.Time `json:"last_poll,omitzero"`    // when the last poll ended
	LastSuccess time.Time `json:"last_success,omitzero"` // when the last poll that failed nowhere ended
	LastError   string    `json:"last_error,omitempty"`  // why the last poll failed; "" when it did not
	Imported    int       `json:"imported"`              // indicators imported by the last poll
	Rejected    int       `json:"rejected"`              // objects of the last poll the parser refused
	Total       int       `json:"total"`                 // indicators imported since the poller started
}

// Poller polls partners' TAXII collections on a schedule and imports the
// indicators they hold. It is safe for concurrent use.
type Poller struct {
	cfg      PollerConfig
	log      *slog.Logger
	partners []*partnerState
}

type partnerState struct {
	p      Partner
	client *Client
	run    sync.Mutex // held during a poll, so polls of one partner never overlap

	mu     sync.Mutex
	status PartnerStatus // guarded by mu
	loaded bool          // cursor read from Cursors; guarded by mu
}

// NewPoller checks cfg and returns a Poller.
func NewPoller(cfg PollerConfig) (*Poller, error) {
	if cfg.Parse == nil || cfg.Store == nil {
		return nil, errors.New("taxii poller: Parse and Store are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	p := &Poller{cfg: cfg, log: log.With("component", "taxii-poller")}
	var names []string
	for _, pt := range cfg.Partners {
		switch {
		case strings.TrimSpace(pt.Name) == "":
			return nil, errors.New("taxii poller: a partner has no name")
		case slices.Contains(names, pt.Name):
			return nil, fmt.Errorf("taxii poller: partner %q is configured twice", pt.Name)
		case pt.URL == "":
			return nil, fmt.Errorf("taxii poller: partner %q has no url", pt.Name)
		case pt.Collection == "":
			return nil, fmt.Errorf("taxii poller: partner %q has no collection", pt.Name)
		}
		names = append(names, pt.Name)
		if pt.Every <= 0 {
			pt.Every = time.Hour
		}
		c := NewClient(ClientConfig{User: pt.User, Password: pt.Password, Token: pt.Token, Timeout: pt.Timeout, HTTPClient: cfg.HTTPClient})
		p.partners = append(p.partners, &partnerState{p: pt, client: c, status: PartnerStatus{Name: pt.Name}})
	}
	return p, nil
}

// Run polls every partner at once and then every Partner.Every, until ctx
// is done; it returns when every poll has stopped.
func (p *Poller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, ps := range p.partners {
		wg.Go(func() {
			t := time.NewTicker(ps.p.Every)
			defer t.Stop()
			for {
				_ = p.poll(ctx, ps) // recorded in its status
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	wg.Wait()
	<-ctx.Done() // with no partners too, Run returns only when told to
	return nil
}

// Poll polls one partner now and returns the poll's error (also recorded
// in its status).
func (p *Poller) Poll(ctx context.Context, name string) error {
	for _, ps := range p.partners {
		if ps.p.Name == name {
			return p.poll(ctx, ps)
		}
	}
	return fmt.Errorf("taxii poller: no partner %q", name)
}

// Status returns the state of every partner, in configuration order.
func (p *Poller) Status() []PartnerStatus {
	out := make([]PartnerStatus, len(p.partners))
	for i, ps := range p.partners {
		ps.mu.Lock()
		out[i] = ps.status
		ps.mu.Unlock()
	}
	return out
}

func (p *Poller) poll(ctx context.Context, ps *partnerState) error {
	ps.run.Lock()
	defer ps.run.Unlock()
	ps.mu.Lock()
	cursor, loaded := ps.status.Cursor, ps.loaded
	ps.mu.Unlock()
	if !loaded && p.cfg.Cursors != nil {
		c, err := p.cfg.Cursors.Cursor(ctx, ps.p.Name)
		if err != nil {
			return p.done(ps, cursor, 0, 0, fmt.Errorf("read cursor: %w", err))
		}
		cursor = c
	}
	ps.mu.Lock()
	ps.loaded = true
	ps.mu.Unlock()

	imported, rejected := 0, 0
	root, err := p.apiRoot(ctx, ps)
	if err != nil {
		return p.done(ps, cursor, 0, 0, err)
	}
	col, err := ps.client.FindCollection(ctx, root, ps.p.Collection)
	if err != nil {
		return p.done(ps, cursor, 0, 0, err)
	}
	if !col.CanRead {
		return p.done(ps, cursor, 0, 0, fmt.Errorf("collection %q is not readable with these credentials", ps.p.Collection))
	}
	next, err := ps.client.Poll(ctx, root, col.ID, cursor, func(objs []json.RawMessage) error {
		body, err := json.Marshal(struct {
			Type    string            `json:"type"`
			ID      string            `json:"id"`
			Objects []json.RawMessage `json:"objects"`
		}{"bundle", "bundle--" + uuid4(), objs})
		if err != nil {
			return err
		}
		inds, errs := p.cfg.Parse(bytes.NewReader(body), ps.p.Name)
		rejected += len(errs)
		for i := range inds {
			inds[i].Source = ps.p.Name
			inds[i].Owner = "" // a partner's indicators belong to no constituent organisation
		}
		if len(inds) == 0 {
			return nil
		}
		if err := p.cfg.Store.Put(ctx, inds); err != nil {
			return fmt.Errorf("store %d indicators: %w", len(inds), err)
		}
		imported += len(inds)
		return nil
	})
	if next.After(cursor) && p.cfg.Cursors != nil {
		if cerr := p.cfg.Cursors.SetCursor(ctx, ps.p.Name, next); cerr != nil && err == nil {
			err = fmt.Errorf("save cursor: %w", cerr)
		}
	}
	return p.done(ps, next, imported, rejected, err)
}

// apiRoot resolves the partner's API root URL: URL itself when it is an API
// root, else the one discovery names.
func (p *Poller) apiRoot(ctx context.Context, ps *partnerState) (string, error) {
	d, err := ps.client.Discover(ctx, ps.p.URL)
	if err != nil {
		return "", err
	}
	if d.Default == "" && len(d.APIRoots) == 0 { // URL is an API root, not a discovery resource
		return dirURL(ps.p.URL), nil
	}
	want := ps.p.APIRoot
	switch {
	case want == "" && d.Default != "":
		return d.Default, nil
	case want == "" && len(d.APIRoots) == 1:
		return d.APIRoots[0], nil
	case want == "":
		return "", fmt.Errorf("discovery at %s names %d API roots and no default: set the partner's api_root", ps.p.URL, len(d.APIRoots))
	}
	for _, r := range d.APIRoots {
		if r == dirURL(want) {
			return r, nil
		}
	}
	for _, r := range d.APIRoots {
		if info, err := ps.client.APIRoot(ctx, r); err == nil && strings.EqualFold(info.Title, want) {
			return r, nil
		}
	}
	return "", fmt.Errorf("discovery at %s has no API root %q", ps.p.URL, want)
}

// done records a poll's outcome and returns err.
func (p *Poller) done(ps *partnerState, cursor time.Time, imported, rejected int, err error) error {
	now := p.cfg.Now()
	ps.mu.Lock()
	ps.status.Cursor = cursor
	ps.status.LastPoll = now
	ps.status.Imported, ps.status.Rejected = imported, rejected
	ps.status.Total += imported
	if err != nil {
		ps.status.LastError = err.Error()
	} else {
		ps.status.LastError = ""
		ps.status.LastSuccess = now
	}
	ps.mu.Unlock()
	if err != nil {
		p.log.Warn("taxii poll failed", "partner", ps.p.Name, "imported", imported, "error", err)
		return fmt.Errorf("partner %q: %w", ps.p.Name, err)
	}
	p.log.Info("taxii poll", "partner", ps.p.Name, "imported", imported, "rejected", rejected, "cursor", cursor)
	return nil
}
