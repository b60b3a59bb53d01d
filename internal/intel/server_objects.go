package intel

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mamori-soc/mamori/internal/ioc"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// entry is one version of one object of a collection, as a caller may see it.
type entry struct {
	id, typ, spec string
	version       time.Time // STIX modified (millisecond precision)
	added         time.Time // date_added (microsecond precision)
	ind           *StoredIndicator
	raw           json.RawMessage
}

func compareEntries(a, b *entry) int {
	if c := a.added.Compare(b.added); c != 0 {
		return c
	}
	if c := strings.Compare(a.id, b.id); c != 0 {
		return c
	}
	return a.version.Compare(b.version)
}

// indicatorTimes returns the created and modified times IndicatorObject
// gives ind.
func indicatorTimes(ind *ioc.Indicator) (created, modified time.Time) {
	created = firstNonZero(ind.Created, ind.ValidFrom, epoch)
	modified = firstNonZero(ind.Modified, created)
	if modified.Before(created) {
		modified = created
	}
	return created, modified
}

func (s *Server) sectorOf(id string) tenant.Sector {
	if id == "" || s.cfg.SectorOf == nil {
		return ""
	}
	return s.cfg.SectorOf(tenant.ID(id))
}

// inSector reports whether ind belongs to the feed of sector sec: it is
// labelled for it, or its owner is of that sector.
func (s *Server) inSector(ind *ioc.Indicator, sec tenant.Sector) bool {
	return slices.Contains(ind.Labels, sectorLabel(sec)) || (ind.Owner != "" && s.sectorOf(ind.Owner) == sec)
}

// list returns what c may see of col that was added after t.
func (s *Server) list(ctx context.Context, c Caller, col *collection, t time.Time) ([]*entry, error) {
	var out []*entry
	if col.kind == collSightings {
		objs, err := s.cfg.Objects.Since(ctx, col.alias, t)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", col.alias, err)
		}
		for i := range objs {
			o := &objs[i]
			if !c.National && o.Owner != c.Org {
				continue
			}
			out = append(out, &entry{id: o.ID, typ: o.Type, spec: cmp.Or(o.SpecVersion, SpecVersion),
				version: o.Version.UTC().Truncate(time.Millisecond), added: o.Added.UTC().Truncate(time.Microsecond), raw: o.JSON})
		}
		return out, nil
	}
	inds, err := s.cfg.Indicators.Since(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("list indicators: %w", err)
	}
	for i := range inds {
		ind := &inds[i]
		if col.kind == collSector && !s.inSector(&ind.Indicator, col.sector) {
			continue
		}
		if !c.CanSee(ind.Indicator, s.sectorOf(ind.Owner)) {
			continue
		}
		_, mod := indicatorTimes(&ind.Indicator)
		out = append(out, &entry{id: IndicatorID(ind.Indicator), typ: "indicator", spec: SpecVersion,
			version: mod.Truncate(time.Millisecond), added: ind.Added.UTC().Truncate(time.Microsecond), ind: ind})
	}
	return out, nil
}

// query is the parsed filter and paging parameters of a GET.
type query struct {
	after    time.Time
	ids      map[string]bool
	types    map[string]bool
	versions []string        // first, last, all, or STIX timestamps; default last
	specs    map[string]bool // nil: only each object's latest spec_version
	limit    int
	next     *cursor
}

type cursor struct {
	added   time.Time
	id      string
	version time.Time
}

func (c cursor) encode() string {
	s := strconv.FormatInt(c.added.UnixMicro(), 10) + "|" + strconv.FormatInt(c.version.UnixMilli(), 10) + "|" + c.id
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decodeCursor(s string) (*cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("next is not a token this server gave")
	}
	parts := strings.SplitN(string(b), "|", 3)
	if len(parts) != 3 {
		return nil, errors.New("next is not a token this server gave")
	}
	a, err1 := strconv.ParseInt(parts[0], 10, 64)
	v, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return nil, errors.New("next is not a token this server gave")
	}
	return &cursor{added: time.UnixMicro(a).UTC(), version: time.UnixMilli(v).UTC(), id: parts[2]}, nil
}

