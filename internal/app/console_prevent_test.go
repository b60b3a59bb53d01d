package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mamori-soc/mamori/internal/auth"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// The console's prevention and threat intelligence screens, end to end in
// Chromium against a running demo, as TestConsole does for alerts:
//
//	go test ./internal/app -run TestConsolePrevent -v
//	go test ./internal/app -run TestConsolePrevent -artifacts -outputdir /tmp/shots
//	go test ./internal/app -run TestConsolePrevent -update-screenshots

func init() {
	readmeShots = append(readmeShots, "decisions", "intel", "campaign-block")
}

// conDecision is what the test reads of a decision, as the console does.
type conDecision struct {
	ID     int64  `json:"id"`
	Type   string `json:"type"`
	Scope  string `json:"scope"`
	Value  string `json:"value"`
	Target struct {
		Org      string `json:"org"`
		Sector   string `json:"sector"`
		National bool   `json:"national"`
	} `json:"target"`
	Reason    string    `json:"reason"`
	Origin    string    `json:"origin"`
	OriginRef string    `json:"origin_ref"`
	Created   time.Time `json:"created"`
	Until     time.Time `json:"until"`
	CreatedBy string    `json:"created_by"`
	Deleted   time.Time `json:"deleted"`
}

// apiCall sends body to the API with token (the demo's national token when
// empty) and returns the status and the answer.
func (env *consoleEnv) apiCall(t *testing.T, token, method, path, body string) (int, []byte) {
	t.Helper()
	if token == "" {
		token = env.demo.info.APIToken
	}
	req, _ := http.NewRequest(method, env.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// pick sets a form control's value as a user would, with its change event.
func pick(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q; e.dispatchEvent(new Event('change', {bubbles: true})); })()`, sel, value))
}

func publicIP(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.IsGlobalUnicast() && !a.IsPrivate()
}

func TestConsolePrevent(t *testing.T) {
	env := startConsole(t)
	info := env.demo.info
	var orgs struct {
		Orgs []struct{ ID, Name, Sector string }
	}
	env.apiGet(t, "/api/v1/orgs", &orgs)
	own := orgs.Orgs[0]
	other := own
	for _, o := range orgs.Orgs {
		if o.Sector != own.Sector {
			other = o
			break
		}
	}
	if other.ID == own.ID {
		t.Fatalf("the demo's organisations are all of sector %s", own.Sector)
	}
	analyst := env.newTab(t)
	analyst.login(info.Username, info.Password)
	const evil = "193.42.33.77" // a QakBot C2, per the partner CERT's bundle

	// The national analyst imports a partner's STIX bundle by pasting it; an
	// event of an organisation that talks to the address raises an alert
	// marked as threat intelligence, which offers to block the indicator.
	t.Run("intel", func(t *testing.T) {
		analyst.use(t)
		analyst.open("/ui/intel")
		analyst.wait("the indicator list", `document.querySelector('#in-table table') !== null`)
		analyst.do("open the import dialog", chromedp.Click(chromedp.CSS("#in-import")), chromedp.WaitVisible(chromedp.CSS("#imp-body")))
		analyst.do("paste a STIX bundle", pick("#imp-format", "stix"), chromedp.SetValue(chromedp.CSS("#imp-source"), "partner-cert"),
			chromedp.SetValue(chromedp.CSS("#imp-body"), stixBundle(evil)), chromedp.Click(chromedp.CSS("dialog button.primary")))
		analyst.wait("the import result", `document.querySelector('dialog[open]') === null && (document.querySelector('#imp-added') || {}).textContent === '1 added'`)
		row := fmt.Sprintf(`#in-table tr[data-value=%q]`, evil)
		analyst.wait("the indicator in the table", fmt.Sprintf(`document.querySelector('%s') !== null`, row))
		if got := evalJS[string](analyst, fmt.Sprintf(`document.querySelector('%s .tlp').textContent + ' ' + document.querySelector('%s td.source a').textContent`, row, row)); got != "TLP:GREEN partner-cert" {
			t.Errorf("the imported indicator shows %q, want TLP:GREEN from partner-cert", got)
		}
		analyst.shot("intel")

		if code, b := env.apiCall(t, info.IngestTokens[own.Name], "POST", "/_bulk", sysmonConn("WS-77."+own.ID+".example", evil, 1)); code != http.StatusOK {
			t.Fatalf("ingest: %d %s", code, b)
		}
		analyst.open("/ui/alerts?status=all&q=" + evil)
		analyst.wait("the threat intelligence alert in the queue", `document.querySelector('table.queue tbody tr[data-id] .badge.intel') !== null`)
		analyst.do("open it", chromedp.Evaluate[chromedp.Void](`document.querySelector('table.queue tbody tr[data-id] .badge.intel').closest('td').querySelector('a').click()`))
		analyst.wait("the alert with its indicator", `document.querySelector('#alert-title') !== null && document.querySelector('.alert-meta a.badge.intel[href^="/ui/intel?q="]') !== null`)
		analyst.shot("alert-intel")
		analyst.do("block the indicator", chromedp.Click(chromedp.CSS("#block-ioc")), chromedp.WaitVisible(chromedp.CSS("#d-value")))
		if got := evalJS[string](analyst, `[document.querySelector('#d-value').value, document.querySelector('#d-target-kind').value, document.querySelector('#d-org').value].join(' ')`); got != evil+" org "+own.ID {
			t.Errorf("the decision form opens with %q, want %s for organisation %s", got, evil, own.ID)
		}
		analyst.do("cancel", chromedp.Click(chromedp.CSS("dialog button.ghost")))
	})

	// A sector-wide ban through the form: the server's refusals are shown in
	// the form, the ban is listed, its page has the audit trail, and it is
	// revoked from there.
	t.Run("decisions", func(t *testing.T) {
		analyst.use(t)
		analyst.open("/ui/decisions")
		analyst.wait("the decision list", `document.querySelector('#dc-table table') !== null`)
		analyst.do("open the form", chromedp.Click(chromedp.CSS("#dc-new")), chromedp.WaitVisible(chromedp.CSS("#d-value")))
		analyst.wait("the organisations in the form", `document.querySelectorAll('#d-org option').length > 1`)
		analyst.do("a ban for the sector", pick("#d-target-kind", "sector"), pick("#d-sector", own.Sector),
			chromedp.Click(chromedp.CSS(`#d-durations button[data-duration="4h"]`)),
			chromedp.SetValue(chromedp.CSS("#d-reason"), "QakBot C2 reported by the partner CERT"))
		for _, c := range []struct{ value, want string }{{"not-an-ip", "single label"}, {"10.0.0.0/4", "wider than /8"}} {
			analyst.do("try "+c.value, chromedp.SetValue(chromedp.CSS("#d-value"), c.value), chromedp.Click(chromedp.CSS("dialog button.primary")))
			analyst.wait("the server's refusal of "+c.value, fmt.Sprintf(`(document.querySelector('dialog[open] .form-error') || {}).textContent.includes(%q)`, c.want))
		}
		analyst.do("a valid value", chromedp.SetValue(chromedp.CSS("#d-value"), evil))
		analyst.shot("decision-new")
		analyst.do("make it", chromedp.Click(chromedp.CSS("dialog button.primary")))
		row := fmt.Sprintf(`#dc-table tr[data-value=%q]`, evil)
		analyst.wait("the ban in the list", fmt.Sprintf(`document.querySelector('dialog[open]') === null && document.querySelector('%s') !== null`, row))
		if got := evalJS[string](analyst, fmt.Sprintf(`document.querySelector('%s td.target [data-target]').dataset.target`, row)); got != "sector:"+own.Sector {
			t.Errorf("the ban applies to %q, want sector:%s", got, own.Sector)
		}
		var r struct{ Decisions []conDecision }
		env.apiGet(t, "/api/v1/decisions?value="+evil, &r)
		if len(r.Decisions) != 1 {
			t.Fatalf("decisions on %s: %+v, want 1", evil, r.Decisions)
		}
		ban := r.Decisions[0]
		if d := ban.Until.Sub(ban.Created); ban.Type != "ban" || ban.Target.Sector != own.Sector || ban.Origin != "analyst" || ban.CreatedBy != info.Username || d < 4*time.Hour-time.Minute || d > 4*time.Hour+time.Minute {
			t.Errorf("the ban made is %+v, want a 4 h ban of sector %s by %s", ban, own.Sector, info.Username)
		}
		analyst.shot("decisions")

		analyst.do("open it", chromedp.Click(chromedp.CSS(row+" td.value a")))
		analyst.wait("the decision with its audit trail", fmt.Sprintf(`location.pathname === '/ui/decisions/%d' && document.querySelector('#d-audit li[data-action=created]') !== null`, ban.ID))
		analyst.do("revoke it", chromedp.Click(chromedp.CSS("#d-revoke")), chromedp.WaitVisible(chromedp.CSS("dialog button.danger")), chromedp.Click(chromedp.CSS("dialog button.danger")))
		analyst.wait("the revocation in the audit trail", `document.querySelector('#d-audit li[data-action=revoked]') !== null && document.querySelector('#d-revoke') === null`)
		analyst.shot("decision")
		var d struct {
			Decision conDecision
			Audit    []struct{ User, Action string }
		}
		env.apiGet(t, fmt.Sprintf("/api/v1/decisions/%d", ban.ID), &d)
		if d.Decision.Deleted.IsZero() || !slices.Contains(d.Audit, struct{ User, Action string }{info.Username, "revoked"}) {
			t.Errorf("after the revocation the API has %+v with audit %+v", d.Decision, d.Audit)
		}
		analyst.open("/ui/decisions")
		analyst.wait("the list without the revoked ban", fmt.Sprintf(`document.querySelector('#dc-table table') !== null && document.querySelector('%s') === null`, row))
		analyst.do("include revoked decisions", chromedp.Click(chromedp.CSS("#dc-all")))
		analyst.wait("the revoked ban", fmt.Sprintf(`location.search.includes('all=1') && (document.querySelector('%s') || {dataset: {}}).dataset.state === 'revoked'`, row))
	})

	// An alert with a public source offers to block it, for its organisation.
	t.Run("block source", func(t *testing.T) {
		analyst.use(t)
		var id, ip, org string
		eventually(t, "an alert with a public source address", 60*time.Second, func() bool {
			var r struct {
				Alerts []struct {
					ID    string `json:"id"`
					OrgID string `json:"org_id"`
					SrcIP string `json:"src_ip"`
				} `json:"alerts"`
			}
			env.apiGet(t, "/api/v1/alerts?limit=500&events=false&status=new,acknowledged,in_progress,closed", &r)
			for _, a := range r.Alerts {
				if publicIP(a.SrcIP) {
					id, ip, org = a.ID, a.SrcIP, a.OrgID
					return true
				}
			}
			return false
		})
		analyst.open("/ui/alerts/" + id)
		analyst.do("block the source", chromedp.Click(chromedp.CSS("#block-source")), chromedp.WaitVisible(chromedp.CSS("#d-value")))
		if got := evalJS[string](analyst, `[document.querySelector('#d-value').value, document.querySelector('#d-org').value, document.querySelector('#d-reason').value.includes(location.pathname.split('/').pop())].join(' ')`); got != ip+" "+org+" true" {
			t.Errorf("the decision form opens with %q, want %s of %s with the alert in the reason", got, ip, org)
		}
		analyst.do("cancel", chromedp.Click(chromedp.CSS("dialog button.ghost")))

		// And so does an incident, for any of its public sources.
		var inc struct {
			Incidents []struct {
				ID       string              `json:"id"`
				OrgID    string              `json:"org_id"`
				Entities map[string][]string `json:"entities"`
			} `json:"incidents"`
		}
		env.apiGet(t, "/api/v1/incidents?limit=500", &inc)
		found := false
		for _, i := range inc.Incidents {
			ips := slices.DeleteFunc(slices.Clone(i.Entities["src_ip"]), func(s string) bool { return !publicIP(s) })
			if len(ips) == 0 {
				continue
			}
			analyst.open("/ui/incidents/" + i.ID)
			analyst.do("block a source of the incident", chromedp.Click(chromedp.CSS("#block-source")), chromedp.WaitVisible(chromedp.CSS("#d-value")))
			if v, o := evalJS[string](analyst, `document.querySelector('#d-value').value`), evalJS[string](analyst, `document.querySelector('#d-org').value`); !slices.Contains(ips, v) || o != i.OrgID {
				t.Errorf("the decision form of incident %s opens with %s for %s, want one of %v for %s", i.ID, v, o, ips, i.OrgID)
			}
			analyst.do("cancel", chromedp.Click(chromedp.CSS("dialog button.ghost")))
			found = true
			break
		}
		if !found {
			t.Errorf("no open incident has a public source address to block")
		}
	})

	// One action blocks a campaign's infrastructure in the sectors it hit;
	// the decisions made are those of the API and listed in Prevention.
	t.Run("campaign block", func(t *testing.T) {
		analyst.use(t)
		type campaign struct {
			ID         string
			Orgs       []struct{ ID string }
			Sectors    []string
			Indicators []struct{ Kind, Value string }
		}
		var camp campaign
		blockable := func(c campaign) bool {
			return len(c.Orgs) >= 2 && slices.ContainsFunc(c.Indicators, func(i struct{ Kind, Value string }) bool {
				return i.Kind == "ip" || i.Kind == "net" || i.Kind == "domain"
			})
		}
		// Campaigns merge as they grow: the one read may be gone by the
		// time its page opens, so try again with the next.
		for try := 0; ; try++ {
			eventually(t, "a campaign with infrastructure to block", 75*time.Second, func() bool {
				var r struct{ Campaigns []campaign }
				env.apiGet(t, "/api/v1/campaigns", &r)
				i := slices.IndexFunc(r.Campaigns, blockable)
				if i >= 0 {
					camp = r.Campaigns[i]
				}
				return i >= 0
			})
			analyst.open("/ui/campaigns/" + camp.ID)
			analyst.wait("the campaign's actions", `document.querySelector('#camp-block:not([disabled])') !== null || document.querySelector('#campaign-notfound') !== null`)
			if evalJS[bool](analyst, `document.querySelector('#camp-block') !== null`) || try == 2 {
				break
			}
		}
		// The STIX export answers a bundle to the browser's session.
		evalJS[bool](analyst, `(window.__stix = null, fetch(document.querySelector('#camp-stix').href).then(r => r.json()).then(b => window.__stix = b.type + ':' + (b.objects || []).length), true)`)
		analyst.wait("the campaign's STIX bundle", `typeof window.__stix === 'string' && window.__stix.startsWith('bundle:') && window.__stix !== 'bundle:0'`)

		analyst.do("open the block dialog", chromedp.Click(chromedp.CSS("#camp-block")), chromedp.WaitVisible(chromedp.CSS("#cb-type")))
		analyst.do("for an hour, in the sectors hit", chromedp.Click(chromedp.CSS(`#cb-durations button[data-duration="1h"]`)))
		analyst.shot("campaign-block-dialog")
		analyst.do("block", chromedp.Click(chromedp.CSS("dialog button.primary")))
		analyst.wait("the decisions made", `document.querySelector('dialog[open]') === null && document.querySelector('#camp-block-result:not([hidden]) #cb-made') !== null`)
		made := evalJS[[]string](analyst, `[...document.querySelectorAll('#camp-block-result tbody tr[data-id]')].map(tr => tr.dataset.id)`)
		// The campaign may have grown since it was read: ask again for
		// the sectors it hit when it was blocked.
		var cd struct{ Campaign campaign }
		env.apiGet(t, "/api/v1/campaigns/"+camp.ID, &cd)
		camp.Sectors = cd.Campaign.Sectors
		var r struct{ Decisions []conDecision }
		env.apiGet(t, "/api/v1/decisions?limit=1000", &r)
		var ours []string
		for _, d := range r.Decisions {
			if d.Origin != "campaign" || d.OriginRef != camp.ID {
				continue
			}
			ours = append(ours, strconv.FormatInt(d.ID, 10))
			if !slices.Contains(camp.Sectors, d.Target.Sector) || d.Until.Sub(d.Created) > time.Hour+time.Minute {
				t.Errorf("campaign decision %+v: want an hour in one of the sectors %v", d, camp.Sectors)
			}
		}
		slices.Sort(made)
		made = slices.Compact(made)
		slices.Sort(ours)
		if len(made) == 0 || !slices.Equal(made, ours) {
			t.Errorf("the campaign page shows decisions %v, the API has %v", made, ours)
		}
		analyst.shot("campaign-block")
		analyst.do("see them in Prevention", chromedp.Click(chromedp.CSS("#cb-open")))
		analyst.wait("the campaign's decisions", fmt.Sprintf(`location.pathname === '/ui/decisions' && document.querySelectorAll('#dc-table tbody tr[data-id]').length === %d`, len(ours)))
		for _, o := range evalJS[[]string](analyst, `[...document.querySelectorAll('#dc-table tbody tr[data-id] td.origin a')].map(a => a.textContent)`) {
			if o != camp.ID {
				t.Errorf("a decision listed for campaign %s comes from %q", camp.ID, o)
			}
		}
	})

	// An organisation's analyst sees the decisions that apply to it, never
	// another organisation's, and may target only its own organisation.
	t.Run("organisation", func(t *testing.T) {
		mine, theirs := "45.155.205.201", "91.240.118.201"
		for _, c := range []struct{ value, org string }{{mine, own.ID}, {theirs, other.ID}} {
			body := fmt.Sprintf(`{"type": "ban", "value": %q, "duration": "4h", "target": {"org": %q}, "reason": "console test"}`, c.value, c.org)
			if code, b := env.apiCall(t, "", "POST", "/api/v1/decisions", body); code != http.StatusCreated {
				t.Fatalf("ban %s for %s: %d %s", c.value, c.org, code, b)
			}
		}
		pw := "org-prevent-pw-0123"
		if err := env.demo.srv.Auth().AddUser(context.Background(), "orgp", pw, auth.OrgAnalyst, tenant.ID(own.ID)); err != nil && !errors.Is(err, auth.ErrExists) {
			t.Fatal(err)
		}
		orgp := env.newTab(t)
		orgp.login("orgp", pw)
		orgp.open("/ui/decisions")
		orgp.wait("its organisation's ban", fmt.Sprintf(`document.querySelector('#dc-table tr[data-value=%q]') !== null`, mine))
		if vals := evalJS[[]string](orgp, `[...document.querySelectorAll('#dc-table tbody tr[data-id]')].map(tr => tr.dataset.value)`); slices.Contains(vals, theirs) {
			t.Errorf("the analyst of %s sees the ban of %s: %v", own.ID, other.ID, vals)
		}
		for _, tg := range evalJS[[]string](orgp, `[...document.querySelectorAll('#dc-table tbody tr[data-id] td.target [data-target]')].map(e => e.dataset.target)`) {
			if tg != "org:"+own.ID && tg != "sector:"+own.Sector && tg != "national" {
				t.Errorf("the analyst of %s sees a decision for %s", own.ID, tg)
			}
		}
		if txt := evalJS[string](orgp, `document.querySelector('main').textContent`); strings.Contains(txt, other.Name) {
			t.Errorf("the analyst of %s sees %q", own.ID, other.Name)
		}
		if n := evalJS[int](orgp, `document.querySelectorAll('#bouncers, #b-create').length`); n != 0 {
			t.Errorf("the analyst of %s sees the bouncers", own.ID)
		}
		orgp.do("open the form", chromedp.Click(chromedp.CSS("#dc-new")), chromedp.WaitVisible(chromedp.CSS("#d-value")))
		kinds := evalJS[[]string](orgp, `[...document.querySelectorAll('#d-target-kind option')].map(o => o.value)`)
		targets := evalJS[[]string](orgp, `[...document.querySelectorAll('#d-org option')].map(o => o.value)`)
		if !slices.Equal(kinds, []string{"org"}) || !slices.Equal(targets, []string{own.ID}) {
			t.Errorf("the analyst of %s may target %v %v, want only its organisation", own.ID, kinds, targets)
		}
		const next = "45.155.205.202"
		orgp.do("ban for its organisation", chromedp.SetValue(chromedp.CSS("#d-value"), next),
			chromedp.SetValue(chromedp.CSS("#d-reason"), "brute force against our VPN"), chromedp.Click(chromedp.CSS("dialog button.primary")))
		orgp.wait("the new ban", fmt.Sprintf(`document.querySelector('dialog[open]') === null && document.querySelector('#dc-table tr[data-value=%q]') !== null`, next))
		var r struct{ Decisions []conDecision }
		env.apiGet(t, "/api/v1/decisions?value="+next, &r)
		if len(r.Decisions) != 1 || r.Decisions[0].Target.Org != own.ID || r.Decisions[0].CreatedBy != "orgp" {
			t.Errorf("the organisation's ban is %+v, want one for %s by orgp", r.Decisions, own.ID)
		}
		orgp.shot("decisions-org")
	})

	// The national administrator makes a key for a bouncer and gets the
	// lines of its configuration; the key works at once.
	t.Run("bouncers", func(t *testing.T) {
		admin := env.newTab(t)
		admin.login("admin", info.Password)
		admin.open("/ui/decisions")
		admin.wait("the demo's bouncers", `document.querySelectorAll('#bouncers tbody tr[data-bouncer]').length > 0 && document.querySelectorAll('#b-org option').length > 1`)
		admin.do("create a key", chromedp.SendKeys(chromedp.CSS("#b-name"), "console-fw"), pick("#b-org", own.ID), chromedp.Click(chromedp.CSS("#b-create")))
		admin.wait("the key, shown once", `(document.querySelector('#b-key') || {textContent: ''}).textContent.startsWith('mmb_')`)
		key := evalJS[string](admin, `document.querySelector('#b-key').textContent`)
		if got, want := evalJS[string](admin, `document.querySelector('#b-snippet').textContent`), "api_url: "+env.url+"/\napi_key: "+key; got != want {
			t.Errorf("the configuration snippet is %q, want %q", got, want)
		}
		admin.shot("bouncer-key")
		admin.do("dismiss", chromedp.Click(chromedp.CSS("dialog button.primary")))
		admin.wait("the new bouncer", `document.querySelector('#bouncers tr[data-bouncer="console-fw"]') !== null`)
		req, _ := http.NewRequest("HEAD", env.url+"/v1/decisions/stream", nil)
		req.Header.Set("X-Api-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("the key shown does not open the bouncer API: %s", resp.Status)
		}
	})
}
