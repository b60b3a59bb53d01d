package ioc

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Feed is a source of indicators fetched over HTTP on a schedule.
type Feed struct {
	// Name identifies the feed; it is the Source of its indicators.
	Name string `json:"name" yaml:"name"`
	// URL is fetched with GET (http or https).
	URL string `json:"url" yaml:"url"`
	// Format is "stix", "misp", "list" or "csv" (see ParseSTIX, ParseMISP,
	// ParseList).
	Format string `json:"format" yaml:"format"`
	// Every is the time between pulls; 0 means one hour, at least a minute.
	Every time.Duration `json:"every,omitempty" yaml:"every,omitempty"`
	// Confidence is given to indicators whose source states none; 0 means
	// DefaultConfidence.
	Confidence int `json:"confidence,omitempty" yaml:"confidence,omitempty"`
	// TLP marks the indicators whose source gives no marking ("" is clear).
	TLP string `json:"tlp,omitempty" yaml:"tlp,omitempty"`
	// Lifetime is the decay lifetime of the feed's indicators (0: each
	// kind's default; see EffectiveConfidence).
	Lifetime time.Duration `json:"lifetime,omitempty" yaml:"lifetime,omitempty"`
	// Column and Kind are ListOptions.Column and ListOptions.Kind for list and
	// CSV feeds.
	Column string `json:"column,omitempty" yaml:"column,omitempty"`
	Kind   Kind   `json:"kind,omitempty" yaml:"kind,omitempty"`
	// Labels are added to every indicator of the feed.
	Labels []string `json:"labels,omitempty" yaml:"labels,omitempty"`
	// Header holds extra request headers, such as an API key.
	Header map[string]string `json:"header,omitempty" yaml:"header,omitempty"`
}

func (f *Feed) every() time.Duration {
	if f.Every <= 0 {
		return time.Hour
	}
	return max(f.Every, time.Minute)
}

// check validates a feed's configuration.
func (f *Feed) check() error {
	if f.Name == "" {
		return errors.New("feed has no name")
	}
	u, err := url.Parse(f.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("feed %q: URL %q is not an http or https URL", f.Name, f.URL)
	}
	switch f.Format {
	case "stix", "misp", "list", "csv":
	default:
		return fmt.Errorf("feed %q: format %q is not stix, misp, list or csv", f.Name, f.Format)
	}
	if f.Confidence < 0 || f.Confidence > 100 {
		return fmt.Errorf("feed %q: confidence %d is not 0-100", f.Name, f.Confidence)
	}
	if _, ok := ParseTLP(f.TLP); !ok {
		return fmt.Errorf("feed %q: TLP %q is not one of clear, green, amber, amber+strict, red", f.Name, f.TLP)
	}
	if f.Kind != "" && !f.Kind.Valid() {
		return fmt.Errorf("feed %q: kind %q is not a kind", f.Name, f.Kind)
	}
	return nil
}

// parse reads a feed's body in its format.
func (f *Feed) parse(body []byte, now time.Time) ([]Indicator, []error) {
	tlp, _ := ParseTLP(f.TLP)
	def := defaults{confidence: f.Confidence, tlp: tlp, lifetime: f.Lifetime, labels: f.Labels}
	switch f.Format {
	case "stix":
		return parseSTIX(bytes.NewReader(body), f.Name, def)
	case "misp":
		return parseMISP(bytes.NewReader(body), f.Name, def)
	}
	return ParseList(bytes.NewReader(body), f.Name, ListOptions{
		Format: f.Format, Column: f.Column, Kind: f.Kind, Confidence: f.Confidence, TLP: tlp,
		Labels: f.Labels, Lifetime: f.Lifetime, Now: now,
	})
}

// FeedStatus is the state of one feed.
type FeedStatus struct {
	Name        string    `json:"name"`
	URL         string    `json:"url"`
	LastOK      time.Time `json:"last_ok,omitzero"`       // last successful pull (or unchanged 304)
	LastError   string    `json:"last_error,omitempty"`   // of the last failed pull; cleared by a success
	LastErrorAt time.Time `json:"last_error_at,omitzero"` // when it failed
	Indicators  int       `json:"indicators"`             // stored for the feed
	// ItemErrors counts the lines or objects the last successful pull skipped.
	ItemErrors int `json:"item_errors"`
	// FirstItemErrors are the first of those errors.
	FirstItemErrors []string  `json:"first_item_errors,omitempty"`
	Added           int       `json:"added"`   // by the last successful pull
	Updated         int       `json:"updated"` // by the last successful pull
	Removed         int       `json:"removed"` // by the last successful pull
	NextPull        time.Time `json:"next_pull,omitzero"`
}

