package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mamori-soc/mamori/internal/auth"
	"github.com/mamori-soc/mamori/internal/ioc"
	"github.com/mamori-soc/mamori/internal/simulate"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// DemoInfo is what `mamori demo` writes to DIR/demo.json for scripts.
type DemoInfo struct {
	URL          string            `json:"url"`
	Username     string            `json:"username"`
	Password     string            `json:"password"`
	APIToken     string            `json:"api_token"`
	IngestTokens map[string]string `json:"ingest_tokens"`
	OrgTokens    map[string]string `json:"org_tokens"`
	Syslog       DemoSyslog        `json:"syslog"`
	// BouncerKeys are CrowdSec bouncer API keys, one per organisation
	// (docs/DECISIONS.md): point a bouncer's api_url at URL with one.
	BouncerKeys map[string]string `json:"bouncer_keys"`
}

// DemoSyslog locates the demo's syslog listener.
type DemoSyslog struct {
	UDP string `json:"udp"`
	TCP string `json:"tcp"`
	Org string `json:"org"`
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "data directory (default: a new temporary directory)")
	listen := fs.String("listen", "127.0.0.1:8080", "HTTP address (a free port is used when it is taken)")
	noOpen := fs.Bool("no-open", false, "do not open a browser")
	var rules multiFlag
	fs.Var(&rules, "rules", "Sigma rule directory (repeatable): the SigmaHQ corpus, in addition to the built-in pack")
	seed := fs.Int64("seed", 1, "generator seed")
	rate := fs.Float64("rate", 1000, "benign events per second across all organisations")
	attacks := fs.Int("attacks-per-day", 3000, "attack scenarios per day across all organisations")
	speedup := fs.Float64("speedup", 1, "play the attacks this many times faster than real time (1440: a day's attacks every minute); response times and ratings stay in real time")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return ExitFailure
	}
	dir := *data
	if dir == "" {
		d, err := os.MkdirTemp("", "mamori-demo-*")
		if err != nil {
			fmt.Fprintln(stderr, "mamori demo:", err)
			return ExitFailure
		}
		dir = d
	}
	log := newLogger(stderr, *logLevel)
	d, err := startDemo(ctx, demoConfig{dir: dir, listen: *listen, rules: rules, seed: *seed, rate: *rate, attacks: *attacks, speedup: *speedup}, log)
	if err != nil {
		fmt.Fprintln(stderr, "mamori demo:", err)
		return ExitFailure
	}
	info := d.info
	fmt.Fprintf(stdout, `
Mamori demo is running: %d organisations in %d sectors, fed by the national telemetry generator
(%d attacks a day%s) through the real ingest paths (_bulk, NDJSON, syslog). Each organisation's
analysts answer incidents at their own pace; the ratings follow.

  Console        %s/ui/
  API            %s   (OpenAPI: %s/api/v1/openapi.json)
  Login          %s / %s   (national analyst)
  Data           %s   (demo.json there has every token)

Try:
  curl -s -H 'Authorization: Bearer %s' '%s/api/v1/alerts?level=high,critical&limit=5'
  curl -s -H 'Authorization: Bearer %s' '%s/api/v1/events?q=vssadmin&limit=3'
  curl -s -H 'Authorization: Bearer %s' '%s/api/v1/ratings'
  curl -s %s/metrics | grep mamori_

Press Ctrl-C to stop.
`, len(d.gen.Orgs()), countSectors(d.gen.Orgs()), *attacks, speedNote(*speedup), info.URL, info.URL, info.URL, info.Username, info.Password, dir, info.APIToken, info.URL, info.APIToken, info.URL, info.APIToken, info.URL, info.URL)
	if !*noOpen {
		openBrowser(info.URL + "/ui/")
	}
	if err := d.wait(); err != nil {
		fmt.Fprintln(stderr, "mamori demo:", err)
		return ExitFailure
	}
	return ExitOK
}

// openBrowser opens url in the desktop's browser, when there is a desktop.
func speedNote(speedup float64) string {
	if speedup > 1 {
		return fmt.Sprintf(", played %g times faster", speedup)
	}
	return ""
}

func openBrowser(url string) {
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return
	}
	for _, opener := range []string{"xdg-open", "open"} {
		if path, err := exec.LookPath(opener); err == nil {
			_ = exec.Command(path, url).Start()
			return
		}
	}
}

func countSectors(orgs []simulate.Org) int {
	m := map[tenant.Sector]bool{}
	for _, o := range orgs {
		m[o.Tenant.Sector] = true
	}
	return len(m)
}

type demoConfig struct {
	dir, listen string
	rules       []string
	seed        int64
	rate        float64
	attacks     int
	speedup     float64 // 0: the generator's default (1440, a day a minute)
}

type demo struct {
	srv   *Server
	gen   *simulate.Generator
	info  DemoInfo
	errc  chan error
	feedW sync.WaitGroup
}

