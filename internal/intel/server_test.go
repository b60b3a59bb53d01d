package intel

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/ioc"
	"github.com/mamori-soc/mamori/internal/tenant"
)

func TestDiscoveryAndAPIRoot(t *testing.T) {
	e := newTestEnv(t, func(c *ServerConfig) { c.Description = "National hub"; c.Contact = "soc@example.org" })
	var d Discovery
	r := e.get(t, "/taxii2/", "tok-partner", http.StatusOK, &d)
	if ct := r.header.Get("Content-Type"); ct != MediaTypeTAXII {
		t.Errorf("Content-Type %q", ct)
	}
	if d.Title != "Mamori TAXII 2.1" || d.Default != e.root || !slices.Equal(d.APIRoots, []string{e.root}) || d.Contact != "soc@example.org" {
		t.Errorf("discovery %+v", d)
	}
	var a APIRoot
	e.get(t, "/taxii2/api/", "tok-partner", http.StatusOK, &a)
	if a.Title == "" || !slices.Equal(a.Versions, []string{MediaTypeTAXII}) || a.MaxContentLength != 10<<20 {
		t.Errorf("api root %+v", a)
	}
	// Without the trailing slash too, and through a configured base URL.
	e.get(t, "/taxii2", "tok-partner", http.StatusOK, nil)
	e2 := newTestEnv(t, func(c *ServerConfig) { c.BaseURL = "https://mamori.example.org/taxii2" })
	e2.get(t, "/taxii2/", "tok-partner", http.StatusOK, &d)
	if d.Default != "https://mamori.example.org/taxii2/api/" {
		t.Errorf("discovery default with BaseURL = %q", d.Default)
	}
	e.get(t, "/taxii2/other/", "tok-partner", http.StatusNotFound, nil)
}

func TestAuthentication(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, tok := range []string{"", "wrong"} {
		r := e.do(t, http.MethodGet, "/taxii2/api/collections/", tok, "")
		if r.code != http.StatusUnauthorized {
			t.Fatalf("token %q: %d", tok, r.code)
		}
		ch := strings.Join(r.header.Values("WWW-Authenticate"), ", ")
		if !strings.Contains(ch, "Basic") || !strings.Contains(ch, "Bearer") {
			t.Errorf("WWW-Authenticate %q", ch)
		}
		var er Error
		r.decode(t, &er)
		if er.Title == "" || er.HTTPStatus != "401" || r.header.Get("Content-Type") != MediaTypeTAXII {
			t.Errorf("401 error resource %+v", er)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, e.root+"collections/", nil)
	req.SetBasicAuth("soc", "s3cret")
	req.Header.Set("Accept", MediaTypeTAXII)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("Basic auth: %d", resp.StatusCode)
	}
}

func TestMediaTypes(t *testing.T) {
	e := newTestEnv(t, nil)
	for accept, want := range map[string]int{
		MediaTypeTAXII:                            200,
		"application/taxii+json; version=2.1":     200,
		"application/taxii+json":                  200,
		"text/html, application/taxii+json;q=0.9": 200,
		"*/*":                                200,
		"application/taxii+json;version=2.0": 406,
		"application/json":                   406,
		"application/stix+json;version=2.1":  406,
	} {
		r := e.do(t, http.MethodGet, "/taxii2/api/", "tok-soc", "", "Accept", accept)
		if r.code != want {
			t.Errorf("Accept %q: %d, want %d", accept, r.code, want)
		}
		if r.code == 406 {
			var er Error
			r.decode(t, &er)
			if er.HTTPStatus != "406" {
				t.Errorf("406 body %s", r.body)
			}
		}
	}
	env := `{"objects":[]}`
	for ct, want := range map[string]int{
		MediaTypeTAXII:                       202,
		"application/taxii+json":             202,
		"application/json":                   415,
		"application/taxii+json;version=2.0": 415,
		"application/stix+json;version=2.1":  415,
	} {
		r := e.do(t, http.MethodPost, "/taxii2/api/collections/indicators/objects/", "tok-soc", env, "Content-Type", ct)
		if r.code != want {
			t.Errorf("Content-Type %q: %d %s, want %d", ct, r.code, r.body, want)
		}
	}
}

