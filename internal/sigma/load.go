package sigma

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LoadDirs parses every .yml/.yaml file under the given directories (or
// files). A rule that fails does not stop the others: the rules that parsed
// are returned together with one error per failure, each naming file and line.
func LoadDirs(paths ...string) ([]*Rule, []error) {
	var rules []*Rule
	var errs []error
	for _, root := range paths {
		var files []string
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, fmt.Errorf("rules %s: %w", p, err))
				return nil
			}
			if d.IsDir() {
				if p != root && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if ext := strings.ToLower(filepath.Ext(p)); ext == ".yml" || ext == ".yaml" {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("rules %s: %w", root, err))
		}
		sort.Strings(files)
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, fmt.Errorf("rules %s: %w", f, err))
				continue
			}
			rs, es := Parse(f, src)
			rules = append(rules, rs...)
			errs = append(errs, es...)
		}
	}
	return rules, errs
}

// LoadFS is LoadDirs over a file system (used for the embedded rule pack).
func LoadFS(fsys fs.FS, root string) ([]*Rule, []error) {
	var rules []*Rule
	var errs []error
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := strings.ToLower(filepath.Ext(p)); ext != ".yml" && ext != ".yaml" {
			return nil
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("rules %s: %w", p, err))
			return nil
		}
		rs, es := Parse(p, src)
		rules = append(rules, rs...)
		errs = append(errs, es...)
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	return rules, errs
}