// freeListen returns addr if it can be bound, else a free port on its host.
func freeListen(addr string) string {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		ln.Close()
		return addr
	}
	host, _, _ := net.SplitHostPort(addr)
	return net.JoinHostPort(host, "0")
}

func startDemo(ctx context.Context, c demoConfig, log *slog.Logger) (*demo, error) {
	gen := simulate.New(simulate.Config{Seed: c.seed, BaselinePerSecond: c.rate, AttacksPerDay: c.attacks, Speedup: c.speedup})
	orgs := gen.Orgs()
	if len(orgs) == 0 {
		return nil, errors.New("generator produced no organisations")
	}
	syslogOrg := orgs[0].Tenant.ID
	if len(c.rules) == 0 {
		// As for hunt: $MAMORI_RULES, else the release installed by `mamori rules update`.
		c.rules = (&ruleOptions{}).ruleDirs()
	}
	cfg := Config{Listen: freeListen(c.listen), Data: c.dir, Rules: c.rules,
		Syslog: []SyslogConfig{{UDP: "127.0.0.1:0", TCP: "127.0.0.1:0", Org: string(syslogOrg)}}}
	srv, err := NewServer(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	d := &demo{srv: srv, gen: gen, errc: make(chan error, 1)}
	info := DemoInfo{URL: "http://" + srv.Addr(), Username: "analyst", IngestTokens: map[string]string{}, OrgTokens: map[string]string{},
		BouncerKeys: map[string]string{}}
	a := srv.Auth()
	for _, o := range orgs {
		t := o.Tenant
		t.Assets = len(o.Hosts) + len(o.LinuxHosts) // the estate each organisation declares
		if err := srv.store.PutTenant(ctx, t); err != nil {
			return nil, err
		}
	}
	if err := srv.refreshTenants(ctx); err != nil {
		return nil, err
	}
	info.Password = randomPassword()
	// A demo restarted on its data directory keeps its users: give them the new password.
	for _, u := range []struct {
		name string
		role auth.Role
	}{{info.Username, auth.NationalAnalyst}, {"admin", auth.NationalAdmin}} {
		err := a.AddUser(ctx, u.name, info.Password, u.role, "")
		if errors.Is(err, auth.ErrExists) {
			err = a.SetPassword(ctx, u.name, info.Password)
		}
		if err != nil {
			return nil, err
		}
	}
	if info.APIToken, err = a.CreateToken(ctx, "demo national analyst", auth.NationalAnalyst, ""); err != nil {
		return nil, err
	}
	ingestTok := map[tenant.ID]string{}
	for _, o := range orgs {
		t, err := a.CreateToken(ctx, "demo ingest "+string(o.Tenant.ID), auth.Ingest, o.Tenant.ID)
		if err != nil {
			return nil, err
		}
		ingestTok[o.Tenant.ID] = t
		info.IngestTokens[o.Tenant.Name] = t
		if info.OrgTokens[o.Tenant.Name], err = a.CreateToken(ctx, "demo org analyst "+string(o.Tenant.ID), auth.OrgAnalyst, o.Tenant.ID); err != nil {
			return nil, err
		}
		// A demo restarted on its data directory gets fresh bouncer keys.
		name := "demo-" + string(o.Tenant.ID)
		_ = srv.decisions.DeleteBouncer(ctx, name)
		if info.BouncerKeys[o.Tenant.Name], err = srv.decisions.CreateBouncer(ctx, name, o.Tenant.ID); err != nil {
			return nil, err
		}
	}
	// What a partner CERT has already published about the attacker groups,
	// as a national indicator list: some attacks are caught by indicators.
	if err := importKnownIntel(ctx, srv, gen); err != nil {
		return nil, err
	}
	sl := srv.Syslogs()[0]
	info.Syslog = DemoSyslog{UDP: sl.UDPAddr().String(), TCP: sl.TCPAddr().String(), Org: orgs[0].Tenant.Name}
	d.info = info
	go func() { d.errc <- srv.Run(ctx) }()
	// demo.json appears once the server accepts requests.
	if err := waitReady(ctx, info.URL); err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(info, "", "  ")
	if err := os.WriteFile(filepath.Join(c.dir, "demo.json"), b, 0o600); err != nil {
		return nil, err
	}
	f := &feeder{url: info.URL, tokens: ingestTok, syslogOrg: syslogOrg, udp: info.Syslog.UDP, tcp: info.Syslog.TCP, log: log,
		client: &http.Client{Timeout: 30 * time.Second}}
	d.feedW.Add(2)
	go func() { defer d.feedW.Done(); f.run(ctx, gen) }()
	resp := &responder{q: srv.query, orgs: orgs, log: log}
	go func() { defer d.feedW.Done(); resp.run(ctx, 15*time.Second) }()
	return d, nil
}

func (d *demo) wait() error {
	err := <-d.errc
	d.feedW.Wait()
	return err
}

func waitReady(ctx context.Context, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("server did not become ready within 30s")
}

// feeder delivers generated records through the real ingest paths.
type feeder struct {
	url       string
	tokens    map[tenant.ID]string
	syslogOrg tenant.ID
	udp, tcp  string
	client    *http.Client
	log       *slog.Logger
	tcpConn   net.Conn
	udpConn   net.Conn
}

func (f *feeder) run(ctx context.Context, gen *simulate.Generator) {
	// Play every scenario once at the start, so the whole picture appears at once.
	now := time.Now()
	var first []simulate.Record
	orgs := gen.Orgs()
	for i, sc := range simulate.Scenarios() {
		// Played as if it started a few minutes ago, so that no event is from the future.
		recs, err := gen.Scenario(sc.Name, orgs[(i*7+3)%len(orgs)].Tenant.ID, now.Add(-4*time.Minute))
		if err == nil {
			first = append(first, recs...)
		}
	}
	f.deliver(ctx, first)
	const tick = 250 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	from := time.Now()
	for {
		select {
		case <-ctx.Done():
			if f.tcpConn != nil {
				f.tcpConn.Close()
			}
			return
		case now := <-t.C:
			f.deliver(ctx, gen.Tick(from, now.Sub(from)))
			from = now
		}
	}
}

type batchKey struct {
	org       tenant.ID
	transport simulate.Transport
}

func (f *feeder) deliver(ctx context.Context, recs []simulate.Record) {
	groups := map[batchKey][][]byte{}
	for _, r := range recs {
		k := batchKey{r.Org, r.Transport}
		groups[k] = append(groups[k], r.Body)
	}
	keys := make([]batchKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].org < keys[j].org || keys[i].org == keys[j].org && keys[i].transport < keys[j].transport
	})
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, k := range keys {
		bodies := groups[k]
		if ctx.Err() != nil {
			return
		}
		if k.org == f.syslogOrg && (k.transport == simulate.SyslogUDP || k.transport == simulate.SyslogTCP) {
			f.syslog(k.transport, bodies)
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f.post(ctx, k, bodies)
		}()
	}
	wg.Wait()
}