func TestCollectionsAndRights(t *testing.T) {
	e := newTestEnv(t, nil)
	list := func(tok string) map[string]Collection {
		var cs Collections
		e.get(t, "/taxii2/api/collections/", tok, http.StatusOK, &cs)
		m := map[string]Collection{}
		for _, c := range cs.Collections {
			if c.ID != CollectionID(c.Alias) || c.Title == "" || !slices.Equal(c.MediaTypes, []string{MediaTypeSTIX}) {
				t.Errorf("collection %+v", c)
			}
			m[c.Alias] = c
		}
		return m
	}
	nat := list("tok-soc")
	if len(nat) != 2+len(tenant.Sectors) || !nat["indicators"].CanWrite || !nat["sector-water"].CanRead {
		t.Errorf("national collections %v", nat)
	}
	if ro := list("tok-analyst"); ro["indicators"].CanWrite || !ro["indicators"].CanRead {
		t.Errorf("read-only national %+v", ro["indicators"])
	}
	a := list("tok-a")
	want := map[string][2]bool{"indicators": {true, false}, "sightings": {true, true}, "sector-finance": {true, true}}
	if len(a) != len(want) {
		t.Errorf("org-a sees %d collections, want %d", len(a), len(want))
	}
	for alias, rw := range want {
		if c, ok := a[alias]; !ok || c.CanRead != rw[0] || c.CanWrite != rw[1] {
			t.Errorf("org-a %s: %+v, want read %v write %v", alias, c, rw[0], rw[1])
		}
	}
	if p := list("tok-partner"); len(p) != 1 || !p["indicators"].CanRead || p["indicators"].CanWrite {
		t.Errorf("partner sees %v", p)
	}

	// One collection by id and by alias.
	var c Collection
	e.get(t, "/taxii2/api/collections/"+CollectionID("sector-finance")+"/", "tok-b", http.StatusOK, &c)
	if c.Alias != "sector-finance" || !c.CanRead {
		t.Errorf("collection %+v", c)
	}
	// An organisation of another sector cannot read a sector feed; orgs cannot write national indicators.
	for _, tc := range []struct{ method, path, tok string }{
		{http.MethodGet, "/taxii2/api/collections/sector-finance/", "tok-c"},
		{http.MethodGet, "/taxii2/api/collections/sector-finance/objects/", "tok-c"},
		{http.MethodGet, "/taxii2/api/collections/sector-finance/manifest/", "tok-c"},
		{http.MethodGet, "/taxii2/api/collections/sightings/objects/", "tok-partner"},
		{http.MethodPost, "/taxii2/api/collections/indicators/objects/", "tok-a"},
		{http.MethodPost, "/taxii2/api/collections/indicators/objects/", "tok-analyst"},
		{http.MethodPost, "/taxii2/api/collections/indicators/objects/", "tok-partner"},
		{http.MethodPost, "/taxii2/api/collections/sector-finance/objects/", "tok-c"},
	} {
		r := e.do(t, tc.method, tc.path, tc.tok, `{"objects":[]}`)
		var er Error
		r.decode(t, &er)
		if r.code != http.StatusForbidden || er.HTTPStatus != "403" {
			t.Errorf("%s %s as %s = %d %s, want 403", tc.method, tc.path, tc.tok, r.code, r.body)
		}
	}
	// Unknown things are 404, wrong methods 405.
	for _, p := range []string{"/taxii2/api/collections/nope/", "/taxii2/api/collections/nope/objects/",
		"/taxii2/api/collections/indicators/objects/indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f/",
		"/taxii2/api/status/8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f/", "/taxii2/nope/", "/taxii2/api/foo/"} {
		e.get(t, p, "tok-soc", http.StatusNotFound, nil)
	}
	if r := e.do(t, http.MethodPut, "/taxii2/api/collections/indicators/objects/", "tok-soc", "{}"); r.code != http.StatusMethodNotAllowed || r.header.Get("Allow") == "" {
		t.Errorf("PUT = %d, Allow %q", r.code, r.header.Get("Allow"))
	}
}

