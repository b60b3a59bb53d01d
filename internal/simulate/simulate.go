package simulate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/mamori-soc/mamori/internal/tenant"
)

// Transport says how the demo delivers a record to Mamori.
type Transport string

// The transports, one per ingest path.
const (
	// Bulk is one Elasticsearch _bulk document (Winlogbeat or Filebeat shaped JSON).
	Bulk Transport = "bulk"
	// NDJSON is one JSON line for POST /api/v1/ingest (Suricata EVE, Zeek JSON).
	NDJSON Transport = "ndjson"
	// SyslogUDP is one RFC 5424 or RFC 3164 line sent over UDP.
	SyslogUDP Transport = "syslog-udp"
	// SyslogTCP is one RFC 5424 or RFC 3164 line sent over TCP.
	SyslogTCP Transport = "syslog-tcp"
)

// Record is one document or line, as the organisation's shipper would send it.
type Record struct {
	// Org is the organisation whose shipper sends the record.
	Org tenant.ID
	// Transport is the ingest path the record takes.
	Transport Transport
	// Body is one document or line without a trailing newline. The generator never
	// writes to it again once returned.
	Body []byte
	// Scenario is "" for baseline traffic, else the name of the attack scenario.
	Scenario string
	// Time is the event time written in Body, so the demo can pace delivery.
	Time time.Time
}

// Config sets up a Generator. Zero fields take their defaults.
type Config struct {
	// Seed makes the output reproducible: the same seed and the same calls give the
	// same records.
	Seed int64
	// Orgs is the number of organisations: 0 means 40; at most 522 (the catalogue
	// and its regional offices). With 14 or more, every sector has at least one.
	Orgs int
	// AttacksPerDay is the number of attack scenario instances per simulated day: 0
	// means 3000, negative means none.
	AttacksPerDay int
	// Speedup is how many seconds of a day's attack volume play per real second: 0 (or
	// any value not above 0) means 1440, a day a minute. Timestamps stay real; only
	// volume is compressed.
	Speedup float64
	// BaselinePerSecond is the benign records per real second across all
	// organisations: 0 means 2000, negative means none.
	BaselinePerSecond float64
}

// Scenario describes one attack scenario the generator plays.
type Scenario struct {
	// Name is the stable name Record.Scenario and Generator.Scenario use.
	Name string
	// Description says in a sentence what the scenario plays.
	Description string
	// Techniques are MITRE ATT&CK technique ids.
	Techniques []string
}

// Generator produces the telemetry. It is not safe for concurrent use.
type Generator struct {
	cfg       Config
	attackHz  float64 // scenario starts per real second
	base      *rand.Rand
	r         *rand.Rand // the source in use: base, or the running scenario's own
	sites     []*site
	orgs      []Org
	byID      map[tenant.ID]*site
	groups    []*group
	byScen    [][]*group // groups able to play scenarioDefs[i]
	cumWeight []int      // cumulative site weights for the baseline
	visitors  []string   // public addresses browsing the web sites

	runs       []*run    // scenarios still playing, in start order
	epoch      time.Time // start of the first Tick, from which Silence.After counts; zero before it
	nextAttack time.Time // the next Poisson arrival; zero before the first Tick
	carry      float64   // fractional baseline record owed to the next Tick
	started    int       // scenarios started by Tick

	// Output. Bodies are appended to arena, which is replaced (never reused) when full.
	out     []Record
	scen    string // Scenario of the records being made
	arena   []byte
	start   int      // offset in arena of the body being written
	winHost *winHost // host of the Windows document being written, for Silence; nil otherwise
	e       enc
	scratch []byte
}

const (
	arenaSize    = 256 << 10
	minHeadroom  = 16 << 10 // larger than any body, so a body never moves the arena
	defaultOrgs  = 40
	defaultDaily = 3000
)

// New builds the organisations and attacker groups for cfg.Seed.
func New(cfg Config) *Generator {
	if cfg.Orgs <= 0 {
		cfg.Orgs = defaultOrgs
	}
	cfg.Orgs = min(cfg.Orgs, maxOrgs)
	if cfg.AttacksPerDay == 0 {
		cfg.AttacksPerDay = defaultDaily
	}
	if !(cfg.Speedup > 0) || math.IsInf(cfg.Speedup, 0) { // also NaN
		cfg.Speedup = 1440
	}
	if cfg.BaselinePerSecond == 0 || math.IsNaN(cfg.BaselinePerSecond) || math.IsInf(cfg.BaselinePerSecond, 0) {
		cfg.BaselinePerSecond = 2000
	}
	seed := uint64(cfg.Seed)
	g := &Generator{
		cfg:  cfg,
		base: rand.New(rand.NewPCG(seed, seed^0x6d616d6f72692d73)),
		byID: make(map[tenant.ID]*site),
	}
	g.r = g.base
	if cfg.AttacksPerDay > 0 {
		g.attackHz = float64(cfg.AttacksPerDay) * cfg.Speedup / 86400
	}
	g.sites = buildSites(g.base, cfg.Orgs)
	profileSites(cfg.Seed, g.sites)
	total := 0
	for _, s := range g.sites {
		g.orgs = append(g.orgs, s.Org)
		g.byID[s.Tenant.ID] = s
		total += s.weight
		g.cumWeight = append(g.cumWeight, total)
	}
	g.groups = buildGroups(g.base, g.sites)
	g.byScen = make([][]*group, len(scenarioDefs))
	for i := range scenarioDefs {
		for _, gr := range g.groups {
			if gr.has(scenarioDefs[i].Name) {
				g.byScen[i] = append(g.byScen[i], gr)
			}
		}
	}
	g.visitors = buildVisitors(g.base, 2000)
	return g
}

