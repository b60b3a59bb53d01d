package intel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/mamori-soc/mamori/internal/ioc"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// memIndicators is an in-memory Indicators: a test double of Mamori's
// indicator store. Added times strictly increase, as the real store's must.
type memIndicators struct {
	mu     sync.Mutex
	last   time.Time
	m      map[string]StoredIndicator
	putErr error // when set, Put fails with it
	puts   int
}

func newMemIndicators() *memIndicators { return &memIndicators{m: map[string]StoredIndicator{}} }

func (s *memIndicators) Put(_ context.Context, inds []ioc.Indicator) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.puts++
	if s.putErr != nil {
		return s.putErr
	}
	for _, ind := range inds {
		added := time.Now().UTC()
		if !added.After(s.last.Add(time.Microsecond)) {
			added = s.last.Add(time.Microsecond)
		}
		s.last = added
		if ind.ID == "" {
			ind.ID = string(ind.Kind) + ":" + ind.Value
		}
		s.m[ind.ID] = StoredIndicator{Indicator: ind, Added: added}
	}
	return nil
}

func (s *memIndicators) Since(_ context.Context, t time.Time) ([]StoredIndicator, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []StoredIndicator
	for _, v := range s.m {
		if v.Added.After(t) {
			out = append(out, v)
		}
	}
	return out, nil
}

func (s *memIndicators) Delete(_ context.Context, ids []string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, id := range ids {
		if _, ok := s.m[id]; ok {
			delete(s.m, id)
			n++
		}
	}
	return n, nil
}

func (s *memIndicators) all() []StoredIndicator {
	out, _ := s.Since(context.Background(), time.Time{})
	slices.SortFunc(out, func(a, b StoredIndicator) int { return a.Added.Compare(b.Added) })
	return out
}

func (s *memIndicators) get(id string) (StoredIndicator, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[id]
	return v, ok
}

var (
	patValueRe = regexp.MustCompile(`(?s)^\[(ipv4-addr|ipv6-addr|domain-name|url):value (=|ISSUBSET) '((?:[^'\\]|\\.)*)'\]$`)
	patHashRe  = regexp.MustCompile(`^\[file:hashes\.(MD5|'MD5'|'SHA-1'|'SHA-256') = '([0-9a-fA-F]+)'\]$`)
)

// testParse is a test double of ioc.ParseSTIX: it reads the indicators of
// a STIX bundle whose pattern is one comparison of the forms Mamori writes.
func testParse(r io.Reader, source string) ([]ioc.Indicator, []error) {
	var b struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.NewDecoder(r).Decode(&b); err != nil {
		return nil, []error{err}
	}
	var out []ioc.Indicator
	var errs []error
	for _, raw := range b.Objects {
		var o struct {
			Type, ID, Pattern, Description string
			PatternType                    string   `json:"pattern_type"`
			Labels                         []string `json:"labels"`
			Confidence                     int      `json:"confidence"`
			Markings                       []string `json:"object_marking_refs"`
			Created, Modified              Time
			ValidFrom                      Time `json:"valid_from"`
			ValidUntil                     Time `json:"valid_until"`
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			errs = append(errs, err)
			continue
		}
		if o.Type != "indicator" {
			continue
		}
		ind := ioc.Indicator{ID: o.ID, Source: source, Confidence: o.Confidence, Labels: o.Labels, Description: o.Description,
			ValidFrom: o.ValidFrom.Time, ValidUntil: o.ValidUntil.Time, Created: o.Created.Time, Modified: o.Modified.Time}
		if tlp, ok := TLPOf(o.Markings); ok {
			ind.TLP = tlp
		}
		if m := patValueRe.FindStringSubmatch(o.Pattern); m != nil {
			ind.Value = regexp.MustCompile(`(?s)\\(.)`).ReplaceAllString(m[3], "$1")
			switch {
			case m[2] == "ISSUBSET":
				ind.Kind = ioc.CIDR
			case m[1] == "domain-name":
				ind.Kind = ioc.Domain
			case m[1] == "url":
				ind.Kind = ioc.URL
			default:
				ind.Kind = ioc.IP
			}
		} else if m := patHashRe.FindStringSubmatch(o.Pattern); m != nil {
			ind.Value = strings.ToLower(m[2])
			ind.Kind = map[string]ioc.Kind{"MD5": ioc.MD5, "'MD5'": ioc.MD5, "'SHA-1'": ioc.SHA1, "'SHA-256'": ioc.SHA256}[m[1]]
		} else {
			errs = append(errs, fmt.Errorf("indicator %s: unsupported pattern %q", o.ID, o.Pattern))
			continue
		}
		out = append(out, ind)
	}
	return out, errs
}

