package rating

import (
	"cmp"
	"math"
	"slices"

	"github.com/mamori-soc/mamori/internal/tenant"
)

// Group is the aggregate rating of several organisations: a sector's or
// the nation's.
type Group struct {
	Score  float64        `json:"score"`  // weighted mean of the organisations' scores, one decimal; 0 when Orgs is 0
	Grade  string         `json:"grade"`  // Grade(Score); empty when Orgs is 0
	Orgs   int            `json:"orgs"`   // organisations rated
	Min    float64        `json:"min"`    // lowest organisation score
	Max    float64        `json:"max"`    // highest organisation score
	StdDev float64        `json:"stddev"` // weighted population standard deviation of the scores, one decimal
	Grades map[string]int `json:"grades"` // organisations per grade, every grade A-F present

	// Weakest names up to 3 organisations with the lowest scores, lowest
	// first (ties by ID). It names organisations: only national roles may
	// see it; use WithoutOrgs for anyone else.
	Weakest []tenant.ID `json:"weakest,omitempty"`
}

// WithoutOrgs returns g without anything that names an organisation: what
// an organisation's role may see of its sector.
func (g Group) WithoutOrgs() Group {
	g.Weakest = nil
	return g
}

// SectorRating is the aggregate rating of one sector.
type SectorRating struct {
	Sector tenant.Sector `json:"sector"`
	Group
}

// weakestN is how many organisations Group.Weakest names.
const weakestN = 3

// Aggregate computes the national group of rs and one group per sector
// present in rs, in the order of tenant.Sectors (sectors not in that list
// last, by name).
//
// The score of a group is the mean of its organisations' scores weighted
// by weight (nil means every organisation weighs 1; a negative, NaN or
// infinite weight counts as 0; when all weights of a group are 0 the mean
// is unweighted). Min and Max are unweighted; StdDev is weighted like the
// mean. With no ratings the national Group is empty (Orgs 0) and sectors
// is an empty, non-nil slice.
func Aggregate(rs []Rating, weight func(tenant.ID) float64) (national Group, sectors []SectorRating) {
	ws := make([]float64, len(rs))
	for i, r := range rs {
		w := 1.0
		if weight != nil {
			w = weight(r.Org)
		}
		if !(w > 0) || math.IsInf(w, 0) {
			w = 0
		}
		ws[i] = w
	}
	all := make([]int, len(rs))
	bySector := map[tenant.Sector][]int{}
	var order []tenant.Sector
	for i, r := range rs {
		all[i] = i
		if _, ok := bySector[r.Sector]; !ok {
			order = append(order, r.Sector)
		}
		bySector[r.Sector] = append(bySector[r.Sector], i)
	}
	rank := func(s tenant.Sector) int {
		if i := slices.Index(tenant.Sectors, s); i >= 0 {
			return i
		}
		return len(tenant.Sectors)
	}
	slices.SortFunc(order, func(a, b tenant.Sector) int {
		if c := cmp.Compare(rank(a), rank(b)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	national = group(rs, ws, all)
	sectors = make([]SectorRating, 0, len(order))
	for _, s := range order {
		sectors = append(sectors, SectorRating{Sector: s, Group: group(rs, ws, bySector[s])})
	}
	return national, sectors
}

// group aggregates the ratings rs[idx] with weights ws.
func group(rs []Rating, ws []float64, idx []int) Group {
	g := Group{Grades: map[string]int{"A": 0, "B": 0, "C": 0, "D": 0, "F": 0}}
	if len(idx) == 0 {
		return g
	}
	g.Orgs = len(idx)
	sumW := 0.0
	for _, i := range idx {
		sumW += ws[i]
	}
	equal := sumW == 0 // no organisation has a weight: fall back to the plain mean
	if equal {
		sumW = float64(len(idx))
	}
	w := func(i int) float64 {
		if equal {
			return 1
		}
		return ws[i]
	}
	mean := 0.0
	g.Min, g.Max = math.Inf(1), math.Inf(-1)
	for _, i := range idx {
		s := rs[i].Score
		mean += w(i) * s
		g.Min, g.Max = min(g.Min, s), max(g.Max, s)
		g.Grades[Grade(s)]++
	}
	mean /= sumW
	variance := 0.0
	for _, i := range idx {
		d := rs[i].Score - mean
		variance += w(i) * d * d
	}
	g.Score = round1(mean)
	g.Grade = Grade(g.Score)
	g.StdDev = round1(math.Sqrt(variance / sumW))

	weak := slices.Clone(idx)
	slices.SortFunc(weak, func(a, b int) int {
		if c := cmp.Compare(rs[a].Score, rs[b].Score); c != 0 {
			return c
		}
		return cmp.Compare(rs[a].Org, rs[b].Org)
	})
	for _, i := range weak[:min(weakestN, len(weak))] {
		g.Weakest = append(g.Weakest, rs[i].Org)
	}
	return g
}
