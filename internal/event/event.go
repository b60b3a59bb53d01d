package event

import (
	"bytes"
	"time"
)

// Event is one normalized record. Field names follow the source's own
// vocabulary after normalization (Windows events use the names of their
// EventData/System elements, e.g. "CommandLine", "Channel", "EventID").
//
// Names and values live in an internal arena; the slices returned by Name and
// Value stay valid until the next Reset or Add. An Event is reused: call Reset
// between records instead of allocating a new one.
type Event struct {
	// Time is when the event happened (zero when the source did not say).
	Time time.Time
	// Source names where the event came from: a file path, a listener, a stream.
	Source string
	// Tenant is the organisation the event belongs to ("" outside the server).
	Tenant string

	arena  []byte
	fields []ref
}

type ref struct {
	nameOff, nameLen uint32
	valOff, valLen   uint32
}

// Reset empties e, keeping its capacity.
func (e *Event) Reset() {
	e.Time = time.Time{}
	e.Source = ""
	e.Tenant = ""
	e.arena = e.arena[:0]
	e.fields = e.fields[:0]
}

// Add appends a field, copying name and value into the event's arena.
func (e *Event) Add(name, value []byte) {
	r := ref{nameOff: uint32(len(e.arena)), nameLen: uint32(len(name))}
	e.arena = append(e.arena, name...)
	r.valOff, r.valLen = uint32(len(e.arena)), uint32(len(value))
	e.arena = append(e.arena, value...)
	e.fields = append(e.fields, r)
}

// AddString is Add for strings; it does not allocate once the arena has grown.
func (e *Event) AddString(name, value string) {
	r := ref{nameOff: uint32(len(e.arena)), nameLen: uint32(len(name))}
	e.arena = append(e.arena, name...)
	r.valOff, r.valLen = uint32(len(e.arena)), uint32(len(value))
	e.arena = append(e.arena, value...)
	e.fields = append(e.fields, r)
}

// Append is Add with a string name (names are often interned strings).
func (e *Event) Append(name string, value []byte) {
	r := ref{nameOff: uint32(len(e.arena)), nameLen: uint32(len(name))}
	e.arena = append(e.arena, name...)
	r.valOff, r.valLen = uint32(len(e.arena)), uint32(len(value))
	e.arena = append(e.arena, value...)
	e.fields = append(e.fields, r)
}

// Len returns the number of fields.
func (e *Event) Len() int { return len(e.fields) }

// Name returns the name of field i.
func (e *Event) Name(i int) []byte {
	r := e.fields[i]
	return e.arena[r.nameOff : r.nameOff+r.nameLen : r.nameOff+r.nameLen]
}

// Value returns the value of field i.
func (e *Event) Value(i int) []byte {
	r := e.fields[i]
	return e.arena[r.valOff : r.valOff+r.valLen : r.valOff+r.valLen]
}

// Index returns the position of the first field called name, or -1.
func (e *Event) Index(name string) int {
	for i, r := range e.fields {
		if int(r.nameLen) == len(name) && string(e.arena[r.nameOff:r.nameOff+r.nameLen]) == name {
			return i
		}
	}
	return -1
}

// Get returns the value of the first field called name.
func (e *Event) Get(name string) ([]byte, bool) {
	if i := e.Index(name); i >= 0 {
		return e.Value(i), true
	}
	return nil, false
}

// GetString is Get returning a string ("" when absent); it allocates.
func (e *Event) GetString(name string) string {
	v, _ := e.Get(name)
	return string(v)
}

// SetName renames field i. The new name is appended to the arena.
func (e *Event) SetName(i int, name string) {
	e.fields[i].nameOff, e.fields[i].nameLen = uint32(len(e.arena)), uint32(len(name))
	e.arena = append(e.arena, name...)
}

// SetValue replaces the value of field i. The new value is appended to the arena.
func (e *Event) SetValue(i int, value []byte) {
	e.fields[i].valOff, e.fields[i].valLen = uint32(len(e.arena)), uint32(len(value))
	e.arena = append(e.arena, value...)
}

// Delete removes field i, keeping the order of the others.
func (e *Event) Delete(i int) {
	e.fields = append(e.fields[:i], e.fields[i+1:]...)
}

// CopyFrom makes e a deep copy of src, reusing e's memory.
func (e *Event) CopyFrom(src *Event) {
	e.Time, e.Source, e.Tenant = src.Time, src.Source, src.Tenant
	e.arena = append(e.arena[:0], src.arena...)
	e.fields = append(e.fields[:0], src.fields...)
}

// Clone returns a deep copy of e.
func (e *Event) Clone() *Event {
	c := &Event{}
	c.CopyFrom(e)
	return c
}

// Map returns the fields as a map (the first value wins for repeated names).
// It allocates and is meant for output and tests, not the hot path.
func (e *Event) Map() map[string]string {
	m := make(map[string]string, len(e.fields))
	for i := len(e.fields) - 1; i >= 0; i-- {
		m[string(e.Name(i))] = string(e.Value(i))
	}
	return m
}

// HasPrefixName reports whether field i's name starts with prefix.
func (e *Event) HasPrefixName(i int, prefix string) bool {
	return bytes.HasPrefix(e.Name(i), []byte(prefix))
}
