package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/mamori-soc/mamori/internal/auth"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// The console's incident, campaign and rating screens, end to end in
// Chromium against a running demo, as TestConsole does for alerts:
//
//	go test ./internal/app -run TestConsoleIncidents -v
//	go test ./internal/app -run TestConsoleIncidents -artifacts -outputdir /tmp/shots
//	go test ./internal/app -run TestConsoleIncidents -update-screenshots

func init() {
	readmeShots = append(readmeShots, "incidents", "incident", "campaigns", "campaign", "ratings", "report-card", "report")
}

// What the test reads of the API, as the console does.
type (
	conIncident struct {
		ID         string `json:"id"`
		OrgID      string `json:"org_id"`
		Status     string `json:"status"`
		Assignee   string `json:"assignee"`
		CampaignID string `json:"campaign_id"`
	}
	conCampaign struct {
		ID          string   `json:"id"`
		IncidentIDs []string `json:"incident_ids"`
		Partial     bool     `json:"partial"`
		Orgs        []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"orgs"`
	}
	conAudit struct {
		User   string `json:"user"`
		Action string `json:"action"`
		To     string `json:"to"`
	}
	conDeduction struct {
		Reason string `json:"reason"`
	}
	conRating struct {
		Org        string         `json:"org"`
		Name       string         `json:"name"`
		Sector     string         `json:"sector"`
		Deductions []conDeduction `json:"deductions"`
	}
	conRatings struct {
		National *struct {
			Score float64 `json:"score"`
		} `json:"national"`
		Sectors []struct {
			Sector string `json:"sector"`
			Grade  string `json:"grade"`
		} `json:"sectors"`
		Orgs []conRating `json:"orgs"`
	}
)

// apiTry calls the API with the demo's national token (or token) and
// decodes a 200 answer into v; it returns the status.
func (env *consoleEnv) apiTry(t *testing.T, token, path string, v any) int {
	t.Helper()
	if token == "" {
		token = env.demo.info.APIToken
	}
	req, _ := http.NewRequest("GET", env.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return resp.StatusCode
}

// eventually polls cond until it holds, for at most d.
func eventually(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(250 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
	}
}

// emulateMedia makes the page use the CSS of media ("print"), or the
// screen's again with "".
func emulateMedia(media string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: media})
		return chromedp.Void{}, err
	}
}

func TestConsoleIncidents(t *testing.T) {
	env := startConsole(t)
	info := env.demo.info
	analyst := env.newTab(t)
	analyst.login(info.Username, info.Password)

	// The national analyst works an incident: from the list by keyboard to
	// its timeline, acknowledged and assigned, and found again by filter.
	t.Run("incident triage", func(t *testing.T) {
		analyst.use(t)
		analyst.open("/ui/incidents")
		analyst.wait("incidents from the demo", `document.querySelectorAll('#i-table tbody tr[data-id] .st-new').length > 0`)
		analyst.wait("the kill-chain strips", `document.querySelectorAll('#i-table tbody tr[data-id] .killchain .kc.on').length > 0`)
		analyst.shot("incidents")
		id := evalJS[string](analyst, `document.querySelector('#i-table tbody tr[data-id] .st-new').closest('tr').dataset.id`)
		row := fmt.Sprintf(`#i-table tr[data-id=%q]`, id)
		analyst.do("highlight and open "+id, chromedp.Click(chromedp.CSS(row+" td.num")), chromedp.KeyEvent("\r"))
		analyst.wait("the incident", fmt.Sprintf(`location.pathname === '/ui/incidents/%s' && document.querySelector('#incident-title') !== null`, id))
		analyst.wait("the timeline", `document.querySelectorAll('#timeline li.tl-item').length > 0`)
		var d struct {
			Incident conIncident `json:"incident"`
			Timeline []struct {
				Alert struct {
					ID string `json:"id"`
				} `json:"alert"`
			} `json:"timeline"`
			Audit []conAudit `json:"audit"`
		}
		env.apiGet(t, "/api/v1/incidents/"+id, &d)
		// The incident may have grown since the page loaded, never shrunk.
		if n := evalJS[int](analyst, `document.querySelectorAll('#timeline li.tl-item').length`); n == 0 || n > len(d.Timeline) {
			t.Errorf("the timeline shows %d entries, the API %d", n, len(d.Timeline))
		}
		if links := evalJS[[]string](analyst, `[...document.querySelectorAll('#timeline a.tl-title')].map(a => a.getAttribute('href'))`); len(links) == 0 || !strings.HasPrefix(links[0], "/ui/alerts/") {
			t.Errorf("timeline entries link to %v, want alert pages", links)
		}
		if n := evalJS[int](analyst, `document.querySelectorAll('#entities .entity a.pv[href^="/ui/search"]').length`); n == 0 {
			t.Errorf("no entity pivots to the investigation search")
		}
		analyst.do("show the first event", chromedp.Click(chromedp.CSS("#timeline li.tl-item details.tl-event > summary")))
		analyst.wait("the event fields", `document.querySelectorAll('#timeline details[open] table.fields tbody tr').length > 0`)
		analyst.shot("incident")
		audit := evalJS[int](analyst, `document.querySelectorAll('#audit-list li').length`)
		analyst.do("acknowledge", chromedp.Click(chromedp.CSS("#t-ack")))
		analyst.wait("the acknowledged status", `document.querySelector('#t-status .st-acknowledged') !== null && document.querySelector('#audit-list li[data-to=acknowledged]') !== null`)
		if n := evalJS[int](analyst, `document.querySelectorAll('#audit-list li').length`); n <= audit {
			t.Errorf("the audit trail has %d entries after the acknowledgement, %d before", n, audit)
		}
		// Keyboard: m assigns to me.
		analyst.do("assign to me (m)", chromedp.KeyEvent("m"))
		analyst.wait("the assignee", fmt.Sprintf(`document.querySelector('#t-assignee').textContent === %q`, info.Username))
		env.apiGet(t, "/api/v1/incidents/"+id, &d)
		if d.Incident.Status != "acknowledged" || d.Incident.Assignee != info.Username {
			t.Errorf("the API has the incident %s, assigned to %q; want acknowledged, %q", d.Incident.Status, d.Incident.Assignee, info.Username)
		}
		if !slices.ContainsFunc(d.Audit, func(e conAudit) bool { return e.User == info.Username && e.To == "acknowledged" }) {
			t.Errorf("audit %+v has no acknowledgement by %s", d.Audit, info.Username)
		}
		// Back to the list (u); the filters live in the URL.
		analyst.do("back (u)", chromedp.KeyEvent("u"))
		analyst.wait("the list", `location.pathname === '/ui/incidents' && document.querySelector('#i-table table') !== null`)
		analyst.open(fmt.Sprintf("/ui/incidents?org=%s&status=acknowledged&assignee=%s", d.Incident.OrgID, info.Username))
		analyst.wait("the incident under its filters", fmt.Sprintf(`document.querySelector('%s .st-acknowledged') !== null`, row))
		if n := evalJS[int](analyst, `document.querySelectorAll('#i-filters .chip[aria-pressed=true][data-value=acknowledged], #i-mine[aria-pressed=true]').length`); n != 2 {
			t.Errorf("the filter bar shows %d of the 2 filters of the URL", n)
		}
	})

	// Campaigns form as the demo's attacker groups hit several organisations.
	var camp conCampaign
	t.Run("campaigns", func(t *testing.T) {
		analyst.use(t)
		eventually(t, "a campaign across two organisations", 75*time.Second, func() bool {
			var r struct{ Campaigns []conCampaign }
			env.apiGet(t, "/api/v1/campaigns", &r)
			for _, c := range r.Campaigns {
				if len(c.Orgs) > len(camp.Orgs) {
					camp = c
				}
			}
			return len(camp.Orgs) >= 2
		})
		analyst.open("/ui/campaigns")
		analyst.wait("the campaigns", `document.querySelectorAll('#c-table tbody tr[data-id]').length > 0`)
		analyst.shot("campaigns")
		// The campaign listed with the most organisations (campaigns merge
		// as they grow: the one read from the API above may be gone).
		id := evalJS[string](analyst, `(() => {
			let best = '', most = -1;
			for (const tr of document.querySelectorAll('#c-table tbody tr[data-id]')) {
				const n = Number(tr.querySelector('td.num').textContent.replace(/\D/g, ''));
				if (n > most) [best, most] = [tr.dataset.id, n];
			}
			return best;
		})()`)
		var cd struct{ Campaign conCampaign }
		env.apiGet(t, "/api/v1/campaigns/"+id, &cd)
		if camp = cd.Campaign; len(camp.Orgs) < 2 {
			t.Fatalf("campaign %s has %d organisations, want 2 or more", id, len(camp.Orgs))
		}
		analyst.do("open "+camp.ID, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#c-table tr[data-id=%q] a`, camp.ID))))
		analyst.wait("the organisations hit", `document.querySelectorAll('#camp-orgs tbody a[data-org]').length >= 2`)
		analyst.wait("the chart", `document.querySelector('#campaign-chart canvas') !== null`)
		orgs := evalJS[[]string](analyst, `[...document.querySelectorAll('#camp-orgs tbody a[data-org]')].map(a => a.dataset.org)`)
		for _, o := range camp.Orgs {
			if !slices.Contains(orgs, o.ID) {
				t.Errorf("the campaign page lists %v, without %s", orgs, o.ID)
			}
		}
		if n := evalJS[int](analyst, `document.querySelectorAll('#camp-indicators tbody tr button.copy').length`); n == 0 {
			t.Errorf("no indicator with a copy button")
		}
		if n := evalJS[int](analyst, `document.querySelectorAll('#camp-incidents tbody a[href^="/ui/incidents/"]').length`); n == 0 {
			t.Errorf("no incident links on the campaign page")
		}
		analyst.shot("campaign")
		analyst.do("open one of its incidents", chromedp.Click(chromedp.CSS(`#camp-incidents tbody a[href^="/ui/incidents/"]`)))
		analyst.wait("the campaign box", fmt.Sprintf(`document.querySelector('#campaign-national a#campaign-link[href="/ui/campaigns/%s"]') !== null`, camp.ID))
	})

	// An organisation's analyst sees only its incidents, and of a campaign
	// only that it exists, with its own indicators: no other organisation.
	t.Run("organisation view", func(t *testing.T) {
		if camp.ID == "" {
			t.Skip("no campaign")
		}
		own := camp.Orgs[0].ID
		var orgList struct {
			Orgs []struct{ ID, Name string }
		}
		env.apiGet(t, "/api/v1/orgs", &orgList)
		var ownName string
		var others []string
		for _, o := range orgList.Orgs {
			if o.ID == own {
				ownName = o.Name
			}
		}
		for _, o := range orgList.Orgs {
			for _, s := range []string{o.Name, o.ID} {
				if o.ID != own && !strings.Contains(ownName, s) && !strings.Contains(own, s) {
					others = append(others, s)
				}
			}
		}
		var mine struct{ Incidents []conIncident }
		env.apiGet(t, fmt.Sprintf("/api/v1/incidents?org=%s&limit=1000", own), &mine)
		pw := "org-incidents-pw-0123"
		if err := env.demo.srv.Auth().AddUser(context.Background(), "orgi", pw, auth.OrgAnalyst, tenant.ID(own)); err != nil && !errors.Is(err, auth.ErrExists) {
			t.Fatal(err)
		}
		orgi := env.newTab(t)
		orgi.login("orgi", pw)
		orgi.open("/ui/incidents")
		orgi.wait("the organisation's incidents", `document.querySelectorAll('#i-table tbody tr[data-id]').length > 0`)
		ids := evalJS[[]string](orgi, `[...document.querySelectorAll('#i-table tbody tr[data-id]')].map(r => r.dataset.id)`)
		for _, id := range ids {
			if slices.ContainsFunc(mine.Incidents, func(i conIncident) bool { return i.ID == id }) {
				continue
			}
			// Opened since the list above was read (or merged since): ask.
			var d struct{ Incident conIncident }
			if code := env.apiTry(t, "", "/api/v1/incidents/"+id, &d); code == http.StatusOK && d.Incident.OrgID != own {
				t.Errorf("the analyst of %s sees incident %s of %s", own, id, d.Incident.OrgID)
			}
		}
		if n := evalJS[int](orgi, `document.querySelectorAll('#i-org, #i-sector, td.org').length`); n != 0 {
			t.Errorf("the analyst of %s sees %d organisation or sector controls", own, n)
		}
		noOthers := func(where, sel string) {
			t.Helper()
			txt := evalJS[string](orgi, fmt.Sprintf(`document.querySelector(%q).textContent`, sel))
			for _, s := range others {
				if strings.Contains(txt, s) {
					t.Errorf("%s shows %q, another organisation, to the analyst of %s", where, s, own)
				}
			}
		}
		var inCamp string
		for _, i := range mine.Incidents {
			if i.CampaignID == camp.ID {
				inCamp = i.ID
				break
			}
		}
		if inCamp != "" {
			orgi.open("/ui/incidents/" + inCamp)
			orgi.wait("the partial campaign box", `document.querySelector('#campaign-partial') !== null`)
			if n := evalJS[int](orgi, `document.querySelectorAll('#campaign-national, #campaign .camp-orgs').length`); n != 0 {
				t.Errorf("the analyst of %s sees the national campaign box", own)
			}
			noOthers("the incident's campaign box", "#campaign")
		}
		orgi.open("/ui/campaigns/" + camp.ID)
		// The page lists exactly the indicators the API gives this
		// organisation (those of its own alerts: none when the campaign
		// linked it by a rare rule rather than shared infrastructure).
		orgi.wait("the partial campaign", fmt.Sprintf(`(() => {
			const x = new XMLHttpRequest(); x.open('GET', '/api/v1/campaigns/%s', false); x.send();
			if (x.status !== 200) return false;
			const r = JSON.parse(x.responseText), c = r.campaign || r;
			return c.partial === true && document.querySelector('#campaign-partial') !== null &&
				document.querySelector('#camp-indicators') !== null &&
				document.querySelectorAll('#camp-indicators tbody tr').length === (c.indicators || []).length;
		})()`, camp.ID))
		if n := evalJS[int](orgi, `document.querySelectorAll('#camp-orgs, #camp-sectors').length`); n != 0 {
			t.Errorf("the analyst of %s sees the organisations or sectors of the campaign", own)
		}
		noOthers("the campaign page", "main")
		orgi.shot("campaign-partial")
		orgi.open("/ui/campaigns")
		orgi.wait("the campaign list", fmt.Sprintf(`document.querySelector('#c-table tr[data-id=%q]') !== null`, camp.ID))
		noOthers("the campaign list", "main")
	})

	// Ratings: the sector board, a report card with its deductions and
	// history, and the printable report, which prints to a PDF.
	t.Run("ratings", func(t *testing.T) {
		analyst.use(t)
		if !env.apiHas(t, "GET", "/api/v1/ratings") {
			t.Fatal("the API has no GET /api/v1/ratings yet: the rating screens cannot be tested until the server provides it")
		}
		// Rate now that telemetry and incidents have arrived (the server
		// rates every minute; its first rating, at start, saw nothing).
		if _, err := env.demo.srv.rater.refresh(context.Background(), time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
		var r conRatings
		eventually(t, "the first ratings with a deduction", 75*time.Second, func() bool {
			r = conRatings{}
			return env.apiTry(t, "", "/api/v1/ratings", &r) == http.StatusOK &&
				slices.ContainsFunc(r.Orgs, func(o conRating) bool { return len(o.Deductions) > 0 })
		})
		analyst.open("/ui/ratings")
		analyst.wait("the sector board", fmt.Sprintf(`document.querySelectorAll('#r-sectors li[data-sector] .grade').length === %d`, len(r.Sectors)))
		analyst.wait("the trends", `document.querySelector('#r-trends canvas') !== null && /\d/.test(document.querySelector('#r-national-score').textContent)`)
		for _, g := range evalJS[[]string](analyst, `[...document.querySelectorAll('#r-sectors li[data-sector] .grade')].map(e => e.textContent)`) {
			if !slices.Contains([]string{"A", "B", "C", "D", "F"}, g) {
				t.Errorf("a sector shows grade %q", g)
			}
		}
		analyst.shot("ratings")
		analyst.do("open a sector", chromedp.Click(chromedp.CSS(`#r-sectors li[data-sector] a`)))
		analyst.wait("the sector's organisations", `document.querySelectorAll('#sector-orgs tbody tr[data-org]').length > 0 && document.querySelector('#sector-history canvas') !== null`)
		analyst.shot("rating-sector")

		// The report card of the organisation that lost the most points.
		o := r.Orgs[0]
		for _, x := range r.Orgs {
			if len(x.Deductions) > len(o.Deductions) {
				o = x
			}
		}
		analyst.open("/ui/ratings/org/" + o.Org)
		analyst.wait("the deductions", `document.querySelectorAll('#rc-deductions li .ded-reason').length > 0`)
		analyst.wait("the history chart", `document.querySelector('#rc-history canvas') !== null && document.querySelector('#rc-sector') !== null`)
		// Ratings are recomputed every minute: the page shows this rating or the next.
		reasons := evalJS[[]string](analyst, `[...document.querySelectorAll('#rc-deductions li .ded-reason')].map(e => e.textContent)`)
		var now conRatings
		env.apiTry(t, "", "/api/v1/ratings", &now)
		known := func(reason string) bool {
			for _, rs := range []conRatings{r, now} {
				for _, x := range rs.Orgs {
					if x.Org == o.Org && slices.Contains(x.Deductions, conDeduction{Reason: reason}) {
						return true
					}
				}
			}
			return false
		}
		if !known(reasons[0]) {
			t.Errorf("the report card of %s shows deduction %q, which the API does not give (%v)", o.Org, reasons[0], o.Deductions)
		}
		if n := evalJS[int](analyst, `document.querySelectorAll('#rc-factors tbody tr[data-factor]').length`); n == 0 {
			t.Errorf("no factor breakdown")
		}
		analyst.shot("report-card")

		analyst.do("open the printable report", chromedp.Click(chromedp.CSS("#rc-report")))
		analyst.wait("the report", `document.querySelector('#report[data-ready=true]') !== null && document.querySelector('#report-chart canvas') !== null`)
		if got := evalJS[string](analyst, `document.querySelector('#report-subject').textContent`); got != o.Name {
			t.Errorf("the report is about %q, want %q", got, o.Name)
		}
		analyst.fullShot("report")
		// Printed, the report has no navigation and no buttons.
		analyst.do("print media", emulateMedia("print"))
		if hidden := evalJS[bool](analyst, `document.querySelector('.topbar').getClientRects().length === 0 && document.querySelector('#print').getClientRects().length === 0 && document.querySelector('#report').getClientRects().length > 0`); !hidden {
			t.Errorf("the printed report shows the navigation or the print button")
		}
		analyst.do("screen media", emulateMedia(""))
		ctx, cancel := context.WithTimeout(analyst.ctx, 60*time.Second)
		defer cancel()
		pdf, err := chromedp.Run(ctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4), chromedp.PDFPreferCSSPageSize(), chromedp.PDFPrintBackground()))
		if err != nil {
			t.Fatalf("print the report to PDF: %v", err)
		}
		if len(pdf) < 1000 || !bytes.HasPrefix(pdf, []byte("%PDF")) {
			t.Errorf("the report printed to %d bytes starting %q, want a PDF", len(pdf), pdf[:min(8, len(pdf))])
		}
		if err := os.WriteFile(filepath.Join(t.ArtifactDir(), "report.pdf"), pdf, 0o644); err != nil {
			t.Error(err)
		}

		analyst.open(fmt.Sprintf("/ui/ratings/sector/%s/report", o.Sector))
		analyst.wait("the sector report", `document.querySelector('#report[data-ready=true]') !== null && document.querySelectorAll('#report-orgs tbody tr').length > 0`)
		analyst.shot("report-sector")
		analyst.open("/ui/")
		analyst.wait("the rating on the situation screen", `document.querySelector('#kpi-rating .grade') !== null`)
	})

	// An organisation lands on its own report card and sees its sector's
	// average, never the nation's or another organisation's.
	t.Run("organisation rating", func(t *testing.T) {
		var r conRatings
		if env.apiTry(t, "", "/api/v1/ratings", &r) != http.StatusOK || len(r.Orgs) < 2 {
			t.Fatalf("ratings: %+v", r)
		}
		own := r.Orgs[0]
		pw := "org-rating-pw-0123"
		if err := env.demo.srv.Auth().AddUser(context.Background(), "orgr", pw, auth.OrgViewer, tenant.ID(own.Org)); err != nil && !errors.Is(err, auth.ErrExists) {
			t.Fatal(err)
		}
		orgr := env.newTab(t)
		orgr.login("orgr", pw)
		orgr.open("/ui/ratings")
		orgr.wait("its own report card", fmt.Sprintf(`location.pathname === '/ui/ratings/org/%s' && document.querySelector('#rc-score') !== null && document.querySelector('#rc-sector') !== null`, own.Org))
		txt := evalJS[string](orgr, `document.querySelector('main').textContent`)
		if strings.Contains(txt, "National average") {
			t.Errorf("the organisation sees the national average")
		}
		for _, o := range r.Orgs[1:] {
			if strings.Contains(txt, o.Name) && !strings.Contains(own.Name, o.Name) {
				t.Errorf("the report card of %s shows %q", own.Org, o.Name)
			}
		}
		orgr.shot("report-card-org")
	})
}