func (f *feeder) post(ctx context.Context, k batchKey, bodies [][]byte) {
	var buf bytes.Buffer
	path := "/api/v1/ingest"
	switch k.transport {
	case simulate.Bulk:
		path = "/_bulk"
		for _, b := range bodies {
			buf.WriteString(`{"create":{"_index":"logs-demo"}}` + "\n")
			buf.Write(b)
			buf.WriteByte('\n')
		}
	default:
		if k.transport == simulate.SyslogUDP || k.transport == simulate.SyslogTCP {
			// Syslog of organisations without their own listener comes over HTTPS.
			path = "/api/v1/ingest?format=syslog"
		}
		for _, b := range bodies {
			buf.Write(b)
			buf.WriteByte('\n')
		}
	}
	for attempt := 0; attempt < 5; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url+path, bytes.NewReader(buf.Bytes()))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+f.tokens[k.org])
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := f.client.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				f.log.Warn("demo: delivery failed", "org", k.org, "err", err)
			}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			f.log.Warn("demo: delivery refused", "org", k.org, "path", path, "status", resp.Status)
		}
		return
	}
}

func (f *feeder) syslog(t simulate.Transport, bodies [][]byte) {
	var err error
	if t == simulate.SyslogUDP {
		if f.udpConn == nil {
			if f.udpConn, err = net.Dial("udp", f.udp); err != nil {
				return
			}
		}
		for _, b := range bodies {
			f.udpConn.Write(b)
		}
		return
	}
	if f.tcpConn == nil {
		if f.tcpConn, err = net.Dial("tcp", f.tcp); err != nil {
			return
		}
	}
	var buf bytes.Buffer
	for _, b := range bodies {
		// Octet-counted framing (RFC 6587), as rsyslog and syslog-ng send it.
		fmt.Fprintf(&buf, "%d ", len(b))
		buf.Write(b)
	}
	if _, err := f.tcpConn.Write(buf.Bytes()); err != nil {
		f.tcpConn.Close()
		f.tcpConn = nil
	}
}

// importKnownIntel loads the generator's published attacker infrastructure
// as indicators (source "partner-cert", TLP:GREEN), one plain list per group.
func importKnownIntel(ctx context.Context, srv *Server, gen *simulate.Generator) error {
	for _, k := range gen.KnownIntel() {
		var b strings.Builder
		for _, v := range append(append(append([]string{}, k.Domains...), k.C2IPs...), k.IPs...) {
			b.WriteString(v + "\n")
		}
		_, _, errs, err := srv.intel.Import(ctx, "list", "partner-cert", "", strings.NewReader(b.String()),
			ioc.ListOptions{Confidence: 80, TLP: ioc.TLPGreen, Labels: []string{k.Group}})
		if err != nil {
			return fmt.Errorf("demo intel %s: %w", k.Group, err)
		}
		for _, e := range errs {
			srv.log.Warn("demo intel", "group", k.Group, "err", e)
		}
	}
	return nil
}
