package ingest

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mamori-soc/mamori/internal/normalize"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// SyslogConfig configures one syslog listener.
type SyslogConfig struct {
	// UDP and TCP are listen addresses ("" disables the transport).
	UDP, TCP string
	// TLS, when set, makes the TCP listener speak TLS (RFC 5425).
	TLS *tls.Config
	// Tenant owns what arrives on this listener, unless Sources maps the
	// sender's address to another organisation.
	Tenant tenant.ID
	// Sources maps sender networks to organisations (most specific wins).
	Sources map[netip.Prefix]tenant.ID
	// MaxMessage bounds one message; 0 means 64 KiB.
	MaxMessage int
	// FlushEvery and FlushSize bound how long and how many messages are
	// batched before publishing. 0 means 200 ms and 2000.
	FlushEvery time.Duration
	FlushSize  int
}

// Syslog receives syslog over UDP and TCP (newline or octet-counted framing,
// optionally TLS). Messages from senders it cannot attribute to an
// organisation are dropped and counted.
type Syslog struct {
	cfg  SyslogConfig
	sink Sink
	log  *slog.Logger

	udp *net.UDPConn
	tcp net.Listener

	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool

	statMu                   sync.Mutex
	received, bad, unknownSr int64
}

// ListenSyslog opens the listeners; Serve must then be called.
func ListenSyslog(cfg SyslogConfig, sink Sink, log *slog.Logger) (*Syslog, error) {
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = 64 << 10
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = 200 * time.Millisecond
	}
	if cfg.FlushSize <= 0 {
		cfg.FlushSize = 2000
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Syslog{cfg: cfg, sink: sink, log: log, conns: map[net.Conn]struct{}{}}
	if cfg.UDP != "" {
		addr, err := net.ResolveUDPAddr("udp", cfg.UDP)
		if err != nil {
			return nil, fmt.Errorf("syslog udp %s: %w", cfg.UDP, err)
		}
		if s.udp, err = net.ListenUDP("udp", addr); err != nil {
			return nil, fmt.Errorf("syslog udp %s: %w", cfg.UDP, err)
		}
		_ = s.udp.SetReadBuffer(8 << 20)
	}
	if cfg.TCP != "" {
		var err error
		if cfg.TLS != nil {
			s.tcp, err = tls.Listen("tcp", cfg.TCP, cfg.TLS)
		} else {
			s.tcp, err = net.Listen("tcp", cfg.TCP)
		}
		if err != nil {
			if s.udp != nil {
				s.udp.Close()
			}
			return nil, fmt.Errorf("syslog tcp %s: %w", cfg.TCP, err)
		}
	}
	return s, nil
}

// UDPAddr returns the bound UDP address (nil when disabled).
func (s *Syslog) UDPAddr() net.Addr {
	if s.udp == nil {
		return nil
	}
	return s.udp.LocalAddr()
}

// TCPAddr returns the bound TCP address (nil when disabled).
func (s *Syslog) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// Counters returns messages received, rejected as malformed, and dropped for an unknown sender.
func (s *Syslog) Counters() (received, bad, unknownSender int64) {
	s.statMu.Lock()
	defer s.statMu.Unlock()
	return s.received, s.bad, s.unknownSr
}

func (s *Syslog) count(recv, bad, unknown int64) {
	s.statMu.Lock()
	s.received += recv
	s.bad += bad
	s.unknownSr += unknown
	s.statMu.Unlock()
}

// tenantFor attributes a sender to an organisation.
func (s *Syslog) tenantFor(addr netip.Addr) tenant.ID {
	best, bits := s.cfg.Tenant, -1
	for p, t := range s.cfg.Sources {
		if p.Contains(addr.Unmap()) && p.Bits() > bits {
			best, bits = t, p.Bits()
		}
	}
	return best
}

