package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/tenant"
)

// memSink records what was published; busy makes it refuse.
type memSink struct {
	mu   sync.Mutex
	recs []Record
	busy bool
}

func (m *memSink) Publish(ctx context.Context, recs []Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.busy {
		return fmt.Errorf("lagging: %w", ErrBusy)
	}
	m.recs = append(m.recs, recs...)
	return nil
}

func (m *memSink) all() []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Record(nil), m.recs...)
}

type oneToken struct{}

func (oneToken) IngestTenant(ctx context.Context, cred string) (tenant.ID, error) {
	if cred == "good-token" {
		return "org-a", nil
	}
	return "", errors.New("bad token")
}

func newTestHTTP(t *testing.T, cfg Config) (*httptest.Server, *memSink) {
	t.Helper()
	sink := &memSink{}
	h := NewHTTP(cfg, sink, oneToken{}, nil)
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, sink
}

func post(t *testing.T, url string, hdr map[string]string, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestBulkAuthSchemes(t *testing.T) {
	srv, sink := newTestHTTP(t, Config{})
	doc := `{"index":{"_id":"x1"}}` + "\n" + `{"message":"hello"}` + "\n"
	for name, hdr := range map[string]string{
		"bearer":        "Bearer good-token",
		"apikey id:key": "ApiKey " + base64.StdEncoding.EncodeToString([]byte("someid:good-token")),
		"apikey plain":  "ApiKey " + base64.StdEncoding.EncodeToString([]byte("good-token")),
		"basic":         "Basic " + base64.StdEncoding.EncodeToString([]byte("elastic:good-token")),
	} {
		if code, b := post(t, srv.URL+"/_bulk", map[string]string{"Authorization": hdr}, doc); code != 200 {
			t.Errorf("%s: %d %s", name, code, b)
		}
	}
	if code, b := post(t, srv.URL+"/_bulk", map[string]string{"Authorization": "Bearer bad"}, doc); code != 401 || !strings.Contains(b, "security_exception") {
		t.Errorf("bad token: %d %s", code, b)
	}
	recs := sink.all()
	if len(recs) != 4 || recs[0].Tenant != "org-a" || recs[0].Source != "bulk" {
		t.Fatalf("records = %+v", recs)
	}
	// The sender's _id makes a retried document the same record.
	if recs[0].ID != recs[1].ID || recs[0].ID != RecordID("org-a", "x1", nil, 0, recs[0].Event.Time) {
		t.Errorf("ids %s %s: the sender's _id must give the same record id", recs[0].ID, recs[1].ID)
	}
}

func TestBulkItems(t *testing.T) {
	srv, sink := newTestHTTP(t, Config{})
	body := strings.Join([]string{
		`{"create":{"_index":"logs"}}`, `{"message":"a"}`,
		`{"index":{}}`, `{not json`,
		`{"delete":{"_id":"1"}}`,
		`{"update":{"_id":"2"}}`, `{"doc":{"a":1}}`,
		`{"index":{"_index":"other","_id":"abc"}}`, `{"message":"b"}`,
	}, "\n") // no trailing newline: the last document still counts
	code, b := post(t, srv.URL+"/logs/_bulk", map[string]string{"Authorization": "Bearer good-token"}, body)
	if code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	var r struct {
		Errors bool `json:"errors"`
		Items  []map[string]struct {
			Index  string `json:"_index"`
			ID     string `json:"_id"`
			Status int    `json:"status"`
			Error  *struct {
				Type, Reason string
			} `json:"error"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(b), &r); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		op     string
		status int
	}{{"create", 201}, {"index", 400}, {"delete", 400}, {"update", 400}, {"index", 201}}
	if !r.Errors || len(r.Items) != len(want) {
		t.Fatalf("response %s", b)
	}
	for i, w := range want {
		it, ok := r.Items[i][w.op]
		if !ok || it.Status != w.status || (w.status >= 300) != (it.Error != nil) {
			t.Errorf("item %d = %+v, want %s %d", i, r.Items[i], w.op, w.status)
		}
	}
	if r.Items[0]["create"].Index != "logs" || r.Items[4]["index"].Index != "other" || r.Items[4]["index"].ID != "abc" {
		t.Errorf("index names/ids not echoed: %s", b)
	}
	if !strings.Contains(r.Items[1]["index"].Error.Reason, "line 4") {
		t.Errorf("the bad document's error does not name its line: %s", r.Items[1]["index"].Error.Reason)
	}
	if n := len(sink.all()); n != 2 {
		t.Errorf("%d records published, want 2", n)
	}
	// A malformed action line refuses the whole request (Elasticsearch does too).
	if code, b := post(t, srv.URL+"/_bulk", map[string]string{"Authorization": "Bearer good-token"}, "{\"index\":{}}\n{\"a\":1}\n[1]\n"); code != 400 || !strings.Contains(b, "line 3") {
		t.Errorf("bad action line: %d %s", code, b)
	}
}

func TestBackpressure(t *testing.T) {
	srv, sink := newTestHTTP(t, Config{})
	sink.busy = true
	code, b := post(t, srv.URL+"/_bulk", map[string]string{"Authorization": "Bearer good-token"}, "{\"index\":{}}\n{\"a\":1}\n")
	if code != http.StatusTooManyRequests || !strings.Contains(b, "es_rejected_execution_exception") {
		t.Errorf("busy _bulk: %d %s, want 429 es_rejected_execution_exception", code, b)
	}
	code, _ = post(t, srv.URL+"/api/v1/ingest", map[string]string{"Authorization": "Bearer good-token"}, "{\"a\":1}\n")
	if code != http.StatusServiceUnavailable {
		t.Errorf("busy ingest: %d, want 503", code)
	}
	// A full queue of requests answers 429 after the queue timeout.
	h := NewHTTP(Config{MaxInflight: 1, QueueTimeout: 10 * time.Millisecond}, &memSink{}, oneToken{}, nil)
	h.slots <- struct{}{} // occupy the only slot
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/_bulk", strings.NewReader("{\"index\":{}}\n{\"a\":1}\n"))
	req.Header.Set("Authorization", "Bearer good-token")
	h.bulk(rec, req)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Errorf("queue full: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
}

func TestNDJSONFormats(t *testing.T) {
	srv, sink := newTestHTTP(t, Config{MaxLine: 200})
	hdr := map[string]string{"Authorization": "Bearer good-token"}
	if code, b := post(t, srv.URL+"/api/v1/ingest?format=syslog", hdr, "<38>Nov 23 10:00:00 web01 sshd[42]: Failed password for root from 203.0.113.5 port 4242 ssh2\nnot syslog at all\n"); code != 200 || !strings.Contains(b, `"accepted":`) {
		t.Errorf("syslog format: %d %s", code, b)
	}
	if code, b := post(t, srv.URL+"/api/v1/ingest?format=access", hdr, `203.0.113.9 - - [23/Nov/2026:10:00:00 +0000] "GET /shell.php?cmd=whoami HTTP/1.1" 200 12 "-" "curl/8"`+"\n"); code != 200 || !strings.Contains(b, `"accepted":1`) {
		t.Errorf("access format: %d %s", code, b)
	}
	if code, b := post(t, srv.URL+"/api/v1/ingest", hdr, `{"message":"`+strings.Repeat("x", 300)+`"}`+"\n"+`{"ok":1}`+"\n"); code != 200 || !strings.Contains(b, "longer than 200") || !strings.Contains(b, `"accepted":1`) {
		t.Errorf("long line: %d %s", code, b)
	}
	if code, _ := post(t, srv.URL+"/api/v1/ingest?format=xml", hdr, "x"); code != 400 {
		t.Errorf("unknown format: %d", code)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"message":"zipped"}` + "\n"))
	zw.Close()
	if code, b := post(t, srv.URL+"/api/v1/ingest", map[string]string{"Authorization": "Bearer good-token", "Content-Encoding": "gzip"}, gz.String()); code != 200 || !strings.Contains(b, `"accepted":1`) {
		t.Errorf("gzip: %d %s", code, b)
	}
	var ssh *Record
	for _, r := range sink.all() {
		if v, _ := r.Event.Get("program"); string(v) == "sshd" {
			r := r
			ssh = &r
		}
	}
	if ssh == nil {
		t.Fatal("the sshd syslog line was not stored")
	}
	if v, _ := ssh.Event.Get("src_ip"); string(v) != "203.0.113.5" {
		t.Errorf("sshd src_ip = %q", v)
	}
}

func TestSyslogListeners(t *testing.T) {
	sink := &memSink{}
	sl, err := ListenSyslog(SyslogConfig{UDP: "127.0.0.1:0", TCP: "127.0.0.1:0", Tenant: "org-a", FlushEvery: 20 * time.Millisecond}, sink, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sl.Serve(ctx); close(done) }()
	u, _ := net.Dial("udp", sl.UDPAddr().String())
	u.Write([]byte("<38>1 2026-11-23T10:00:00Z host1 sshd 42 - - Failed password for invalid user admin from 198.51.100.7 port 5555 ssh2"))
	u.Close()
	c, _ := net.Dial("tcp", sl.TCPAddr().String())
	// One newline-framed and two octet-counted messages on one connection.
	m1 := "<86>Nov 23 10:00:01 host2 sudo: alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls"
	m2 := "<78>Nov 23 10:00:02 host2 CRON[99]: (root) CMD (run-parts /etc/cron.hourly)"
	fmt.Fprintf(c, "%s\n%d %s%d %s", m1, len(m2), m2, len(m1), m1)
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(sink.all()) < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	recs := sink.all()
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4", len(recs))
	}
	chans := map[string]int{}
	for _, r := range recs {
		if r.Tenant != "org-a" {
			t.Errorf("record of tenant %q", r.Tenant)
		}
		ch, _ := r.Event.Get("Channel")
		chans[string(ch)]++
	}
	if chans["linux/auth"] != 3 || chans["linux/cron"] != 1 {
		t.Errorf("channels = %v", chans)
	}
	if recv, bad, _ := sl.Counters(); recv != 4 || bad != 0 {
		t.Errorf("counters %d received, %d bad", recv, bad)
	}
}

