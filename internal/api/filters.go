package api

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// queueFilters are the parameters the alert and incident queues share:
// org, sector, status, assignee ("-" for unassigned), q, sort, since,
// until and limit.
type queueFilters struct {
	Orgs       []string
	Sectors    []tenant.Sector
	Statuses   []string
	Assignee   string
	Unassigned bool
	Text       string
	Sort       string
	Since      time.Time
	Until      time.Time
	Limit      int
}

// parseQueueFilters reads and checks the shared queue parameters.
func parseQueueFilters(q url.Values) (queueFilters, error) {
	f := queueFilters{Orgs: list(q["org"]), Statuses: list(q["status"]), Text: strings.TrimSpace(q.Get("q")), Sort: q.Get("sort")}
	switch as := strings.TrimSpace(q.Get("assignee")); as {
	case "":
	case "-":
		f.Unassigned = true
	default:
		f.Assignee = as
	}
	for _, s := range list(q["sector"]) {
		sec, err := tenant.ParseSector(s)
		if err != nil {
			return f, err
		}
		f.Sectors = append(f.Sectors, sec)
	}
	for _, s := range f.Statuses {
		if !alert.ValidStatus(s) {
			return f, fmt.Errorf("unknown status %q (want new, acknowledged, in_progress or closed)", s)
		}
	}
	var err error
	if f.Since, err = parseTime(q.Get("since")); err != nil {
		return f, err
	}
	if f.Until, err = parseTime(q.Get("until")); err != nil {
		return f, err
	}
	f.Limit, err = limitParam(q.Get("limit"))
	return f, err
}
