package simulate

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/mamori-soc/mamori/internal/tenant"
)

// Organisations differ the way real ones do: a few are well run, many are middling and
// some are weak, with sectors leaning one way or the other. An organisation's maturity
// decides what its telemetry reveals (hygiene findings, an outdated agent, a source that
// goes silent), how much of the attack traffic it draws, and how fast its analysts
// respond. Everything here is drawn from the seed and the organisation's id alone, so an
// organisation keeps its profile whatever the number of organisations.

// HygieneKind names a kind of hygiene finding. The built-in rules that detect them are
// tagged mamori.hygiene.<kind>.
type HygieneKind string

// The hygiene finding kinds.
const (
	// CleartextLogon: logons whose password crossed the network in clear (Security 4624
	// LogonType 8, NetworkCleartext: IIS Basic authentication, LDAP simple binds).
	CleartextLogon HygieneKind = "cleartext_logon"
	// SMBv1: the SMB 1 protocol enabled (Sysmon 13: Group Policy setting LanmanServer's
	// SMB1 value to 1) and in use (SMBServer/Audit 3000, SMB1 access by a legacy client).
	SMBv1 HygieneKind = "smbv1"
	// DefenderDisabled: Microsoft Defender real-time protection or scanning turned off
	// (Defender 5001, 5010, 5012).
	DefenderDisabled HygieneKind = "defender_disabled"
	// LoggingDisabled: auditing removed from the audit policy (Security 4719) or the
	// Security log cleared (1102).
	LoggingDisabled HygieneKind = "logging_disabled"
	// PowerShellV2: the PowerShell 2.0 engine in use, which has none of the later logging
	// (Windows PowerShell 400, EngineVersion=2.0).
	PowerShellV2 HygieneKind = "powershell_v2"
	// RDPExposed: Remote Desktop reachable from the internet (Zeek rdp from public
	// addresses: scanners and staff connecting straight in). Only organisations with a
	// network sensor reveal it.
	RDPExposed HygieneKind = "rdp_exposed"
	// OutdatedAgent: the organisation's Winlogbeat is a 7.x release, years old (seen on
	// its System events, such as the agent's own service restarts).
	OutdatedAgent HygieneKind = "outdated_agent"
)

// HygieneKinds returns every hygiene finding kind, in a stable order.
func HygieneKinds() []HygieneKind {
	out := make([]HygieneKind, len(hygieneSpecs))
	for i := range hygieneSpecs {
		out[i] = hygieneSpecs[i].kind
	}
	return out
}

// Finding is a hygiene finding of an organisation: its kind and the Windows hosts (names
// as in Org.Hosts) whose telemetry keeps showing it. For RDPExposed the host is the
// server exposed; for OutdatedAgent it is every Windows host.
type Finding struct {
	Kind  HygieneKind
	Hosts []string
}

// Feed is a telemetry source of an organisation.
type Feed string

// The feeds that can go silent.
const (
	// FeedSyslog is the syslog of all the organisation's Linux servers (LinuxHosts);
	// Filebeat's web access log goes on.
	FeedSyslog Feed = "syslog"
	// FeedSensor is the network sensor's Suricata and Zeek records (Org.Sensor).
	FeedSensor Feed = "sensor"
	// FeedHost is the Winlogbeat of one Windows host.
	FeedHost Feed = "host"
)

// Silence is a telemetry source of an organisation that stops: from After past
// Generator.Started (the start of the first Tick) on, the generator emits nothing from
// it, attack steps included, and it does not come back.
type Silence struct {
	Feed Feed
	// Host names the source as its records do: the Windows host (as in Org.Hosts; its
	// events say <Host>.<Domain>) for FeedHost, the sensor for FeedSensor, "" for
	// FeedSyslog (every one of LinuxHosts).
	Host string
	// After is between 5 and 25 minutes, so that a demo shows it.
	After time.Duration
}

// Never is the AckAfter or ResolveAfter of an organisation that does not get to it:
// longer than any run, so a test "age >= AckAfter" never passes.
const Never = time.Duration(math.MaxInt64)

// sectorMaturity is the mean maturity of a sector's organisations (national surveys:
// finance, defence and telecom lead; transport, health, welfare, education and water
// trail).
var sectorMaturity = map[tenant.Sector]float64{
	tenant.Finance:       0.78,
	tenant.Defence:       0.74,
	tenant.Telecom:       0.70,
	tenant.IT:            0.64,
	tenant.EnergyPower:   0.58,
	tenant.Government:    0.55,
	tenant.EnergyGas:     0.54,
	tenant.Manufacturing: 0.50,
	tenant.Other:         0.48,
	tenant.Welfare:       0.42,
	tenant.Water:         0.40,
	tenant.Education:     0.40,
	tenant.Medical:       0.38,
	tenant.Transport:     0.36,
}

