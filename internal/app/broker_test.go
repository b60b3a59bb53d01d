package app

import (
	"context"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/alert"
)

func TestBroker(t *testing.T) {
	b := newBroker()
	ctx, cancel := context.WithCancel(context.Background())
	ch := b.Subscribe(ctx)
	b.publish([]alert.Alert{{ID: "a1", Event: []alert.Field{{Name: "x", Value: "y"}}}, {ID: "a2"}})
	for _, want := range []string{"a1", "a2"} {
		select {
		case a := <-ch:
			if a.ID != want || a.Event != nil {
				t.Errorf("got %+v, want %s without its event", a, want)
			}
		case <-time.After(time.Second):
			t.Fatalf("alert %s not delivered", want)
		}
	}
	// A slow subscriber never blocks publishing.
	many := make([]alert.Alert, 1000)
	done := make(chan struct{})
	go func() { b.publish(many); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("publish blocked on a slow subscriber")
	}
	cancel()
	deadline := time.After(time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("channel not closed after the subscriber left")
		}
	}
}
