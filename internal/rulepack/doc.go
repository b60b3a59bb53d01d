// Package rulepack embeds Mamori's own Sigma rules: the detections the
// SigmaHQ corpus lacks (brute force, password spraying, beaconing and DNS
// tunnelling correlations), a rule for every attack scenario the demo
// generator plays, so that the built-in pack alone detects all of them, and a
// low-level rule per kind of hygiene finding (tagged mamori.hygiene.<kind>,
// which the security rating reads). It also embeds the default placeholder
// values for the expand modifier.
//
// It holds data only and must never import another internal package.
package rulepack

import (
	"embed"
	"io/fs"
)

//go:embed rules/*.yml
var rules embed.FS

//go:embed placeholders.yml
var placeholders []byte

// Rules returns the embedded rule files (root "rules").
func Rules() fs.FS { return rules }

// Placeholders returns the default placeholders file (YAML: name → list of values).
func Placeholders() []byte { return placeholders }
