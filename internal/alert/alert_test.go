package alert

import (
	"testing"
	"time"
)

func TestFold(t *testing.T) {
	f := NewFolder(10 * time.Minute)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hit := func(at time.Duration, host, src string) Hit {
		return Hit{Tenant: "a", RuleID: "r", Level: "high", Time: t0.Add(at), Host: host, SrcIP: src, EventSeq: int64(at)}
	}
	out := f.Fold([]Hit{hit(0, "h1", ""), hit(time.Minute, "h1", ""), hit(time.Minute, "h2", "")})
	if len(out) != 2 || out[0].Count != 2 || out[1].Count != 1 {
		t.Fatalf("first fold = %+v", out)
	}
	first := out[0]
	// Within the window of the last hit: same alert.
	if out := f.Fold([]Hit{hit(9*time.Minute, "h1", "")}); len(out) != 1 || out[0].ID != first.ID || out[0].Count != 3 {
		t.Errorf("within window: %+v", out)
	}
	// Past the window: a new alert.
	if out := f.Fold([]Hit{hit(30*time.Minute, "h1", "")}); len(out) != 1 || out[0].ID == first.ID || out[0].Count != 1 {
		t.Errorf("past window: %+v", out)
	}
	// Without a host, hits fold by source address.
	out = f.Fold([]Hit{hit(0, "", "1.2.3.4"), hit(time.Second, "", "1.2.3.4"), hit(time.Second, "", "5.6.7.8")})
	if len(out) != 2 || out[0].Count != 2 {
		t.Errorf("by source: %+v", out)
	}
	// A closed alert takes no more hits.
	open := f.Fold([]Hit{hit(40*time.Minute, "h9", "")})[0]
	open.Status = StatusClosed
	f.Update(&open)
	if out := f.Fold([]Hit{hit(41*time.Minute, "h9", "")}); len(out) != 1 || out[0].ID == open.ID {
		t.Errorf("hit after close folded into the closed alert: %+v", out)
	}
	// Replaying the same hits gives the same ids (stable across a crash).
	g := NewFolder(10 * time.Minute)
	if again := g.Fold([]Hit{hit(0, "h1", "")}); again[0].ID != first.ID {
		t.Error("alert ids are not stable")
	}
}
