package rating

import (
	"cmp"
	"slices"
	"time"
)

// Point is one day of a rating's history.
type Point struct {
	Day   string  `json:"day"` // YYYY-MM-DD, UTC
	Score float64 `json:"score"`
	Grade string  `json:"grade"`
}

// dayLayout is the layout of Point.Day.
const dayLayout = "2006-01-02"

// Day formats t as a Point day: its UTC date, YYYY-MM-DD.
func Day(t time.Time) string { return t.UTC().Format(dayLayout) }

// AddPoint puts p into history (sorted by day, oldest first), replacing the
// point of the same day, and keeps at most the keep most recent days (keep
// ≤ 0 keeps all). It may reuse history's array.
func AddPoint(history []Point, p Point, keep int) []Point {
	i, found := slices.BinarySearchFunc(history, p.Day, func(x Point, day string) int { return cmp.Compare(x.Day, day) })
	if found {
		history[i] = p
	} else {
		history = slices.Insert(history, i, p)
	}
	if keep > 0 && len(history) > keep {
		history = slices.Delete(history, 0, len(history)-keep)
	}
	return history
}

// Change is how a score moved over the last week.
type Change struct {
	Day     string  `json:"day"`      // the latest point's day
	Score   float64 `json:"score"`    // the latest point's score
	FromDay string  `json:"from_day"` // the baseline's day: 7 days before Day, or the oldest point when the history is shorter
	From    float64 `json:"from"`     // the baseline's score
	Delta   float64 `json:"delta"`    // Score − From, one decimal: positive is better
	Days    int     `json:"days"`     // days between FromDay and Day: 7, more when that day is missing, fewer when the history is shorter
}

// trendDays is the span of Trend.
const trendDays = 7

// Trend compares the latest point of history not after now's day with the
// point 7 days before it: the latest point on or before that day, or the
// oldest point when the history is shorter than a week. Points with an
// invalid Day, or after now's day, are ignored; of several points of one
// day the last in history counts. ok is false when fewer than two days
// remain.
func Trend(history []Point, now time.Time) (c Change, ok bool) {
	type dated struct {
		t time.Time
		p Point
	}
	today, _ := time.Parse(dayLayout, Day(now))
	var ps []dated
	for _, p := range history {
		t, err := time.Parse(dayLayout, p.Day)
		if err != nil || t.After(today) {
			continue
		}
		ps = append(ps, dated{t, p})
	}
	slices.SortStableFunc(ps, func(a, b dated) int { return a.t.Compare(b.t) })
	// Keep the last point of each day.
	n := 0
	for i := range ps {
		if n > 0 && ps[n-1].t.Equal(ps[i].t) {
			ps[n-1] = ps[i]
			continue
		}
		ps[n] = ps[i]
		n++
	}
	ps = ps[:n]
	if len(ps) < 2 {
		return Change{}, false
	}
	latest := ps[len(ps)-1]
	base := ps[0]
	target := latest.t.AddDate(0, 0, -trendDays)
	for _, d := range ps[:len(ps)-1] {
		if !d.t.After(target) {
			base = d
		}
	}
	return Change{
		Day:     latest.p.Day,
		Score:   latest.p.Score,
		FromDay: base.p.Day,
		From:    base.p.Score,
		Delta:   round1(latest.p.Score - base.p.Score),
		Days:    int(latest.t.Sub(base.t).Hours()/24 + 0.5),
	}, true
}
