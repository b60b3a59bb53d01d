package app

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"gopkg.in/yaml.v3"
)

// The deployment examples in deploy/ are run by no container engine here,
// so this test keeps them honest another way: every mamori command line in
// them is parsed by the real serve flags and config loader and then started
// as a real server (with an in-process NATS server started from the compose
// file's own NATS options), whose health, readiness and metrics paths must
// answer where the probes say; NATS options are parsed by nats-server's own
// flag and config parsers; roles, versions, addresses, ports, volumes and
// cross-references must agree across the files.

// minNATS is the oldest nats-server the bus works with: its consumers use
// the pinned-client priority policy (internal/bus/natsbus).
const minNATS = "2.11"

// mamoriNode is one container that runs the mamori binary.
type mamoriNode struct {
	where   string            // file and workload, for messages
	argv    []string          // the full command line, argv[0] the binary
	env     map[string]string // the image's environment plus the container's
	files   map[string][]byte // container path → content (mounted config files)
	volumes []string          // container paths backed by a volume
	ports   []int             // container ports the node must listen on
	probes  []deployProbe     // HTTP paths an orchestrator or scraper requests
	kind    string            // compose, Dockerfile, Deployment, StatefulSet
	cfg     Config            // what the command line configures
}

type deployProbe struct {
	what string // "healthcheck", "readinessProbe", "metrics", ...
	path string // path and query
	port int
}

// natsNode is one NATS server of a deployment, with its parsed options.
type natsNode struct {
	where   string
	host    string // the name the other servers and clients reach it by
	image   string
	opts    *server.Options
	volumes []string
	probes  []deployProbe
}

// TestDeployFiles checks deploy/Dockerfile, deploy/docker-compose.yml and
// deploy/kubernetes/ (see the comment above).
func TestDeployFiles(t *testing.T) {
	checkDeploy(t, readDeployFiles(t), true)
}

// TestDeployChecksFail: every check of TestDeployFiles catches the mistake
// it is for, each made in a copy of the files.
func TestDeployChecksFail(t *testing.T) {
	files := readDeployFiles(t)
	const (
		df, compose = "deploy/Dockerfile", "deploy/docker-compose.yml"
		k8s         = "deploy/kubernetes/"
	)
	for _, m := range []struct {
		file, old, new string
		want           string // in one of the errors
		servers        bool   // the mistake shows only on a running server
	}{
		{df, "USER 10001:10001", "USER root", "want a non-root USER", false},
		{df, "FROM golang:1.26-alpine", "FROM golang:1.25-alpine", "older than go.mod", false},
		{df, `"--listen", "0.0.0.0:8080"`, `"--listen", "127.0.0.1:8080"`, "unreachable from outside the container", false},
		{df, `ENV MAMORI_DATA=/var/lib/mamori`, `ENV MAMORI_DATA=/srv/mamori`, "is not a volume", false},
		{df, `/readyz"]`, `/ready"]`, "GET /ready: 404", true},
		{compose, `"--role", "ingest"`, `"--role", "ingester"`, `role "ingester"`, false},
		{compose, `"--clickhouse", "http://clickhouse:8123/mamori"`, `"--click-house", "http://clickhouse:8123/mamori"`, "flag provided but not defined: -click-house", false},
		{compose, `"http://clickhouse:8123/mamori"`, `"http://clickhouse:9000/mamori"`, "ClickHouse URL", false},
		{compose, `"--nats", "nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222"`, `"--nats", "nats://nats-1:4222"`, "want every server of the cluster", false},
		{compose, "hostname: detect-2", "hostname: detect-1", "the two workers would have one name", false},
		{compose, `"--nats-replicas", "3"`, `"--nats-replicas", "1"`, "want 3 on every node", false},
		{compose, `, "--nats-replicas", "3",
              "--clickhouse", "http://clickhouse:8123/mamori"]`, `, "--nats-replicas", "3"]`, "without ClickHouse", false},
		{compose, "    healthcheck:\n      test: [\"CMD\", \"clickhouse-client\"", "    health_check:\n      test: [\"CMD\", \"clickhouse-client\"", "field health_check not found", false},
		{compose, "image: nats:2.15.2-alpine\n    hostname: nats-1", "image: nats:2.10.29-alpine\n    hostname: nats-1", "version 2.11 or later", false},
		{compose, `"--store_dir", "/data"`, `"--store_dir", "/tmp/js"`, "is not a volume", false},
		{compose, `"--name", "nats-2"`, `"--name", "nats-1"`, "not unique", false},
		{compose, "nats://nats-1:6222,nats://nats-2:6222,nats://nats-3:6222", "nats://nats-1:6222,nats://nats-2:6222", "routes", false},
		{compose, "      - ingest:/var/lib/mamori", "      - ingest:/data", "is not a volume", false},
		{compose, `"--name", "nats-3", "--jetstream", "--store_dir", "/data", "--http_port", "8222",
              "--cluster_name", "mamori"`, `"--name", "nats-3", "--jetstream", "--store_dir", "/data", "--http_port", "8222",
              "--cluster_name", "other"`, `cluster name "other"`, false},
		{compose, `"http://127.0.0.1:8222/healthz"]`, `"http://127.0.0.1:8223/healthz"]`, "monitoring listens on 8222", false},
		{compose, `    healthcheck:
      test: ["CMD", "clickhouse-client", "--query", "SELECT 1"]
      interval: 5s
      timeout: 3s
      retries: 30
      start_period: 20s
`, "", "which has no healthcheck", false},
		{k8s + "mamori-config.yaml", "log_level: info", "loglevel: info", "field loglevel not found", false},
		{k8s + "mamori-config.yaml", "    nats_replicas: 3\n", "", "want 3 on every node", false},
		{k8s + "mamori-config.yaml", "    clickhouse: http://clickhouse:8123/mamori\n", "", "without ClickHouse", false},
		{k8s + "mamori-service.yaml", "    app.kubernetes.io/name: mamori\n  ports:\n    - name: http\n      port: 8080\n      targetPort: http",
			"    app.kubernetes.io/name: mamori\n    app.kubernetes.io/component: detect\n  ports:\n    - name: http\n      port: 8080\n      targetPort: http",
			"mamori-console does not select StatefulSet mamori-ingest", false},
		{k8s + "mamori-ingest.yaml", `"--config", "/etc/mamori/mamori.yml"`, `"--config", "/etc/mamori/config.yml"`, "no mounted file there", false},
		{k8s + "mamori-ingest.yaml", "runAsUser: 10001", "runAsUser: 1000", "runAsUser 10001 (the image's USER)", false},
		{k8s + "mamori-ingest.yaml", "targetPort: http", "targetPort: web", `targets port "web"`, false},
		{k8s + "mamori-ingest.yaml", "              cpu: 500m\n              memory: 512Mi\n", "", "requests no cpu or memory", false},
		{k8s + "mamori-ingest.yaml", "path: /metrics", "path: /metric", "GET /metric: 404", true},
		{k8s + "mamori-detect.yaml", "kind: StatefulSet", "kind: Deployment", "a StatefulSet keeps each worker's name", false},
		{k8s + "mamori-detect.yaml", "serviceName: mamori\n", "serviceName: mamori-workers\n", "is no service", false},
		{k8s + "mamori-detect.yaml", "path: /readyz", "path: /ready", "GET /ready: 404", true},
		{k8s + "nats.yaml", "        nats://nats-2.nats:6222\n", "", "routes", false},
		{k8s + "nats.yaml", "publishNotReadyAddresses: true", "publishNotReadyAddresses: false", "publishNotReadyAddresses", false},
		{k8s + "nats.yaml", "server_name: $SERVER_NAME", "server_name: nats", "want its pod name", false},
		{k8s + "nats.yaml", "  store_dir: /data", "  store_dir: /var/nats", "is not a volume", false},
		{k8s + "clickhouse.yaml", "clickhouse/clickhouse-server:25.8.33.6", "clickhouse/clickhouse-server:latest", "not pinned", false},
		{k8s + "kustomization.yaml", "  - networkpolicy.yaml\n", "", "kustomization.yaml lists", false},
		{k8s + "kustomization.yaml", "  - name: mamori\n", "  - name: mamori-server\n", "is not set by kustomization.yaml's images", false},
		{k8s + "mamori-ingest.yaml", "    app.kubernetes.io/component: ingest\n  ports:", "    app.kubernetes.io/component: ingestion\n  ports:", "selects no workload's pods", false},
	} {
		f := files.with(t, m.file, m.old, m.new)
		r := &deployRecorder{T: t}
		done := make(chan struct{})
		go func() { defer close(done); checkDeploy(r, f, m.servers) }()
		<-done
		if !slices.ContainsFunc(r.errs, func(e string) bool { return strings.Contains(e, m.want) }) {
			t.Errorf("%s: %q → %q: no error says %q; errors:\n%s", m.file, m.old, m.new, m.want, strings.Join(r.errs, "\n"))
		}
	}
}

