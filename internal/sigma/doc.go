// Package sigma parses Sigma rules (detection and correlation documents, the
// whole language of the Sigma specification 2.1) and compiles a rule set into
// one matcher: rules are bucketed by log source, their literal needles share
// one Aho-Corasick automaton per field, and only rules whose needles occur in
// an event are evaluated. Matching an event allocates nothing.
//
// It is pure: it knows nothing of transports, storage or tenants, and never
// does I/O except reading the rule files it is asked to load.
package sigma