func TestRootServesShippersAndBrowsers(t *testing.T) {
	srv, _ := newTestHTTP(t, Config{})
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Elastic-Product") != "Elasticsearch" || !strings.Contains(string(b), `"number"`) {
		t.Errorf("shipper GET /: %d %s", resp.StatusCode, b)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	resp, err = (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("browser GET /: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestZeekTSV(t *testing.T) {
	srv, sink := newTestHTTP(t, Config{})
	tsv := "#separator \\x09\n#path\tdns\n#fields\tts\tuid\tid.orig_h\tquery\tanswers\n#types\ttime\tstring\taddr\tstring\tvector[string]\n" +
		"1700000000.123\tC1\t10.0.0.5\texample.org\t1.2.3.4,5.6.7.8\n1700000001.5\tC2\t10.0.0.6\tevil.test\t-\n"
	code, b := post(t, srv.URL+"/api/v1/ingest?format=zeek-tsv", map[string]string{"Authorization": "Bearer good-token"}, tsv)
	if code != 200 || !strings.Contains(b, `"accepted":2`) {
		t.Fatalf("zeek tsv: %d %s", code, b)
	}
	recs := sink.all()
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	if ch, _ := recs[0].Event.Get("Channel"); string(ch) != "zeek/dns" {
		t.Errorf("channel %q", ch)
	}
	if recs[0].ID == recs[1].ID {
		t.Error("distinct lines got the same id")
	}
}