func splitList(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func setOf(vals []string) map[string]bool {
	if len(vals) == 0 {
		return nil
	}
	m := make(map[string]bool, len(vals))
	for _, v := range vals {
		m[v] = true
	}
	return m
}

// parseQuery reads the TAXII filter parameters; allowed lists the match[…]
// fields the endpoint takes.
func (s *Server) parseQuery(v url.Values, allowed ...string) (*query, error) {
	q := &query{limit: s.cfg.PageSize, versions: []string{"last"}}
	for k := range v {
		if f, ok := strings.CutPrefix(k, "match["); ok {
			f = strings.TrimSuffix(f, "]")
			if !slices.Contains(allowed, f) {
				return nil, fmt.Errorf("filter %q is not supported here", k)
			}
		}
	}
	if a := v.Get("added_after"); a != "" {
		t, err := time.Parse(time.RFC3339Nano, a)
		if err != nil {
			return nil, fmt.Errorf("added_after %q is not an RFC 3339 timestamp", a)
		}
		q.after = t.UTC()
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("limit %q is not a positive integer", l)
		}
		q.limit = min(n, s.cfg.PageSize)
	}
	if n := v.Get("next"); n != "" {
		c, err := decodeCursor(n)
		if err != nil {
			return nil, err
		}
		q.next = c
	}
	q.ids = setOf(splitList(strings.Join(v["match[id]"], ",")))
	q.types = setOf(splitList(strings.Join(v["match[type]"], ",")))
	q.specs = setOf(splitList(strings.Join(v["match[spec_version]"], ",")))
	if vs := splitList(strings.Join(v["match[version]"], ",")); len(vs) > 0 {
		for _, x := range vs {
			if x == "first" || x == "last" || x == "all" {
				continue
			}
			if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
				return nil, fmt.Errorf("match[version] %q is not first, last, all or a timestamp", x)
			}
		}
		q.versions = vs
	}
	return q, nil
}

// filter applies q's match filters and added_after to entries, sorts them
// by date added and returns them.
func (q *query) filter(entries []*entry) []*entry {
	byID := map[string][]*entry{}
	var ids []string
	for _, e := range entries {
		if (q.ids != nil && !q.ids[e.id]) || (q.types != nil && !q.types[e.typ]) || (q.specs != nil && !q.specs[e.spec]) {
			continue
		}
		if _, ok := byID[e.id]; !ok {
			ids = append(ids, e.id)
		}
		byID[e.id] = append(byID[e.id], e)
	}
	var out []*entry
	for _, id := range ids {
		vs := byID[id]
		if q.specs == nil { // only the latest spec_version of each object
			latest := slices.MaxFunc(vs, func(a, b *entry) int { return strings.Compare(a.spec, b.spec) }).spec
			vs = slices.DeleteFunc(vs, func(e *entry) bool { return e.spec != latest })
		}
		slices.SortFunc(vs, func(a, b *entry) int { return a.version.Compare(b.version) })
		var pick []*entry
		for _, v := range q.versions {
			switch v {
			case "all":
				pick = append(pick, vs...)
			case "first":
				pick = append(pick, vs[0])
			case "last":
				pick = append(pick, vs[len(vs)-1])
			default:
				t, _ := time.Parse(time.RFC3339Nano, v)
				for _, e := range vs {
					if e.version.Equal(t.UTC().Truncate(time.Millisecond)) {
						pick = append(pick, e)
					}
				}
			}
		}
		slices.SortFunc(pick, compareEntries)
		pick = slices.Compact(pick)
		for _, e := range pick {
			if q.after.IsZero() || e.added.After(q.after) {
				out = append(out, e)
			}
		}
	}
	slices.SortFunc(out, compareEntries)
	return out
}

// page cuts one page after q.next and reports whether more follow.
func (q *query) page(entries []*entry) (page []*entry, more bool) {
	if q.next != nil {
		c := &entry{added: q.next.added, id: q.next.id, version: q.next.version}
		i, _ := slices.BinarySearchFunc(entries, c, compareEntries)
		for i < len(entries) && compareEntries(entries[i], c) <= 0 {
			i++
		}
		entries = entries[i:]
	}
	if len(entries) > q.limit {
		return entries[:q.limit], true
	}
	return entries, false
}

type view int

const (
	viewObjects view = iota
	viewManifest
	viewVersions
)

