package simulate

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/mamori-soc/mamori/internal/tenant"
)

// Org is one simulated organisation: its tenant and the estate its telemetry comes from.
// The slices are shared with the generator and must not be modified.
type Org struct {
	// Tenant is the organisation's id (the slug of its name), name and sector.
	Tenant tenant.Tenant
	// Domain is the Active Directory DNS domain; Windows hosts are <host>.<Domain>.
	Domain string
	// Hosts are the Windows host names (workstations WS-nnnn and servers SRV-xxx).
	Hosts []string
	// LinuxHosts are the Linux server names (web01, db02, …); they log over syslog.
	LinuxHosts []string
	// Users are the people of the organisation, as first.last.
	Users []string
	// Internal is the organisation's RFC 1918 range, a /16 or a /24.
	Internal string
	// PublicIP is the organisation's one public address (its web site and NAT).
	PublicIP string
	// WebServer is the Linux host whose nginx serves the public web site.
	WebServer string
	// IIS reports that nginx fronts an IIS application on the Windows host SRV-WEB01, so
	// a web shell there also runs commands under w3wp.exe.
	IIS bool
	// Sensor names the organisation's network sensor (Suricata and Zeek); "" when it has none.
	Sensor string

	// Maturity is how well the organisation runs its security, from 0 (weak) to 1
	// (exemplary): a few are well run, many middling, some weak, and sectors lean (finance,
	// defence and telecom stronger; transport, medical, welfare, education and water
	// weaker). It is drawn from the seed and the organisation's id, and decides the rest
	// of the profile below and how much of the attack traffic the organisation draws.
	Maturity float64
	// AgentVersion is the version of Winlogbeat and Filebeat on all the organisation's
	// hosts (agent.version): a 7.x release when Hygiene has OutdatedAgent, else an 8.x,
	// the current one for well-run organisations.
	AgentVersion string
	// Hygiene lists the findings the organisation's telemetry reveals, at most one per
	// kind, in HygieneKinds order. Organisations of maturity 0.7 and over have none.
	Hygiene []Finding
	// Silent lists the organisation's telemetry sources that stop during a run (at most
	// one; only weak organisations have one, and at least one organisation does when there
	// are five or more).
	Silent []Silence
	// AckAfter is how long the organisation's analysts typically take to acknowledge an
	// incident: minutes when well run, many hours when weak, Never for some of the
	// weakest.
	AckAfter time.Duration
	// ResolveAfter is how long they typically take to resolve an incident, counted from
	// its opening: within an hour or two when well run, days or Never when weak.
	ResolveAfter time.Duration
}

// catalogEntry is an organisation the generator can pick.
type catalogEntry struct {
	name   string
	sector tenant.Sector
	domain string
}