// checkDeploy runs every check on files; servers also starts the servers.
func checkDeploy(t deployTB, f deployFiles, servers bool) {
	df := readDockerfile(t, f)
	var nodes []mamoriNode
	var nats []natsNode
	deploySub(t, "Dockerfile", func(t deployTB) { nodes = append(nodes, checkDockerfile(t, f, df)) })
	deploySub(t, "compose", func(t deployTB) {
		n, ns := checkCompose(t, f, df)
		nodes, nats = append(nodes, n...), append(nats, ns...)
	})
	deploySub(t, "kubernetes", func(t deployTB) {
		n, ns := checkKubernetes(t, f, df)
		nodes, nats = append(nodes, n...), append(nats, ns...)
	})
	deploySub(t, "docs", func(t deployTB) {
		doc := f.get(t, "docs/DEPLOY.md")
		for _, s := range []string{"deploy/Dockerfile", "deploy/docker-compose.yml", "deploy/kubernetes"} {
			if !bytes.Contains(doc, []byte(s)) {
				t.Errorf("docs/DEPLOY.md does not mention %s", s)
			}
		}
	})
	if servers && !t.Failed() {
		deploySub(t, "servers", func(t deployTB) { runDeployServers(t, nodes, nats) })
	}
}

// deployTB is what the checks need of a test: *testing.T, or a deployRecorder that
// collects the errors a mistake causes (TestDeployChecksFail).
type deployTB interface {
	Helper()
	Errorf(format string, args ...any)
	Error(args ...any)
	Fatalf(format string, args ...any)
	Fatal(args ...any)
	Failed() bool
	TempDir() string
	Setenv(key, value string)
	Cleanup(func())
}

// deployRecorder is a deployTB that records errors; Fatal ends its goroutine.
type deployRecorder struct {
	*testing.T
	errs []string
}

func (r *deployRecorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *deployRecorder) Error(args ...any) { r.errs = append(r.errs, fmt.Sprint(args...)) }

func (r *deployRecorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *deployRecorder) Fatal(args ...any) {
	r.Error(args...)
	runtime.Goexit()
}

func (r *deployRecorder) Failed() bool { return len(r.errs) > 0 }

// deploySub runs fn as a subtest of a *testing.T, or inline on a deployRecorder.
func deploySub(t deployTB, name string, fn func(t deployTB)) {
	if tt, ok := t.(*testing.T); ok {
		tt.Run(name, func(t *testing.T) { fn(t) })
		return
	}
	fn(t)
}

// deployPoll waits until cond holds, for at most 15 s.
func deployPoll(t deployTB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// deployFiles holds the checked files by path from the repository root.
type deployFiles struct{ files map[string][]byte }

func readDeployFiles(t *testing.T) deployFiles {
	f := deployFiles{files: map[string][]byte{}}
	root := filepath.Join("..", "..")
	names := []string{"go.mod", "docs/DEPLOY.md", "deploy/Dockerfile", "deploy/docker-compose.yml"}
	k8s, _ := filepath.Glob(filepath.Join(root, "deploy", "kubernetes", "*.yaml"))
	for _, p := range k8s {
		names = append(names, "deploy/kubernetes/"+filepath.Base(p))
	}
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		f.files[name] = b
	}
	return f
}

func (f deployFiles) get(t deployTB, name string) []byte {
	t.Helper()
	b, ok := f.files[name]
	if !ok {
		t.Fatalf("%s: no such file", name)
	}
	return b
}

