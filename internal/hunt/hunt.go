package hunt

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mamori-soc/mamori/internal/event"
	"github.com/mamori-soc/mamori/internal/evtx"
	"github.com/mamori-soc/mamori/internal/normalize"
	"github.com/mamori-soc/mamori/internal/sigma"
)

// Config configures Run.
type Config struct {
	// Paths are files or directories, walked recursively.
	Paths []string
	// Set is the compiled rule set.
	Set *sigma.Set
	// MinLevel drops detections below this Sigma level ("" keeps all).
	MinLevel string
	// Workers is the number of decoding/matching goroutines; 0 means GOMAXPROCS.
	Workers int
	// Progress, when set, is called from time to time with bytes done and total.
	Progress func(done, total int64)
}

// Field is one name/value pair of a detected event.
type Field struct {
	Name, Value string
}

// Detection is one rule match, or one correlation that fired.
type Detection struct {
	Rule        *sigma.Rule
	Correlation bool
	Time        time.Time
	Computer    string
	Channel     string
	EventID     string
	RecordID    string
	File        string
	Fields      []Field           // the matched event (detection rules)
	Group       map[string]string // group-by values (correlations)
	Count       int               // events or values counted (correlations)
	First       time.Time         // window start (correlations)
}

// Summary describes a finished hunt.
type Summary struct {
	Files, Events, Bytes int64
	Elapsed              time.Duration
	Detections           int
	ByLevel              map[string]int
	ByRule               map[*sigma.Rule]int
	// Errors are problems with inputs (unreadable files, corrupt chunks or
	// records, bad JSON lines); the hunt went on past each.
	Errors []error
}

// EventsPerSecond returns the throughput of the hunt.
func (s *Summary) EventsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Events) / s.Elapsed.Seconds()
}

type unit struct {
	path  string
	evtx  *evtx.File
	chunk int
	size  int64 // bytes this unit accounts for in progress
}

type worker struct {
	cfg     *Config
	m       *sigma.Matcher
	dec     *evtx.Decoder
	jdec    *normalize.Decoder
	ev      event.Event
	hits    []int
	out     []Detection
	events  int64
	errs    []error
	minRank int
}

// Run hunts through cfg.Paths. It returns an error only when it cannot start
// (no readable path); problems with individual inputs are in Summary.Errors.
func Run(ctx context.Context, cfg Config) ([]Detection, *Summary, error) {
	start := time.Now()
	sum := &Summary{ByLevel: map[string]int{}, ByRule: map[*sigma.Rule]int{}}
	files, total, err := listFiles(cfg.Paths, sum)
	if err != nil {
		return nil, nil, err
	}
	sum.Files = int64(len(files))
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	units := make(chan unit, 4*workers)
	var done atomic.Int64
	var producerErrs []error
	go func() {
		defer close(units)
		for _, f := range files {
			if ctx.Err() != nil {
				return
			}
			if isEVTX(f.path) {
				data, err := os.ReadFile(f.path)
				if err != nil {
					producerErrs = append(producerErrs, fmt.Errorf("%s: %w", f.path, err))
					done.Add(f.size)
					continue
				}
				ef, err := evtx.Open(data)
				if err != nil {
					producerErrs = append(producerErrs, fmt.Errorf("%s: %w", f.path, err))
					done.Add(f.size)
					continue
				}
				n := ef.NumChunks()
				if n == 0 {
					done.Add(f.size)
					continue
				}
				for i := 0; i < n; i++ {
					sz := f.size / int64(n)
					if i == 0 {
						sz += f.size % int64(n)
					}
					select {
					case units <- unit{path: f.path, evtx: ef, chunk: i, size: sz}:
					case <-ctx.Done():
						return
					}
				}
				continue
			}
			select {
			case units <- unit{path: f.path, size: f.size}:
			case <-ctx.Done():
				return
			}
		}
	}()

	ws := make([]*worker, workers)
	var wg sync.WaitGroup
	for i := range ws {
		w := &worker{cfg: &cfg, m: cfg.Set.NewMatcher(), dec: evtx.NewDecoder(), jdec: normalize.NewDecoder(), minRank: sigma.LevelRank(cfg.MinLevel)}
		ws[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range units {
				if ctx.Err() != nil {
					continue
				}
				w.process(u)
				d := done.Add(u.size)
				if cfg.Progress != nil {
					cfg.Progress(d, total)
				}
			}
		}()
	}
	wg.Wait()
	sum.Errors = append(sum.Errors, producerErrs...)
	var dets []Detection
	for _, w := range ws {
		sum.Events += w.events
		sum.Errors = append(sum.Errors, w.errs...)
		dets = append(dets, w.out...)
	}
	sum.Bytes = total
	sort.SliceStable(dets, func(i, j int) bool {
		if !dets[i].Time.Equal(dets[j].Time) {
			return dets[i].Time.Before(dets[j].Time)
		}
		if dets[i].File != dets[j].File {
			return dets[i].File < dets[j].File
		}
		return dets[i].RecordID < dets[j].RecordID
	})
	dets = correlate(cfg.Set, dets, sigma.LevelRank(cfg.MinLevel))
	for _, d := range dets {
		sum.ByLevel[d.Rule.Level]++
		sum.ByRule[d.Rule]++
	}
	sum.Detections = len(dets)
	sum.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return dets, sum, err
	}
	return dets, sum, nil
}

