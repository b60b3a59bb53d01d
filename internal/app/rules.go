package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/mamori-soc/mamori/internal/rulepack"
	"github.com/mamori-soc/mamori/internal/sigma"
)

// ruleOptions are the flags shared by every command that loads rules.
type ruleOptions struct {
	rules        multiFlag
	noBuiltin    bool
	logsources   string
	placeholders string
}

func (o *ruleOptions) register(fs *flag.FlagSet) {
	fs.Var(&o.rules, "rules", "a Sigma rule directory or file (repeatable); default: $MAMORI_RULES, else the rules installed by `mamori rules update`")
	fs.BoolVar(&o.noBuiltin, "no-builtin-rules", false, "do not load Mamori's built-in rule pack")
	fs.StringVar(&o.logsources, "logsources", "", "a YAML file of extra logsource mappings (added to the built-in ones)")
	fs.StringVar(&o.placeholders, "placeholders", "", "a YAML file of values for %placeholders% (expand modifier)")
}

// dataDir returns Mamori's data directory: $MAMORI_DATA, else
// $XDG_DATA_HOME/mamori, else ~/.local/share/mamori.
func dataDir() string {
	if d := os.Getenv("MAMORI_DATA"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "mamori")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "mamori")
	}
	return "mamori-data"
}

// ruleDirs returns the corpus directories to load: the first of --rules,
// $MAMORI_RULES, and the installed release.
func (o *ruleOptions) ruleDirs() []string {
	if len(o.rules) > 0 {
		return o.rules
	}
	if env := os.Getenv("MAMORI_RULES"); env != "" {
		return filepath.SplitList(env)
	}
	installed := filepath.Join(dataDir(), "rules")
	if st, err := os.Stat(installed); err == nil && st.IsDir() {
		return []string{installed}
	}
	return nil
}

// loadedRules is the outcome of loading and compiling rules.
type loadedRules struct {
	set      *sigma.Set
	dirs     []string
	parsed   int
	errs     []error
	builtins int
}

// load parses the built-in pack and the corpus, and compiles them. Rule
// errors are collected, never fatal; configuration errors are.
func (o *ruleOptions) load() (*loadedRules, error) {
	lr := &loadedRules{dirs: o.ruleDirs()}
	var rules []*sigma.Rule
	if !o.noBuiltin {
		rs, errs := sigma.LoadFS(rulepack.Rules(), "rules")
		for _, r := range rs {
			r.Path = "builtin:" + r.Path
		}
		rules = append(rules, rs...)
		lr.builtins = len(rs)
		lr.errs = append(lr.errs, errs...)
	}
	if len(lr.dirs) > 0 {
		rs, errs := sigma.LoadDirs(lr.dirs...)
		rules = append(rules, rs...)
		lr.errs = append(lr.errs, errs...)
	}
	lr.parsed = len(rules)
	mapping := sigma.DefaultMapping()
	if o.logsources != "" {
		extra, err := sigma.LoadMapping(o.logsources)
		if err != nil {
			return nil, err
		}
		mapping = mapping.Merge(extra)
	}
	ph, err := loadPlaceholders(o.placeholders)
	if err != nil {
		return nil, err
	}
	set, errs := sigma.Compile(rules, sigma.CompileOptions{Mapping: mapping, Placeholders: ph})
	lr.set = set
	lr.errs = append(lr.errs, errs...)
	return lr, nil
}

func loadPlaceholders(path string) (sigma.PlaceholderMap, error) {
	src := rulepack.Placeholders()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("placeholders: %w", err)
		}
		src = b
	}
	m := sigma.PlaceholderMap{}
	if err := yaml.Unmarshal(src, &m); err != nil {
		return nil, fmt.Errorf("placeholders %s: %w", path, err)
	}
	if path != "" {
		// Names the user left out keep the built-in (empty) value.
		var def sigma.PlaceholderMap
		if err := yaml.Unmarshal(rulepack.Placeholders(), &def); err == nil {
			for k, v := range def {
				if _, ok := m[k]; !ok {
					m[k] = v
				}
			}
		}
	}
	return m, nil
}

func cmdRules(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "usage: mamori rules check DIR... | mamori rules update [--dir DIR]\n")
		return ExitFailure
	}
	switch args[0] {
	case "check":
		return cmdRulesCheck(args[1:], stdout, stderr)
	case "update":
		return cmdRulesUpdate(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "mamori rules: unknown subcommand %q (want check or update)\n", args[0])
	return ExitFailure
}

func cmdRulesCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rules check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o ruleOptions
	fs.StringVar(&o.logsources, "logsources", "", "a YAML file of extra logsource mappings")
	fs.StringVar(&o.placeholders, "placeholders", "", "a YAML file of values for %placeholders%")
	verbose := fs.Bool("v", false, "also list rules whose logsource no mapping covers")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: mamori rules check [flags] DIR...\n\nLoads every rule under the DIRs and prints, per rule that does not load, the file, the line and why.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return ExitFailure
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return ExitFailure
	}
	o.rules = fs.Args()
	o.noBuiltin = true
	lr, err := o.load()
	if err != nil {
		fmt.Fprintln(stderr, "mamori:", err)
		return ExitFailure
	}
	failed := 0
	for _, e := range lr.errs {
		fmt.Fprintln(stdout, e)
		failed++
	}
	if *verbose {
		for _, i := range lr.set.Unmapped {
			r := lr.set.Rules[i]
			fmt.Fprintf(stdout, "%s:%d: note: logsource %q is not mapped; the rule loads but no event reaches it\n", r.Path, r.Line, r.Logsource.String())
		}
	}
	loaded := len(lr.set.Rules) + len(lr.set.Correlations)
	fmt.Fprintf(stdout, "%d rules loaded, %d failed\n", loaded, failed)
	if failed > 0 {
		return ExitInputError
	}
	return ExitOK
}