// with returns a copy of f with the first old in file replaced by new.
func (f deployFiles) with(t *testing.T, file, old, new string) deployFiles {
	t.Helper()
	b := f.files[file]
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s has no %q any more: update this case", file, old)
	}
	c := deployFiles{files: maps.Clone(f.files)}
	c.files[file] = bytes.Replace(b, []byte(old), []byte(new), 1)
	return c
}

// dockerfile is what the test needs of deploy/Dockerfile.
type dockerfile struct {
	builder     string // the golang image's tag
	user        string
	entrypoint  []string
	cmd         []string
	env         map[string]string
	volumes     []string
	expose      []int
	healthcheck []string
	copiesTo    []string // destinations of COPY --from=build
}

func readDockerfile(t deployTB, f deployFiles) dockerfile {
	t.Helper()
	src := f.get(t, "deploy/Dockerfile")
	df := dockerfile{env: map[string]string{}}
	jsonArgs := func(instr, s string) []string {
		var v []string
		if err := json.Unmarshal([]byte(strings.TrimSpace(s)), &v); err != nil {
			t.Errorf("Dockerfile: %s must be in JSON form (%q): %v", instr, s, err)
		}
		return v
	}
	var lines []string
	for cur, sc := "", bufio.NewScanner(bytes.NewReader(src)); sc.Scan(); {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if rest, ok := strings.CutSuffix(l, "\\"); ok {
			cur += rest + " "
			continue
		}
		lines, cur = append(lines, cur+l), ""
	}
	for _, l := range lines {
		instr, rest, _ := strings.Cut(l, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			if img, ok := strings.CutPrefix(rest, "golang:"); ok {
				df.builder, _, _ = strings.Cut(img, " ")
			}
		case "USER":
			df.user = rest
		case "ENTRYPOINT":
			df.entrypoint = jsonArgs(instr, rest)
		case "CMD":
			df.cmd = jsonArgs(instr, rest)
		case "ENV":
			k, v, _ := strings.Cut(rest, "=")
			df.env[k] = v
		case "VOLUME":
			df.volumes = append(df.volumes, jsonArgs(instr, rest)...)
		case "EXPOSE":
			for _, p := range strings.Fields(rest) {
				n, err := strconv.Atoi(strings.TrimSuffix(p, "/tcp"))
				if err != nil {
					t.Errorf("Dockerfile: EXPOSE %s", p)
				}
				df.expose = append(df.expose, n)
			}
		case "HEALTHCHECK":
			_, c, ok := strings.Cut(rest, "CMD ")
			if !ok {
				t.Errorf("Dockerfile: HEALTHCHECK without CMD: %s", rest)
			}
			df.healthcheck = jsonArgs(instr, c)
		case "COPY":
			if f := strings.Fields(rest); len(f) >= 3 && strings.HasPrefix(f[0], "--from=") {
				df.copiesTo = append(df.copiesTo, f[len(f)-1])
			}
		}
	}
	return df
}

func checkDockerfile(t deployTB, f deployFiles, df dockerfile) mamoriNode {
	m := regexp.MustCompile(`(?m)^go (\S+)`).FindSubmatch(f.get(t, "go.mod"))
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	builder, _, _ := strings.Cut(df.builder, "-")
	if builder == "" || deployVersionLess(builder, string(m[1])) {
		t.Errorf("builder image golang:%s is older than go.mod's go %s (the image keeps GOTOOLCHAIN=local)", df.builder, m[1])
	}
	if u, _, _ := strings.Cut(df.user, ":"); u == "" || u == "root" || u == "0" {
		t.Errorf("the image runs as %q: want a non-root USER", df.user)
	}
	if len(df.entrypoint) != 1 || path.Base(df.entrypoint[0]) != "mamori" || !slices.Contains(df.copiesTo, df.entrypoint[0]) {
		t.Errorf("ENTRYPOINT %q is not the binary copied from the build stage (%q)", df.entrypoint, df.copiesTo)
	}
	n := mamoriNode{where: "Dockerfile", kind: "Dockerfile", argv: append(slices.Clone(df.entrypoint), df.cmd...), env: df.env,
		volumes: df.volumes, ports: df.expose}
	if len(df.healthcheck) > 0 {
		n.probes = append(n.probes, probeFromCommand(t, "Dockerfile HEALTHCHECK", df.healthcheck))
	}
	n.cfg = checkServeNode(t, n, nil, nil)
	return n
}

// probeFromCommand finds the URL an HTTP health-check command requests.
func probeFromCommand(t deployTB, where string, argv []string) deployProbe {
	t.Helper()
	for _, a := range argv {
		if u, err := url.Parse(a); err == nil && u.Scheme == "http" && u.Host != "" {
			port, _ := strconv.Atoi(u.Port())
			if port == 0 {
				port = 80
			}
			if h := u.Hostname(); h != "127.0.0.1" && h != "localhost" {
				t.Errorf("%s: the check requests %s, not the container itself", where, a)
			}
			return deployProbe{what: where, path: u.RequestURI(), port: port}
		}
	}
	t.Errorf("%s: no http:// URL in %q", where, argv)
	return deployProbe{}
}

// Compose: decoded strictly, so a misspelt key fails here as it would in
// docker compose. Add a field when the file needs a new key.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Hostname    string            `yaml:"hostname"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test        []string `yaml:"test"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		Retries     int      `yaml:"retries"`
		StartPeriod string   `yaml:"start_period"`
	} `yaml:"healthcheck"`
	Ulimits map[string]struct {
		Soft int `yaml:"soft"`
		Hard int `yaml:"hard"`
	} `yaml:"ulimits"`
	StopGracePeriod string `yaml:"stop_grace_period"`
	Restart         string `yaml:"restart"`
}

