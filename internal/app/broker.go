package app

import (
	"context"
	"sync"

	"github.com/mamori-soc/mamori/internal/alert"
)

// broker fans stored alerts out to live subscribers (the console's stream).
// A subscriber that does not keep up loses alerts rather than slowing
// detection down: the stream is a live view, the store is the record.
type broker struct {
	mu   sync.Mutex
	subs map[chan alert.Alert]struct{}
}

func newBroker() *broker { return &broker{subs: map[chan alert.Alert]struct{}{}} }

// Subscribe returns a channel of alerts created or updated from now on; it
// is closed when ctx ends.
func (b *broker) Subscribe(ctx context.Context) <-chan alert.Alert {
	ch := make(chan alert.Alert, 256)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		delete(b.subs, ch)
		close(ch)
		b.mu.Unlock()
	}()
	return ch
}

// publish sends alerts to every subscriber without blocking.
func (b *broker) publish(alerts []alert.Alert) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		for _, a := range alerts {
			a.Event = nil
			select {
			case ch <- a:
			default:
			}
		}
	}
}
