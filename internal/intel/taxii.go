package intel

import (
	"encoding/json"
	"mime"
	"strings"
	"time"
)

// MediaTypeTAXII is the media type of every TAXII 2.1 resource.
const MediaTypeTAXII = "application/taxii+json;version=2.1"

// Discovery is the TAXII 2.1 discovery resource (GET /taxii2/).
type Discovery struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Contact     string   `json:"contact,omitempty"`
	Default     string   `json:"default,omitempty"`
	APIRoots    []string `json:"api_roots,omitempty"`
}

// APIRoot is the TAXII 2.1 API root information resource.
type APIRoot struct {
	Title            string   `json:"title"`
	Description      string   `json:"description,omitempty"`
	Versions         []string `json:"versions"`
	MaxContentLength int64    `json:"max_content_length"`
}

// Collection is the TAXII 2.1 collection resource, as seen by one caller
// (CanRead and CanWrite are that caller's rights).
type Collection struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Alias       string   `json:"alias,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types,omitempty"`
}

// Collections is the TAXII 2.1 collections resource.
type Collections struct {
	Collections []Collection `json:"collections,omitempty"`
}

// Envelope is the TAXII 2.1 envelope: a page of STIX objects.
type Envelope struct {
	More    bool              `json:"more"`
	Next    string            `json:"next,omitempty"`
	Objects []json.RawMessage `json:"objects,omitempty"`
}

// ManifestRecord describes one version of one object in a collection.
type ManifestRecord struct {
	ID        string `json:"id"`
	DateAdded string `json:"date_added"`
	Version   string `json:"version"`
	MediaType string `json:"media_type,omitempty"`
}

// Manifest is the TAXII 2.1 manifest resource.
type Manifest struct {
	More    bool             `json:"more"`
	Next    string           `json:"next,omitempty"`
	Objects []ManifestRecord `json:"objects,omitempty"`
}

// Versions is the TAXII 2.1 versions resource of one object.
type Versions struct {
	More     bool     `json:"more"`
	Next     string   `json:"next,omitempty"`
	Versions []string `json:"versions,omitempty"`
}

// StatusDetail is the outcome for one posted object.
type StatusDetail struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Message string `json:"message,omitempty"`
}

// Status is the TAXII 2.1 status resource of one POST of objects.
type Status struct {
	ID               string         `json:"id"`
	Status           string         `json:"status"` // "complete" or "pending"
	RequestTimestamp string         `json:"request_timestamp,omitempty"`
	TotalCount       int            `json:"total_count"`
	SuccessCount     int            `json:"success_count"`
	Successes        []StatusDetail `json:"successes,omitempty"`
	FailureCount     int            `json:"failure_count"`
	Failures         []StatusDetail `json:"failures,omitempty"`
	PendingCount     int            `json:"pending_count"`
	Pendings         []StatusDetail `json:"pendings,omitempty"`
}

// Error is the TAXII 2.1 error message resource.
type Error struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	ErrorID     string `json:"error_id,omitempty"`
	ErrorCode   string `json:"error_code,omitempty"`
	HTTPStatus  string `json:"http_status,omitempty"`
	// ExternalDetails is a URL with more about the error.
	ExternalDetails string `json:"external_details,omitempty"`
	// Details holds further server-specific information.
	Details map[string]any `json:"details,omitempty"`
}

// Error makes a TAXII error resource usable as a Go error (the client
// returns it for error responses).
func (e *Error) Error() string {
	s := "taxii: " + e.HTTPStatus + " " + e.Title
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// dateAddedLayout is the layout of date_added and the X-TAXII-Date-Added
// headers: microseconds, so objects stored within one millisecond still
// order and added_after stays exact.
const dateAddedLayout = "2006-01-02T15:04:05.000000Z"

func formatDateAdded(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format(dateAddedLayout)
}

// isTAXII reports whether a media type (one element of Accept or a
// Content-Type) is TAXII 2.1: application/taxii+json with no version or
// version 2.1. With wildcards (for Accept), */* and application/* also fit.
func isTAXII(mt string, wildcards bool) bool {
	typ, params, err := mime.ParseMediaType(strings.TrimSpace(mt))
	if err != nil {
		return false
	}
	if wildcards && (typ == "*/*" || typ == "application/*") {
		return params["q"] != "0"
	}
	if typ != "application/taxii+json" {
		return false
	}
	v, ok := params["version"]
	return (!ok || v == "2.1") && params["q"] != "0"
}

// acceptable reports whether an Accept header admits TAXII 2.1. A missing
// or empty header accepts anything.
func acceptable(accept []string) bool {
	given := false
	for _, h := range accept {
		for part := range strings.SplitSeq(h, ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			given = true
			if isTAXII(part, true) {
				return true
			}
		}
	}
	return !given
}