// tlpFixture stores one indicator per TLP/ownership case; each value is
// its name so tests can read the results.
func tlpFixture(t *testing.T, e *testEnv) {
	t.Helper()
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	mk := func(name, tlp, owner string, labels ...string) ioc.Indicator {
		return ioc.Indicator{ID: "t:" + name, Kind: ioc.Domain, Value: name + ".example", TLP: tlp, Owner: owner, Labels: labels, Source: "test", Created: at, Modified: at}
	}
	e.put(t,
		mk("clear", ioc.TLPClear, ""),
		mk("green-a", ioc.TLPGreen, "org-a"),
		mk("amber-a", ioc.TLPAmber, "org-a"),
		mk("amber-nat", ioc.TLPAmber, ""),
		mk("strict-a", ioc.TLPAmberStrict, "org-a"),
		mk("red-a", ioc.TLPRed, "org-a"),
		mk("red-nat", ioc.TLPRed, ""),
		mk("amber-c", ioc.TLPAmber, "org-c"),
		mk("green-energy", ioc.TLPGreen, "", "sector:energy-power"),
	)
}

func names(objs []map[string]any) []string {
	var out []string
	for _, o := range objs {
		out = append(out, strings.TrimSuffix(o["name"].(string), ".example"))
	}
	slices.Sort(out)
	return out
}

func TestTLPAndOwnership(t *testing.T) {
	e := newTestEnv(t, nil)
	tlpFixture(t, e)
	all := []string{"amber-a", "amber-c", "amber-nat", "clear", "green-a", "green-energy", "red-a", "red-nat", "strict-a"}
	tests := []struct {
		coll, tok string
		want      []string
	}{
		{"indicators", "tok-soc", all},
		{"indicators", "tok-analyst", all},
		// The owner sees all of its own; its sector peer sees amber of the sector and national amber; never strict or red.
		{"indicators", "tok-a", []string{"amber-a", "amber-nat", "clear", "green-a", "green-energy", "red-a", "strict-a"}},
		{"indicators", "tok-b", []string{"amber-a", "amber-nat", "clear", "green-a", "green-energy"}},
		{"indicators", "tok-c", []string{"amber-c", "amber-nat", "clear", "green-a", "green-energy"}},
		// External partners get clear and green only.
		{"indicators", "tok-partner", []string{"clear", "green-a", "green-energy"}},
		// Sector feeds hold the sector's organisations' indicators and those labelled for it.
		{"sector-finance", "tok-b", []string{"amber-a", "green-a"}},
		{"sector-finance", "tok-a", []string{"amber-a", "green-a", "red-a", "strict-a"}},
		{"sector-finance", "tok-soc", []string{"amber-a", "green-a", "red-a", "strict-a"}},
		{"sector-energy-power", "tok-c", []string{"amber-c", "green-energy"}},
	}
	for _, tc := range tests {
		t.Run(tc.coll+"/"+tc.tok, func(t *testing.T) {
			objs := e.objects(t, tc.coll, tc.tok, "")
			if got := names(objs); !slices.Equal(got, tc.want) {
				t.Errorf("got %v\nwant %v", got, tc.want)
			}
			for _, o := range objs {
				name := strings.TrimSuffix(o["name"].(string), ".example")
				tlp := map[string]string{"clear": "clear", "green": "green", "amber": "amber", "strict": "amber+strict", "red": "red"}[strings.Split(name, "-")[0]]
				if refs := strs(o["object_marking_refs"]); !slices.Equal(refs, []string{TLPMarkingRef(tlp)}) {
					t.Errorf("%s carries markings %v, want TLP %s", name, refs, tlp)
				}
				validateSTIX(t, mustJSON(t, o))
			}
		})
	}
	// amber+strict of org A is not even addressable by org B.
	strict := IndicatorID(ioc.Indicator{ID: "t:strict-a"})
	e.get(t, "/taxii2/api/collections/indicators/objects/"+strict+"/", "tok-b", http.StatusNotFound, nil)
	e.get(t, "/taxii2/api/collections/indicators/objects/"+strict+"/", "tok-a", http.StatusOK, nil)
	e.get(t, "/taxii2/api/collections/indicators/objects/"+strict+"/versions/", "tok-b", http.StatusNotFound, nil)
	var m Manifest
	e.get(t, "/taxii2/api/collections/indicators/manifest/", "tok-partner", http.StatusOK, &m)
	if len(m.Objects) != 3 {
		t.Errorf("partner manifest lists %d objects, want 3", len(m.Objects))
	}
}

