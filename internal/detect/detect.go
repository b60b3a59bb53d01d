// Package detect runs the compiled Sigma rule set (and its correlation rules)
// over the event log as it grows: it reads events after its cursor, matches
// them on every core, feeds correlations in log order, and hands the hits to
// its Sink together with the new cursor, so that after a crash detection
// resumes exactly where its last commit left it. Rules can be swapped while
// it runs.
package detect

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/event"
	"github.com/mamori-soc/mamori/internal/ioc"
	"github.com/mamori-soc/mamori/internal/normalize"
	"github.com/mamori-soc/mamori/internal/sigma"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// Item is one event of the log.
type Item struct {
	Seq    int64
	Tenant tenant.ID
	Event  *event.Event
}

// Source yields the event log in Seq order.
type Source interface {
	// Next returns up to max events with Seq > after (none when there are none yet).
	Next(ctx context.Context, after int64, max int) ([]Item, error)
}

// Sink receives the hits of every event up to seq.
type Sink interface {
	// Commit must store hits and the cursor seq atomically.
	Commit(ctx context.Context, seq int64, hits []alert.Hit) error
}

// Config configures a Detector.
type Config struct {
	Workers int           // 0 means GOMAXPROCS
	Batch   int           // events per round; 0 means 4096
	Poll    time.Duration // idle wait when the log has nothing new; 0 means 100ms
	// Sector returns an organisation's sector (for alerts).
	Sector func(tenant.ID) tenant.Sector
	// Disabled reports whether a rule is disabled for an organisation.
	Disabled func(t tenant.ID, ruleID string) bool
}

// Stats are running totals.
type Stats struct {
	Events, Hits, Batches atomic.Int64
	MatchNanos            atomic.Int64
	Position              atomic.Int64
}

// Detector is the detection loop.
type Detector struct {
	cfg  Config
	src  Source
	sink Sink
	log  *slog.Logger

	rules  atomic.Pointer[ruleState]
	iocs   atomic.Pointer[ioc.Set]
	wake   chan struct{}
	Stats  Stats
	corrMu sync.Mutex
}

type ruleState struct {
	set        *sigma.Set
	matchers   sync.Pool
	suppressed []bool
	corr       map[tenant.ID]*sigma.Correlator
}

// New returns a Detector over set.
func New(cfg Config, set *sigma.Set, src Source, sink Sink, log *slog.Logger) *Detector {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 4096
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 100 * time.Millisecond
	}
	if cfg.Sector == nil {
		cfg.Sector = func(tenant.ID) tenant.Sector { return tenant.Other }
	}
	if cfg.Disabled == nil {
		cfg.Disabled = func(tenant.ID, string) bool { return false }
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Detector{cfg: cfg, src: src, sink: sink, log: log, wake: make(chan struct{}, 1)}
	d.SetRules(set)
	return d
}

// SetRules swaps the rule set; events from the next batch on use it.
// Correlation windows start afresh.
func (d *Detector) SetRules(set *sigma.Set) {
	rs := &ruleState{set: set, corr: map[tenant.ID]*sigma.Correlator{}}
	rs.matchers.New = func() any { return set.NewMatcher() }
	rs.suppressed = make([]bool, len(set.Rules))
	for i := range set.Rules {
		rs.suppressed[i] = set.Suppressed(i)
	}
	d.rules.Store(rs)
}

// SetIndicators swaps the compiled indicators every event is matched
// against, in the same pass as the rules; nil matches none.
func (d *Detector) SetIndicators(s *ioc.Set) { d.iocs.Store(s) }

// Indicators returns the indicator set in use (nil when none).
func (d *Detector) Indicators() *ioc.Set { return d.iocs.Load() }

// IOCPrefix starts the RuleID of an indicator hit: "ioc:" + the indicator's ID.
const IOCPrefix = "ioc:"

// Rules returns the rule set in use.
func (d *Detector) Rules() *sigma.Set { return d.rules.Load().set }

