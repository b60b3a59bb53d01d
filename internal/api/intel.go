package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/mamori-soc/mamori/internal/auth"
	"github.com/mamori-soc/mamori/internal/ioc"
	"github.com/mamori-soc/mamori/internal/query"
	"github.com/mamori-soc/mamori/internal/store"
)

// maxImport bounds an indicator import body.
const maxImport = 64 << 20

func (a *API) listIndicators(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := r.URL.Query()
	iq := ioc.Query{Kind: ioc.Kind(q.Get("kind")), Source: q.Get("source"), Text: strings.TrimSpace(q.Get("q")), Active: q.Get("active") == "true"}
	var err error
	if iq.Limit, err = limitParam(q.Get("limit")); err == nil && q.Get("offset") != "" {
		if iq.Offset, err = strconv.Atoi(q.Get("offset")); err != nil || iq.Offset < 0 {
			err = fmt.Errorf("offset must be a whole number of at least 0, got %q", q.Get("offset"))
		}
	}
	if err == nil && iq.Kind != "" && !iq.Kind.Valid() {
		err = fmt.Errorf("unknown kind %q (want ip, cidr, domain, url, md5, sha1 or sha256)", iq.Kind)
	}
	if err != nil {
		writeError(w, ErrBadRequest, err.Error())
		return
	}
	inds, total, err := a.o.Query.ListIndicators(r.Context(), p.Scope(), iq)
	if err != nil {
		a.decisionError(w, err)
		return
	}
	if inds == nil {
		inds = []ioc.Indicator{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"indicators": inds, "total": total})
}

// importIndicators takes a STIX 2.1 bundle, a MISP event, or a plain or CSV
// list (?format=stix|misp|list|csv) as the body.
func (a *API) importIndicators(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := r.URL.Query()
	source := strings.TrimSpace(q.Get("source"))
	if source == "" {
		source = "analyst:" + p.Name
	}
	opts := ioc.ListOptions{TLP: q.Get("tlp"), Column: q.Get("column")}
	if c := q.Get("confidence"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 || n > 100 {
			writeError(w, ErrBadRequest, fmt.Sprintf("confidence must be 0-100, got %q", c))
			return
		}
		opts.Confidence = n
	}
	if l := q.Get("labels"); l != "" {
		opts.Labels = strings.Split(l, ",")
	}
	body := http.MaxBytesReader(w, r.Body, maxImport)
	added, updated, errs, err := a.o.Query.ImportIndicators(r.Context(), p.Scope(), q.Get("format"), source, body, opts)
	if errors.Is(err, ioc.ErrMalformed) {
		writeError(w, ErrBadRequest, err.Error())
		return
	}
	if err != nil {
		a.decisionError(w, err)
		return
	}
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	writeJSON(w, http.StatusOK, map[string]any{"added": added, "updated": updated, "errors": msgs})
}

func (a *API) deleteIndicator(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	n, err := a.o.Query.DeleteIndicators(r.Context(), p.Scope(), []string{r.PathValue("id")})
	if err != nil {
		a.decisionError(w, err)
		return
	}
	if n == 0 {
		writeError(w, ErrNotFound, "no such indicator")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// exportSTIX answers a STIX 2.1 bundle: of a campaign (?campaign=ID,
// national roles) or of the confirmed alerts of the caller's scope since a
// time (?since=7d). ?anonymise=false keeps organisation names.
func (a *API) exportSTIX(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := r.URL.Query()
	since, err := parseTime(q.Get("since"))
	if err != nil {
		writeError(w, ErrBadRequest, err.Error())
		return
	}
	b, errs, err := a.o.Query.ExportSTIX(r.Context(), p.Scope(), q.Get("campaign"), since, a.o.Producer, q.Get("anonymise") != "false")
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, ErrNotFound, "no such campaign in your scope")
		return
	}
	if errors.Is(err, query.ErrForbidden) {
		writeError(w, ErrForbidden, err.Error())
		return
	}
	if err != nil {
		a.internal(w, err)
		return
	}
	for _, e := range errs {
		a.o.Log.Warn("stix export", "err", e)
	}
	w.Header().Set("Content-Type", "application/stix+json;version=2.1")
	writeJSON(w, http.StatusOK, b)
}

func (a *API) indicatorSources(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	feeds, partners, err := a.o.Query.IndicatorSources(r.Context(), p.Scope())
	if err != nil {
		a.decisionError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"feeds": feeds, "partners": partners})
}
