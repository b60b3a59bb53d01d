package simulate

import (
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/mamori-soc/mamori/internal/tenant"
)

// group is an attacker group: its infrastructure, the sectors it goes after and its
// tradecraft (the scenarios it plays). Its addresses are reused across organisations,
// so one source IP shows up at several tenants: a campaign.
type group struct {
	name      string
	nets      []string // /24 prefixes, "185.220.101."
	ips       []string // sources of scans, brute force and exploitation
	c2IPs     []string // where implants call home
	c2Domains []string // names that resolve to c2IPs (parallel slice)
	sectors   []tenant.Sector
	scenarios []string
	targets   []int // indices of the sites in sectors (all sites if none match)
	cum       []int // cumulative attack weights of targets (attackWeight)
}

// groupSpecs are the attacker groups. The names are fictional; the ranges are public,
// non-private space of the kind such traffic comes from.
var groupSpecs = []struct {
	name      string
	nets      []string
	domains   []string
	sectors   []tenant.Sector
	scenarios []string
}{
	{
		name:      "Glass Heron",
		nets:      []string{"194.26.29.", "103.145.13."},
		domains:   []string{"cdn-update-check.net", "office-telemetry-cdn.com"},
		sectors:   []tenant.Sector{tenant.Government, tenant.Defence, tenant.Telecom, tenant.EnergyPower, tenant.IT},
		scenarios: []string{"phishing-macro", "lsass-dump", "psexec-lateral", "beaconing", "dns-tunnelling"},
	},
	{
		name:      "Rust Lynx",
		nets:      []string{"45.155.205.", "91.240.118."},
		domains:   []string{"static-edge-cache.com", "update-service-cdn.net"},
		sectors:   []tenant.Sector{tenant.Medical, tenant.Manufacturing, tenant.Education, tenant.Water, tenant.Transport, tenant.EnergyGas},
		scenarios: []string{"rdp-bruteforce", "lsass-dump", "psexec-lateral", "ransomware-prep", "beaconing"},
	},
	{
		name:      "Night Cobalt",
		nets:      []string{"185.220.101.", "141.98.10.", "5.188.206."},
		domains:   []string{"node-status-report.net"},
		sectors:   tenant.Sectors,
		scenarios: []string{"ssh-bruteforce", "rdp-bruteforce"},
	},
	{
		name:      "Paper Mantis",
		nets:      []string{"193.142.146.", "179.43.175."},
		domains:   []string{"img-static-host.org"},
		sectors:   []tenant.Sector{tenant.Government, tenant.Finance, tenant.Education, tenant.Welfare, tenant.Other, tenant.IT},
		scenarios: []string{"web-shell", "ssh-bruteforce"},
	},
	{
		name:      "Salt Wolf",
		nets:      []string{"103.75.190.", "77.83.247."},
		domains:   []string{"secure-login-verify.com", "api-sync-telemetry.net"},
		sectors:   []tenant.Sector{tenant.Finance, tenant.Telecom, tenant.IT, tenant.Medical, tenant.Welfare},
		scenarios: []string{"phishing-macro", "beaconing", "dns-tunnelling", "lsass-dump", "web-shell"},
	},
	{
		name:      "Amber Kite",
		nets:      []string{"92.63.197.", "185.156.73."},
		domains:   []string{"scada-firmware-update.com"},
		sectors:   []tenant.Sector{tenant.EnergyPower, tenant.EnergyGas, tenant.Water, tenant.Transport, tenant.Defence},
		scenarios: []string{"ssh-bruteforce", "web-shell", "psexec-lateral", "ransomware-prep", "dns-tunnelling"},
	},
}

// buildGroups draws each group's addresses from its ranges and lists its targets.
func buildGroups(r *rand.Rand, sites []*site) []*group {
	groups := make([]*group, len(groupSpecs))
	for i, sp := range groupSpecs {
		g := &group{name: sp.name, nets: sp.nets, sectors: sp.sectors, scenarios: sp.scenarios}
		seen := map[string]bool{}
		addr := func() string {
			for {
				a := sp.nets[r.IntN(len(sp.nets))] + strconv.Itoa(2+r.IntN(250))
				if !seen[a] {
					seen[a] = true
					return a
				}
			}
		}
		for range 3 + r.IntN(4) {
			g.ips = append(g.ips, addr())
		}
		for _, d := range sp.domains {
			g.c2Domains = append(g.c2Domains, d)
			g.c2IPs = append(g.c2IPs, addr())
		}
		for j, s := range sites {
			for _, sec := range g.sectors {
				if s.Tenant.Sector == sec {
					g.targets = append(g.targets, j)
					break
				}
			}
		}
		if len(g.targets) == 0 {
			for j := range sites {
				g.targets = append(g.targets, j)
			}
		}
		total := 0
		for _, j := range g.targets {
			total += attackWeight(sites[j].Maturity)
			g.cum = append(g.cum, total)
		}
		groups[i] = g
	}
	return groups
}

// target picks one of the group's targets (an index of the sites), in proportion to
// their attack weights.
func (g *group) target(r *rand.Rand) int {
	x := r.IntN(g.cum[len(g.cum)-1])
	i, _ := slices.BinarySearch(g.cum, x+1)
	return g.targets[i]
}

func (g *group) has(scenario string) bool {
	for _, s := range g.scenarios {
		if s == scenario {
			return true
		}
	}
	return false
}

func (g *group) targetsSector(sector tenant.Sector) bool {
	for _, s := range g.sectors {
		if s == sector {
			return true
		}
	}
	return false
}

// c2 picks one of the group's C2 endpoints.
func (g *group) c2(r *rand.Rand) (domain, ip string) {
	i := r.IntN(len(g.c2Domains))
	return g.c2Domains[i], g.c2IPs[i]
}

func (g *group) source(r *rand.Rand) string { return g.ips[r.IntN(len(g.ips))] }

// tunnelDomain is the parent of every DNS tunnelling name: the groups share one
// exfiltration service.
const tunnelDomain = "t.exfil-data-sync.com"

// Intel is what a partner CERT has already published about one attacker
// group: its command-and-control domains and addresses and some of the
// addresses it attacks from. Not everything: the rest must be found by
// detection.
type Intel struct {
	Group   string
	Domains []string
	IPs     []string
	C2IPs   []string
}

// KnownIntel returns, for every attacker group, the part of its
// infrastructure already published: every C2 domain and address, and every
// other source address. The demo imports it as a national feed, so some
// attacks are caught by indicators as well as by rules.
func (g *Generator) KnownIntel() []Intel {
	out := make([]Intel, 0, len(g.groups))
	for _, gr := range g.groups {
		in := Intel{Group: gr.name, Domains: slices.Clone(gr.c2Domains), C2IPs: slices.Clone(gr.c2IPs)}
		for i, ip := range gr.ips {
			if i%2 == 0 {
				in.IPs = append(in.IPs, ip)
			}
		}
		out = append(out, in)
	}
	return out
}
