package app

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// Exit codes of the mamori command.
const (
	ExitOK         = 0 // success
	ExitFailure    = 1 // the command could not do its job (bad usage, unreadable config, ...)
	ExitInputError = 2 // the command finished, but some inputs (rules, files) had errors
)

const usage = `mamori — national cyber situational awareness

Usage:
  mamori demo [flags]                the whole platform on a temporary data dir, fed by a national telemetry generator
  mamori serve [flags]               run the platform: ingest, detection, alerts, API
  mamori org add NAME --sector S     add an organisation (also: org list)
  mamori user add NAME --role R      add a user (national_admin, national_analyst, org_analyst, org_viewer)
  mamori token create NAME --role R  create an API or ingest token
  mamori hunt [flags] PATH...        run Sigma rules over EVTX / JSON logs
  mamori rules check DIR...          load rules and report every one that fails
  mamori rules update [--dir DIR]    download and verify the latest SigmaHQ rule release
  mamori version                     print the version

Run "mamori COMMAND -h" for the flags of a command.
`

// Main runs the mamori command line with args (without the program name) and
// returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitFailure
	}
	switch args[0] {
	case "hunt":
		return cmdHunt(ctx, args[1:], stdout, stderr)
	case "rules":
		return cmdRules(ctx, args[1:], stdout, stderr)
	case "serve":
		return cmdServe(ctx, args[1:], stdout, stderr)
	case "demo":
		return cmdDemo(ctx, args[1:], stdout, stderr)
	case "org":
		return cmdOrg(ctx, args[1:], stdout, stderr)
	case "user":
		return cmdUser(ctx, args[1:], stdin, stdout, stderr)
	case "token":
		return cmdToken(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "mamori", Version())
		return ExitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return ExitOK
	}
	fmt.Fprintf(stderr, "mamori: unknown command %q\n\n%s", args[0], usage)
	return ExitFailure
}

// Version returns the module version, or the VCS revision of a local build.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			return "dev-" + s.Value[:min(12, len(s.Value))]
		}
	}
	return "dev"
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
