package app

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/mamori-soc/mamori/internal/auth"
	"github.com/mamori-soc/mamori/internal/store/local"
	"github.com/mamori-soc/mamori/internal/tenant"
)

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// serveFlags registers the flags that override the config file.
type serveFlags struct {
	config, listen, data, logLevel  string
	rules                           multiFlag
	syslogUDP, syslogTCP, syslogOrg string
	geoCountry, geoASN              string
	nats, clickhouse, role          string
	natsReplicas                    int
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "YAML config file (see docs/CONFIG.md)")
	fs.StringVar(&f.listen, "listen", "", "HTTP address for the API and ingest (default 127.0.0.1:8080)")
	fs.StringVar(&f.data, "data", "", "data directory")
	fs.Var(&f.rules, "rules", "Sigma rule directory (repeatable)")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error")
	fs.StringVar(&f.syslogUDP, "syslog-udp", "", "syslog UDP listen address")
	fs.StringVar(&f.syslogTCP, "syslog-tcp", "", "syslog TCP listen address")
	fs.StringVar(&f.syslogOrg, "syslog-org", "", "organisation id owning the syslog listener given by flags")
	fs.StringVar(&f.geoCountry, "geoip-country", "", "MMDB country database (GeoLite2-Country or ip-location-db) for IP enrichment")
	fs.StringVar(&f.geoASN, "geoip-asn", "", "MMDB ASN database (GeoLite2-ASN or ip-location-db) for IP enrichment")
	fs.StringVar(&f.role, "role", "", "with --nats: all (default), ingest (accept and publish only) or detect (consume and detect only)")
	fs.StringVar(&f.clickhouse, "clickhouse", "", "keep events in ClickHouse (http://host:8123/database); needs --nats")
	fs.IntVar(&f.natsReplicas, "nats-replicas", 0, "copies JetStream keeps of Mamori's streams (3 on a 3-node cluster; default 1)")
	fs.StringVar(&f.nats, "nats", "", `NATS JetStream between ingest and detection: "embedded" (a server inside this process, state under the data directory) or nats://host:port,...`)
}

func (f *serveFlags) apply() (Config, error) {
	var c Config
	if f.config != "" {
		var err error
		if c, err = LoadConfig(f.config); err != nil {
			return c, err
		}
	}
	if env := os.Getenv("MAMORI_DATA"); env != "" && c.Data == "" {
		c.Data = env
	}
	if f.listen != "" {
		c.Listen = f.listen
	}
	if f.data != "" {
		c.Data = f.data
	}
	if len(f.rules) > 0 {
		c.Rules = f.rules
	}
	if f.geoCountry != "" {
		c.GeoIP.CountryDB = f.geoCountry
	}
	if f.geoASN != "" {
		c.GeoIP.ASNDB = f.geoASN
	}
	if f.logLevel != "" {
		c.LogLevel = f.logLevel
	}
	if f.nats != "" {
		c.NATS = f.nats
	}
	if f.natsReplicas != 0 {
		c.NATSReplicas = f.natsReplicas
	}
	if f.clickhouse != "" {
		c.ClickHouse = f.clickhouse
	}
	if f.role != "" {
		c.Role = f.role
	}
	if f.syslogUDP != "" || f.syslogTCP != "" {
		if f.syslogOrg == "" {
			return c, fmt.Errorf("--syslog-udp/--syslog-tcp need --syslog-org")
		}
		c.Syslog = append(c.Syslog, SyslogConfig{UDP: f.syslogUDP, TCP: f.syslogTCP, Org: f.syslogOrg})
	}
	if len(c.Rules) == 0 {
		c.Rules = (&ruleOptions{}).ruleDirs()
	}
	return c, nil
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f serveFlags
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		return ExitFailure
	}
	cfg, err := f.apply()
	if err != nil {
		fmt.Fprintln(stderr, "mamori serve:", err)
		return ExitFailure
	}
	if cfg.Data == "" {
		cfg.Data = dataDir()
	}
	log := newLogger(stderr, cfg.LogLevel)
	srv, err := NewServer(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "mamori serve:", err)
		return ExitFailure
	}
	fmt.Fprintf(stdout, "Mamori serving on http://%s (data in %s)\n", srv.Addr(), cfg.Data)
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "mamori serve:", err)
		return ExitFailure
	}
	return ExitOK
}

// openAdmin opens the store and auth of a data directory for the admin commands.
func openAdmin(ctx context.Context, data string) (*local.Store, *auth.Service, error) {
	if data == "" {
		data = dataDir()
	}
	st, err := local.Open(ctx, local.Config{Dir: data}, nil)
	if err != nil {
		return nil, nil, err
	}
	a, err := auth.Open(ctx, st.DB(), 0)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, a, nil
}