func TestPaginationAndAddedAfter(t *testing.T) {
	e := newTestEnv(t, func(c *ServerConfig) { c.PageSize = 10 })
	var inds []ioc.Indicator
	for i := range 25 {
		inds = append(inds, ioc.Indicator{ID: fmt.Sprintf("p:%02d", i), Kind: ioc.IP, Value: fmt.Sprintf("192.0.2.%d", i+1), TLP: ioc.TLPGreen})
	}
	e.put(t, inds...)
	stored := e.inds.all()

	var got []string
	var firstPageLast string
	next := ""
	for page := 0; ; page++ {
		q := "?limit=100" // capped at PageSize
		if next != "" {
			q += "&next=" + next
		}
		var env Envelope
		r := e.get(t, "/taxii2/api/collections/indicators/objects/"+q, "tok-partner", http.StatusOK, &env)
		wantN, wantMore := 10, page < 2
		if page == 2 {
			wantN = 5
		}
		if len(env.Objects) != wantN || env.More != wantMore || (env.Next != "") != wantMore {
			t.Fatalf("page %d: %d objects, more %v, next %q", page, len(env.Objects), env.More, env.Next)
		}
		first, last := r.header.Get("X-TAXII-Date-Added-First"), r.header.Get("X-TAXII-Date-Added-Last")
		if first != formatDateAdded(stored[page*10].Added) || last != formatDateAdded(stored[page*10+wantN-1].Added) {
			t.Errorf("page %d: date added %s..%s", page, first, last)
		}
		if page == 0 {
			firstPageLast = last
		}
		for _, o := range env.Objects {
			var m map[string]any
			if err := jsonUnmarshal(o, &m); err != nil {
				t.Fatal(err)
			}
			got = append(got, m["name"].(string))
		}
		if !env.More {
			break
		}
		next = env.Next
	}
	var want []string
	for _, s := range stored {
		want = append(want, s.Value)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages gave\n%v\nwant (in date_added order)\n%v", got, want)
	}
	// added_after the first page's last object: the 15 others.
	if objs := e.objects(t, "indicators", "tok-partner", "added_after="+firstPageLast); len(objs) != 15 {
		t.Errorf("added_after %s: %d objects, want 15", firstPageLast, len(objs))
	}
	lastAll := formatDateAdded(stored[24].Added)
	e.put(t, ioc.Indicator{ID: "p:new", Kind: ioc.IP, Value: "192.0.2.200", TLP: ioc.TLPGreen})
	if objs := e.objects(t, "indicators", "tok-partner", "added_after="+lastAll); len(objs) != 1 || objs[0]["name"] != "192.0.2.200" {
		t.Errorf("added_after the last object: %v", names(objs))
	}
	for _, bad := range []string{"limit=0", "limit=x", "added_after=yesterday", "next=notatoken", "match[version]=newest", "match[color]=red"} {
		e.get(t, "/taxii2/api/collections/indicators/objects/?"+bad, "tok-partner", http.StatusBadRequest, nil)
	}
}