// catalog holds plausible organisations for every sector. New picks one per sector first,
// then fills up from the rest at random.
var catalog = []catalogEntry{
	{"Ministry of Health", tenant.Government, "health.gov.example"},
	{"Ministry of Finance", tenant.Government, "finance.gov.example"},
	{"Ministry of Foreign Affairs", tenant.Government, "mfa.gov.example"},
	{"Ministry of the Interior", tenant.Government, "interior.gov.example"},
	{"National Tax Agency", tenant.Government, "tax.gov.example"},
	{"Capital City Council", tenant.Government, "capitalcity.gov.example"},
	{"National Statistics Office", tenant.Government, "stats.gov.example"},
	{"Ministry of Defence", tenant.Defence, "mod.gov.example"},
	{"Defence Procurement Agency", tenant.Defence, "dpa.mil.example"},
	{"Armed Forces Logistics Command", tenant.Defence, "logistics.mil.example"},
	{"Naval Shipyard Authority", tenant.Defence, "shipyard.mil.example"},
	{"North Grid Power", tenant.EnergyPower, "northgrid.example"},
	{"National Transmission Operator", tenant.EnergyPower, "nto-grid.example"},
	{"Riverside Hydro", tenant.EnergyPower, "riverside-hydro.example"},
	{"Coastal Wind Energy", tenant.EnergyPower, "coastalwind.example"},
	{"Harbour Gas Co.", tenant.EnergyGas, "harbourgas.example"},
	{"National Gas Pipelines", tenant.EnergyGas, "ngp.example"},
	{"Valley LNG Terminal", tenant.EnergyGas, "valley-lng.example"},
	{"City Water Authority", tenant.Water, "citywater.example"},
	{"Eastern Water & Sewage", tenant.Water, "eastern-water.example"},
	{"Lakeside Utilities", tenant.Water, "lakeside-utilities.example"},
	{"National Rail", tenant.Transport, "nationalrail.example"},
	{"Capital Airport", tenant.Transport, "capital-airport.example"},
	{"Port of Westhaven", tenant.Transport, "westhaven-port.example"},
	{"Metro Transit Authority", tenant.Transport, "metro-transit.example"},
	{"St. Mary's Hospital", tenant.Medical, "stmarys-hospital.example"},
	{"University Medical Centre", tenant.Medical, "umc.example"},
	{"Northern Regional Hospital", tenant.Medical, "nrh-health.example"},
	{"National Blood Service", tenant.Medical, "bloodservice.example"},
	{"Children's Hospital", tenant.Medical, "childrens-hospital.example"},
	{"Social Insurance Agency", tenant.Welfare, "sia.gov.example"},
	{"National Pension Fund", tenant.Welfare, "pensions.example"},
	{"Employment Service", tenant.Welfare, "employment.gov.example"},
	{"Central Bank", tenant.Finance, "centralbank.example"},
	{"First National Bank", tenant.Finance, "fnb.example"},
	{"Harbour Savings Bank", tenant.Finance, "harbour-savings.example"},
	{"National Stock Exchange", tenant.Finance, "nse.example"},
	{"Mutual Insurance Group", tenant.Finance, "mutual-insurance.example"},
	{"TelcoNet", tenant.Telecom, "telconet.example"},
	{"MobileOne", tenant.Telecom, "mobileone.example"},
	{"Fibrelink", tenant.Telecom, "fibrelink.example"},
	{"National Broadcasting Corporation", tenant.Telecom, "nbc-broadcast.example"},
	{"GovCloud Services", tenant.IT, "govcloud.example"},
	{"DataCentre North", tenant.IT, "dc-north.example"},
	{"National Domain Registry", tenant.IT, "nic.example"},
	{"Softline Solutions", tenant.IT, "softline.example"},
	{"Steelworks Ltd.", tenant.Manufacturing, "steelworks.example"},
	{"Pharma Labs", tenant.Manufacturing, "pharmalabs.example"},
	{"AutoParts Manufacturing", tenant.Manufacturing, "autoparts.example"},
	{"Agro Foods", tenant.Manufacturing, "agrofoods.example"},
	{"National University", tenant.Education, "nu.ac.example"},
	{"Technical University", tenant.Education, "tu.ac.example"},
	{"School District 7", tenant.Education, "sd7.edu.example"},
	{"National Research Council", tenant.Education, "research.ac.example"},
	{"National Museum", tenant.Other, "museum.example"},
	{"Post Office", tenant.Other, "post.example"},
	{"Election Commission", tenant.Other, "elections.example"},
	{"Red Cross Society", tenant.Other, "redcross.example"},
}

// regions make extra organisations once the catalog is used up.
var regions = []string{"North", "South", "East", "West", "Central", "Coastal", "Highland", "Island"}

// maxOrgs is the most organisations New builds.
var maxOrgs = len(catalog) * (1 + len(regions))

var firstNames = []string{
	"alice", "bob", "carol", "david", "emma", "frank", "grace", "henry", "irene", "jack",
	"karen", "liam", "maria", "nathan", "olivia", "peter", "quinn", "rachel", "samuel", "tina",
	"umar", "vera", "walter", "xenia", "yusuf", "zoe", "anna", "ben", "chloe", "daniel",
	"elena", "felix", "hannah", "ivan", "julia", "kevin", "laura", "marco", "nina", "oscar",
	"paula", "ruth", "sofia", "tom", "victor", "wendy", "adam", "beatrice", "chris", "diana",
}

var lastNames = []string{
	"smith", "jones", "taylor", "brown", "wilson", "evans", "thomas", "johnson", "roberts", "walker",
	"wright", "robinson", "thompson", "white", "hughes", "edwards", "green", "hall", "wood", "harris",
	"martin", "jackson", "clarke", "clark", "turner", "hill", "scott", "cooper", "morris", "ward",
	"moore", "king", "watson", "baker", "harrison", "morgan", "patel", "young", "allen", "mitchell",
	"kim", "nguyen", "garcia", "novak", "schmidt", "rossi", "dubois", "kowalski", "jensen", "silva",
}

