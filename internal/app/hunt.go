package app

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mamori-soc/mamori/internal/hunt"
	"github.com/mamori-soc/mamori/internal/sigma"
)

func cmdHunt(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hunt", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o ruleOptions
	o.register(fs)
	format := fs.String("format", "table", "output format: table, jsonl or csv")
	minLevel := fs.String("min-level", "", "only report detections of this level or above (informational, low, medium, high, critical)")
	out := fs.String("out", "", "write detections to this file instead of standard output")
	workers := fs.Int("workers", 0, "decoding and matching goroutines (default: one per core)")
	quiet := fs.Bool("q", false, "no progress bar and no summary")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the hunt to this file")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: mamori hunt [flags] PATH...

Runs Sigma rules over EVTX files and JSON logs (Winlogbeat/ECS NDJSON, NXLog-style
flat Windows JSON, evtx_dump JSON; plain, .gz or .zip) found under the PATHs.
Rules: Mamori's built-in pack, plus the corpus from --rules, else $MAMORI_RULES,
else the release installed by "mamori rules update".
Exit status: 0 done, 1 could not run, 2 done but some inputs or rules had errors.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return ExitFailure
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return ExitFailure
	}
	switch *format {
	case "table", "jsonl", "csv":
	default:
		fmt.Fprintf(stderr, "mamori hunt: unknown --format %q (want table, jsonl or csv)\n", *format)
		return ExitFailure
	}
	if *minLevel != "" && sigma.LevelRank(*minLevel) == 0 {
		fmt.Fprintf(stderr, "mamori hunt: unknown --min-level %q (want informational, low, medium, high or critical)\n", *minLevel)
		return ExitFailure
	}
	loadStart := time.Now()
	lr, err := o.load()
	if err != nil {
		fmt.Fprintln(stderr, "mamori hunt:", err)
		return ExitFailure
	}
	loadTime := time.Since(loadStart)
	for _, e := range lr.errs {
		fmt.Fprintln(stderr, "rule error:", e)
	}
	if !*quiet {
		src := "built-in pack only"
		if len(lr.dirs) > 0 {
			src = strings.Join(lr.dirs, ", ")
		}
		fmt.Fprintf(stderr, "Loaded %d rules (%d built-in; %s) and %d correlations in %s.\n",
			len(lr.set.Rules), lr.builtins, src, len(lr.set.Correlations), loadTime.Round(time.Millisecond))
	}

	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(stderr, "mamori hunt:", err)
			return ExitFailure
		}
		defer f.Close()
		w = f
	}
	var bar *progressBar
	if !*quiet && isTerminal(stderr) {
		bar = &progressBar{w: stderr, start: time.Now()}
	}
	cfg := hunt.Config{Paths: fs.Args(), Set: lr.set, MinLevel: *minLevel, Workers: *workers}
	if bar != nil {
		cfg.Progress = bar.update
	}
	if *cpuprofile != "" {
		pf, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(stderr, "mamori hunt:", err)
			return ExitFailure
		}
		_ = pprof.StartCPUProfile(pf)
		defer func() { pprof.StopCPUProfile(); pf.Close() }()
	}
	dets, sum, err := hunt.Run(ctx, cfg)
	if bar != nil {
		bar.finish()
	}
	if err != nil && sum == nil {
		fmt.Fprintln(stderr, "mamori hunt:", err)
		return ExitFailure
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	switch *format {
	case "jsonl":
		err = writeJSONL(bw, dets)
	case "csv":
		err = writeCSV(bw, dets)
	default:
		err = writeTable(bw, dets, isTerminal(w))
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		fmt.Fprintln(stderr, "mamori hunt: writing detections:", err)
		return ExitFailure
	}
	for _, e := range sum.Errors {
		fmt.Fprintln(stderr, "input error:", e)
	}
	if !*quiet {
		writeSummary(stderr, sum)
	}
	if ctx.Err() != nil {
		return ExitFailure
	}
	if len(sum.Errors) > 0 || len(lr.errs) > 0 {
		return ExitInputError
	}
	return ExitOK
}

