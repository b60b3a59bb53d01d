package decision

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mamori-soc/mamori/internal/tenant"
)

// Policy makes decisions automatically when something happens: a campaign
// is found, a rule fires, a threat feed lists values. Apply evaluates every
// policy against a Trigger.
type Policy struct {
	Name string `json:"name" yaml:"name"`
	// When is the trigger kind: "campaign", "rule" or "feed".
	When string `json:"when" yaml:"when"`
	// MinSeverity, when set, keeps triggers of at least this severity
	// (informational, low, medium, high, critical).
	MinSeverity string `json:"min_severity,omitempty" yaml:"min_severity"`
	// RuleIDs, for "rule" policies, keeps these rules only. A rule policy
	// needs RuleIDs or MinSeverity: banning on every rule hit is a mistake.
	RuleIDs []string `json:"rule_ids,omitempty" yaml:"rule_ids"`
	// Feed, for "feed" policies, keeps this feed only (empty: every feed).
	Feed string `json:"feed,omitempty" yaml:"feed"`
	// Type of the decisions: ban, captcha or throttle.
	Type string `json:"type" yaml:"type"`
	// Duration of the decisions, 1 minute to 365 days.
	Duration time.Duration `json:"duration" yaml:"duration"`
	// Target is "org" (the trigger's organisation), "sector" (its sector)
	// or "national".
	Target string `json:"target" yaml:"target"`
	// DryRun policies record the decisions they would make, flagged
	// DryRun; bouncers never receive them.
	DryRun bool `json:"dry_run,omitempty" yaml:"dry_run"`
}

// Trigger kinds.
const (
	WhenCampaign = "campaign"
	WhenRule     = "rule"
	WhenFeed     = "feed"
)

// Policy targets.
const (
	TargetOrg      = "org"
	TargetSector   = "sector"
	TargetNational = "national"
)

var severities = map[string]int{"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}

func severityRank(s string) int { return severities[strings.ToLower(strings.TrimSpace(s))] }

// Check validates a policy and returns it normalized.
func (p Policy) Check() (Policy, error) {
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" {
		return p, invalid("decision: policy has no name")
	}
	bad := func(format string, args ...any) error {
		return invalid("decision: policy %q: %s", p.Name, fmt.Sprintf(format, args...))
	}
	switch p.When = strings.ToLower(strings.TrimSpace(p.When)); p.When {
	case WhenCampaign, WhenRule, WhenFeed:
	default:
		return p, bad("when %q is not campaign, rule or feed", p.When)
	}
	if p.MinSeverity = strings.ToLower(strings.TrimSpace(p.MinSeverity)); p.MinSeverity != "" && severityRank(p.MinSeverity) == 0 {
		return p, bad("min_severity %q is not informational, low, medium, high or critical", p.MinSeverity)
	}
	if len(p.RuleIDs) > 0 && p.When != WhenRule {
		return p, bad("rule_ids are for rule policies only")
	}
	if p.When == WhenRule && len(p.RuleIDs) == 0 && p.MinSeverity == "" {
		return p, bad("a rule policy needs rule_ids or min_severity")
	}
	if p.Feed != "" && p.When != WhenFeed {
		return p, bad("feed is for feed policies only")
	}
	switch p.Type = strings.ToLower(strings.TrimSpace(p.Type)); p.Type {
	case Ban, Captcha, Throttle:
	default:
		return p, bad("type %q is not ban, captcha or throttle", p.Type)
	}
	if p.Duration < MinDuration || p.Duration > MaxDuration {
		return p, bad("duration %s is not between 1m and 365 days", p.Duration)
	}
	switch p.Target = strings.ToLower(strings.TrimSpace(p.Target)); p.Target {
	case TargetOrg, TargetSector, TargetNational:
	default:
		return p, bad("target %q is not org, sector or national", p.Target)
	}
	return p, nil
}

// SetPolicies validates and replaces the policies. Names must be unique.
func (s *Service) SetPolicies(ps []Policy) error {
	out := make([]Policy, 0, len(ps))
	for _, p := range ps {
		p, err := p.Check()
		if err != nil {
			return err
		}
		if slices.ContainsFunc(out, func(o Policy) bool { return o.Name == p.Name }) {
			return invalid("decision: two policies are named %q", p.Name)
		}
		out = append(out, p)
	}
	s.cfgMu.Lock()
	s.policies = out
	s.cfgMu.Unlock()
	return nil
}

