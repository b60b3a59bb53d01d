package sigma

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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
		rs, es := parseFiles(files)
		rules = append(rules, rs...)
		errs = append(errs, es...)
	}
	return rules, errs
}

// parseFiles parses files on every core, keeping the files' order in the result.
func parseFiles(files []string) ([]*Rule, []error) {
	type result struct {
		rules []*Rule
		errs  []error
	}
	results := make([]result, len(files))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(len(files), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(files) {
					return
				}
				src, err := os.ReadFile(files[i])
				if err != nil {
					results[i].errs = []error{fmt.Errorf("rules %s: %w", files[i], err)}
					continue
				}
				results[i].rules, results[i].errs = Parse(files[i], src)
			}
		}()
	}
	wg.Wait()
	var rules []*Rule
	var errs []error
	for _, r := range results {
		rules = append(rules, r.rules...)
		errs = append(errs, r.errs...)
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
