package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/mamori-soc/mamori/internal/ruleupdate"
)

func cmdRulesUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rules update", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", filepath.Join(dataDir(), "rules"), "where to install the rules")
	api := fs.String("api", ruleupdate.DefaultAPI, "the release API endpoint (GitHub-compatible)")
	asset := fs.String("asset", ruleupdate.DefaultAsset, "the release package to install")
	if err := fs.Parse(args); err != nil {
		return ExitFailure
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	res, err := ruleupdate.Update(ctx, ruleupdate.Options{API: *api, Asset: *asset, Dir: *dir})
	if err != nil {
		fmt.Fprintln(stderr, "mamori rules update:", err)
		return ExitFailure
	}
	fmt.Fprintf(stdout, "Installed SigmaHQ %s (%s, sha256 %s verified): %d rule files in %s\n", res.Release, *asset, res.SHA256[:16], res.Files, *dir)
	return ExitOK
}