// maturitySpread is the standard deviation of maturity within a sector.
const maturitySpread = 0.13

// hygieneSpecs lists the finding kinds: how common each is among the weakest
// organisations, and the mean gap between its events for one affected host of a
// middling organisation (weaker ones and more hosts show it more often).
var hygieneSpecs = [...]struct {
	kind       HygieneKind
	prevalence float64
	gap        time.Duration
}{
	{CleartextLogon, 0.55, 3 * time.Minute},
	{SMBv1, 0.75, 8 * time.Minute},
	{DefenderDisabled, 0.45, 10 * time.Minute},
	{LoggingDisabled, 0.40, 15 * time.Minute},
	{PowerShellV2, 0.70, 10 * time.Minute},
	{RDPExposed, 0.60, 2 * time.Minute},
	{OutdatedAgent, 0.85, 12 * time.Minute},
}

// Agent versions: Winlogbeat and Filebeat, with the ECS version each writes.
type agentVersion struct{ agent, ecs string }

var (
	// outdatedAgents, oldest first: 7.x, out of support by the time of the demo.
	outdatedAgents = []agentVersion{{"7.0.1", "1.0.0"}, {"7.4.2", "1.1.0"}, {"7.6.2", "1.4.0"}, {"7.9.3", "1.5.0"},
		{"7.10.2", "1.6.0"}, {"7.17.18", "1.12.0"}}
	// supportedAgents, oldest first; the last is current.
	supportedAgents = []agentVersion{{"8.6.2", "8.0.0"}, {"8.11.4", "8.0.0"}, {"8.13.4", "8.0.0"}, {"8.15.0", "8.0.0"}}
)

// finding is the generator's state of one hygiene finding of a site.
type finding struct {
	kind  HygieneKind
	hosts []int         // indices in site.win
	mean  time.Duration // mean gap between its events
	next  time.Time     // time of its next event; zero before the first Tick
	n     int           // events so far
}

// profileSites draws every site's profile. At least one of five or more organisations
// has a source that goes silent: the weakest, if the draw gave none.
func profileSites(seed int64, sites []*site) {
	var cands []Silence
	for _, s := range sites {
		cands = append(cands, s.profile(seed))
	}
	if len(sites) < 5 || slices.ContainsFunc(sites, func(s *site) bool { return len(s.Silent) > 0 }) {
		return
	}
	weakest := 0
	for i, s := range sites {
		if s.Maturity < sites[weakest].Maturity {
			weakest = i
		}
	}
	sites[weakest].Silent = []Silence{cands[weakest]}
}