// Test callers: organisations A and B of the finance sector, C of energy,
// an external partner, and the national SOC.
var (
	callerA       = Caller{Name: "org-a", Org: "org-a", Sector: tenant.Finance, Write: true}
	callerB       = Caller{Name: "org-b", Org: "org-b", Sector: tenant.Finance, Write: true}
	callerC       = Caller{Name: "org-c", Org: "org-c", Sector: tenant.EnergyPower, Write: true}
	callerPartner = Caller{Name: "cert-partner"}
	callerNatRO   = Caller{Name: "analyst", National: true}
	callerNat     = Caller{Name: "soc", National: true, Write: true}
	testCallers   = map[string]Caller{"tok-a": callerA, "tok-b": callerB, "tok-c": callerC, "tok-partner": callerPartner, "tok-analyst": callerNatRO, "tok-soc": callerNat}
)

func testSectorOf(id tenant.ID) tenant.Sector {
	for _, c := range testCallers {
		if c.Org == id {
			return c.Sector
		}
	}
	return ""
}

// testAuth accepts a Bearer token of testCallers, or Basic user "soc" with
// password "s3cret" (the national SOC).
func testAuth(r *http.Request) (Caller, error) {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		if c, ok := testCallers[tok]; ok {
			return c, nil
		}
		return Caller{}, ErrUnauthenticated
	}
	if u, p, ok := r.BasicAuth(); ok && u == "soc" && p == "s3cret" {
		return callerNat, nil
	}
	return Caller{}, ErrUnauthenticated
}

type testEnv struct {
	srv  *Server
	http *httptest.Server
	inds *memIndicators
	objs *MemObjects
	root string // the API root URL
}

func newTestEnv(t *testing.T, mod func(*ServerConfig)) *testEnv {
	t.Helper()
	e := &testEnv{inds: newMemIndicators(), objs: NewMemObjects()}
	cfg := ServerConfig{Authenticate: testAuth, Indicators: e.inds, Objects: e.objs, Parse: testParse, SectorOf: testSectorOf,
		Log: slog.New(slog.DiscardHandler)}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	mux := http.NewServeMux()
	mux.Handle("/taxii2/", srv)
	e.http = httptest.NewServer(mux)
	t.Cleanup(e.http.Close)
	e.root = e.http.URL + "/taxii2/api/"
	return e
}

// put stores indicators directly (as Mamori's other writers would).
func (e *testEnv) put(t *testing.T, inds ...ioc.Indicator) {
	t.Helper()
	if err := e.inds.Put(context.Background(), inds); err != nil {
		t.Fatal(err)
	}
}

type response struct {
	code   int
	header http.Header
	body   []byte
}

