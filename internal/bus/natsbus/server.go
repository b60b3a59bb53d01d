package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ServerOptions configures an embedded nats-server with JetStream.
type ServerOptions struct {
	// StoreDir holds JetStream's files. Required.
	StoreDir string
	// Name is the server name, unique within a cluster; empty means "mamori".
	Name string
	// ClientAddr is "host:port" to listen on for clients. Empty means no
	// listener: clients connect in-process with Server.Connect. Port 0 picks a
	// free port (see Server.ClientURL).
	ClientAddr string
	// ClusterName, ClusterAddr ("host:port") and Routes (nats-route://host:port)
	// join the server to a cluster. All empty means a single node.
	ClusterName string
	ClusterAddr string
	Routes      []string
	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger
}

// Server is a running embedded nats-server.
type Server struct {
	opts ServerOptions
	ns   *server.Server
}

// Start runs an embedded nats-server with JetStream and waits until it
// accepts connections. In a cluster, JetStream may need a few more seconds to
// elect its meta leader; Connect retries its setup until then.
func Start(opts ServerOptions) (*Server, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("natsbus: ServerOptions.StoreDir is empty")
	}
	if opts.Name == "" {
		opts.Name = "mamori"
	}
	so := &server.Options{
		ServerName: opts.Name,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		NoSigs:     true,
		DontListen: opts.ClientAddr == "",
	}
	if opts.ClientAddr != "" {
		host, port, err := splitAddr(opts.ClientAddr)
		if err != nil {
			return nil, fmt.Errorf("natsbus: ClientAddr: %w", err)
		}
		so.Host, so.Port = host, port
	}
	if opts.ClusterAddr != "" {
		host, port, err := splitAddr(opts.ClusterAddr)
		if err != nil {
			return nil, fmt.Errorf("natsbus: ClusterAddr: %w", err)
		}
		so.Cluster = server.ClusterOpts{Name: opts.ClusterName, Host: host, Port: port}
		for _, r := range opts.Routes {
			u, err := url.Parse(r)
			if err != nil {
				return nil, fmt.Errorf("natsbus: route %q: %w", r, err)
			}
			so.Routes = append(so.Routes, u)
		}
	}
	ns, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("natsbus: cannot create server %q: %w", opts.Name, err)
	}
	if opts.Logger != nil {
		ns.SetLogger(slogLogger{opts.Logger.With("component", "nats-server", "server", opts.Name)}, false, false)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("natsbus: server %q not ready after 10s; check StoreDir %q and ports", opts.Name, opts.StoreDir)
	}
	return &Server{opts: opts, ns: ns}, nil
}

// splitAddr parses "host:port"; port 0 becomes nats-server's "random port".
func splitAddr(addr string) (string, int, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(ps)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", ps, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// ClientURL returns the URL clients connect to, or "" without a listener.
func (s *Server) ClientURL() string {
	if s.opts.ClientAddr == "" {
		return ""
	}
	return s.ns.ClientURL()
}

// Name returns the server name.
func (s *Server) Name() string { return s.opts.Name }

// NATS returns the underlying nats-server, for tests and monitoring.
func (s *Server) NATS() *server.Server { return s.ns }

// Connect opens a bus over an in-process connection to s.
func (s *Server) Connect(ctx context.Context, cfg Config) (*Bus, error) {
	return connect(ctx, "", cfg, inProcess(s.ns))
}

// Shutdown stops the server and waits until it has stopped.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// Cluster is a set of embedded servers clustered on loopback, for tests and
// local experiments.
type Cluster struct {
	Servers []*Server
	opts    []ServerOptions
}

// StartCluster starts n JetStream servers on loopback ports, clustered with
// each other, storing under dir/<name>, and waits until JetStream has a meta
// leader or ctx is done.
func StartCluster(ctx context.Context, n int, dir string, log *slog.Logger) (*Cluster, error) {
	ports, err := freePorts(2 * n)
	if err != nil {
		return nil, err
	}
	var routes []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[n+i]))
	}
	c := &Cluster{}
	for i := range n {
		name := fmt.Sprintf("n%d", i+1)
		o := ServerOptions{
			StoreDir:    filepath.Join(dir, name),
			Name:        name,
			ClientAddr:  fmt.Sprintf("127.0.0.1:%d", ports[i]),
			ClusterName: "mamori",
			ClusterAddr: fmt.Sprintf("127.0.0.1:%d", ports[n+i]),
			Routes:      routes,
			Logger:      log,
		}
		if err := os.MkdirAll(o.StoreDir, 0o700); err != nil {
			c.Shutdown()
			return nil, fmt.Errorf("natsbus: cannot create store dir: %w", err)
		}
		s, err := Start(o)
		if err != nil {
			c.Shutdown()
			return nil, err
		}
		c.Servers = append(c.Servers, s)
		c.opts = append(c.opts, o)
	}
	if err := c.WaitReady(ctx); err != nil {
		c.Shutdown()
		return nil, err
	}
	return c, nil
}

// WaitReady waits until a running server is JetStream meta leader.
func (c *Cluster) WaitReady(ctx context.Context) error {
	for {
		for _, s := range c.Servers {
			if s != nil && s.ns.Running() && s.ns.JetStreamIsLeader() {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("natsbus: cluster has no JetStream leader: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// URL returns the comma-separated client URLs of all nodes.
func (c *Cluster) URL() string {
	var u string
	for i, o := range c.opts {
		if i > 0 {
			u += ","
		}
		u += "nats://" + o.ClientAddr
	}
	return u
}

// Stop shuts node i down, keeping its store for Restart.
func (c *Cluster) Stop(i int) {
	if s := c.Servers[i]; s != nil {
		s.Shutdown()
		c.Servers[i] = nil
	}
}

// Restart starts node i again with its store and ports.
func (c *Cluster) Restart(i int) error {
	c.Stop(i)
	s, err := Start(c.opts[i])
	if err != nil {
		return err
	}
	c.Servers[i] = s
	return nil
}

// Shutdown stops all nodes.
func (c *Cluster) Shutdown() {
	for i := range c.Servers {
		c.Stop(i)
	}
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("natsbus: cannot find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// slogLogger adapts slog to nats-server's Logger.
type slogLogger struct{ l *slog.Logger }

func (l slogLogger) Noticef(format string, v ...any) { l.l.Info(fmt.Sprintf(format, v...)) }
func (l slogLogger) Warnf(format string, v ...any)   { l.l.Warn(fmt.Sprintf(format, v...)) }
func (l slogLogger) Fatalf(format string, v ...any)  { l.l.Error(fmt.Sprintf(format, v...)) }
func (l slogLogger) Errorf(format string, v ...any)  { l.l.Error(fmt.Sprintf(format, v...)) }
func (l slogLogger) Debugf(format string, v ...any)  { l.l.Debug(fmt.Sprintf(format, v...)) }
func (l slogLogger) Tracef(format string, v ...any)  { l.l.Debug(fmt.Sprintf(format, v...)) }