// PullerConfig configures a Puller.
type PullerConfig struct {
	// Client does the requests; nil means a client with Timeout.
	Client *http.Client
	// Timeout bounds one pull (request, body, parse and store); 0 means 2
	// minutes.
	Timeout time.Duration
	// MaxBody bounds a feed's body, after decompression; 0 means 256 MiB.
	MaxBody int64
	// OnChange is called after a pull changed the stored indicators, so the
	// caller can compile a new Set. It must not block for long.
	OnChange func()
	// Log receives one line per pull; nil discards.
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Puller fetches feeds on their schedules and stores their indicators with
// Store.Sync, so each feed's stored indicators are those of its last good
// pull. A pull that fails — transport or HTTP error, body too large, a body
// that does not parse as a whole, or a body with errors and no indicator —
// changes nothing stored and is recorded in Status.
type Puller struct {
	store *Store
	cfg   PullerConfig
	feeds []Feed

	mu     sync.Mutex             // guards status and etags
	status map[string]*FeedStatus // by feed name
	etags  map[string][2]string   // by feed name: ETag, Last-Modified of the last good body

	pulling sync.Map // feed name → *sync.Mutex: one pull of a feed at a time
}

// NewPuller checks the feeds and returns a Puller for them.
func NewPuller(store *Store, feeds []Feed, cfg PullerConfig) (*Puller, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 256 << 20
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Puller{store: store, cfg: cfg, feeds: slices.Clone(feeds), status: map[string]*FeedStatus{}, etags: map[string][2]string{}}
	for i := range p.feeds {
		f := &p.feeds[i]
		if err := f.check(); err != nil {
			return nil, fmt.Errorf("ioc: %w", err)
		}
		if _, dup := p.status[f.Name]; dup {
			return nil, fmt.Errorf("ioc: two feeds are named %q", f.Name)
		}
		p.status[f.Name] = &FeedStatus{Name: f.Name, URL: f.URL}
	}
	return p, nil
}

// Status returns the state of every feed, in configuration order.
func (p *Puller) Status() []FeedStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]FeedStatus, 0, len(p.feeds))
	for _, f := range p.feeds {
		st := *p.status[f.Name]
		st.FirstItemErrors = slices.Clone(st.FirstItemErrors)
		out = append(out, st)
	}
	return out
}

// Run pulls every feed now and then on its schedule until ctx is done.
func (p *Puller) Run(ctx context.Context) error {
	if counts, err := p.store.Sources(ctx); err == nil {
		p.mu.Lock()
		for name, st := range p.status {
			st.Indicators = counts[name]
		}
		p.mu.Unlock()
	}
	var wg sync.WaitGroup
	for i := range p.feeds {
		f := &p.feeds[i]
		wg.Go(func() {
			t := time.NewTimer(0)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				_ = p.Pull(ctx, f.Name) // recorded in Status
				next := f.every()
				p.mu.Lock()
				p.status[f.Name].NextPull = p.cfg.Now().Add(next)
				p.mu.Unlock()
				t.Reset(next)
			}
		})
	}
	wg.Wait()
	return nil
}