// detailFields are shown, in this order, in the table's Details column.
var detailFields = []string{
	"CommandLine", "Image", "ParentImage", "TargetImage", "GrantedAccess", "SourceImage", "TargetFilename", "TargetObject", "Details",
	"QueryName", "DestinationIp", "DestinationPort", "ServiceName", "ImagePath", "TargetUserName", "SubjectUserName", "IpAddress",
	"LogonType", "ScriptBlockText", "Payload", "NewProcessName", "ProcessName", "PipeName", "ImageLoaded", "ShareName", "RelativeTargetName",
	"cs-uri-query", "c-ip", "message", "src_ip",
}

func details(d *hunt.Detection, max int) string {
	var b strings.Builder
	if d.Correlation {
		keys := make([]string, 0, len(d.Group))
		for k := range d.Group {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, "count=%d", d.Count)
		for _, k := range keys {
			fmt.Fprintf(&b, " ¦ %s=%s", k, d.Group[k])
		}
		fmt.Fprintf(&b, " ¦ window=%s..%s", d.First.UTC().Format("15:04:05"), d.Time.UTC().Format("15:04:05"))
		return truncate(b.String(), max)
	}
	for _, name := range detailFields {
		for _, f := range d.Fields {
			if f.Name == name && f.Value != "" && f.Value != "-" {
				if b.Len() > 0 {
					b.WriteString(" ¦ ")
				}
				b.WriteString(name)
				b.WriteByte('=')
				b.WriteString(strings.Join(strings.Fields(f.Value), " "))
				break
			}
		}
		if b.Len() > max {
			break
		}
	}
	return truncate(b.String(), max)
}

func truncate(s string, max int) string {
	if max > 0 && len(s) > max {
		cut := max
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		return s[:cut] + "…"
	}
	return s
}

var levelColor = map[string]string{"critical": "\x1b[1;31m", "high": "\x1b[31m", "medium": "\x1b[33m", "low": "\x1b[36m", "informational": "\x1b[2m"}

func writeTable(w io.Writer, dets []hunt.Detection, color bool) error {
	if len(dets) == 0 {
		_, err := fmt.Fprintln(w, "No detections.")
		return err
	}
	fmt.Fprintf(w, "%-23s  %-8s  %-20s  %-22s  %s\n", "Timestamp (UTC)", "Level", "Computer", "Channel/EventID", "Rule (author) ¦ details")
	for i := range dets {
		d := &dets[i]
		lvl := d.Rule.Level
		if len(lvl) > 8 {
			lvl = lvl[:4]
		}
		lvlCell := fmt.Sprintf("%-8s", lvl)
		if color {
			lvlCell = levelColor[d.Rule.Level] + lvlCell + "\x1b[0m"
		}
		ch := shortChannel(d.Channel)
		if d.EventID != "" {
			ch += "/" + d.EventID
		}
		if d.Correlation {
			ch = "correlation"
		}
		_, err := fmt.Fprintf(w, "%-23s  %s  %-20s  %-22s  %s (%s) ¦ %s\n", d.Time.UTC().Format("2006-01-02 15:04:05.000"), lvlCell,
			truncate(d.Computer, 20), truncate(ch, 22), d.Rule.Title, truncate(d.Rule.Author, 40), details(d, 200))
		if err != nil {
			return err
		}
	}
	return nil
}

func shortChannel(ch string) string {
	ch = strings.TrimPrefix(ch, "Microsoft-Windows-")
	ch = strings.TrimSuffix(ch, "/Operational")
	return ch
}

type jsonDetection struct {
	RuleID      string            `json:"rule_id"`
	RuleTitle   string            `json:"rule_title"`
	RuleAuthor  string            `json:"rule_author"`
	Level       string            `json:"level"`
	Tags        []string          `json:"tags"`
	Techniques  []string          `json:"techniques,omitempty"`
	Timestamp   string            `json:"timestamp"`
	Computer    string            `json:"computer,omitempty"`
	Channel     string            `json:"channel,omitempty"`
	EventID     string            `json:"event_id,omitempty"`
	RecordID    string            `json:"record_id,omitempty"`
	File        string            `json:"file,omitempty"`
	Correlation bool              `json:"correlation,omitempty"`
	Group       map[string]string `json:"group,omitempty"`
	Count       int               `json:"count,omitempty"`
	FirstSeen   string            `json:"first_seen,omitempty"`
	Event       map[string]any    `json:"event,omitempty"`
}