// Policies returns the policies.
func (s *Service) Policies() []Policy {
	s.cfgMu.RLock()
	defer s.cfgMu.RUnlock()
	return slices.Clone(s.policies)
}

// Trigger is something that may call for decisions.
type Trigger struct {
	// Kind is "campaign", "rule" or "feed".
	Kind string
	// Ref is the campaign id, rule id or feed name.
	Ref string
	// Values are the IP addresses, ranges and domains to act on.
	Values []string
	// Org is the organisation concerned (needed by "org" policies, and by
	// "sector" policies when Sector is empty).
	Org tenant.ID
	// Sector is the sector concerned (for "sector" policies).
	Sector tenant.Sector
	// Severity is the trigger's severity (informational ... critical).
	Severity string
	// Reason becomes the decisions' reason; empty means "<kind> <ref>".
	Reason string
}

func (p Policy) matches(t Trigger) bool {
	if p.When != t.Kind {
		return false
	}
	if p.MinSeverity != "" && severityRank(t.Severity) < severityRank(p.MinSeverity) {
		return false
	}
	if len(p.RuleIDs) > 0 && !slices.Contains(p.RuleIDs, t.Ref) {
		return false
	}
	return p.Feed == "" || p.Feed == t.Ref
}

// Apply makes the decisions the policies call for on t: for every matching
// policy, one decision per value, of the policy's type, duration and
// target, with Origin t.Kind, OriginRef t.Ref and CreatedBy
// "policy:<name>". Values the allowlist covers, or that are invalid, are
// skipped and reported in the joined error, which never stops the other
// values: Apply returns the decisions it made (or extended) and that error.
// Dry-run policies record decisions flagged DryRun, never served.
func (s *Service) Apply(ctx context.Context, t Trigger) ([]Decision, error) {
	t.Kind = strings.ToLower(strings.TrimSpace(t.Kind))
	switch t.Kind {
	case WhenCampaign, WhenRule, WhenFeed:
	default:
		return nil, invalid("decision: trigger kind %q is not campaign, rule or feed", t.Kind)
	}
	t.Ref = strings.TrimSpace(t.Ref)
	if t.Ref == "" {
		return nil, invalid("decision: %s trigger has no reference (campaign id, rule id or feed name)", t.Kind)
	}
	reason := strings.TrimSpace(t.Reason)
	if reason == "" {
		reason = t.Kind + " " + t.Ref
	}
	var out []Decision
	var errs []error
	for _, p := range s.Policies() {
		if !p.matches(t) {
			continue
		}
		var target Target
		switch p.Target {
		case TargetNational:
			target.National = true
		case TargetSector:
			target.Sector = t.Sector
			if target.Sector == "" {
				target.Sector = s.sectorFor(t.Org)
			}
			if target.Sector == "" {
				errs = append(errs, invalid("decision: policy %q: the %s trigger %q has no sector, and organisation %q has no known sector", p.Name, t.Kind, t.Ref, t.Org))
				continue
			}
		case TargetOrg:
			if t.Org == "" {
				errs = append(errs, invalid("decision: policy %q: the %s trigger %q has no organisation", p.Name, t.Kind, t.Ref))
				continue
			}
			target.Org = t.Org
		}
		now := s.now()
		// Nodes sharing decisions may each see the same trigger (every node
		// pulls the feeds, derives the campaigns): within a ten-minute
		// window the same policy's decision on the same value is one change.
		window := now.Truncate(10 * time.Minute).Unix()
		for _, v := range t.Values {
			key := fmt.Sprintf("policy:%s:%s:%s:%s:%s:%d", p.Name, t.Kind, t.Ref, target, v, window)
			d, err := s.createKeyed(ctx, Decision{
				Type: p.Type, Value: v, Target: target, Reason: reason,
				Origin: t.Kind, OriginRef: t.Ref, Created: now, Until: now.Add(p.Duration),
				CreatedBy: "policy:" + p.Name, DryRun: p.DryRun,
			}, key)
			if err != nil {
				errs = append(errs, fmt.Errorf("policy %q: %w", p.Name, err))
				continue
			}
			out = append(out, d)
		}
	}
	return out, errors.Join(errs...)
}