// Pull fetches one feed now and stores its indicators. The error, also
// recorded in Status, says why the pull failed.
func (p *Puller) Pull(ctx context.Context, name string) error {
	i := slices.IndexFunc(p.feeds, func(f Feed) bool { return f.Name == name })
	if i < 0 {
		return fmt.Errorf("ioc: no feed %q", name)
	}
	f := &p.feeds[i]
	mu, _ := p.pulling.LoadOrStore(name, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()

	start := p.cfg.Now()
	res, err := p.pull(ctx, f, start)
	p.mu.Lock()
	st := p.status[name]
	if err != nil {
		st.LastError, st.LastErrorAt = err.Error(), start
	} else {
		st.LastOK, st.LastError, st.LastErrorAt = start, "", time.Time{}
		if !res.unchanged {
			st.Indicators, st.ItemErrors, st.FirstItemErrors = res.stored, len(res.errs), nil
			for _, e := range res.errs[:min(len(res.errs), 10)] {
				st.FirstItemErrors = append(st.FirstItemErrors, e.Error())
			}
			st.Added, st.Updated, st.Removed = res.added, res.updated, res.removed
		}
	}
	p.mu.Unlock()
	if err != nil {
		p.cfg.Log.Warn("ioc feed pull failed; keeping its last good indicators", "feed", name, "err", err)
		return err
	}
	p.cfg.Log.Info("ioc feed pulled", "feed", name, "unchanged", res.unchanged, "indicators", res.stored,
		"added", res.added, "updated", res.updated, "removed", res.removed, "item_errors", len(res.errs),
		"took", p.cfg.Now().Sub(start))
	if (res.added > 0 || res.updated > 0 || res.removed > 0) && p.cfg.OnChange != nil {
		p.cfg.OnChange()
	}
	return nil
}

type pullResult struct {
	unchanged                       bool
	stored, added, updated, removed int
	errs                            []error
}

func (p *Puller) pull(ctx context.Context, f *Feed, now time.Time) (pullResult, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return pullResult{}, fmt.Errorf("feed %q: %w", f.Name, err)
	}
	req.Header.Set("User-Agent", "mamori-ioc/1")
	for k, v := range f.Header {
		req.Header.Set(k, v)
	}
	p.mu.Lock()
	tags := p.etags[f.Name]
	p.mu.Unlock()
	if tags[0] != "" {
		req.Header.Set("If-None-Match", tags[0])
	}
	if tags[1] != "" {
		req.Header.Set("If-Modified-Since", tags[1])
	}
	resp, err := p.cfg.Client.Do(req)
	if err != nil {
		return pullResult{}, fmt.Errorf("feed %q: GET: %w", f.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return pullResult{unchanged: true}, nil
	}
	if resp.StatusCode != http.StatusOK {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		return pullResult{}, fmt.Errorf("feed %q: GET %s: HTTP %s: %q", f.Name, f.URL, resp.Status, bytes.TrimSpace(snippet))
	}
	body, err := readLimited(resp.Body, p.cfg.MaxBody)
	if err != nil {
		return pullResult{}, fmt.Errorf("feed %q: read body: %w", f.Name, err)
	}
	if body, err = unpack(body, p.cfg.MaxBody); err != nil {
		return pullResult{}, fmt.Errorf("feed %q: %w", f.Name, err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return pullResult{}, fmt.Errorf("feed %q: empty body", f.Name)
	}
	inds, errs := f.parse(body, now)
	for _, e := range errs {
		if errors.Is(e, ErrMalformed) {
			return pullResult{}, fmt.Errorf("feed %q: %w", f.Name, e)
		}
	}
	if len(inds) == 0 && len(errs) > 0 {
		return pullResult{}, fmt.Errorf("feed %q: no indicator, %d errors, the first: %w", f.Name, len(errs), errs[0])
	}
	added, updated, removed, err := p.store.Sync(ctx, f.Name, inds)
	if err != nil {
		return pullResult{}, fmt.Errorf("feed %q: store: %w", f.Name, err)
	}
	p.mu.Lock()
	p.etags[f.Name] = [2]string{resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")}
	p.mu.Unlock()
	return pullResult{stored: len(inds), added: added, updated: updated, removed: removed, errs: errs}, nil
}

// readLimited reads r, failing when it holds more than limit bytes.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("body is larger than %d bytes", limit)
	}
	return b, nil
}

// unpack decompresses a gzip body, or extracts the single file of a zip
// (abuse.ch serves both), within limit.
func unpack(body []byte, limit int64) ([]byte, error) {
	switch {
	case bytes.HasPrefix(body, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		out, err := readLimited(zr, limit)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return out, nil
	case bytes.HasPrefix(body, []byte("PK\x03\x04")):
		zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
		if err != nil {
			return nil, fmt.Errorf("zip: %w", err)
		}
		var files []*zip.File
		for _, f := range zr.File {
			if !f.FileInfo().IsDir() {
				files = append(files, f)
			}
		}
		if len(files) != 1 {
			return nil, fmt.Errorf("zip holds %d files, want one", len(files))
		}
		rc, err := files[0].Open()
		if err != nil {
			return nil, fmt.Errorf("zip %s: %w", files[0].Name, err)
		}
		defer rc.Close()
		out, err := readLimited(rc, limit)
		if err != nil {
			return nil, fmt.Errorf("zip %s: %w", files[0].Name, err)
		}
		return out, nil
	}
	return body, nil
}