func TestPostObjectsAndStatus(t *testing.T) {
	e := newTestEnv(t, nil)
	ind := func(id, pattern, tlpRef string) string {
		return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"%s","created":"2026-02-01T10:00:00.000Z","modified":"2026-02-02T10:00:00.000Z","pattern":%q,"pattern_type":"stix","valid_from":"2026-02-01T10:00:00Z","object_marking_refs":["%s"]}`, id, pattern, tlpRef)
	}
	ok1 := "indicator--11111111-1111-4111-8111-111111111111"
	ok2 := "indicator--22222222-2222-4222-8222-222222222222"
	env := `{"objects":[` + strings.Join([]string{
		ind(ok1, "[ipv4-addr:value = '203.0.113.50']", TLPGreenID),
		ind(ok2, "[domain-name:value = 'phish.example']", TLPAmberID),
		ind("indicator--33333333-3333-4333-8333-333333333333", "[process:name = 'evil.exe']", TLPGreenID),
		`{"type":"malware","spec_version":"2.1","id":"malware--44444444-4444-4444-8444-444444444444","created":"2026-02-01T10:00:00.000Z","modified":"2026-02-01T10:00:00.000Z","name":"x","is_family":false}`,
		`{"type":"indicator","id":"indicator--nope"}`,
	}, ",") + `]}`
	r := e.do(t, http.MethodPost, "/taxii2/api/collections/indicators/objects/", "tok-soc", env)
	if r.code != http.StatusAccepted {
		t.Fatalf("POST = %d %s", r.code, r.body)
	}
	var st Status
	r.decode(t, &st)
	if st.Status != "complete" || st.TotalCount != 5 || st.SuccessCount != 2 || st.FailureCount != 3 || st.PendingCount != 0 ||
		len(st.Successes) != 2 || st.Successes[0].ID != ok1 || st.Successes[0].Version != "2026-02-02T10:00:00.000Z" {
		t.Fatalf("status %+v", st)
	}
	for _, f := range st.Failures {
		if f.Message == "" {
			t.Errorf("failure without message: %+v", f)
		}
	}
	var again Status
	e.get(t, "/taxii2/api/status/"+st.ID+"/", "tok-soc", http.StatusOK, &again)
	if again.ID != st.ID || again.SuccessCount != 2 {
		t.Errorf("status %+v", again)
	}
	e.get(t, "/taxii2/api/status/"+st.ID+"/", "tok-analyst", http.StatusOK, nil) // national
	e.get(t, "/taxii2/api/status/"+st.ID+"/", "tok-a", http.StatusNotFound, nil)

	// Stored through the injected store, national (no owner), and served back under the posted ids.
	got, ok := e.inds.get(ok1)
	if !ok || got.Owner != "" || got.Source != "soc" || got.TLP != ioc.TLPGreen || got.Value != "203.0.113.50" {
		t.Errorf("stored %+v", got)
	}
	var one Envelope
	e.get(t, "/taxii2/api/collections/indicators/objects/"+ok2+"/", "tok-c", http.StatusOK, &one) // amber national → any constituent
	if len(one.Objects) != 1 || !strings.Contains(string(one.Objects[0]), `phish.example`) {
		t.Errorf("object %s", one.Objects)
	}
	e.get(t, "/taxii2/api/collections/indicators/objects/"+ok2+"/", "tok-partner", http.StatusNotFound, nil)

	// An organisation shares an unmarked indicator in its sector feed: it owns it, it is amber, its sector reads it.
	r = e.do(t, http.MethodPost, "/taxii2/api/collections/sector-finance/objects/", "tok-a",
		`{"objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--55555555-5555-4555-8555-555555555555","created":"2026-02-01T10:00:00.000Z","modified":"2026-02-01T10:00:00.000Z","pattern":"[url:value = 'http://bad.example/x']","pattern_type":"stix","valid_from":"2026-02-01T10:00:00Z"}]}`)
	r.decode(t, &st)
	if r.code != http.StatusAccepted || st.SuccessCount != 1 {
		t.Fatalf("org POST = %d %s", r.code, r.body)
	}
	got, _ = e.inds.get("indicator--55555555-5555-4555-8555-555555555555")
	if got.Owner != "org-a" || got.TLP != ioc.TLPAmber || !slices.Contains(got.Labels, "sector:finance") {
		t.Errorf("org-shared indicator stored as %+v", got)
	}
	if n := names(e.objects(t, "sector-finance", "tok-b", "")); !slices.Contains(n, "http://bad.example/x") {
		t.Errorf("sector peer does not see it: %v", n)
	}
	if n := names(e.objects(t, "indicators", "tok-c", "")); slices.Contains(n, "http://bad.example/x") {
		t.Error("another sector sees an organisation's amber indicator")
	}
	e.get(t, "/taxii2/api/status/"+st.ID+"/", "tok-b", http.StatusNotFound, nil)

	// Bad bodies.
	for body, want := range map[string]int{"{not json": 400, `{"objects":"x"}`: 400} {
		if r := e.do(t, http.MethodPost, "/taxii2/api/collections/indicators/objects/", "tok-soc", body); r.code != want {
			t.Errorf("POST %q = %d, want %d", body, r.code, want)
		}
	}
	small := newTestEnv(t, func(c *ServerConfig) { c.MaxContentLength = 100 })
	if r := small.do(t, http.MethodPost, "/taxii2/api/collections/indicators/objects/", "tok-soc", env); r.code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized POST = %d", r.code)
	}
	// A failing store turns every would-be success into a failure.
	e.inds.putErr = fmt.Errorf("disk full")
	r = e.do(t, http.MethodPost, "/taxii2/api/collections/indicators/objects/", "tok-soc", env)
	r.decode(t, &st)
	if r.code != http.StatusAccepted || st.SuccessCount != 0 || st.FailureCount != 5 || !strings.Contains(st.Failures[len(st.Failures)-1].Message, "disk full") {
		t.Errorf("POST with failing store: %d %+v", r.code, st)
	}
}

func TestSightingsCollection(t *testing.T) {
	e := newTestEnv(t, nil)
	sighting := func(id, modified string) string {
		return fmt.Sprintf(`{"type":"sighting","spec_version":"2.1","id":"%s","created":"2026-03-01T00:00:00.000Z","modified":"%s","sighting_of_ref":"indicator--11111111-1111-4111-8111-111111111111","count":2}`, id, modified)
	}
	sa := "sighting--aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	sc := "sighting--cccccccc-cccc-4ccc-8ccc-cccccccccccc"
	post := func(tok, body string) {
		t.Helper()
		r := e.do(t, http.MethodPost, "/taxii2/api/collections/sightings/objects/", tok, `{"objects":[`+body+`]}`)
		var st Status
		r.decode(t, &st)
		if r.code != http.StatusAccepted || st.FailureCount != 0 {
			t.Fatalf("POST sightings as %s = %d %s", tok, r.code, r.body)
		}
	}
	post("tok-a", sighting(sa, "2026-03-01T00:00:00.000Z")+","+sighting(sa, "2026-03-02T00:00:00.000Z")+","+sighting(sa, "2026-03-03T00:00:00.000Z"))
	post("tok-c", sighting(sc, "2026-03-01T00:00:00.000Z"))
	post("tok-soc", `{"type":"identity","spec_version":"2.1","id":"identity--dddddddd-dddd-4ddd-8ddd-dddddddddddd","created":"2026-03-01T00:00:00.000Z","modified":"2026-03-01T00:00:00.000Z","name":"x"},`+
		`{"type":"identity","spec_version":"2.0","id":"identity--eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee","created":"2026-03-01T00:00:00.000Z","modified":"2026-03-01T00:00:00.000Z","name":"old"},`+
		`{"type":"identity","spec_version":"2.1","id":"identity--eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee","created":"2026-03-01T00:00:00.000Z","modified":"2026-03-05T00:00:00.000Z","name":"new"}`)

	ids := func(objs []map[string]any) []string {
		var out []string
		for _, o := range objs {
			out = append(out, o["id"].(string)+"@"+o["modified"].(string))
		}
		slices.Sort(out)
		return out
	}
	v := func(id, day string) string { return id + "@2026-03-" + day + "T00:00:00.000Z" }
	tests := []struct {
		tok, query string
		want       []string
	}{
		{"tok-a", "", []string{v(sa, "03")}}, // its own, last version
		{"tok-b", "", nil},                   // nobody else's
		{"tok-c", "", []string{v(sc, "01")}},
		{"tok-soc", "match[type]=sighting", []string{v(sa, "03"), v(sc, "01")}},
		{"tok-soc", "match[type]=sighting&match[version]=all", []string{v(sa, "01"), v(sa, "02"), v(sa, "03"), v(sc, "01")}},
		{"tok-soc", "match[id]=" + sa + "&match[version]=first", []string{v(sa, "01")}},
		{"tok-soc", "match[id]=" + sa + "&match[version]=first,last", []string{v(sa, "01"), v(sa, "03")}},
		{"tok-soc", "match[id]=" + sa + "&match[version]=2026-03-02T00:00:00.000Z", []string{v(sa, "02")}},
		{"tok-soc", "match[type]=identity", []string{"identity--dddddddd-dddd-4ddd-8ddd-dddddddddddd@2026-03-01T00:00:00.000Z", "identity--eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee@2026-03-05T00:00:00.000Z"}},
		{"tok-soc", "match[type]=identity&match[spec_version]=2.0", []string{"identity--eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee@2026-03-01T00:00:00.000Z"}},
		{"tok-soc", "match[type]=identity,sighting&match[id]=identity--dddddddd-dddd-4ddd-8ddd-dddddddddddd," + sc, []string{"identity--dddddddd-dddd-4ddd-8ddd-dddddddddddd@2026-03-01T00:00:00.000Z", v(sc, "01")}},
	}
	for _, tc := range tests {
		if got := ids(e.objects(t, "sightings", tc.tok, tc.query)); !slices.Equal(got, tc.want) {
			t.Errorf("%s %s:\n got %v\nwant %v", tc.tok, tc.query, got, tc.want)
		}
	}
	var vs Versions
	e.get(t, "/taxii2/api/collections/sightings/objects/"+sa+"/versions/", "tok-a", http.StatusOK, &vs)
	if !slices.Equal(vs.Versions, []string{"2026-03-01T00:00:00.000Z", "2026-03-02T00:00:00.000Z", "2026-03-03T00:00:00.000Z"}) || vs.More {
		t.Errorf("versions %+v", vs)
	}
	e.get(t, "/taxii2/api/collections/sightings/objects/"+sa+"/versions/", "tok-b", http.StatusNotFound, nil)
	var m Manifest
	r := e.get(t, "/taxii2/api/collections/sightings/manifest/?match[type]=sighting&match[version]=all&limit=2", "tok-soc", http.StatusOK, &m)
	if len(m.Objects) != 2 || !m.More || m.Next == "" || r.header.Get("X-TAXII-Date-Added-First") != m.Objects[0].DateAdded {
		t.Fatalf("manifest %+v", m)
	}
	for _, rec := range m.Objects {
		if rec.ID != sa || rec.MediaType != MediaTypeSTIX || len(rec.DateAdded) != len("2026-03-01T00:00:00.000000Z") || rec.Version == "" {
			t.Errorf("manifest record %+v", rec)
		}
	}
	// Nor overwrite it by posting the same id.
	r = e.do(t, http.MethodPost, "/taxii2/api/collections/sightings/objects/", "tok-c", `{"objects":[`+sighting(sa, "2026-03-03T00:00:00.000Z")+`]}`)
	var st Status
	r.decode(t, &st)
	if st.FailureCount != 1 || !strings.Contains(st.Failures[0].Message, "another organisation") {
		t.Errorf("org-c posting org-a's sighting id: %s", r.body)
	}
	// Deleting: C cannot touch A's sighting (it cannot see it); A can.
	if r := e.do(t, http.MethodDelete, "/taxii2/api/collections/sightings/objects/"+sa+"/", "tok-c", ""); r.code != http.StatusNotFound {
		t.Errorf("DELETE of another org's sighting = %d", r.code)
	}
	if r := e.do(t, http.MethodDelete, "/taxii2/api/collections/sightings/objects/"+sa+"/", "tok-a", ""); r.code != http.StatusOK {
		t.Errorf("DELETE own sighting = %d %s", r.code, r.body)
	}
	e.get(t, "/taxii2/api/collections/sightings/objects/"+sa+"/", "tok-soc", http.StatusNotFound, nil)
}

func TestDeleteIndicators(t *testing.T) {
	e := newTestEnv(t, nil)
	tlpFixture(t, e)
	path := func(coll, name string) string {
		return "/taxii2/api/collections/" + coll + "/objects/" + IndicatorID(ioc.Indicator{ID: "t:" + name}) + "/"
	}
	for _, tc := range []struct {
		coll, name, tok string
		want            int
	}{
		{"indicators", "clear", "tok-a", http.StatusForbidden},       // organisations do not write national indicators
		{"sector-finance", "green-a", "tok-b", http.StatusForbidden}, // nor delete a peer's
		{"sector-finance", "green-a", "tok-a", http.StatusOK},        // but their own
		{"indicators", "clear", "tok-analyst", http.StatusForbidden}, // read-only national
		{"indicators", "clear", "tok-soc", http.StatusOK},            // national writer
		{"indicators", "clear", "tok-soc", http.StatusNotFound},      // gone
		{"sector-finance", "strict-a", "tok-b", http.StatusNotFound}, // not visible to B at all
	} {
		if r := e.do(t, http.MethodDelete, path(tc.coll, tc.name), tc.tok, ""); r.code != tc.want {
			t.Errorf("DELETE %s/%s as %s = %d %s, want %d", tc.coll, tc.name, tc.tok, r.code, r.body, tc.want)
		}
	}
	if _, ok := e.inds.get("t:green-a"); ok {
		t.Error("green-a still stored")
	}
}
