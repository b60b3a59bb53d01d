package clickhouse

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The tests run against a real clickhouse-server: MAMORI_CLICKHOUSE_URL
// (e.g. http://127.0.0.1:8123/, a server the tests may create and drop
// databases on) or, by default, one TestMain starts from Debian's package
// in a temporary directory on free loopback ports and stops at the end.

// serverURL is the HTTP interface of the test server, ending in "/".
var serverURL string

const installHint = "clickhouse-server not found: the ClickHouse event store tests need it.\n" +
	"Install it with: sudo apt-get install -y --no-install-recommends clickhouse-server clickhouse-client\n" +
	"(or scripts/clickhouse-test.sh install), or point MAMORI_CLICKHOUSE_URL at a server."

func TestMain(m *testing.M) {
	if u := os.Getenv("MAMORI_CLICKHOUSE_URL"); u != "" {
		serverURL = strings.TrimSuffix(u, "/") + "/"
		os.Exit(m.Run())
	}
	bin := findServer()
	if bin == "" {
		fmt.Fprintln(os.Stderr, installHint)
		os.Exit(1)
	}
	stop, err := startServer(bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "clickhouse test server:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

func findServer() string {
	for _, p := range []string{os.Getenv("MAMORI_CLICKHOUSE_SERVER"), "/usr/bin/clickhouse-server", "/usr/sbin/clickhouse-server"} {
		if p != "" {
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
		}
	}
	p, _ := exec.LookPath("clickhouse-server")
	return p
}

// freePorts returns n distinct free loopback ports (free when asked: the
// server binds them a moment later).
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

const testConfig = `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{{DATA}}/log/server.log</log><errorlog>{{DATA}}/log/err.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{{HTTP}}</http_port><tcp_port>{{TCP}}</tcp_port><interserver_http_port>{{INTER}}</interserver_http_port>
  <mark_cache_size>268435456</mark_cache_size>
  <path>{{DATA}}/</path><tmp_path>{{DATA}}/tmp/</tmp_path><user_files_path>{{DATA}}/user_files/</user_files_path>
  <format_schema_path>{{DATA}}/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile><default_database>default</default_database>
  <timezone>UTC</timezone><mlock_executable>false</mlock_executable>
</yandex>
`

const testUsers = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`

// startServer starts bin with a minimal config under a temporary
// directory and waits for /ping; stop ends it and removes the directory.
func startServer(bin string) (stop func(), err error) {
	dir, err := os.MkdirTemp("", "mamori-clickhouse-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	data := filepath.Join(dir, "data")
	for _, d := range []string{"log", "tmp", "user_files", "format_schemas"} {
		if err := os.MkdirAll(filepath.Join(data, d), 0o750); err != nil {
			return nil, err
		}
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	cfg := strings.NewReplacer("{{DATA}}", data, "{{HTTP}}", fmt.Sprint(ports[0]), "{{TCP}}", fmt.Sprint(ports[1]), "{{INTER}}", fmt.Sprint(ports[2])).Replace(testConfig)
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), []byte(cfg), 0o640); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(testUsers), 0o640); err != nil {
		return nil, err
	}
	out, err := os.Create(filepath.Join(data, "log", "stdout.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--config-file="+filepath.Join(dir, "config.xml"))
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} // never outlive the test binary
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); out.Close(); close(exited) }()
	stop = func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		os.RemoveAll(dir)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d/", ports[0])
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "ping")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.TrimSpace(string(b)) == "Ok." {
				break
			}
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(data, "log", "err.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("%s exited before answering /ping:\n%s", bin, log)
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("%s did not answer %sping within 30 s", bin, base)
		}
		time.Sleep(50 * time.Millisecond)
	}
	serverURL = base
	return stop, nil
}

var dbCounter atomic.Int64

// openTest opens a store on a new database of the test server, dropped
// when the test ends.
func openTest(tb testing.TB) *Store {
	tb.Helper()
	db := fmt.Sprintf("mamori_test_%d_%d", os.Getpid(), dbCounter.Add(1))
	s, err := Open(context.Background(), Config{URL: serverURL + db}, nil)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.exec(context.Background(), "DROP DATABASE IF EXISTS `"+db+"`"); err != nil {
			tb.Errorf("drop test database: %v", err)
		}
		s.Close()
	})
	return s
}
