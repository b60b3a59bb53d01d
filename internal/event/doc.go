// Package event holds the value types that flow through Mamori's pipeline:
// a normalized Event is a flat, ordered list of name/value pairs stored in one
// reusable arena, so decoders and the detection engine never allocate per field.
//
// It must never import another internal package: every stage depends on it.
package event