// cmdOrg: mamori org add NAME --sector S [--id ID] | mamori org list
func cmdOrg(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "add" && args[0] != "list") {
		fmt.Fprintln(stderr, "usage: mamori org add NAME --sector SECTOR [--id ID] [--assets N] [--data DIR] | mamori org list [--data DIR]")
		return ExitFailure
	}
	fs := flag.NewFlagSet("org", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "data directory")
	sector := fs.String("sector", "", "sector: "+sectorNames())
	id := fs.String("id", "", "organisation id (default: from the name)")
	assets := fs.Int("assets", 0, "declared number of assets (hosts): the rating normalises by it and measures telemetry coverage against it")
	name, rest := "", args[1:]
	if args[0] == "add" && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		name, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return ExitFailure
	}
	st, _, err := openAdmin(ctx, *data)
	if err != nil {
		fmt.Fprintln(stderr, "mamori org:", err)
		return ExitFailure
	}
	defer st.Close()
	if args[0] == "list" {
		ts, err := st.Tenants(ctx)
		if err != nil {
			fmt.Fprintln(stderr, "mamori org:", err)
			return ExitFailure
		}
		for _, t := range ts {
			fmt.Fprintf(stdout, "%-32s %-15s %s\n", t.ID, t.Sector, t.Name)
		}
		return ExitOK
	}
	if name == "" {
		fmt.Fprintln(stderr, "mamori org add: NAME is required")
		return ExitFailure
	}
	sec, err := tenant.ParseSector(*sector)
	if err != nil {
		fmt.Fprintln(stderr, "mamori org add:", err)
		return ExitFailure
	}
	tid := tenant.ID(*id)
	if tid == "" {
		tid = tenant.Slug(name)
	}
	if *assets < 0 {
		fmt.Fprintln(stderr, "mamori org add: --assets must be 0 or more")
		return ExitFailure
	}
	if err := st.PutTenant(ctx, tenant.Tenant{ID: tid, Name: name, Sector: sec, Assets: *assets}); err != nil {
		fmt.Fprintln(stderr, "mamori org add:", err)
		return ExitFailure
	}
	fmt.Fprintf(stdout, "organisation %s (%s, %s) saved\n", tid, name, sec)
	return ExitOK
}

func sectorNames() string {
	var s []string
	for _, x := range tenant.Sectors {
		s = append(s, string(x))
	}
	return strings.Join(s, ", ")
}

// cmdUser: mamori user add NAME --role R [--org ID] [--password P]
func cmdUser(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "add" {
		fmt.Fprintln(stderr, "usage: mamori user add NAME --role ROLE [--org ID] [--password P] [--data DIR]   (without --password one is generated and printed)")
		return ExitFailure
	}
	fs := flag.NewFlagSet("user", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "data directory")
	role := fs.String("role", "", "national_admin, national_analyst, org_analyst or org_viewer")
	org := fs.String("org", "", "organisation id (org roles)")
	password := fs.String("password", "", "password (default: generate one)")
	if err := fs.Parse(args[2:]); err != nil {
		return ExitFailure
	}
	r, err := auth.ParseRole(*role)
	if err == nil && r == auth.Ingest {
		err = fmt.Errorf("ingest is a token role: use mamori token create")
	}
	if err != nil {
		fmt.Fprintln(stderr, "mamori user add:", err)
		return ExitFailure
	}
	pw := *password
	if pw == "" {
		pw = randomPassword()
	}
	st, a, err := openAdmin(ctx, *data)
	if err != nil {
		fmt.Fprintln(stderr, "mamori user add:", err)
		return ExitFailure
	}
	defer st.Close()
	if err := a.AddUser(ctx, args[1], pw, r, tenant.ID(*org)); err != nil {
		fmt.Fprintln(stderr, "mamori user add:", err)
		return ExitFailure
	}
	fmt.Fprintf(stdout, "user %s (%s) created", args[1], r)
	if *password == "" {
		fmt.Fprintf(stdout, "; password: %s", pw)
	}
	fmt.Fprintln(stdout)
	return ExitOK
}

// cmdToken: mamori token create NAME --role R [--org ID]
func cmdToken(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "create" {
		fmt.Fprintln(stderr, "usage: mamori token create NAME --role ROLE [--org ID] [--data DIR]")
		return ExitFailure
	}
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "data directory")
	role := fs.String("role", "ingest", "ingest, org_viewer, org_analyst, national_analyst or national_admin")
	org := fs.String("org", "", "organisation id (ingest and org roles)")
	if err := fs.Parse(args[2:]); err != nil {
		return ExitFailure
	}
	r, err := auth.ParseRole(*role)
	if err != nil {
		fmt.Fprintln(stderr, "mamori token create:", err)
		return ExitFailure
	}
	st, a, err := openAdmin(ctx, *data)
	if err != nil {
		fmt.Fprintln(stderr, "mamori token create:", err)
		return ExitFailure
	}
	defer st.Close()
	tok, err := a.CreateToken(ctx, args[1], r, tenant.ID(*org))
	if err != nil {
		fmt.Fprintln(stderr, "mamori token create:", err)
		return ExitFailure
	}
	fmt.Fprintln(stdout, tok)
	return ExitOK
}

func randomPassword() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.EncodeToString(b[:]))
}