var serverPool = []string{"SRV-FS01", "SRV-APP01", "SRV-SQL01", "SRV-RDS01", "SRV-EXCH01", "SRV-PRINT01", "SRV-BKP01", "SRV-DC02", "SRV-APP02"}

var linuxPool = []string{"web02", "db01", "db02", "app01", "mail01", "vpn01", "git01", "mon01", "backup01"}

// winHost is one Windows machine.
type winHost struct {
	name, fqdn, ip string
	server         bool
	user           string // primary user of a workstation; "" on servers
	account        string // NETBIOS\user of user, or of the backup service account on servers
	lsassPID       int
	rec            [numChannels]uint64 // next record_id per channel
}

// linHost is one Linux machine. Each logs in one syslog dialect over one transport.
type linHost struct {
	name, ip string
	rfc5424  bool
	tcp      bool
}

// site is the generator's view of one organisation.
type site struct {
	Org
	netbios string    // NetBIOS domain name, e.g. HEALTH
	sid     [3]uint32 // domain SID sub-authorities, S-1-5-21-a-b-c
	logOff  int64     // byte offset of the next nginx access log line
	win     []winHost
	nWS     int // win[:nWS] are workstations, the rest servers
	dc      int // index in win of the first domain controller
	fs      int // file server (or the DC)
	rds     int // server exposed to RDP (or the DC)
	iisHost int // SRV-WEB01, -1 without IIS
	lin     []linHost
	web     int      // index in lin of WebServer
	admins  []string // Linux accounts that log in and sudo
	weight  int      // share of the baseline (bigger estates log more)

	ecsVersion string    // ecs.version written by AgentVersion
	findings   []finding // Hygiene, with the generator's state
}

func (s *site) server(r *rand.Rand) *winHost { return &s.win[s.nWS+r.IntN(len(s.win)-s.nWS)] }

func (s *site) workstation(r *rand.Rand) *winHost { return &s.win[r.IntN(s.nWS)] }

