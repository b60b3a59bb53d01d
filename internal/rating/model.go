package rating

import "time"

// The factors of a rating, in display order. A Deduction's Factor is one of these.
const (
	FactorIncidents  = "incidents"  // open incidents, by severity and age
	FactorResponse   = "response"   // time to acknowledge and to resolve incidents
	FactorDetections = "detections" // alerts by level, per 100 assets
	FactorHygiene    = "hygiene"    // hygiene findings, by kind and share of hosts
	FactorIntel      = "intel"      // threat-intelligence (IOC) matches
	FactorTelemetry  = "telemetry"  // telemetry coverage and freshness
)

// Factors lists every factor, in display order.
var Factors = []string{FactorIncidents, FactorResponse, FactorDetections, FactorHygiene, FactorIntel, FactorTelemetry}

// Model holds the weights, targets and curves of the rating. The Weight of
// a factor is the most points it can take. The weights add up to more than
// 100 on purpose (an organisation sending no telemetry at all should not
// keep a good grade for what cannot be seen); Rate caps the total at 100.
//
// The zero Model means DefaultModel. A Model is read-only once passed to
// Rate; its maps must not change while Rate runs.
type Model struct {
	Incidents  IncidentModel
	Response   ResponseModel
	Detections DetectionModel
	Hygiene    HygieneModel
	Intel      IntelModel
	Telemetry  TelemetryModel
}

// IncidentModel prices open incidents. An open incident costs
//
//	Base[severity] × age × (Unacknowledged if not acknowledged)
//
// where age grows linearly from 1 at opening to AgeMax at AgeRamp and
// stays there. A severity's incidents together cost at most Cap[severity].
type IncidentModel struct {
	Weight         float64
	Base           map[string]float64 // critical, high, medium, low; unknown severities count as low
	Cap            map[string]float64 // most points one severity can take; 0 or missing means Weight
	AgeRamp        time.Duration      // age at which the multiplier reaches AgeMax
	AgeMax         float64            // multiplier of an incident open for AgeRamp or longer
	Unacknowledged float64            // multiplier of an incident nobody has acknowledged yet
	Old            time.Duration      // reasons count incidents older than this
	// Grace is the age below which an incident is fresh: nobody is late
	// on it yet, so it costs Fresh × its base, acknowledged or not.
	Grace time.Duration
	Fresh float64
}

// ResponseModel prices slow response over the incidents opened in the last
// 30 days. The Quantile (p75 by default) of the time to acknowledge and of
// the time to resolve are compared with a target and a limit: at or below
// the target nothing is lost; at or beyond the limit all of AckPoints (or
// ResolvePoints) is lost; in between the loss grows with the logarithm of
// the time (2 h against 1 h/4 h loses half). An incident not yet
// acknowledged (resolved) counts at its current age.
type ResponseModel struct {
	Weight        float64
	AckPoints     float64
	AckTarget     time.Duration
	AckLimit      time.Duration
	ResolvePoints float64
	ResolveTarget time.Duration
	ResolveLimit  time.Duration
	Quantile      float64 // 0 < Quantile ≤ 1; nearest rank
}

// DetectionModel prices alerts by level, normalised by the organisation's
// size. The weighted alert count of the week per 100 assets (rate) costs
//
//	Weight × (1 − 2^(−rate/Half))
//
// a curve that saturates: a rate of Half loses half of Weight, twice Half
// three quarters. Organisations smaller than MinAssets count as MinAssets,
// so two alerts on a five-host network are not read as forty per hundred.
type DetectionModel struct {
	Weight    float64
	Levels    map[string]float64 // points per alert of each level; unknown levels count 0
	Half      float64            // weighted alerts per 100 assets per week that cost half of Weight
	MinAssets float64            // smallest size used for the rate
}

// HygieneModel prices hygiene findings. A kind costs at most Kinds[kind]
// (Default for kinds not listed):
//
//	Kinds[kind] × (Floor + (1 − Floor) × √share)
//
// where share is the part of the organisation's hosts affected (1 when its
// size is unknown). One affected host already costs Floor of the kind's
// points; all hosts cost all of them. The factor takes at most Weight.
type HygieneModel struct {
	Weight  float64
	Kinds   map[string]float64
	Default float64
	Floor   float64
}

// IntelModel prices threat-intelligence matches with a saturating curve:
// Weight × (1 − 2^(−hits/Half)).
type IntelModel struct {
	Weight float64
	Half   float64
}