// Serve runs the listeners until ctx ends, then drains and returns.
func (s *Syslog) Serve(ctx context.Context) error {
	if s.udp != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.serveUDP(ctx) }()
	}
	if s.tcp != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.serveTCP(ctx) }()
	}
	<-ctx.Done()
	s.mu.Lock()
	s.closed = true
	if s.udp != nil {
		s.udp.Close()
	}
	if s.tcp != nil {
		s.tcp.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// batcher accumulates records and publishes them by size or time.
type batcher struct {
	s       *Syslog
	source  string
	dec     *decoder
	recs    []Record
	started time.Time
	occ     occurrences
}

func (b *batcher) add(tid tenant.ID, msg []byte) {
	if tid == "" {
		b.s.count(1, 0, 1)
		return
	}
	if b.occ == nil {
		b.occ = occurrences{}
	}
	rec, err := b.dec.decode("syslog", tid, "", msg, b.occ.next(msg), time.Now().UTC())
	if err != nil {
		b.s.count(1, 1, 0)
		b.s.log.Debug("syslog: bad message", "err", err)
		return
	}
	b.s.count(1, 0, 0)
	rec.Source = b.source
	if len(b.recs) == 0 {
		b.started = time.Now()
	}
	b.recs = append(b.recs, rec)
}

func (b *batcher) due() bool {
	return len(b.recs) >= b.s.cfg.FlushSize || (len(b.recs) > 0 && time.Since(b.started) >= b.s.cfg.FlushEvery)
}

// flush publishes, retrying while the pipeline is busy: a TCP sender is
// slowed down by not reading (flow control) instead of losing messages.
func (b *batcher) flush(ctx context.Context) {
	for len(b.recs) > 0 {
		err := b.s.sink.Publish(context.WithoutCancel(ctx), b.recs)
		if err == nil {
			break
		}
		b.s.log.Warn("syslog: publish failed, retrying", "records", len(b.recs), "err", err)
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			if !errors.Is(err, ErrBusy) {
				b.recs = b.recs[:0]
				return
			}
		}
	}
	clear(b.recs)
	b.recs = b.recs[:0]
	b.occ = nil
}

func (s *Syslog) serveUDP(ctx context.Context) {
	b := &batcher{s: s, source: "syslog-udp", dec: &decoder{json: normalize.NewDecoder()}}
	buf := make([]byte, 65536)
	for {
		_ = s.udp.SetReadDeadline(time.Now().Add(s.cfg.FlushEvery))
		n, addr, err := s.udp.ReadFromUDPAddrPort(buf)
		if err == nil && n > 0 {
			msg := trimSyslog(buf[:n])
			if len(msg) > 0 {
				b.add(s.tenantFor(addr.Addr()), msg)
			}
		}
		if b.due() || (err != nil && len(b.recs) > 0) {
			b.flush(ctx)
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if ctx.Err() != nil {
				b.flush(ctx)
				return
			}
		}
	}
}

func trimSyslog(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == 0) {
		b = b[:len(b)-1]
	}
	return b
}

func (s *Syslog) serveTCP(ctx context.Context) {
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("syslog: accept", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(ctx, c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

func (s *Syslog) serveConn(ctx context.Context, c net.Conn) {
	source := "syslog-tcp"
	if s.cfg.TLS != nil {
		source = "syslog-tls"
	}
	var tid tenant.ID
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		tid = s.tenantFor(ap.Addr())
	}
	b := &batcher{s: s, source: source, dec: &decoder{json: normalize.NewDecoder()}}
	// A ticker flushes partial batches while the sender is idle.
	done := make(chan struct{})
	var mu sync.Mutex
	go func() {
		t := time.NewTicker(s.cfg.FlushEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				mu.Lock()
				if b.due() {
					b.flush(ctx)
				}
				mu.Unlock()
			case <-done:
				return
			}
		}
	}()
	err := normalize.SplitSyslogTCP(bufio.NewReaderSize(c, 64<<10), s.cfg.MaxMessage, func(msg []byte) error {
		mu.Lock()
		defer mu.Unlock()
		b.add(tid, msg)
		if b.due() {
			b.flush(ctx)
		}
		return nil
	})
	close(done)
	mu.Lock()
	b.flush(ctx)
	mu.Unlock()
	if err != nil && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
		s.log.Debug("syslog: connection ended", "remote", c.RemoteAddr(), "err", err)
	}
}
