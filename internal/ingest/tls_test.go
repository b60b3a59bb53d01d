package ingest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"testing"
	"time"
)

// selfSigned makes a certificate for 127.0.0.1, valid for an hour.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mamori-test"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// TestSyslogTLS: RFC 5425 syslog over TLS, octet-counted, reaches the sink;
// a plain-text client is refused without hurting the listener.
func TestSyslogTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	sink := &memSink{}
	sl, err := ListenSyslog(SyslogConfig{TCP: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		Tenant: "org-a", FlushEvery: 20 * time.Millisecond}, sink, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sl.Serve(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	plain, _ := net.Dial("tcp", sl.TCPAddr().String())
	plain.Write([]byte("<38>Nov 23 10:00:00 h sshd[1]: not encrypted\n"))
	plain.Close()

	c, err := tls.Dial("tcp", sl.TCPAddr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	msg := "<38>1 2026-11-23T10:00:00Z host1 sshd 42 - - Failed password for root from 198.51.100.9 port 4444 ssh2"
	fmt.Fprintf(c, "%d %s", len(msg), msg)
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(sink.all()) < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	recs := sink.all()
	if len(recs) != 1 || recs[0].Source != "syslog-tls" {
		t.Fatalf("records = %+v, want the one TLS message", recs)
	}
	if ip, _ := recs[0].Event.Get("src_ip"); string(ip) != "198.51.100.9" {
		t.Errorf("src_ip = %q", ip)
	}
}
