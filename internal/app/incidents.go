package app

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
	"github.com/mamori-soc/mamori/internal/incident"
	"github.com/mamori-soc/mamori/internal/sigma"
	"github.com/mamori-soc/mamori/internal/store"
)

// Rule tags that classify what a rule's alerts mean beyond attacks.
const (
	hygieneTag = "mamori.hygiene." // + kind: a configuration weakness, rated, never an incident
	intelTag   = "mamori.intel"    // a threat-intelligence (IOC) match
)

// ruleClasses maps rule IDs to their hygiene kind and intel flag, from the
// tags of the loaded rules.
type ruleClasses struct {
	hygiene map[string]string // rule ID → hygiene kind
	intel   map[string]bool
}

func classify(set *sigma.Set) *ruleClasses {
	rc := &ruleClasses{hygiene: map[string]string{}, intel: map[string]bool{}}
	if set == nil {
		return rc
	}
	for _, r := range set.Rules {
		for _, t := range r.Tags {
			t = strings.ToLower(strings.TrimSpace(t))
			if kind, ok := strings.CutPrefix(t, hygieneTag); ok && kind != "" {
				rc.hygiene[r.ID] = kind
			}
			if t == intelTag || strings.HasPrefix(t, intelTag+".") {
				rc.intel[r.ID] = true
			}
		}
	}
	return rc
}

// incidentStage groups committed alerts into incidents and campaigns and
// stores them. Grouping state lives in memory; after a restart it is
// rebuilt by replaying the alerts of the last campaign window (grouping
// is deterministic, so the same incidents come back under the same IDs).
type incidentStage struct {
	st      store.Store
	log     *slog.Logger
	classes func() *ruleClasses

	mu        sync.Mutex // orders batches: grouping and commit happen together
	grouper   *incident.Grouper
	campaigns *incident.Campaigns

	// OnCampaign, when set, is told of each campaign a batch changed, with
	// the highest severity of its incidents in the batch (decision policies).
	OnCampaign func(ctx context.Context, c *incident.Campaign, severity string)

	Alerts    atomic.Int64 // alerts grouped
	Incidents atomic.Int64 // incident snapshots written
	Nanos     atomic.Int64 // time spent grouping and linking (not storing)
	Failures  atomic.Int64
}

func newIncidentStage(st store.Store, log *slog.Logger, classes func() *ruleClasses) *incidentStage {
	return &incidentStage{st: st, log: log, classes: classes,
		grouper: incident.NewGrouper(0), campaigns: incident.NewCampaigns(0, 0)}
}

// resume replays the stored alerts last seen within the campaign window.
func (s *incidentStage) resume(ctx context.Context, now time.Time) error {
	recent, err := s.st.RecentAlerts(ctx, now.Add(-s.campaigns.Window))
	if err != nil {
		return err
	}
	slices.SortStableFunc(recent, func(x, y alert.Alert) int {
		if c := x.FirstSeen.Compare(y.FirstSeen); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	return s.add(ctx, recent, now)
}

// add groups alerts and stores the incidents and campaigns they changed.
func (s *incidentStage) add(ctx context.Context, alerts []alert.Alert, now time.Time) error {
	if len(alerts) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	start := time.Now()
	rc := s.classes()
	incs := map[string]*incident.Incident{}
	var incOrder []string
	camps := map[string]bool{}
	var campOrder []string
	campSev := map[string]string{}
	n := 0
	for i := range alerts {
		a := alerts[i]
		if rc.hygiene[a.RuleID] != "" || a.Status == alert.StatusClosed {
			continue // hygiene is rated, not investigated; a closed alert was judged already
		}
		n++
		inc, _ := s.grouper.Add(a)
		if inc == nil {
			continue
		}
		if _, ok := incs[inc.ID]; !ok {
			incOrder = append(incOrder, inc.ID)
		}
		incs[inc.ID] = inc // the latest snapshot has every merge
		for _, id := range s.campaigns.Link(inc, a) {
			if !camps[id] {
				campOrder = append(campOrder, id)
				camps[id] = true
			}
			if sevRank(inc.Severity) > sevRank(campSev[id]) {
				campSev[id] = inc.Severity
			}
		}
	}
	outI := make([]incident.Incident, 0, len(incs))
	for _, id := range incOrder {
		outI = append(outI, *incs[id])
	}
	outC := make([]incident.Campaign, 0, len(camps))
	for _, id := range campOrder {
		if c, ok := s.campaigns.Snapshot(id); ok { // one snapshot per batch
			outC = append(outC, *c)
		}
	}
	s.Nanos.Add(int64(time.Since(start)))
	s.Alerts.Add(int64(n))
	if len(outI) == 0 && len(outC) == 0 {
		return nil
	}
	if err := s.st.CommitIncidents(ctx, outI, outC, now); err != nil {
		s.Failures.Add(1)
		return err
	}
	s.Incidents.Add(int64(len(outI)))
	if s.OnCampaign != nil {
		for i := range outC {
			s.OnCampaign(ctx, &outC[i], campSev[outC[i].ID])
		}
	}
	return nil
}

func sevRank(s string) int {
	return map[string]int{"low": 1, "medium": 2, "high": 3, "critical": 4}[s]
}
