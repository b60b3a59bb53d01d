// Package ruleupdate downloads a SigmaHQ rule release package, verifies its
// SHA-256 digest against the one the release API publishes, and installs it
// atomically into a directory (the way `hayabusa update-rules` keeps rules
// current). It writes only inside the target directory's parent.
package ruleupdate

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Defaults: SigmaHQ's latest release and its package of all rules.
const (
	DefaultAPI   = "https://api.github.com/repos/SigmaHQ/sigma/releases/latest"
	DefaultAsset = "sigma_all_rules.zip"
	maxPackage   = 512 << 20 // refuse larger downloads
)

// Options configures Update.
type Options struct {
	API    string // release API URL (GitHub-compatible JSON)
	Asset  string // name of the release asset to install
	Dir    string // installation directory (replaced atomically)
	Client *http.Client
}

// Result describes an installed release.
type Result struct {
	Release string
	SHA256  string
	Files   int
}

type release struct {
	TagName string `json:"tag_name"`
	Assets  []struct {
		Name   string `json:"name"`
		URL    string `json:"browser_download_url"`
		Digest string `json:"digest"`
		Size   int64  `json:"size"`
	} `json:"assets"`
}

// Update fetches the release description, downloads the asset, verifies
// its digest and installs the rule files it contains into opts.Dir.
func Update(ctx context.Context, opts Options) (*Result, error) {
	if opts.API == "" {
		opts.API = DefaultAPI
	}
	if opts.Asset == "" {
		opts.Asset = DefaultAsset
	}
	if opts.Dir == "" {
		return nil, errors.New("rules update: no target directory")
	}
	client := opts.Client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Minute}
	}
	var rel release
	if err := getJSON(ctx, client, opts.API, &rel); err != nil {
		return nil, fmt.Errorf("rules update: release description: %w", err)
	}
	var url, digest string
	for _, a := range rel.Assets {
		if a.Name == opts.Asset {
			url, digest = a.URL, a.Digest
		}
	}
	if url == "" {
		return nil, fmt.Errorf("rules update: release %s has no asset %q", rel.TagName, opts.Asset)
	}
	want, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(want) != 64 {
		return nil, fmt.Errorf("rules update: release %s publishes no sha256 digest for %q; refusing an unverified package", rel.TagName, opts.Asset)
	}
	if err := os.MkdirAll(filepath.Dir(opts.Dir), 0o755); err != nil {
		return nil, fmt.Errorf("rules update: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(opts.Dir), ".rules-download-*")
	if err != nil {
		return nil, fmt.Errorf("rules update: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	got, n, err := download(ctx, client, url, tmp)
	if err != nil {
		return nil, fmt.Errorf("rules update: download %s: %w", url, err)
	}
	if !strings.EqualFold(got, want) {
		return nil, fmt.Errorf("rules update: %s: sha256 %s does not match the published %s; nothing installed", opts.Asset, got, want)
	}
	staging, err := os.MkdirTemp(filepath.Dir(opts.Dir), ".rules-new-*")
	if err != nil {
		return nil, fmt.Errorf("rules update: %w", err)
	}
	defer os.RemoveAll(staging)
	files, err := extract(tmp, n, staging)
	if err != nil {
		return nil, fmt.Errorf("rules update: %s: %w", opts.Asset, err)
	}
	if files == 0 {
		return nil, fmt.Errorf("rules update: %s holds no rule files; nothing installed", opts.Asset)
	}
	meta, _ := json.MarshalIndent(map[string]any{"release": rel.TagName, "asset": opts.Asset, "sha256": got, "installed": time.Now().UTC()}, "", "  ")
	if err := os.WriteFile(filepath.Join(staging, "RELEASE.json"), meta, 0o644); err != nil {
		return nil, fmt.Errorf("rules update: %w", err)
	}
	// Swap: the old directory stays intact until the new one is complete.
	old := opts.Dir + ".old"
	_ = os.RemoveAll(old)
	if _, err := os.Stat(opts.Dir); err == nil {
		if err := os.Rename(opts.Dir, old); err != nil {
			return nil, fmt.Errorf("rules update: %w", err)
		}
	}
	if err := os.Rename(staging, opts.Dir); err != nil {
		_ = os.Rename(old, opts.Dir)
		return nil, fmt.Errorf("rules update: %w", err)
	}
	_ = os.RemoveAll(old)
	return &Result{Release: rel.TagName, SHA256: got, Files: files}, nil
}

func getJSON(ctx context.Context, c *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(v)
}

func download(ctx context.Context, c *http.Client, url string, dst io.Writer) (string, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", 0, fmt.Errorf("%s", resp.Status)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(dst, h), io.LimitReader(resp.Body, maxPackage+1))
	if err != nil {
		return "", 0, err
	}
	if n > maxPackage {
		return "", 0, fmt.Errorf("package larger than %d MiB", maxPackage>>20)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// extract unpacks the YAML files of a zip into dir, refusing paths that
// would escape it.
func extract(r io.ReaderAt, size int64, dir string) (int, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return 0, err
	}
	files := 0
	for _, f := range zr.File {
		name := path.Clean(strings.ReplaceAll(f.Name, `\`, "/"))
		if f.FileInfo().IsDir() {
			continue
		}
		if strings.HasPrefix(name, "../") || name == ".." || path.IsAbs(name) {
			return files, fmt.Errorf("entry %q escapes the target directory", f.Name)
		}
		if ext := strings.ToLower(path.Ext(name)); ext != ".yml" && ext != ".yaml" {
			continue
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return files, err
		}
		rc, err := f.Open()
		if err != nil {
			return files, fmt.Errorf("entry %q: %w", f.Name, err)
		}
		out, err := os.Create(target)
		if err == nil {
			_, err = io.Copy(out, io.LimitReader(rc, 16<<20))
			if cerr := out.Close(); err == nil {
				err = cerr
			}
		}
		rc.Close()
		if err != nil {
			return files, fmt.Errorf("entry %q: %w", f.Name, err)
		}
		files++
	}
	return files, nil
}
