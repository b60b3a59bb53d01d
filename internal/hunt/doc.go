// Package hunt runs a compiled Sigma rule set over log files (EVTX, NDJSON,
// evtx_dump JSON; plain, .gz or .zip) found under paths, in parallel over
// files and EVTX chunks, and returns the detections in time order together
// with a summary. It is the engine behind `mamori hunt`.
//
// It reads files and never writes any: output formatting belongs to its caller.
package hunt