// correlate feeds the matches of correlated rules, in time order, to the
// correlations; it drops matches of rules whose correlations do not
// generate them and those below the minimum level, and merges the
// correlation detections in time order.
func correlate(set *sigma.Set, dets []Detection, minRank int) []Detection {
	keep := func(r *sigma.Rule) bool { return minRank == 0 || sigma.LevelRank(r.Level) >= minRank }
	if len(set.Correlations) == 0 {
		out := dets[:0]
		for _, d := range dets {
			if keep(d.Rule) {
				out = append(out, d)
			}
		}
		return out
	}
	index := map[*sigma.Rule]int{}
	for i, r := range set.Rules {
		index[r] = i
	}
	suppressed := map[int]bool{}
	for i := range set.Rules {
		if set.Suppressed(i) {
			suppressed[i] = true
		}
	}
	c := set.NewCorrelator()
	var out []Detection
	emit := func(hits []sigma.CorrelationHit) {
		for _, h := range hits {
			cr := set.Correlations[h.Corr]
			if !keep(cr.Rule) {
				continue
			}
			out = append(out, Detection{Rule: cr.Rule, Correlation: true, Time: h.Last, First: h.First, Group: h.Group, Count: h.Count})
		}
	}
	for _, d := range dets {
		ri := index[d.Rule]
		if c.Wants(ri) {
			fields := d.Fields
			emit(c.Observe(ri, d.Time, func(name string) (string, bool) {
				for _, f := range fields {
					if f.Name == name {
						return f.Value, true
					}
				}
				return "", false
			}))
		}
		if !suppressed[ri] && keep(d.Rule) {
			out = append(out, d)
		}
	}
	emit(c.Flush(time.Time{}))
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

type inputFile struct {
	path string
	size int64
}

func listFiles(paths []string, sum *Summary) ([]inputFile, int64, error) {
	var files []inputFile
	var total int64
	readable := 0
	for _, root := range paths {
		st, err := os.Stat(root)
		if err != nil {
			sum.Errors = append(sum.Errors, err)
			continue
		}
		readable++
		if !st.IsDir() {
			files = append(files, inputFile{root, st.Size()})
			total += st.Size()
			continue
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				sum.Errors = append(sum.Errors, err)
				return nil
			}
			if d.IsDir() || !supported(p) {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				sum.Errors = append(sum.Errors, err)
				return nil
			}
			files = append(files, inputFile{p, info.Size()})
			total += info.Size()
			return nil
		})
		if err != nil {
			sum.Errors = append(sum.Errors, err)
		}
	}
	if readable == 0 {
		return nil, 0, fmt.Errorf("hunt: no readable input among %s", strings.Join(paths, ", "))
	}
	// Largest first: the long files start early and the cores stay busy to the end.
	sort.SliceStable(files, func(i, j int) bool { return files[i].size > files[j].size })
	return files, total, nil
}

func supported(p string) bool {
	ext := strings.ToLower(filepath.Ext(p))
	if ext == ".gz" {
		ext = strings.ToLower(filepath.Ext(strings.TrimSuffix(p, filepath.Ext(p))))
	}
	switch ext {
	case ".evtx", ".json", ".jsonl", ".ndjson", ".zip":
		return true
	}
	return false
}

func isEVTX(p string) bool { return strings.EqualFold(filepath.Ext(p), ".evtx") }

func (w *worker) process(u unit) {
	if u.evtx != nil {
		w.decodeChunk(u.path, u.path, u.evtx, u.chunk)
		return
	}
	f, err := os.Open(u.path)
	if err != nil {
		w.errs = append(w.errs, err)
		return
	}
	defer f.Close()
	w.stream(u.path, u.path, f)
}