// getObjects answers GET objects/, objects/{id}/, objects/{id}/versions/
// and manifest/ (objectID "" for the collection-wide ones).
func (s *Server) getObjects(w http.ResponseWriter, r *http.Request, c Caller, col *collection, objectID string, v view) {
	allowed := []string{"id", "type", "version", "spec_version"}
	switch {
	case v == viewVersions:
		allowed = []string{"spec_version"}
	case objectID != "":
		allowed = []string{"version", "spec_version"}
	}
	q, err := s.parseQuery(r.URL.Query(), allowed...)
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "Bad request", err.Error())
		return
	}
	if objectID != "" {
		q.ids = map[string]bool{objectID: true}
	}
	if v == viewVersions {
		q.versions = []string{"all"}
	}
	entries, err := s.list(r.Context(), c, col, q.after)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "Internal error", err.Error())
		return
	}
	entries = q.filter(entries)
	if objectID != "" && len(entries) == 0 && q.after.IsZero() && q.next == nil {
		s.fail(w, r, http.StatusNotFound, "Object not found", fmt.Sprintf("no object %q in collection %q", objectID, col.alias))
		return
	}
	page, more := q.page(entries)
	var next string
	if more {
		last := page[len(page)-1]
		next = cursor{added: last.added, id: last.id, version: last.version}.encode()
	}
	if len(page) > 0 {
		w.Header().Set("X-TAXII-Date-Added-First", formatDateAdded(page[0].added))
		w.Header().Set("X-TAXII-Date-Added-Last", formatDateAdded(page[len(page)-1].added))
	}
	switch v {
	case viewManifest:
		res := Manifest{More: more, Next: next}
		for _, e := range page {
			res.Objects = append(res.Objects, ManifestRecord{ID: e.id, DateAdded: formatDateAdded(e.added), Version: T(e.version).String(), MediaType: "application/stix+json;version=" + e.spec})
		}
		writeJSON(w, http.StatusOK, res)
	case viewVersions:
		res := Versions{More: more, Next: next}
		for _, e := range page {
			res.Versions = append(res.Versions, T(e.version).String())
		}
		writeJSON(w, http.StatusOK, res)
	default:
		res := Envelope{More: more, Next: next}
		for _, e := range page {
			raw := e.raw
			if e.ind != nil {
				o, err := IndicatorObject(e.ind.Indicator)
				if err == nil {
					raw, err = marshalObject(o)
				}
				if err != nil {
					s.log.Warn("taxii: indicator left out", "id", e.ind.ID, "error", err)
					continue
				}
			}
			res.Objects = append(res.Objects, raw)
		}
		writeJSON(w, http.StatusOK, res)
	}
}

// objectHead is what the server reads of a posted object.
type objectHead struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	SpecVersion string `json:"spec_version"`
	Created     *Time  `json:"created"`
	Modified    *Time  `json:"modified"`
}

func (h *objectHead) version(now time.Time) time.Time {
	switch {
	case h.Modified != nil:
		return h.Modified.UTC()
	case h.Created != nil:
		return h.Created.UTC()
	}
	return now
}

// addObjects answers POST objects/: every object is checked and stored on
// its own, and the status resource says which were kept and why others
// were not.
func (s *Server) addObjects(w http.ResponseWriter, r *http.Request, c Caller, col *collection) {
	if !isTAXII(r.Header.Get("Content-Type"), false) {
		s.fail(w, r, http.StatusUnsupportedMediaType, "Unsupported media type", "post an envelope as "+MediaTypeTAXII)
		return
	}
	if r.ContentLength > s.cfg.MaxContentLength {
		s.fail(w, r, http.StatusRequestEntityTooLarge, "Request too large", fmt.Sprintf("the body is over the API root's max_content_length of %d bytes", s.cfg.MaxContentLength))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxContentLength))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			s.fail(w, r, http.StatusRequestEntityTooLarge, "Request too large", fmt.Sprintf("the body is over the API root's max_content_length of %d bytes", s.cfg.MaxContentLength))
			return
		}
		s.fail(w, r, http.StatusBadRequest, "Bad request", "cannot read the body: "+err.Error())
		return
	}
	var env struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		s.fail(w, r, http.StatusBadRequest, "Bad request", "the body is not a TAXII envelope: "+err.Error())
		return
	}
	now := s.cfg.Now().UTC()
	st := Status{ID: uuid4(), Status: "complete", RequestTimestamp: formatDateAdded(now), TotalCount: len(env.Objects)}
	fail := func(id, version, msg string) {
		st.Failures = append(st.Failures, StatusDetail{ID: id, Version: version, Message: msg})
	}
	type kept struct {
		detail StatusDetail
		inds   []ioc.Indicator
		obj    *StoredObject
	}
	// An organisation may not replace or add versions to another's objects.
	foreign := map[string]bool{}
	if col.kind == collSightings && !c.National {
		objs, err := s.cfg.Objects.Since(r.Context(), col.alias, time.Time{})
		if err != nil {
			s.fail(w, r, http.StatusInternalServerError, "Internal error", err.Error())
			return
		}
		for _, o := range objs {
			if o.Owner != c.Org {
				foreign[o.ID] = true
			}
		}
	}
	var ok []kept
	for _, raw := range env.Objects {
		var h objectHead
		if err := json.Unmarshal(raw, &h); err != nil {
			fail("", "", "not a STIX object: "+err.Error())
			continue
		}
		ver := h.version(now)
		verS := T(ver).String()
		if h.Type == "" || !ValidID(h.ID, h.Type) {
			fail(h.ID, verS, fmt.Sprintf("id %q is not a STIX identifier of type %q", h.ID, h.Type))
			continue
		}
		if h.SpecVersion != "" && h.SpecVersion != "2.0" && h.SpecVersion != "2.1" {
			fail(h.ID, verS, fmt.Sprintf("spec_version %q is not supported", h.SpecVersion))
			continue
		}
		d := StatusDetail{ID: h.ID, Version: verS}
		if col.kind == collSightings {
			if foreign[h.ID] {
				fail(h.ID, verS, "another organisation's object has this id")
				continue
			}
			ok = append(ok, kept{detail: d, obj: &StoredObject{ID: h.ID, Type: h.Type, SpecVersion: cmp.Or(h.SpecVersion, SpecVersion),
				Version: ver, Added: now, Owner: c.Org, JSON: raw}})
			continue
		}
		if h.Type != "indicator" {
			fail(h.ID, verS, fmt.Sprintf("collection %q keeps only indicator objects", col.alias))
			continue
		}
		inds, errs := s.cfg.Parse(bytes.NewReader(wrapBundle(raw)), c.Name)
		if len(errs) > 0 {
			fail(h.ID, verS, errors.Join(errs...).Error())
			continue
		}
		if len(inds) == 0 {
			fail(h.ID, verS, "its pattern holds no indicator Mamori can match (ip, cidr, domain, url or file hash)")
			continue
		}
		for i := range inds {
			s.claim(&inds[i], c, col)
		}
		ok = append(ok, kept{detail: d, inds: inds})
	}
	var inds []ioc.Indicator
	var objs []StoredObject
	for _, k := range ok {
		inds = append(inds, k.inds...)
		if k.obj != nil {
			objs = append(objs, *k.obj)
		}
	}
	var storeErr error
	if len(inds) > 0 {
		storeErr = s.cfg.Indicators.Put(r.Context(), inds)
	}
	if len(objs) > 0 && storeErr == nil {
		storeErr = s.cfg.Objects.Add(r.Context(), col.alias, objs)
	}
	for _, k := range ok {
		if storeErr != nil {
			fail(k.detail.ID, k.detail.Version, "cannot store it: "+storeErr.Error())
			continue
		}
		k.detail.Message = fmt.Sprintf("added to collection %q", col.alias)
		st.Successes = append(st.Successes, k.detail)
	}
	if storeErr != nil {
		s.log.Error("taxii: cannot store posted objects", "collection", col.alias, "caller", c.Name, "error", storeErr)
	}
	st.SuccessCount, st.FailureCount = len(st.Successes), len(st.Failures)
	s.saveStatus(c.Name, st)
	writeJSON(w, http.StatusAccepted, st)
}