// Notify wakes the loop: new events were appended.
func (d *Detector) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run processes the log from after start until ctx ends.
func (d *Detector) Run(ctx context.Context, start int64) error {
	pos := start
	d.Stats.Position.Store(pos)
	for {
		items, err := d.src.Next(ctx, pos, d.cfg.Batch)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			d.log.Error("detect: reading the event log", "after", pos, "err", err)
			if !sleep(ctx, time.Second) {
				return nil
			}
			continue
		}
		if len(items) == 0 {
			select {
			case <-d.wake:
			case <-time.After(d.cfg.Poll):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		hits := d.Process(items)
		last := items[len(items)-1].Seq
		for {
			err := d.sink.Commit(context.WithoutCancel(ctx), last, hits)
			if err == nil {
				break
			}
			d.log.Error("detect: committing alerts", "seq", last, "hits", len(hits), "err", err)
			if !sleep(ctx, time.Second) {
				return nil
			}
		}
		pos = last
		d.Stats.Position.Store(pos)
		d.Stats.Batches.Add(1)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

// Process matches a batch (in parallel) and runs the correlations (in
// order); it returns the hits in log order.
func (d *Detector) Process(items []Item) []alert.Hit {
	rs := d.rules.Load()
	iocs := d.iocs.Load()
	start := time.Now()
	perItem := make([][]int, len(items))
	var perIOC [][]iocHit
	if iocs != nil && iocs.Len() > 0 {
		perIOC = make([][]iocHit, len(items))
	}
	workers := min(d.cfg.Workers, max(1, len(items)/64))
	var wg sync.WaitGroup
	var next atomic.Int64
	const chunk = 64
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := rs.matchers.Get().(*sigma.Matcher)
			defer rs.matchers.Put(m)
			var buf []int
			var ibuf []ioc.Hit
			for {
				lo := int(next.Add(chunk)) - chunk
				if lo >= len(items) {
					return
				}
				for i := lo; i < min(lo+chunk, len(items)); i++ {
					buf = m.Match(items[i].Event, buf[:0])
					if len(buf) > 0 {
						perItem[i] = append([]int(nil), buf...)
					}
					if perIOC != nil {
						if ibuf = iocs.Match(items[i].Event, ibuf[:0]); len(ibuf) > 0 {
							perIOC[i] = iocHits(ibuf)
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	d.Stats.MatchNanos.Add(int64(time.Since(start)))
	d.Stats.Events.Add(int64(len(items)))

	var hits []alert.Hit
	d.corrMu.Lock()
	defer d.corrMu.Unlock()
	for i, rules := range perItem {
		it := &items[i]
		for _, ri := range rules {
			r := rs.set.Rules[ri]
			if d.cfg.Disabled(it.Tenant, r.ID) {
				continue
			}
			if len(rs.set.Correlations) > 0 {
				c := rs.corr[it.Tenant]
				if c == nil {
					c = rs.set.NewCorrelator()
					rs.corr[it.Tenant] = c
				}
				if c.Wants(ri) {
					ev := it.Event
					for _, ch := range c.Observe(ri, ev.Time, func(f string) (string, bool) {
						v, ok := ev.Get(f)
						return string(v), ok
					}) {
						hits = append(hits, d.corrHit(rs, it, ch))
					}
				}
			}
			if rs.suppressed[ri] {
				continue
			}
			hits = append(hits, d.hit(r, it))
		}
	}
	for i, ihs := range perIOC {
		for _, ih := range ihs {
			hits = append(hits, d.iocHit(&items[i], ih))
		}
	}
	d.Stats.Hits.Add(int64(len(hits)))
	return hits
}

// iocHit is an indicator found in an event, copied out of the event's memory.
type iocHit struct {
	ind          *ioc.Indicator
	field, value string
}

// iocHits keeps one hit per indicator (the first field it was found in).
func iocHits(hs []ioc.Hit) []iocHit {
	out := make([]iocHit, 0, len(hs))
	for _, h := range hs {
		dup := false
		for _, o := range out {
			dup = dup || o.ind == h.Indicator
		}
		if !dup {
			out = append(out, iocHit{h.Indicator, string(h.Field), string(h.Value)})
		}
	}
	return out
}

// iocLevel maps an indicator's confidence to an alert level.
func iocLevel(confidence int) string {
	switch {
	case confidence >= 75:
		return "high"
	case confidence >= 40:
		return "medium"
	}
	return "low"
}

func (d *Detector) iocHit(it *Item, h iocHit) alert.Hit {
	ev := it.Event
	en := normalize.EntitiesOf(ev)
	ind := h.ind
	src := ind.Source
	if src == "" {
		src = "threat intelligence"
	}
	out := alert.Hit{
		Tenant: it.Tenant, Sector: d.cfg.Sector(it.Tenant), RuleID: IOCPrefix + ind.ID,
		RuleTitle:  fmt.Sprintf("Threat intelligence match: %s %s", ind.Kind, ind.Value),
		RuleAuthor: src, Level: iocLevel(ind.Confidence), Time: ev.Time, Host: en.Host, User: en.User, SrcIP: en.SrcIP,
		EventSeq: it.Seq, Count: 1,
	}
	out.Event = make([]alert.Field, 0, ev.Len()+6)
	for i := range ev.Len() {
		out.Event = append(out.Event, alert.Field{Name: string(ev.Name(i)), Value: string(ev.Value(i))})
	}
	out.Event = append(out.Event,
		alert.Field{Name: "ioc.field", Value: h.field}, alert.Field{Name: "ioc.value", Value: h.value},
		alert.Field{Name: "ioc.id", Value: ind.ID}, alert.Field{Name: "ioc.source", Value: src},
		alert.Field{Name: "ioc.confidence", Value: fmt.Sprint(ind.Confidence)}, alert.Field{Name: "ioc.tlp", Value: ind.TLP})
	if len(ind.Labels) > 0 {
		out.Event = append(out.Event, alert.Field{Name: "ioc.labels", Value: strings.Join(ind.Labels, ",")})
	}
	return out
}

func (d *Detector) hit(r *sigma.Rule, it *Item) alert.Hit {
	ev := it.Event
	en := normalize.EntitiesOf(ev)
	h := alert.Hit{
		Tenant: it.Tenant, Sector: d.cfg.Sector(it.Tenant), RuleID: r.ID, RuleTitle: r.Title, RuleAuthor: r.Author, Level: r.Level,
		Techniques: r.Techniques(), Tactics: r.Tactics(), Time: ev.Time, Host: en.Host, User: en.User, SrcIP: en.SrcIP,
		EventSeq: it.Seq, Count: 1,
	}
	h.Event = make([]alert.Field, ev.Len())
	for i := range h.Event {
		h.Event[i] = alert.Field{Name: string(ev.Name(i)), Value: string(ev.Value(i))}
	}
	return h
}

func (d *Detector) corrHit(rs *ruleState, it *Item, ch sigma.CorrelationHit) alert.Hit {
	cr := rs.set.Correlations[ch.Corr]
	en := normalize.EntitiesOf(it.Event)
	h := alert.Hit{
		Tenant: it.Tenant, Sector: d.cfg.Sector(it.Tenant), RuleID: cr.ID, RuleTitle: cr.Title, RuleAuthor: cr.Author, Level: cr.Level,
		Techniques: cr.Techniques(), Tactics: cr.Tactics(), Time: ch.Last, Host: en.Host, User: en.User, SrcIP: en.SrcIP,
		EventSeq: it.Seq, Count: ch.Count, Correlation: true,
	}
	// A correlation grouped by a source address is about that source, not
	// the host of its last event.
	for k, v := range ch.Group {
		h.Event = append(h.Event, alert.Field{Name: k, Value: v})
		switch k {
		case "IpAddress", "src_ip", "SourceIp", "c-ip", "SourceAddress":
			h.SrcIP = v
		case "Computer", "host":
			h.Host = v
		}
	}
	h.Event = append(h.Event, alert.Field{Name: "correlation.count", Value: fmt.Sprint(ch.Count)},
		alert.Field{Name: "correlation.first", Value: ch.First.UTC().Format(time.RFC3339Nano)})
	return h
}