// profile draws s's maturity, findings, agent version, response times and the silence it
// would have (which it keeps when the draw says so, and returns either way). The draws
// come from the seed and s's id in a fixed order.
func (s *site) profile(seed int64) Silence {
	id := string(s.Tenant.ID)
	r := rand.New(rand.NewPCG(uint64(seed)^splitmix(fnv64("profile/"+id)), fnv64(id)))
	mean, ok := sectorMaturity[s.Tenant.Sector]
	if !ok {
		mean = 0.5
	}
	m := math.Round(min(max(mean+maturitySpread*r.NormFloat64(), 0.05), 0.97)*1000) / 1000
	s.Maturity = m
	w := 1 - m

	for j := range s.win {
		for c := numCoreChannels; c < numChannels; c++ {
			s.win[j].rec[c] = uint64(1000 + r.IntN(500000))
		}
	}

	// Findings. Organisations of maturity 0.7 and over have none; below, each kind shows
	// with a probability rising to its prevalence, and one under 0.45 shows at least the
	// kind it came closest to.
	gate := min(max((w-0.3)/0.5, 0), 1)
	type cand struct {
		kind  HygieneKind
		hosts []int
		gap   time.Duration
		score float64 // u/prevalence: below gate, the kind shows
	}
	var cands []cand
	servers := make([]int, 0, len(s.win)-s.nWS)
	for j := s.nWS; j < len(s.win); j++ {
		servers = append(servers, j)
	}
	appServers := slices.DeleteFunc(slices.Clone(servers), func(j int) bool { return j == s.dc })
	if s.iisHost >= 0 { // IIS Basic authentication is the classic cleartext logon
		appServers = append([]int{s.iisHost}, slices.DeleteFunc(appServers, func(j int) bool { return j == s.iisHost })...)
	}
	all := make([]int, len(s.win))
	for j := range all {
		all[j] = j
	}
	workstations := all[:s.nWS]
	for _, sp := range hygieneSpecs {
		u, share := r.Float64(), 0.08+0.35*w*r.Float64()
		count := func(n int) int { return max(1, int(math.Round(share*float64(n)))) }
		var hosts []int
		switch sp.kind {
		case CleartextLogon:
			hosts = slices.Clone(appServers[:min(len(appServers), 1+r.IntN(2))])
		case SMBv1: // the file server, and the legacy clients that still talk SMB 1 to it
			hosts = append([]int{s.fs}, pick(r, workstations, count(len(workstations)))...)
		case DefenderDisabled:
			hosts = pick(r, all, count(len(all)))
		case LoggingDisabled:
			hosts = pick(r, servers, 1+r.IntN(min(2, len(servers))))
		case PowerShellV2: // legacy scheduled scripts on servers, some old workstations
			hosts = append(pick(r, servers, 1+r.IntN(min(2, len(servers)))), pick(r, workstations, count(len(workstations))/2)...)
		case RDPExposed:
			hosts = []int{s.rds}
		case OutdatedAgent:
			hosts = slices.Clone(all)
		}
		if sp.kind == RDPExposed && s.Sensor == "" {
			continue
		}
		slices.Sort(hosts)
		cands = append(cands, cand{sp.kind, slices.Compact(hosts), sp.gap, u / sp.prevalence})
	}
	closest := slices.MinFunc(cands, func(a, b cand) int { return cmp.Compare(a.score, b.score) })
	for _, c := range cands {
		if c.score >= gate && (m >= 0.45 || c.kind != closest.kind) {
			continue
		}
		mean := time.Duration(float64(c.gap) / (0.5 + w) / math.Sqrt(float64(len(c.hosts))))
		s.findings = append(s.findings, finding{kind: c.kind, hosts: c.hosts, mean: max(mean, time.Minute)})
		f := Finding{Kind: c.kind}
		for _, j := range c.hosts {
			f.Hosts = append(f.Hosts, s.win[j].name)
		}
		s.Hygiene = append(s.Hygiene, f)
	}

	// The agent: years old with the finding (older the weaker), else by maturity.
	av := supportedAgents[min(len(supportedAgents)-1, int(max(m-0.25, 0)/0.45*float64(len(supportedAgents))))]
	if slices.ContainsFunc(s.Hygiene, func(f Finding) bool { return f.Kind == OutdatedAgent }) {
		av = outdatedAgents[min(len(outdatedAgents)-1, int(m/0.7*float64(len(outdatedAgents))))]
	}
	s.AgentVersion, s.ecsVersion = av.agent, av.ecs

	// A source that goes silent: only weak organisations lose one.
	q := Silence{After: 5*time.Minute + time.Duration(r.Int64N(int64(20*time.Minute)))}
	switch x := r.IntN(20); {
	case x < 9 && s.Sensor != "":
		q.Feed, q.Host = FeedSensor, s.Sensor
	case x < 17:
		q.Feed = FeedSyslog
	default:
		q.Feed, q.Host = FeedHost, s.win[r.IntN(len(s.win))].name
	}
	q.After = q.After.Round(time.Second)
	if r.Float64() < 0.6*min(max((w-0.45)/0.4, 0), 1) {
		s.Silent = []Silence{q}
	}

	// Response: a strong organisation acknowledges in minutes and resolves within the
	// hour or two; a weak one takes most of a day, or never gets to it.
	ack := 3 * time.Minute.Seconds() * math.Pow(480, w*(0.8+0.4*r.Float64()))
	resolve := ack * (4 + 8*w) * (0.8 + 0.4*r.Float64())
	neverAck, neverResolve := r.Float64(), r.Float64()
	s.AckAfter, s.ResolveAfter = time.Duration(ack)*time.Second, time.Duration(resolve)*time.Second
	if m < 0.3 && neverAck < 0.8*(0.3-m)/0.3 {
		s.AckAfter = Never
	}
	if s.AckAfter == Never || m < 0.4 && neverResolve < 0.3 {
		s.ResolveAfter = Never
	}
	return q
}

// pick returns n of cands, chosen at random.
func pick(r *rand.Rand, cands []int, n int) []int {
	n = min(n, len(cands))
	out := make([]int, 0, n)
	for _, i := range r.Perm(len(cands))[:n] {
		out = append(out, cands[i])
	}
	return out
}

// attackWeight is a site's share of the attack traffic relative to others: weaker
// organisations expose more (forgotten services, unpatched hosts, reused passwords), so
// the weakest draw about twice the attacks of the strongest.
func attackWeight(maturity float64) int { return 4 + int(math.Round(5*(1-maturity))) }