func checkCompose(t deployTB, f deployFiles, df dockerfile) ([]mamoriNode, []natsNode) {
	var cf composeFile
	dec := yaml.NewDecoder(bytes.NewReader(f.get(t, "deploy/docker-compose.yml")))
	dec.KnownFields(true)
	if err := dec.Decode(&cf); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	names := deploySortedKeys(cf.Services)
	natsClients, chHTTP := map[string]bool{}, map[string]bool{}
	var nats []natsNode
	for _, name := range names {
		s := cf.Services[name]
		where := "docker-compose.yml: " + name
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") {
				if _, ok := cf.Volumes[src]; !ok {
					t.Errorf("%s: volume %q is not declared under volumes:", where, src)
				}
			}
		}
		for dep, d := range s.DependsOn {
			ds, ok := cf.Services[dep]
			if !ok {
				t.Errorf("%s: depends on %q, which is no service", where, dep)
			} else if d.Condition == "service_healthy" && ds.Healthcheck == nil {
				t.Errorf("%s: waits for %s to be healthy, which has no healthcheck", where, dep)
			}
		}
		repo, _ := imageRepoTag(s.Image)
		switch {
		case repo == "nats":
			args := append(slices.Clone(s.Entrypoint), s.Command...)
			if len(args) > 0 && args[0] == "nats-server" {
				args = args[1:]
			}
			fs := flag.NewFlagSet(name, flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			opts, err := server.ConfigureOptions(fs, args, func() {}, func() {}, func() {})
			if err != nil {
				t.Errorf("%s: nats-server options: %v", where, err)
				continue
			}
			n := natsNode{where: where, host: name, image: s.Image, opts: opts, volumes: composeVolumes(s.Volumes)}
			if s.Healthcheck != nil {
				n.probes = append(n.probes, probeFromCommand(t, where+" healthcheck", s.Healthcheck.Test))
			}
			nats = append(nats, n)
			natsClients[net.JoinHostPort(name, strconv.Itoa(cmp.Or(opts.Port, 4222)))] = true
		case repo == "clickhouse/clickhouse-server":
			chHTTP[net.JoinHostPort(name, "8123")] = true // the image's HTTP port
		}
		if repo != "mamori" && s.Build == nil && !imagePinned(s.Image) {
			t.Errorf("%s: image %q is not pinned to a version", where, s.Image)
		}
	}
	routes := map[string]bool{}
	for _, n := range nats {
		routes[net.JoinHostPort(n.host, strconv.Itoa(n.opts.Cluster.Port))] = true
	}
	checkNATSCluster(t, nats, routes)

	var nodes []mamoriNode
	hostnames := map[string]string{}
	for _, name := range names {
		s := cf.Services[name]
		repo, _ := imageRepoTag(s.Image)
		if s.Build == nil && repo != "mamori" {
			continue
		}
		where := "docker-compose.yml: " + name
		if s.Build != nil && path.Join("deploy", s.Build.Context, s.Build.Dockerfile) != "deploy/Dockerfile" {
			t.Errorf("%s: builds %s/%s, not deploy/Dockerfile", where, s.Build.Context, s.Build.Dockerfile)
		}
		n := mamoriNode{where: where, kind: "compose", env: map[string]string{}}
		n.argv = append(deployOr(s.Entrypoint, df.entrypoint), deployOr(s.Command, df.cmd)...)
		for k, v := range df.env {
			n.env[k] = v
		}
		for k, v := range s.Environment {
			n.env[k] = v
		}
		n.volumes = composeVolumes(s.Volumes)
		for _, p := range s.Ports {
			i := strings.LastIndex(p, ":")
			c, err := strconv.Atoi(strings.TrimSuffix(p[i+1:], "/tcp"))
			if err != nil {
				t.Errorf("%s: port %q", where, p)
			}
			n.ports = append(n.ports, c)
		}
		if s.Healthcheck == nil {
			t.Errorf("%s: no healthcheck (the services that wait for it cannot)", where)
		} else {
			n.probes = append(n.probes, probeFromCommand(t, where+" healthcheck", s.Healthcheck.Test))
		}
		n.cfg = checkServeNode(t, n, natsClients, chHTTP)
		nodes = append(nodes, n)
		if cfg := n.cfg; cfg.Role == "detect" || cfg.Role == "all" {
			// A worker is named after its hostname (and a hash of its data
			// directory, the same path in every container): docker's default
			// hostname changes when the container is re-created.
			if s.Hostname == "" {
				t.Errorf("%s: a detection worker needs a fixed hostname", where)
			} else if other, dup := hostnames[s.Hostname]; dup {
				t.Errorf("%s: hostname %q is also %s's: the two workers would have one name", where, s.Hostname, other)
			}
			hostnames[s.Hostname] = name
		}
	}
	if len(hostnames) == 0 {
		t.Error("docker-compose.yml runs no detection node")
	}
	return nodes, nats
}

func composeVolumes(vs []string) []string {
	var out []string
	for _, v := range vs {
		if _, dst, ok := strings.Cut(v, ":"); ok {
			dst, _, _ = strings.Cut(dst, ":")
			out = append(out, dst)
		}
	}
	return out
}

// checkNATSCluster: JetStream on a volume, one cluster, unique names, and
// routes to every node of the cluster.
func checkNATSCluster(t deployTB, nats []natsNode, routes map[string]bool) {
	t.Helper()
	if len(nats) != 3 {
		t.Errorf("%d NATS servers, want a cluster of 3", len(nats))
	}
	seen := map[string]bool{}
	for _, n := range nats {
		o := n.opts
		if !o.JetStream {
			t.Errorf("%s: JetStream is not enabled", n.where)
		}
		if !slices.Contains(n.volumes, o.StoreDir) {
			t.Errorf("%s: JetStream's store_dir %q is not a volume (%q)", n.where, o.StoreDir, n.volumes)
		}
		if o.ServerName == "" || seen[o.ServerName] {
			t.Errorf("%s: server name %q is empty or not unique (JetStream clustering needs unique names)", n.where, o.ServerName)
		}
		seen[o.ServerName] = true
		if o.Cluster.Name != nats[0].opts.Cluster.Name || o.Cluster.Name == "" {
			t.Errorf("%s: cluster name %q (first server: %q)", n.where, o.Cluster.Name, nats[0].opts.Cluster.Name)
		}
		got := map[string]bool{}
		for _, r := range o.Routes {
			got[r.Host] = true
		}
		if !deploySameKeys(got, routes) {
			t.Errorf("%s: routes %v, want %v", n.where, deploySortedKeys(got), deploySortedKeys(routes))
		}
		if len(n.probes) == 0 {
			t.Errorf("%s: no health check", n.where)
		}
		for _, p := range n.probes {
			if p.port != o.HTTPPort {
				t.Errorf("%s: %s on port %d, monitoring listens on %d", n.where, p.what, p.port, o.HTTPPort)
			}
		}
		repo, tag := imageRepoTag(n.image)
		v, _, _ := strings.Cut(tag, "-")
		if repo != "nats" || !regexp.MustCompile(`^\d+\.\d+(\.\d+)?$`).MatchString(v) || deployVersionLess(v, minNATS) {
			t.Errorf("%s: image %q: want the official nats image, version %s or later (pinned-client priority groups)", n.where, n.image, minNATS)
		}
		if n.image != nats[0].image {
			t.Errorf("%s: image %s, but %s runs %s", n.where, n.image, nats[0].where, nats[0].image)
		}
	}
}

