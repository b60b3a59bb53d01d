// Package simulate generates realistic, deterministic security telemetry for a national
// centre watching some forty organisations across every sector: Winlogbeat and Filebeat
// documents for Elasticsearch _bulk, Suricata EVE and Zeek JSON lines, and RFC 5424 and
// RFC 3164 syslog, as real shippers send them, with a benign baseline and attack
// scenarios (brute force, phishing, credential dumping, lateral movement, ransomware
// preparation, web shells, DNS tunnelling, beaconing) played by attacker groups whose
// infrastructure is shared across organisations. Organisations differ as real ones do:
// each has a maturity (with sector tendencies) that decides the hygiene findings its
// telemetry reveals, its agent version, whether a source of it goes silent, how much of
// the attack traffic it draws, and how fast its analysts respond (Org). It owns the
// fictional estate (orgs, hosts, users, networks, attackers, their profiles), the source
// formats and the scenario catalogue, and it is a pure function of its seed and the calls
// made: it must never do I/O, open a network connection, read the clock or keep global
// mutable state, and it never imports ingest, normalize or sigma (its tests do, to check
// the built-in rules detect what it plays). The demo delivers the records it returns.
package simulate