// stream handles a non-EVTX input: compressed, zipped, or JSON.
func (w *worker) stream(path, name string, r io.Reader) {
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, ".gz"):
		zr, err := gzip.NewReader(r)
		if err != nil {
			w.errs = append(w.errs, fmt.Errorf("%s: %w", path, err))
			return
		}
		defer zr.Close()
		w.stream(path, strings.TrimSuffix(name, filepath.Ext(name)), zr)
	case strings.HasSuffix(lower, ".zip"):
		data, err := io.ReadAll(r)
		if err != nil {
			w.errs = append(w.errs, fmt.Errorf("%s: %w", path, err))
			return
		}
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			w.errs = append(w.errs, fmt.Errorf("%s: %w", path, err))
			return
		}
		for _, zf := range zr.File {
			if zf.FileInfo().IsDir() {
				continue
			}
			inner := path + "!" + zf.Name
			rc, err := zf.Open()
			if err != nil {
				w.errs = append(w.errs, fmt.Errorf("%s: %w", inner, err))
				continue
			}
			w.stream(inner, zf.Name, rc)
			rc.Close()
		}
	case strings.HasSuffix(lower, ".evtx"):
		data, err := io.ReadAll(r)
		if err != nil {
			w.errs = append(w.errs, fmt.Errorf("%s: %w", path, err))
			return
		}
		ef, err := evtx.Open(data)
		if err != nil {
			w.errs = append(w.errs, fmt.Errorf("%s: %w", path, err))
			return
		}
		for i := 0; i < ef.NumChunks(); i++ {
			w.decodeChunk(path, path, ef, i)
		}
	default:
		w.json(path, r)
	}
}

func (w *worker) decodeChunk(path, label string, f *evtx.File, i int) {
	err := w.dec.DecodeChunk(f, i, func(r *evtx.Record) error {
		ev := &w.ev
		ev.Reset()
		if r.Time.Year() > 1601 { // a zero FILETIME means "unknown": use TimeCreated then
			ev.Time = r.Time
		}
		for _, fl := range r.Fields {
			ev.Append(fl.Name, fl.Value)
		}
		w.match(label, ev)
		return nil
	})
	if err != nil {
		w.errs = append(w.errs, fmt.Errorf("%s: %w", path, err))
	}
}

func (w *worker) json(path string, r io.Reader) {
	var lineErrs int
	err := normalize.Lines(bufio.NewReaderSize(r, 1<<20), func(line int, doc []byte) error {
		if err := w.jdec.JSON(doc, &w.ev); err != nil {
			lineErrs++
			if lineErrs <= 10 {
				w.errs = append(w.errs, fmt.Errorf("%s:%d: %w", path, line, err))
			}
			return nil
		}
		w.match(path, &w.ev)
		return nil
	}, func(line int, err error) {
		lineErrs++
		if lineErrs <= 10 {
			w.errs = append(w.errs, fmt.Errorf("%s:%d: %w", path, line, err))
		}
	})
	if err != nil {
		w.errs = append(w.errs, fmt.Errorf("%s: %w", path, err))
	}
	if lineErrs > 10 {
		w.errs = append(w.errs, fmt.Errorf("%s: %d more bad lines", path, lineErrs-10))
	}
}

func (w *worker) match(file string, ev *event.Event) {
	w.events++
	w.hits = w.m.Match(ev, w.hits[:0])
	if len(w.hits) == 0 {
		return
	}
	set := w.cfg.Set
	for _, ri := range w.hits {
		r := set.Rules[ri]
		d := Detection{Rule: r, Time: ev.Time, File: file}
		d.Fields = make([]Field, ev.Len())
		for i := range d.Fields {
			d.Fields[i] = Field{string(ev.Name(i)), string(ev.Value(i))}
		}
		for _, f := range d.Fields {
			switch f.Name {
			case "Computer":
				d.Computer = f.Value
			case "Channel":
				d.Channel = f.Value
			case "EventID":
				d.EventID = f.Value
			case "EventRecordID":
				d.RecordID = f.Value
			}
		}
		if d.Time.IsZero() {
			if v, ok := ev.Get("TimeCreated_SystemTime"); ok {
				if t, err := time.Parse(time.RFC3339Nano, string(v)); err == nil && t.Year() > 1601 {
					d.Time = t
				}
			}
		}
		w.out = append(w.out, d)
	}
}