// Orgs returns the organisations, in a stable order. The caller must not modify the
// slices inside.
func (g *Generator) Orgs() []Org { return slices.Clone(g.orgs) }

// Started returns the start of the first Tick's interval, from which every
// Silence.After counts; it is zero before the first Tick.
func (g *Generator) Started() time.Time { return g.epoch }

// Scenarios lists the attack scenarios the generator plays.
func Scenarios() []Scenario {
	out := make([]Scenario, len(scenarioDefs))
	for i := range scenarioDefs {
		out[i] = scenarioDefs[i].Scenario
		out[i].Techniques = slices.Clone(out[i].Techniques)
	}
	return out
}

// Tick returns the records whose event time falls in (from, from+dt]: baseline
// traffic at BaselinePerSecond, the hygiene findings of the organisations (Org.Hygiene,
// in real time whatever the rates, and only when there is a baseline), and the steps of
// attack scenarios, which start as a Poisson process at AttacksPerDay*Speedup/86400 per
// second and spread their steps over seconds to a few minutes, so a scenario's later
// steps come out of later Ticks. Weaker organisations draw more of the attacks. The
// first Tick starts the clock of Org.Silent: from then on, a silenced source sends
// nothing once its time has come.
// Calls are expected to cover contiguous intervals (after a gap, scenario steps that
// fell in it come out of the next Tick with their own earlier times); records are
// sorted by Time. The returned records are the caller's.
func (g *Generator) Tick(from time.Time, dt time.Duration) []Record {
	if dt <= 0 {
		return nil
	}
	end := from.Add(dt)
	if g.epoch.IsZero() {
		g.epoch = from
	}
	// A scenario makes about 25 records: size the output for the expected volume.
	est := int(min((max(g.cfg.BaselinePerSecond, 0)+25*g.attackHz)*dt.Seconds()*1.1, 1<<16)) + 16
	g.out = make([]Record, 0, est)
	g.r, g.scen = g.base, ""
	g.baseline(from, dt)
	if g.cfg.BaselinePerSecond > 0 {
		g.hygiene(from, end)
	}

	if g.attackHz > 0 {
		if !g.nextAttack.After(from) { // the first Tick, or after a gap
			g.nextAttack = from.Add(g.interArrival())
		}
		for !g.nextAttack.After(end) {
			g.startRun(g.nextAttack)
			g.started++
			g.nextAttack = g.nextAttack.Add(g.interArrival())
		}
	}
	keep := g.runs[:0]
	for _, r := range g.runs {
		if !g.advance(r, end) {
			keep = append(keep, r)
		}
	}
	clear(g.runs[len(keep):])
	g.runs = keep

	out := g.out
	g.out = nil
	slices.SortStableFunc(out, func(a, b Record) int { return a.Time.Compare(b.Time) })
	return out
}

func (g *Generator) interArrival() time.Duration {
	return time.Duration(g.base.ExpFloat64() / g.attackHz * float64(time.Second))
}

