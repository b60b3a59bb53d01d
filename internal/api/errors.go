package api

import (
	"encoding/json"
	"net/http"
)

// APIError is one entry of the error catalogue: a stable code, its HTTP
// status and what it means. Clients switch on Code, never on Message.
type APIError struct {
	Code        string `json:"code"`
	Status      int    `json:"-"`
	Description string `json:"-"`
}

// The error catalogue (docs/API.md lists it; TestCatalogueDocumented checks).
var (
	ErrUnauthenticated = APIError{"unauthenticated", http.StatusUnauthorized, "No valid token or session was given."}
	ErrForbidden       = APIError{"forbidden", http.StatusForbidden, "The caller's role may not do this."}
	ErrBadRequest      = APIError{"bad_request", http.StatusBadRequest, "A parameter or the body is invalid; the message says which."}
	ErrNotFound        = APIError{"not_found", http.StatusNotFound, "No such object in the caller's scope."}
	ErrConflict        = APIError{"conflict", http.StatusConflict, "The object already exists."}
	ErrInternal        = APIError{"internal", http.StatusInternalServerError, "Mamori failed; the server log has details."}
	ErrUnavailable     = APIError{"unavailable", http.StatusServiceUnavailable, "Mamori is starting, stopping or saturated; retry later."}
)

// Catalogue lists every API error.
var Catalogue = []APIError{ErrUnauthenticated, ErrForbidden, ErrBadRequest, ErrNotFound, ErrConflict, ErrInternal, ErrUnavailable}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, e APIError, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = e.Code, msg
	if msg == "" {
		b.Error.Message = e.Description
	}
	writeJSON(w, e.Status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