// checkServeNode parses a mamori command line with the real serve flags and
// config loader and checks what it configures. natsClients and chHTTP are
// the host:port of the deployment's NATS servers and ClickHouse.
func checkServeNode(t deployTB, n mamoriNode, natsClients, chHTTP map[string]bool) Config {
	t.Helper()
	if len(n.argv) < 2 || path.Base(n.argv[0]) != "mamori" || n.argv[1] != "serve" {
		t.Errorf("%s: command line %q is not `mamori serve ...`", n.where, n.argv)
		return Config{}
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var sf serveFlags
	sf.register(fs)
	if err := fs.Parse(n.argv[2:]); err != nil {
		t.Errorf("%s: mamori serve %q: %v", n.where, n.argv[2:], err)
		return Config{}
	}
	if fs.NArg() > 0 {
		t.Errorf("%s: mamori serve: arguments %q are no flags (serve takes none)", n.where, fs.Args())
	}
	if sf.config != "" {
		b, ok := n.files[sf.config]
		if !ok {
			t.Errorf("%s: --config %s: no mounted file there", n.where, sf.config)
			return Config{}
		}
		tmp := filepath.Join(t.TempDir(), "mamori.yml")
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		sf.config = tmp
	}
	t.Setenv("MAMORI_DATA", n.env["MAMORI_DATA"])
	t.Setenv("MAMORI_RULES", "")
	cfg, err := sf.apply()
	if err != nil {
		t.Errorf("%s: %v", n.where, err)
		return cfg
	}
	if !slices.Contains([]string{"", "all", "ingest", "detect"}, cfg.Role) {
		t.Errorf("%s: role %q (want all, ingest or detect)", n.where, cfg.Role)
	}
	if cfg.Data == "" || !slices.Contains(n.volumes, cfg.Data) {
		t.Errorf("%s: data directory %q is not a volume (%q)", n.where, cfg.Data, n.volumes)
	}
	host, port, err := net.SplitHostPort(cmp.Or(cfg.Listen, "127.0.0.1:8080"))
	p, _ := strconv.Atoi(port)
	if err != nil || (host != "" && host != "0.0.0.0" && host != "::") {
		t.Errorf("%s: listens on %q: unreachable from outside the container", n.where, cfg.Listen)
	}
	if len(n.ports) > 0 && !slices.Contains(n.ports, p) {
		t.Errorf("%s: listens on port %d, the container publishes %v", n.where, p, n.ports)
	}
	if len(n.probes) == 0 {
		t.Errorf("%s: no health check", n.where)
	}
	for _, pr := range n.probes {
		if pr.port != p {
			t.Errorf("%s: %s on port %d, mamori listens on %d", n.where, pr.what, pr.port, p)
		}
	}
	if n.kind == "Dockerfile" {
		return cfg
	}
	// Scale-out nodes: a role, the deployment's NATS cluster, its ClickHouse.
	if cfg.Role != "ingest" && cfg.Role != "detect" {
		t.Errorf("%s: role %q: the examples run ingest and detect nodes", n.where, cfg.Role)
	}
	got := map[string]bool{}
	for _, u := range strings.Split(cfg.NATS, ",") {
		pu, err := url.Parse(strings.TrimSpace(u))
		if err != nil || pu.Scheme != "nats" || !natsClients[pu.Host] {
			t.Errorf("%s: NATS URL %q is not one of the deployment's NATS servers %v", n.where, u, deploySortedKeys(natsClients))
		}
		if err == nil {
			got[pu.Host] = true
		}
	}
	if !deploySameKeys(got, natsClients) {
		t.Errorf("%s: --nats %q lists %v, want every server of the cluster %v", n.where, cfg.NATS, deploySortedKeys(got), deploySortedKeys(natsClients))
	}
	if len(got) >= 3 && cfg.NATSReplicas != 3 {
		t.Errorf("%s: nats_replicas %d with %d NATS servers: want 3 on every node (an R1 stream stops ingest while its server is down)", n.where, cfg.NATSReplicas, len(got))
	}
	// Every node serves the API: without ClickHouse its event search sees
	// only what it stored itself (an ingest node: nothing).
	if u, err := url.Parse(cfg.ClickHouse); cfg.ClickHouse == "" {
		t.Errorf("%s: role %s without ClickHouse: its API does not search the deployment's events", n.where, cfg.Role)
	} else if err != nil || u.Scheme != "http" || !chHTTP[u.Host] || !regexp.MustCompile(`^/[A-Za-z_][A-Za-z0-9_]*$`).MatchString(u.Path) {
		t.Errorf("%s: ClickHouse URL %q: want http://HOST:PORT/database with HOST:PORT one of %v", n.where, cfg.ClickHouse, deploySortedKeys(chHTTP))
	}
	return cfg
}

// Kubernetes: what the test reads of the manifests (not strict: the API
// has far more fields than are checked here).
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name        string            `yaml:"name"`
		Namespace   string            `yaml:"namespace"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Replicas                 *int             `yaml:"replicas"`
		ServiceName              string           `yaml:"serviceName"`
		ClusterIP                string           `yaml:"clusterIP"`
		PublishNotReadyAddresses bool             `yaml:"publishNotReadyAddresses"`
		Selector                 map[string]any   `yaml:"selector"`
		Ports                    []k8sServicePort `yaml:"ports"`
		Template                 k8sPodTemplate   `yaml:"template"`
		VolumeClaimTemplates     []k8sClaim       `yaml:"volumeClaimTemplates"`
	} `yaml:"spec"`
	file string
}

type k8sServicePort struct {
	Name       string `yaml:"name"`
	Port       int    `yaml:"port"`
	TargetPort any    `yaml:"targetPort"`
}

type k8sClaim struct {
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
}

type k8sPodTemplate struct {
	Metadata struct {
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Spec struct {
		SecurityContext struct {
			RunAsNonRoot bool   `yaml:"runAsNonRoot"`
			RunAsUser    *int64 `yaml:"runAsUser"`
			FSGroup      *int64 `yaml:"fsGroup"`
		} `yaml:"securityContext"`
		Containers []k8sContainer `yaml:"containers"`
		Volumes    []struct {
			Name      string `yaml:"name"`
			ConfigMap *struct {
				Name string `yaml:"name"`
			} `yaml:"configMap"`
			EmptyDir              any `yaml:"emptyDir"`
			PersistentVolumeClaim any `yaml:"persistentVolumeClaim"`
		} `yaml:"volumes"`
	} `yaml:"spec"`
}

type k8sContainer struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Env     []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			FieldRef *struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
	StartupProbe   *k8sProbe `yaml:"startupProbe"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
	} `yaml:"resources"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

func readKubernetes(t deployTB, f deployFiles) []*k8sObject {
	t.Helper()
	const dir = "deploy/kubernetes/"
	kust := f.get(t, dir+"kustomization.yaml")
	var k struct {
		Resources []string `yaml:"resources"`
		Images    []struct {
			Name string `yaml:"name"`
		} `yaml:"images"`
	}
	if err := yaml.Unmarshal(kust, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	var listed []string
	for _, name := range deploySortedKeys(f.files) {
		if b, ok := strings.CutPrefix(name, dir); ok && b != "kustomization.yaml" {
			listed = append(listed, b)
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(k.Resources)), listed) {
		t.Errorf("kustomization.yaml lists %q; the directory has %q", k.Resources, listed)
	}
	var objs []*k8sObject
	for _, name := range listed {
		dec := yaml.NewDecoder(bytes.NewReader(f.get(t, dir+name)))
		for {
			o := &k8sObject{file: name}
			if err := dec.Decode(o); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("kubernetes/%s: %v", name, err)
			}
			if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
				t.Errorf("kubernetes/%s: a document without apiVersion, kind or metadata.name", name)
				continue
			}
			objs = append(objs, o)
		}
	}
	setsImage := false
	for _, i := range k.Images {
		setsImage = setsImage || i.Name == "mamori"
	}
	for _, o := range objs {
		for _, c := range o.Spec.Template.Spec.Containers {
			if c.Image == "mamori" && !setsImage {
				t.Errorf("kubernetes/%s: image \"mamori\" is not set by kustomization.yaml's images:", o.file)
			}
		}
	}
	return objs
}

func checkKubernetes(t deployTB, f deployFiles, df dockerfile) ([]mamoriNode, []natsNode) {
	objs := readKubernetes(t, f)
	byKind := func(kind, name string) *k8sObject {
		for _, o := range objs {
			if o.Kind == kind && o.Metadata.Name == name {
				return o
			}
		}
		return nil
	}
	workloads := func() []*k8sObject {
		var w []*k8sObject
		for _, o := range objs {
			if o.Kind == "Deployment" || o.Kind == "StatefulSet" {
				w = append(w, o)
			}
		}
		return w
	}()
	// Services select pods, and name ports that exist.
	selected := map[string][]*k8sObject{} // service → workloads
	for _, s := range objs {
		if s.Kind != "Service" {
			continue
		}
		for _, w := range workloads {
			if k8sSelects(s.Spec.Selector, w) {
				selected[s.Metadata.Name] = append(selected[s.Metadata.Name], w)
			}
		}
		if len(selected[s.Metadata.Name]) == 0 {
			t.Errorf("kubernetes/%s: service %s selects no workload's pods", s.file, s.Metadata.Name)
		}
		for _, p := range s.Spec.Ports {
			if name, ok := p.TargetPort.(string); ok {
				for _, w := range selected[s.Metadata.Name] {
					if _, ok := k8sContainerPort(w.Spec.Template.Spec.Containers, name); !ok {
						t.Errorf("kubernetes/%s: service %s targets port %q, which %s does not name", s.file, s.Metadata.Name, name, w.Metadata.Name)
					}
				}
			}
		}
	}
	var nats []natsNode
	natsClients, chHTTP := map[string]bool{}, map[string]bool{}
	for _, w := range workloads {
		where := fmt.Sprintf("kubernetes/%s: %s %s", w.file, w.Kind, w.Metadata.Name)
		ps := &w.Spec.Template.Spec
		if !k8sSelects(w.Spec.Selector, w) {
			t.Errorf("%s: its selector does not match its pods' labels", where)
		}
		if w.Kind == "StatefulSet" {
			if svc := byKind("Service", w.Spec.ServiceName); svc == nil {
				t.Errorf("%s: serviceName %q is no service", where, w.Spec.ServiceName)
			}
		}
		claims := map[string]bool{}
		for _, c := range w.Spec.VolumeClaimTemplates {
			claims[c.Metadata.Name] = true
		}
		for _, c := range ps.Containers {
			if c.Image != "mamori" && !imagePinned(c.Image) {
				t.Errorf("%s: image %q is not pinned to a version", where, c.Image)
			}
			if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" {
				t.Errorf("%s: container %s requests no cpu or memory", where, c.Name)
			}
			for _, m := range c.VolumeMounts {
				found := claims[m.Name]
				for _, v := range ps.Volumes {
					if v.Name != m.Name {
						continue
					}
					found = true
					if v.ConfigMap != nil && byKind("ConfigMap", v.ConfigMap.Name) == nil {
						t.Errorf("%s: config map %q is not in the manifests", where, v.ConfigMap.Name)
					}
				}
				if !found {
					t.Errorf("%s: container %s mounts %q, which is no volume", where, c.Name, m.Name)
				}
			}
		}
		if len(ps.Containers) == 0 {
			t.Errorf("%s: no containers", where)
			continue
		}
		c := ps.Containers[0]
		repo, _ := imageRepoTag(c.Image)
		switch repo {
		case "nats":
			n := natsFromConfigMap(t, where, w, c, byKind)
			for i := range n {
				nats = append(nats, n[i])
				natsClients[net.JoinHostPort(n[i].host, strconv.Itoa(cmp.Or(n[i].opts.Port, 4222)))] = true
			}
		case "clickhouse/clickhouse-server":
			for s, ws := range selected {
				if slices.Contains(ws, w) {
					for _, p := range byKind("Service", s).Spec.Ports {
						if p.Port == 8123 || p.Name == "http" {
							chHTTP[net.JoinHostPort(s, strconv.Itoa(p.Port))] = true
						}
					}
				}
			}
		}
	}
	routes := map[string]bool{}
	for _, n := range nats {
		routes[net.JoinHostPort(n.host, strconv.Itoa(n.opts.Cluster.Port))] = true
	}
	checkNATSCluster(t, nats, routes)
	if svc := byKind("Service", "nats"); svc == nil || svc.Spec.ClusterIP != "None" || !svc.Spec.PublishNotReadyAddresses {
		t.Error("kubernetes: the NATS pods need a headless service \"nats\" with publishNotReadyAddresses (routes resolve before JetStream is ready)")
	}

	var nodes []mamoriNode
	var apiNodes []*k8sObject    // workloads running mamori
	roles := map[string]string{} // role → kind
	for _, w := range workloads {
		ps := &w.Spec.Template.Spec
		for _, c := range ps.Containers {
			if c.Image != "mamori" {
				continue
			}
			where := fmt.Sprintf("kubernetes/%s: %s %s", w.file, w.Kind, w.Metadata.Name)
			n := mamoriNode{where: where, kind: w.Kind, env: map[string]string{}, files: map[string][]byte{}}
			n.argv = append(deployOr(c.Command, df.entrypoint), deployOr(c.Args, df.cmd)...)
			for k, v := range df.env {
				n.env[k] = v
			}
			for _, e := range c.Env {
				n.env[e.Name] = e.Value
			}
			for _, m := range c.VolumeMounts {
				for _, v := range ps.Volumes {
					if v.Name == m.Name && v.ConfigMap != nil {
						if cm := byKind("ConfigMap", v.ConfigMap.Name); cm != nil {
							for k, d := range cm.Data {
								n.files[path.Join(m.MountPath, k)] = []byte(d)
							}
						}
					}
				}
				n.volumes = append(n.volumes, m.MountPath)
			}
			for _, p := range c.Ports {
				n.ports = append(n.ports, p.ContainerPort)
			}
			n.probes = k8sProbes(t, where, c, true)
			if a := w.Spec.Template.Metadata.Annotations; a["prometheus.io/scrape"] == "true" {
				port, _ := strconv.Atoi(a["prometheus.io/port"])
				n.probes = append(n.probes, deployProbe{what: "metrics", path: a["prometheus.io/path"], port: port})
			}
			sc := ps.SecurityContext
			uid, _, _ := strings.Cut(df.user, ":")
			if !sc.RunAsNonRoot || sc.RunAsUser == nil || strconv.FormatInt(*sc.RunAsUser, 10) != uid || sc.FSGroup == nil {
				t.Errorf("%s: want runAsNonRoot, runAsUser %s (the image's USER) and an fsGroup (so the volume is writable)", where, uid)
			}
			n.cfg = checkServeNode(t, n, natsClients, chHTTP)
			nodes = append(nodes, n)
			apiNodes = append(apiNodes, w)
			roles[n.cfg.Role] = w.Kind
		}
	}
	if roles["ingest"] == "" || roles["detect"] == "" {
		t.Errorf("kubernetes: roles %v: want ingest and detect workloads", roles)
	}
	if k := roles["detect"]; k != "" && k != "StatefulSet" {
		t.Errorf("kubernetes: detection runs as a %s: a StatefulSet keeps each worker's name (hostname) and volume", k)
	}
	// Every node serves the API and console from the shared state: the
	// console service reaches them all.
	for _, w := range apiNodes {
		if !slices.Contains(selected["mamori-console"], w) {
			t.Errorf("kubernetes: service mamori-console does not select %s %s: every node serves the console", w.Kind, w.Metadata.Name)
		}
	}
	return nodes, nats
}

// natsFromConfigMap parses the NATS StatefulSet's config file (from its
// config map) once per pod, with $SERVER_NAME set to the pod's name.
func natsFromConfigMap(t deployTB, where string, w *k8sObject, c k8sContainer, byKind func(kind, name string) *k8sObject) []natsNode {
	t.Helper()
	args := append(slices.Clone(c.Command), c.Args...)
	i := slices.Index(args, "--config")
	if i < 0 || i+1 >= len(args) {
		t.Errorf("%s: no --config in %q", where, args)
		return nil
	}
	conf := args[i+1]
	var content string
	var volumes []string
	for _, m := range c.VolumeMounts {
		volumes = append(volumes, m.MountPath)
		for _, v := range w.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil && path.Dir(conf) == m.MountPath {
				if cm := byKind("ConfigMap", v.ConfigMap.Name); cm != nil {
					content = cm.Data[path.Base(conf)]
				}
			}
		}
	}
	if content == "" {
		t.Errorf("%s: %s is not in a mounted config map", where, conf)
		return nil
	}
	tmp := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	podName := ""
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name" {
			podName = e.Name
		}
	}
	probes := k8sProbes(t, where, c, false)
	replicas := 1
	if w.Spec.Replicas != nil {
		replicas = *w.Spec.Replicas
	}
	var out []natsNode
	for i := range replicas {
		if podName != "" {
			t.Setenv(podName, fmt.Sprintf("%s-%d", w.Metadata.Name, i))
		}
		opts, err := server.ProcessConfigFile(tmp)
		if err != nil {
			t.Errorf("%s: %s: %v", where, conf, err)
			return nil
		}
		if want := fmt.Sprintf("%s-%d", w.Metadata.Name, i); opts.ServerName != want {
			t.Errorf("%s: pod %s would be server %q (want its pod name, unique in the cluster)", where, want, opts.ServerName)
		}
		out = append(out, natsNode{where: fmt.Sprintf("%s (pod %d)", where, i), host: fmt.Sprintf("%s-%d.%s", w.Metadata.Name, i, w.Spec.ServiceName), image: c.Image, opts: opts, volumes: volumes, probes: probes})
	}
	return out
}

// k8sProbes returns c's HTTP probes; all three are required of mamori.
func k8sProbes(t deployTB, where string, c k8sContainer, required bool) []deployProbe {
	t.Helper()
	var out []deployProbe
	for what, pr := range map[string]*k8sProbe{"startupProbe": c.StartupProbe, "livenessProbe": c.LivenessProbe, "readinessProbe": c.ReadinessProbe} {
		if pr == nil || pr.HTTPGet == nil {
			if required {
				t.Errorf("%s: no HTTP %s", where, what)
			}
			continue
		}
		out = append(out, deployProbe{what: what, path: pr.HTTPGet.Path, port: k8sProbePort(t, where, c, pr.HTTPGet.Port)})
	}
	return out
}

func k8sProbePort(t deployTB, where string, c k8sContainer, port any) int {
	t.Helper()
	switch p := port.(type) {
	case int:
		return p
	case string:
		if n, ok := k8sContainerPort([]k8sContainer{c}, p); ok {
			return n
		}
	}
	t.Errorf("%s: probe port %v is not a port of container %s", where, port, c.Name)
	return 0
}

func k8sContainerPort(cs []k8sContainer, name string) (int, bool) {
	for _, c := range cs {
		for _, p := range c.Ports {
			if p.Name == name {
				return p.ContainerPort, true
			}
		}
	}
	return 0, false
}

// k8sSelects: a Service's selector (labels) or a workload's selector
// (matchLabels) selects w's pods.
func k8sSelects(sel map[string]any, w *k8sObject) bool {
	if ml, ok := sel["matchLabels"].(map[string]any); ok {
		sel = ml
	}
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if w.Spec.Template.Metadata.Labels[k] != v {
			return false
		}
	}
	return true
}

// runDeployServers starts a NATS server from the compose file's options
// (one node, local ports) and every distinct mamori command line against
// it, and requests every probe path from the server it belongs to.
func runDeployServers(t deployTB, nodes []mamoriNode, nats []natsNode) {
	if len(nats) == 0 {
		t.Fatal("no NATS server to start")
	}
	opts := *nats[0].opts
	opts.Host, opts.Port, opts.HTTPHost, opts.HTTPPort = "127.0.0.1", -1, "127.0.0.1", -1
	opts.Cluster, opts.Routes, opts.RoutesStr = server.ClusterOpts{}, nil, ""
	opts.StoreDir, opts.NoLog, opts.NoSigs = t.TempDir(), true, true
	ns, err := server.NewServer(&opts)
	if err != nil {
		t.Fatalf("NATS from %s: %v", nats[0].where, err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS did not start")
	}
	mon := "http://" + ns.MonitorAddr().String()
	for _, n := range nats {
		for _, p := range n.probes {
			deployPoll(t, fmt.Sprintf("%s: %s GET %s", n.where, p.what, p.path), func() bool { return deployStatus(mon+p.path) == http.StatusOK })
		}
	}

	started := map[string]bool{}
	for _, n := range nodes {
		key := fmt.Sprintf("%q %v", n.argv, n.files)
		for _, p := range n.probes {
			key += fmt.Sprintf(" %d%s", p.port, p.path)
		}
		if started[key] {
			continue
		}
		started[key] = true
		deploySub(t, n.where, func(t deployTB) {
			cfg := n.cfg
			// A scratch directory and port, the test's one-node NATS server
			// (so R1 streams); events stay in the node's store (ClickHouse
			// has its own tests).
			cfg.Data, cfg.Listen, cfg.Rules, cfg.ClickHouse, cfg.NATSReplicas = t.TempDir(), "127.0.0.1:0", nil, "", 0
			if cfg.NATS != "" {
				cfg.NATS = ns.ClientURL()
			}
			ctx, cancel := context.WithCancel(context.Background())
			srv, err := NewServer(ctx, cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				cancel()
				t.Fatalf("%s: %v", n.where, err)
			}
			done := make(chan error, 1)
			go func() { done <- srv.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			}()
			base := "http://" + srv.Addr()
			if err := waitReady(ctx, base); err != nil {
				t.Fatal(err)
			}
			for _, p := range n.probes {
				resp, err := http.Get(base + p.path)
				if err != nil {
					t.Fatalf("%s %s: %v", p.what, p.path, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("%s: %s GET %s: %s", n.where, p.what, p.path, resp.Status)
				}
				if p.what == "metrics" && cfg.NATS != "" && !bytes.Contains(body, []byte("mamori_bus_pending")) {
					t.Errorf("%s: %s has no consumer lag (mamori_bus_pending)", n.where, p.path)
				}
			}
		})
	}
}

func deployStatus(u string) int {
	resp, err := http.Get(u)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// imageRepoTag splits "repo:tag" (a registry port is not a tag).
func imageRepoTag(img string) (repo, tag string) {
	if i := strings.LastIndex(img, ":"); i > strings.LastIndex(img, "/") {
		return img[:i], img[i+1:]
	}
	return img, ""
}

func imagePinned(img string) bool {
	_, tag := imageRepoTag(img)
	return regexp.MustCompile(`^v?\d+(\.\d+)+`).MatchString(tag)
}

// deployVersionLess compares dotted versions on the components both have
// ("1.26" covers every 1.26.x).
func deployVersionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range min(len(as), len(bs)) {
		x, _ := strconv.Atoi(as[i])
		y, _ := strconv.Atoi(bs[i])
		if x != y {
			return x < y
		}
	}
	return false
}

func deployOr(a, b []string) []string {
	if a != nil {
		return a
	}
	return b
}

func deploySortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func deploySameKeys(a, b map[string]bool) bool {
	return slices.Equal(deploySortedKeys(a), deploySortedKeys(b))
}
