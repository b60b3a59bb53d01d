package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/mamori-soc/mamori/internal/auth"
	"github.com/mamori-soc/mamori/internal/query"
	"github.com/mamori-soc/mamori/internal/tenant"
)

func (a *API) ratings(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	v, err := a.o.Query.Ratings(r.Context(), p.Scope())
	if errors.Is(err, query.ErrNoRatings) {
		writeError(w, ErrUnavailable, "the ratings are being computed; try again in a few seconds")
		return
	}
	if err != nil {
		a.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *API) ratingHistory(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := r.URL.Query()
	req := query.HistoryRequest{Orgs: list(q["org"])}
	for _, s := range list(q["sector"]) {
		sec, err := tenant.ParseSector(s)
		if err != nil {
			writeError(w, ErrBadRequest, err.Error())
			return
		}
		req.Sectors = append(req.Sectors, sec)
	}
	switch q.Get("national") {
	case "", "0", "false":
	default:
		req.National = true
	}
	if d := q.Get("days"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > 366 {
			writeError(w, ErrBadRequest, fmt.Sprintf("days must be 1-366, got %q", d))
			return
		}
		req.Days = n
	}
	series, err := a.o.Query.RatingHistory(r.Context(), p.Scope(), req, time.Now().UTC())
	if err != nil {
		a.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"series": series})
}
