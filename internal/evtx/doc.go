// Package evtx parses Windows XML Event Log (EVTX) files held in memory and
// flattens each record into an ordered list of name/value fields named the way
// Sigma rules name Windows fields (Provider_Name, EventID, CommandLine, …).
// It owns the binary format only: file and chunk headers, records, BinXML
// templates and the rendering of typed values to text. It must never panic or
// allocate memory in proportion to a length field read from the input, never
// allocate per record once a Decoder is warm, and never know about rules,
// tenants, transports or storage; callers copy what they keep, because fields
// are only valid during the callback.
package evtx