// buildSites picks n organisations and builds their estates.
func buildSites(r *rand.Rand, n int) []*site {
	// One per sector first, then the rest of the catalog in random order, then regional copies.
	var picked []catalogEntry
	used := make([]bool, len(catalog))
	for _, sec := range tenant.Sectors {
		var idx []int
		for i, c := range catalog {
			if c.sector == sec {
				idx = append(idx, i)
			}
		}
		i := idx[r.IntN(len(idx))]
		used[i] = true
		picked = append(picked, catalog[i])
	}
	var rest []catalogEntry
	for i, c := range catalog {
		if !used[i] {
			rest = append(rest, c)
		}
	}
	r.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	picked = append(picked, rest...)
	for _, reg := range regions {
		for _, c := range catalog {
			label, rest, _ := strings.Cut(c.domain, ".")
			picked = append(picked, catalogEntry{
				name:   reg + " Region " + c.name,
				sector: c.sector,
				domain: label + "-" + lower(reg) + "." + rest, // health-north.gov.example
			})
		}
	}
	picked = picked[:n]

	// Internal ranges: /16s under 10/8 for big estates, /24s under 192.168/16 and
	// 172.16/12 for small ones; every one distinct.
	tenOctets := r.Perm(240)
	smallNets := r.Perm(256 + 16*256)
	sites := make([]*site, n)
	for i, c := range picked {
		s := &site{}
		s.Tenant = tenant.Tenant{ID: tenant.Slug(c.name), Name: c.name, Sector: c.sector}
		s.Domain = c.domain
		s.netbios = netbiosName(c.domain)
		s.sid = [3]uint32{r.Uint32(), r.Uint32(), r.Uint32()}
		s.logOff = int64(r.IntN(1 << 30))
		total := 5 + r.IntN(26)
		var prefix string
		var big bool
		if total > 15 && i < len(tenOctets) {
			o := 10 + tenOctets[i]
			prefix = "10." + strconv.Itoa(o) + "."
			s.Internal = prefix + "0.0/16"
			big = true
		} else {
			k := smallNets[i]
			if k < 256 {
				prefix = "192.168." + strconv.Itoa(k) + "."
			} else {
				k -= 256
				prefix = "172." + strconv.Itoa(16+k/256) + "." + strconv.Itoa(k%256) + "."
			}
			s.Internal = prefix + "0/24"
		}
		ip := func(subnet, host int) string {
			if big {
				return prefix + strconv.Itoa(subnet) + "." + strconv.Itoa(host)
			}
			return prefix + strconv.Itoa(host) // a /24 has one subnet
		}
		// One address each from the documentation ranges, 250 per range.
		s.PublicIP = []string{"203.0.113.", "198.51.100.", "192.0.2."}[i/250] + strconv.Itoa(2+i%250)
		s.IIS = r.IntN(3) == 0
		if r.IntN(10) < 7 {
			s.Sensor = "ids01"
		}

		// Servers: a DC plus 1-5 others (and the IIS box).
		nSrv := 2 + r.IntN(4)
		srv := []string{"SRV-DC01"}
		perm := r.Perm(len(serverPool))
		for _, p := range perm[:nSrv-1] {
			srv = append(srv, serverPool[p])
		}
		if s.IIS {
			srv = append(srv, "SRV-WEB01")
		}
		nWS := total - len(srv)
		if nWS < 3 {
			nWS = 3
		}
		wsNums := r.Perm(9000)[:nWS]
		s.nWS = nWS
		users := pickUsers(r, nWS+r.IntN(6))
		s.Users = users
		for j := 0; j < nWS; j++ {
			name := "WS-" + pad4(1000+wsNums[j])
			h := winHost{name: name, user: users[j]}
			if big {
				h.ip = ip(20+j/200, 20+j%200)
			} else {
				h.ip = ip(0, 100+j)
			}
			s.win = append(s.win, h)
		}
		for j, name := range srv {
			h := winHost{name: name, server: true, ip: ip(0, 10+j)}
			s.win = append(s.win, h)
		}
		s.dc, s.fs, s.rds, s.iisHost = nWS, nWS, nWS, -1
		for j := nWS; j < len(s.win); j++ {
			switch s.win[j].name {
			case "SRV-FS01":
				s.fs = j
			case "SRV-RDS01":
				s.rds = j
			case "SRV-WEB01":
				s.iisHost = j
			}
		}
		if s.rds == s.dc && len(s.win) > nWS+1 {
			s.rds = nWS + 1 // another server has RDP exposed
		}
		for j := range s.win {
			h := &s.win[j]
			h.fqdn = h.name + "." + s.Domain
			if h.user != "" {
				h.account = s.netbios + `\` + h.user
			} else {
				h.account = s.netbios + `\svc_backup`
			}
			h.lsassPID = 600 + 4*r.IntN(100)
			for c := range numCoreChannels {
				h.rec[c] = uint64(10000 + r.IntN(5000000))
			}
			s.Hosts = append(s.Hosts, h.name)
		}

		// Linux: web01 and 1-5 others.
		lin := []string{"web01"}
		for _, p := range r.Perm(len(linuxPool))[:1+r.IntN(5)] {
			lin = append(lin, linuxPool[p])
		}
		for j, name := range lin {
			h := linHost{name: name, rfc5424: r.IntN(2) == 0, tcp: r.IntN(2) == 0}
			if big {
				h.ip = ip(1, 10+j)
			} else {
				h.ip = ip(0, 40+j)
			}
			s.lin = append(s.lin, h)
			s.LinuxHosts = append(s.LinuxHosts, name)
		}
		s.WebServer = "web01"
		s.admins = []string{"deploy", "ansible", users[r.IntN(len(users))]}
		s.weight = len(s.win) + 2*len(s.lin)
		sites[i] = s
	}
	return sites
}

// pickUsers returns n distinct first.last names.
func pickUsers(r *rand.Rand, n int) []string {
	seen := make(map[string]bool, n)
	users := make([]string, 0, n)
	for len(users) < n {
		u := firstNames[r.IntN(len(firstNames))] + "." + lastNames[r.IntN(len(lastNames))]
		if !seen[u] {
			seen[u] = true
			users = append(users, u)
		}
	}
	return users
}

// netbiosName derives the NetBIOS domain from the DNS domain: the first label, upper
// case, at most 15 characters.
func netbiosName(domain string) string {
	var b []byte
	for i := 0; i < len(domain) && domain[i] != '.' && len(b) < 15; i++ {
		c := domain[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func pad4(v int) string { return string(appendPad(nil, v, 4)) }