func (r *response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request with a Bearer token ("" for none) and TAXII Accept.
func (e *testEnv) do(t *testing.T, method, path, token string, body string, hdr ...string) *response {
	t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = e.http.URL + path
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", MediaTypeTAXII)
	if body != "" {
		req.Header.Set("Content-Type", MediaTypeTAXII)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{code: resp.StatusCode, header: resp.Header, body: b}
}

// get fetches path and fails the test unless it answers want.
func (e *testEnv) get(t *testing.T, path, token string, want int, v any) *response {
	t.Helper()
	r := e.do(t, http.MethodGet, path, token, "")
	if r.code != want {
		t.Fatalf("GET %s as %s = %d %s, want %d", path, token, r.code, r.body, want)
	}
	if v != nil {
		r.decode(t, v)
	}
	return r
}

// objects fetches every page of a collection's objects as token and
// returns them decoded.
func (e *testEnv) objects(t *testing.T, coll, token, query string) []map[string]any {
	t.Helper()
	var out []map[string]any
	next := ""
	for range 100 {
		q := query
		if next != "" {
			q += "&next=" + next
		}
		var env struct {
			More    bool             `json:"more"`
			Next    string           `json:"next"`
			Objects []map[string]any `json:"objects"`
		}
		e.get(t, "/taxii2/api/collections/"+coll+"/objects/?"+q, token, http.StatusOK, &env)
		out = append(out, env.Objects...)
		if !env.More {
			return out
		}
		next = env.Next
	}
	t.Fatal("more than 100 pages")
	return nil
}

func values(objs []map[string]any, key string) []string {
	var out []string
	for _, o := range objs {
		out = append(out, fmt.Sprint(o[key]))
	}
	slices.Sort(out)
	return out
}

// --- STIX 2.1 JSON schemas ---

const schemaBase = "http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/"

var (
	schemaOnce sync.Once
	schemaComp *jsonschema.Compiler
	schemaErr  error
	// schemaMissing is the directory where the schemas were looked for, when absent.
	schemaMissing string
	schemaMu      sync.Mutex
	schemas       = map[string]*jsonschema.Schema{}
)

// schemaDir is where the official STIX 2.1 JSON schemas are: in the shared
// test data ($MAMORI_TESTDATA/stix2-json-schemas, default ../shared/data
// beside the repository), put there by `make testdata`. They are never
// committed here.
func schemaDir() string {
	dir := os.Getenv("MAMORI_TESTDATA")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data")
	}
	return filepath.Join(dir, "stix2-json-schemas")
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func loadSchemas() {
	dir := schemaDir()
	c := jsonschema.NewCompiler()
	if !isDir(filepath.Join(dir, "schemas")) {
		schemaMissing = dir
		schemaComp = c
		return
	}
	schemaErr = filepath.WalkDir(filepath.Join(dir, "schemas"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		rel, _ := filepath.Rel(dir, p)
		return c.AddResource(schemaBase+filepath.ToSlash(rel), doc)
	})
	if schemaErr != nil {
		schemaErr = fmt.Errorf("STIX 2.1 JSON schemas at %s (oasis-open/cti-stix2-json-schemas): %w", dir, schemaErr)
	}
	schemaComp = c
}

func schemaFor(t testing.TB, rel string) *jsonschema.Schema {
	t.Helper()
	schemaOnce.Do(loadSchemas)
	if schemaMissing != "" {
		// Announced by `make test` (it prints whether schema validation ran).
		t.Skipf("STIX 2.1 schema validation NOT RUN: the official schemas are not at %s (run `make testdata`)", schemaMissing)
	}
	if schemaErr != nil {
		t.Fatal(schemaErr)
	}
	schemaMu.Lock()
	defer schemaMu.Unlock()
	if s, ok := schemas[rel]; ok {
		return s
	}
	s, err := schemaComp.Compile(schemaBase + rel)
	if err != nil {
		t.Fatalf("compile schema %s: %v", rel, err)
	}
	schemas[rel] = s
	return s
}

var schemaOfType = map[string]string{
	"indicator": "schemas/sdos/indicator.json", "sighting": "schemas/sros/sighting.json",
	"relationship": "schemas/sros/relationship.json", "attack-pattern": "schemas/sdos/attack-pattern.json",
	"campaign": "schemas/sdos/campaign.json", "identity": "schemas/sdos/identity.json",
	"marking-definition": "schemas/common/marking-definition.json", "bundle": "schemas/common/bundle.json",
}

// validateSTIX checks one STIX object (or a bundle) against the official
// schema of its type.
func validateSTIX(t testing.TB, raw []byte) {
	t.Helper()
	var head struct{ Type string }
	if err := json.Unmarshal(raw, &head); err != nil {
		t.Fatalf("not JSON: %v: %s", err, raw)
	}
	rel, ok := schemaOfType[head.Type]
	if !ok {
		t.Fatalf("no schema for STIX type %q", head.Type)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if err := schemaFor(t, rel).Validate(inst); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			t.Fatalf("%s does not validate against %s:\n%s\n%s", head.Type, rel, ve, raw)
		}
		t.Fatalf("%s: %v", rel, err)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonschemaUnmarshal(doc string) (any, error) {
	return jsonschema.UnmarshalJSON(strings.NewReader(doc))
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