// Scenario plays one whole instance of the named scenario against org, starting at t,
// and returns all its records (sorted by Time) at once. Its randomness comes from the
// seed, name, org and t, so it does not disturb Tick's stream; it does advance the
// hosts' event record numbers.
func (g *Generator) Scenario(name string, org tenant.ID, t time.Time) ([]Record, error) {
	r, err := g.forced(name, org, t)
	if err != nil {
		return nil, err
	}
	saved := g.out
	g.out = nil
	g.advance(r, time.Unix(1<<40, 0))
	out := g.out
	g.out = saved
	slices.SortStableFunc(out, func(a, b Record) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// Schedule queues the same instance Scenario would play into the Tick stream instead:
// its records come out of the Ticks whose intervals hold their times. The demo can use
// it in its first minute so that every scenario shows early, at the pace of real time.
// Scheduled scenarios do not count towards AttacksPerDay.
func (g *Generator) Schedule(name string, org tenant.ID, t time.Time) error {
	r, err := g.forced(name, org, t)
	if err != nil {
		return err
	}
	g.runs = append(g.runs, r)
	return nil
}

// forced prepares the instance of scenario name against org at t that Scenario and
// Schedule play.
func (g *Generator) forced(name string, org tenant.ID, t time.Time) (*run, error) {
	di := -1
	for i := range scenarioDefs {
		if scenarioDefs[i].Name == name {
			di = i
		}
	}
	if di < 0 {
		names := make([]string, len(scenarioDefs))
		for i := range scenarioDefs {
			names[i] = scenarioDefs[i].Name
		}
		return nil, fmt.Errorf("simulate: unknown scenario %q (want one of %s)", name, strings.Join(names, ", "))
	}
	s := g.byID[org]
	if s == nil {
		return nil, fmt.Errorf("simulate: unknown org %q", org)
	}
	h := fnv64(name) ^ fnv64(string(org))*31 ^ uint64(t.UnixNano())
	rng := rand.New(rand.NewPCG(uint64(g.cfg.Seed)^splitmix(h), h))
	// Prefer a group that goes after org's sector.
	var cands []*group
	for _, gr := range g.byScen[di] {
		if gr.targetsSector(s.Tenant.Sector) {
			cands = append(cands, gr)
		}
	}
	if len(cands) == 0 {
		cands = g.byScen[di]
	}
	gr := cands[rng.IntN(len(cands))]
	return g.newRun(&scenarioDefs[di], s, gr, rng, t), nil
}

// startRun starts a scenario at t: a scenario uniformly, a group that plays it, and
// one of the group's targets, weaker ones more often (a bigger attack surface).
func (g *Generator) startRun(t time.Time) {
	di := g.base.IntN(len(scenarioDefs))
	grs := g.byScen[di]
	gr := grs[g.base.IntN(len(grs))]
	s := g.sites[gr.target(g.base)]
	rng := rand.New(rand.NewPCG(g.base.Uint64(), g.base.Uint64()))
	g.runs = append(g.runs, g.newRun(&scenarioDefs[di], s, gr, rng, t))
}

// run is one playing scenario instance: its steps and how far it has got.
type run struct {
	def   *scenarioDef
	s     *site
	grp   *group
	rng   *rand.Rand
	at    time.Time // time of steps[i]
	steps []step
	i     int
}

// step is one action of a scenario, after a delay from the previous step.
type step struct {
	after time.Duration
	do    func(t time.Time)
}

func (g *Generator) newRun(def *scenarioDef, s *site, gr *group, rng *rand.Rand, t time.Time) *run {
	r := &run{def: def, s: s, grp: gr, rng: rng, at: t}
	g.r = rng
	r.steps = def.plan(g, r)
	g.r = g.base
	if len(r.steps) > 0 {
		r.at = t.Add(r.steps[0].after)
	}
	return r
}

// advance plays r's steps due by end and reports whether r has finished.
func (g *Generator) advance(r *run, end time.Time) bool {
	g.r, g.scen = r.rng, r.def.Name
	for r.i < len(r.steps) && !r.at.After(end) {
		r.steps[r.i].do(r.at)
		r.i++
		if r.i < len(r.steps) {
			r.at = r.at.Add(r.steps[r.i].after)
		}
	}
	g.r, g.scen = g.base, ""
	return r.i >= len(r.steps)
}

// begin starts a new body in the arena and returns the encoder writing it.
func (g *Generator) begin() *enc {
	if cap(g.arena)-len(g.arena) < minHeadroom {
		g.arena = make([]byte, 0, arenaSize)
	}
	g.start = len(g.arena)
	g.e = enc{b: g.arena}
	return &g.e
}

// finish turns the body written since begin into a Record of s, unless its source has
// gone silent by t: then the body is dropped.
func (g *Generator) finish(s *site, tr Transport, t time.Time) {
	h := g.winHost
	g.winHost = nil
	g.arena = g.e.b
	g.e.b = nil
	if len(s.Silent) > 0 && g.muted(s, tr, h, t) {
		g.arena = g.arena[:g.start]
		return
	}
	body := g.arena[g.start:len(g.arena):len(g.arena)]
	g.out = append(g.out, Record{Org: s.Tenant.ID, Transport: tr, Body: body, Scenario: g.scen, Time: t})
}

// muted reports whether a record of s sent over tr (from Windows host h, nil for other
// shippers) at t comes from a source that has gone silent by then.
func (g *Generator) muted(s *site, tr Transport, h *winHost, t time.Time) bool {
	if g.epoch.IsZero() {
		return false
	}
	for _, q := range s.Silent {
		if t.Before(g.epoch.Add(q.After)) {
			continue
		}
		switch q.Feed {
		case FeedSyslog:
			if tr == SyslogUDP || tr == SyslogTCP {
				return true
			}
		case FeedSensor:
			if tr == NDJSON {
				return true
			}
		case FeedHost:
			if tr == Bulk && h != nil && h.name == q.Host {
				return true
			}
		}
	}
	return false
}
