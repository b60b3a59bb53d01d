package intel

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/mamori-soc/mamori/internal/ioc"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// ParseFunc parses a STIX 2.1 bundle into indicators, each with Source set
// to source. It returns what it could parse and an error for each object
// it could not; ioc.ParseSTIX has this shape.
type ParseFunc func(r io.Reader, source string) ([]ioc.Indicator, []error)

// IndicatorSink stores indicators. The poller needs only this.
type IndicatorSink interface {
	// Put stores inds, replacing stored indicators with the same ID, and
	// records when it did so (StoredIndicator.Added). It must not keep inds.
	Put(ctx context.Context, inds []ioc.Indicator) error
}

// StoredIndicator is an indicator with the time Mamori stored it.
type StoredIndicator struct {
	ioc.Indicator
	// Added is when Mamori stored the indicator or last changed it: TAXII's
	// date_added, which added_after filters on. It must never go backwards
	// for new writes, or pollers miss them.
	Added time.Time
}

// Indicators is the part of Mamori's indicator store that the TAXII
// server uses.
type Indicators interface {
	IndicatorSink
	// Since returns the stored indicators whose Added is after t (all of
	// them when t is zero), in any order. The server reads but never
	// modifies what it returns.
	Since(ctx context.Context, t time.Time) ([]StoredIndicator, error)
	// Delete removes the indicators with the given IDs (ioc ids) and
	// returns how many it removed.
	Delete(ctx context.Context, ids []string) (int, error)
}

// StoredObject is one version of a STIX object kept as posted, with what
// TAXII needs to filter it.
type StoredObject struct {
	ID          string
	Type        string
	SpecVersion string          // "2.1" unless the object says otherwise
	Version     time.Time       // its modified, else created, else Added
	Added       time.Time       // when Mamori stored it (set by the server)
	Owner       tenant.ID       // the organisation that posted it; "" for national callers
	JSON        json.RawMessage // the object, exactly as posted
}

// Objects keeps the STIX objects of collections that are not indicators
// (the sightings collection).
type Objects interface {
	// Add stores objs in collection. A stored object with the same ID and
	// Version is replaced. It must not keep objs' JSON slices after
	// returning unless it copies them.
	Add(ctx context.Context, collection string, objs []StoredObject) error
	// Since returns the objects of collection whose Added is after t (all
	// when t is zero), in any order. The server never modifies them.
	Since(ctx context.Context, collection string, t time.Time) ([]StoredObject, error)
	// Delete removes every version of the object id from collection and
	// returns how many versions it removed.
	Delete(ctx context.Context, collection, id string) (int, error)
}

// MemObjects is an in-memory Objects. It loses everything on restart: use
// it for tests, or until the objects live in Mamori's store. It is safe for
// concurrent use.
type MemObjects struct {
	mu   sync.Mutex
	objs map[string][]StoredObject // collection → objects; guarded by mu
}

var _ Objects = (*MemObjects)(nil)

// NewMemObjects returns an empty MemObjects.
func NewMemObjects() *MemObjects { return &MemObjects{objs: map[string][]StoredObject{}} }

// Add implements Objects.
func (m *MemObjects) Add(_ context.Context, collection string, objs []StoredObject) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range objs {
		o.JSON = slices.Clone(o.JSON)
		list := m.objs[collection]
		if i := slices.IndexFunc(list, func(x StoredObject) bool { return x.ID == o.ID && x.Version.Equal(o.Version) }); i >= 0 {
			list[i] = o
			continue
		}
		m.objs[collection] = append(list, o)
	}
	return nil
}

// Since implements Objects.
func (m *MemObjects) Since(_ context.Context, collection string, t time.Time) ([]StoredObject, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []StoredObject
	for _, o := range m.objs[collection] {
		if o.Added.After(t) {
			out = append(out, o)
		}
	}
	return out, nil
}

// Delete implements Objects.
func (m *MemObjects) Delete(_ context.Context, collection, id string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	list := m.objs[collection]
	n := len(list)
	list = slices.DeleteFunc(list, func(o StoredObject) bool { return o.ID == id })
	m.objs[collection] = list
	return n - len(list), nil
}