// claim applies the poster's ownership to an indicator it posted: an
// organisation owns what it posts (amber when unmarked, so it stays within
// its sector); what national callers post is national (no owner); what is
// posted to a sector feed is labelled for that sector.
func (s *Server) claim(ind *ioc.Indicator, c Caller, col *collection) {
	if c.National {
		ind.Owner = ""
	} else {
		ind.Owner = string(c.Org)
		if ind.TLP == "" {
			ind.TLP = ioc.TLPAmber
		}
	}
	if col.kind == collSector && !slices.Contains(ind.Labels, sectorLabel(col.sector)) {
		ind.Labels = append(slices.Clone(ind.Labels), sectorLabel(col.sector))
	}
}

// wrapBundle puts one object into a bundle for the parser.
func wrapBundle(obj json.RawMessage) []byte {
	var b bytes.Buffer
	b.WriteString(`{"type":"bundle","id":"bundle--`)
	b.WriteString(uuid4())
	b.WriteString(`","objects":[`)
	b.Write(obj)
	b.WriteString(`]}`)
	return b.Bytes()
}

// deleteObject answers DELETE objects/{id}/: it removes every version of
// the object. Organisations delete only what they own.
func (s *Server) deleteObject(w http.ResponseWriter, r *http.Request, c Caller, col *collection, objectID string) {
	entries, err := s.list(r.Context(), c, col, time.Time{})
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "Internal error", err.Error())
		return
	}
	var iocIDs []string
	found := false
	for _, e := range entries {
		if e.id != objectID {
			continue
		}
		found = true
		if e.ind != nil {
			if !c.National && e.ind.Owner != string(c.Org) {
				s.fail(w, r, http.StatusForbidden, "Forbidden", fmt.Sprintf("%s may delete only its own indicators", c.Name))
				return
			}
			iocIDs = append(iocIDs, e.ind.ID)
		}
	}
	if !found {
		s.fail(w, r, http.StatusNotFound, "Object not found", fmt.Sprintf("no object %q in collection %q", objectID, col.alias))
		return
	}
	if col.kind == collSightings {
		_, err = s.cfg.Objects.Delete(r.Context(), col.alias, objectID)
	} else {
		_, err = s.cfg.Indicators.Delete(r.Context(), iocIDs)
	}
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "Internal error", "cannot delete: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", MediaTypeTAXII)
	w.WriteHeader(http.StatusOK)
}