// TelemetryModel prices blind spots. When nothing at all was received for
// longer than Silent, the organisation loses from half of Blind (at Silent)
// to all of it (at 3 × Silent, or when no source was seen in 7 days), and
// no other telemetry deduction applies. Otherwise:
//
//   - each source seen in the week but silent for longer than Silent costs
//     from half of SilentSource (at Silent) to all of it (at 3 × Silent),
//     at most SilentCap for all sources;
//   - when declared assets are known and fewer than CoverageTarget of them
//     sent telemetry in the week, Coverage × (CoverageTarget − share) / CoverageTarget;
//   - fewer than MinChannels distinct channels costs Narrow.
type TelemetryModel struct {
	Weight         float64
	Silent         time.Duration // a source (or the whole organisation) is silent after this at the latest
	SilentGaps     float64       // ... or after this many of its usual gaps between events (Source.Gap), if sooner
	SilentMin      time.Duration // ... but never before this
	Blind          float64
	SilentSource   float64
	SilentCap      float64
	Coverage       float64
	CoverageTarget float64 // 0-1
	MinChannels    int
	Narrow         float64
}

// DefaultModel returns the model Mamori rates with. Factor weights:
// incidents 30, response 15 (acknowledge 7, resolve 8), detections 15,
// hygiene 20, intel 10, telemetry 40 (all 40 only when blind; otherwise
// silent sources at most 15, coverage 10, a single channel 3).
func DefaultModel() Model {
	return Model{
		Incidents: IncidentModel{
			Weight:         30,
			Base:           map[string]float64{"critical": 8, "high": 4, "medium": 1, "low": 0.25},
			Cap:            map[string]float64{"critical": 30, "high": 30, "medium": 10, "low": 4},
			AgeRamp:        72 * time.Hour,
			AgeMax:         3,
			Unacknowledged: 1.25,
			Old:            24 * time.Hour,
			Grace:          time.Hour,
			Fresh:          0.25,
		},
		Response: ResponseModel{
			Weight:        15,
			AckPoints:     7,
			AckTarget:     time.Hour,
			AckLimit:      4 * time.Hour,
			ResolvePoints: 8,
			ResolveTarget: 24 * time.Hour,
			ResolveLimit:  72 * time.Hour,
			Quantile:      0.75,
		},
		Detections: DetectionModel{
			Weight:    15,
			Levels:    map[string]float64{"critical": 10, "high": 4, "medium": 1, "low": 0.25, "informational": 0},
			Half:      100,
			MinAssets: 50,
		},
		Hygiene: HygieneModel{
			Weight: 20,
			Kinds: map[string]float64{
				"defender_disabled": 8,
				"logging_disabled":  8,
				"rdp_exposed":       8,
				"smbv1":             6,
				"cleartext_logon":   5,
				"powershell_v2":     3,
				"outdated_agent":    2,
			},
			Default: 3,
			Floor:   0.3,
		},
		Intel: IntelModel{Weight: 10, Half: 5},
		Telemetry: TelemetryModel{
			Weight:         40,
			Silent:         24 * time.Hour,
			SilentGaps:     100,
			SilentMin:      15 * time.Minute,
			Blind:          40,
			SilentSource:   5,
			SilentCap:      15,
			Coverage:       10,
			CoverageTarget: 0.9,
			MinChannels:    2,
			Narrow:         3,
		},
	}
}

// weight returns the Weight of a factor.
func (m *Model) weight(factor string) float64 {
	switch factor {
	case FactorIncidents:
		return m.Incidents.Weight
	case FactorResponse:
		return m.Response.Weight
	case FactorDetections:
		return m.Detections.Weight
	case FactorHygiene:
		return m.Hygiene.Weight
	case FactorIntel:
		return m.Intel.Weight
	case FactorTelemetry:
		return m.Telemetry.Weight
	}
	return 0
}

// zero reports whether no factor has a weight: the zero Model.
func (m *Model) zero() bool {
	for _, f := range Factors {
		if m.weight(f) != 0 {
			return false
		}
	}
	return true
}

// kindTitles names the known hygiene kinds when a finding has no Title.
var kindTitles = map[string]string{
	"cleartext_logon":   "cleartext (basic) logons",
	"smbv1":             "SMBv1 in use",
	"defender_disabled": "Defender disabled",
	"logging_disabled":  "event logging disabled or cleared",
	"powershell_v2":     "PowerShell v2 in use",
	"rdp_exposed":       "RDP exposed",
	"outdated_agent":    "outdated agent",
}