func toJSON(d *hunt.Detection) jsonDetection {
	j := jsonDetection{
		RuleID: d.Rule.ID, RuleTitle: d.Rule.Title, RuleAuthor: d.Rule.Author, Level: d.Rule.Level, Tags: d.Rule.Tags,
		Techniques: d.Rule.Techniques(), Timestamp: d.Time.UTC().Format(time.RFC3339Nano), Computer: d.Computer, Channel: d.Channel,
		EventID: d.EventID, RecordID: d.RecordID, File: d.File, Correlation: d.Correlation, Group: d.Group, Count: d.Count,
	}
	if j.Tags == nil {
		j.Tags = []string{}
	}
	if d.Correlation {
		j.FirstSeen = d.First.UTC().Format(time.RFC3339Nano)
	}
	if len(d.Fields) > 0 {
		j.Event = make(map[string]any, len(d.Fields))
		for _, f := range d.Fields {
			switch prev := j.Event[f.Name].(type) {
			case nil:
				j.Event[f.Name] = f.Value
			case string:
				j.Event[f.Name] = []string{prev, f.Value}
			case []string:
				j.Event[f.Name] = append(prev, f.Value)
			}
		}
	}
	return j
}

func writeJSONL(w io.Writer, dets []hunt.Detection) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := range dets {
		if err := enc.Encode(toJSON(&dets[i])); err != nil {
			return err
		}
	}
	return nil
}

func writeCSV(w io.Writer, dets []hunt.Detection) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"timestamp", "level", "rule_title", "rule_id", "rule_author", "tags", "computer", "channel", "event_id", "record_id", "file", "details"})
	for i := range dets {
		d := &dets[i]
		if err := cw.Write([]string{d.Time.UTC().Format(time.RFC3339Nano), d.Rule.Level, d.Rule.Title, d.Rule.ID, d.Rule.Author,
			strings.Join(d.Rule.Tags, " "), d.Computer, d.Channel, d.EventID, d.RecordID, d.File, details(d, 0)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func writeSummary(w io.Writer, sum *hunt.Summary) {
	fmt.Fprintf(w, "\nRead %d files (%.1f MiB), %d events in %s: %.0f events/s.\n", sum.Files, float64(sum.Bytes)/(1<<20), sum.Events,
		sum.Elapsed.Round(time.Millisecond), sum.EventsPerSecond())
	fmt.Fprintf(w, "Detections: %d", sum.Detections)
	for _, lvl := range []string{"critical", "high", "medium", "low", "informational"} {
		if n := sum.ByLevel[lvl]; n > 0 {
			fmt.Fprintf(w, " · %s %d", lvl, n)
		}
	}
	fmt.Fprintln(w)
	type rc struct {
		r *sigma.Rule
		n int
	}
	var top []rc
	for r, n := range sum.ByRule {
		top = append(top, rc{r, n})
	}
	sort.Slice(top, func(i, j int) bool {
		if top[i].n != top[j].n {
			return top[i].n > top[j].n
		}
		return top[i].r.Title < top[j].r.Title
	})
	if len(top) > 0 {
		fmt.Fprintf(w, "Top rules (%d fired):\n", len(top))
	}
	for i, t := range top {
		if i == 10 {
			break
		}
		fmt.Fprintf(w, "  %6d  %-13s %s (%s)\n", t.n, t.r.Level, t.r.Title, truncate(t.r.Author, 50))
	}
	if len(sum.Errors) > 0 {
		fmt.Fprintf(w, "%d input errors (listed above); the rest was read.\n", len(sum.Errors))
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar draws a one-line progress bar on a terminal.
type progressBar struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	last  time.Time
}

func (p *progressBar) update(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond && done < total {
		return
	}
	p.last = now
	frac := 0.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	const width = 30
	n := int(frac * width)
	fmt.Fprintf(p.w, "\r[%s%s] %5.1f%%  %.1f/%.1f MiB  %s", strings.Repeat("█", n), strings.Repeat("░", width-n), 100*frac,
		float64(done)/(1<<20), float64(total)/(1<<20), now.Sub(p.start).Round(100*time.Millisecond))
}

func (p *progressBar) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.w, "\r\x1b[K")
}
