package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type bulkAction struct {
	Index string `json:"_index"`
	ID    string `json:"_id"`
}

type bulkItem struct {
	op     string
	index  string
	id     string
	status int
	err    string
}

// bulk serves the Elasticsearch _bulk API: action/document line pairs. Each
// document is normalized on its own; a bad one fails its item (status 400)
// and never the others. The answer has the shape Beats, Logstash, Fluent
// Bit and Vector parse: took, errors, items.
func (h *HTTP) bulk(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	tid, ok := h.tenant(w, r, true)
	if !ok {
		return
	}
	if !h.acquire(w, r, true) {
		return
	}
	defer func() { <-h.slots }()
	body, closeFn, err := h.body(w, r)
	defer closeFn()
	if err != nil {
		esError(w, http.StatusBadRequest, "parse_exception", err.Error())
		return
	}
	defIndex := r.PathValue("index")
	dec := h.decs.Get().(*decoder)
	defer h.decs.Put(dec)
	now := time.Now().UTC()
	br := bufio.NewReaderSize(body, 1<<16)
	var items []bulkItem
	var recs []Record
	occ := occurrences{}
	line := 0
	next := func() ([]byte, error) {
		for {
			raw, err := readLine(br, h.cfg.MaxLine)
			line++
			if err == nil || len(raw) > 0 || errors.Is(err, errLineTooLong) {
				if len(bytes.TrimSpace(raw)) == 0 && err == nil {
					continue // blank lines separate nothing
				}
				return raw, err
			}
			return nil, err
		}
	}
	for {
		act, err := next()
		if err == io.EOF && len(bytes.TrimSpace(act)) == 0 {
			break
		}
		if err != nil && err != io.EOF {
			if isTooLarge(err) {
				esError(w, http.StatusRequestEntityTooLarge, "content_too_long_exception", fmt.Sprintf("request body exceeds %d bytes; nothing was stored", h.cfg.MaxBody))
				return
			}
			if errors.Is(err, errLineTooLong) {
				esError(w, http.StatusBadRequest, "parse_exception", fmt.Sprintf("line %d longer than %d bytes; nothing was stored", line, h.cfg.MaxLine))
				return
			}
			esError(w, http.StatusBadRequest, "parse_exception", err.Error())
			return
		}
		op, meta, ok := parseAction(act)
		if !ok {
			esError(w, http.StatusBadRequest, "illegal_argument_exception", fmt.Sprintf("line %d: malformed action/metadata line, expected {\"index\":{...}} or {\"create\":{...}}; nothing was stored", line))
			return
		}
		if meta.Index == "" {
			meta.Index = defIndex
		}
		it := bulkItem{op: op, index: meta.Index, id: meta.ID}
		switch op {
		case "index", "create", "update":
			doc, derr := next()
			if derr != nil && derr != io.EOF {
				if errors.Is(derr, errLineTooLong) {
					it.status, it.err = http.StatusBadRequest, fmt.Sprintf("line %d: document longer than %d bytes", line, h.cfg.MaxLine)
					items = append(items, it)
					continue
				}
				esError(w, http.StatusBadRequest, "parse_exception", derr.Error())
				return
			}
			if len(bytes.TrimSpace(doc)) == 0 {
				esError(w, http.StatusBadRequest, "illegal_argument_exception", fmt.Sprintf("line %d: action %q has no document; nothing was stored", line, op))
				return
			}
			if op == "update" {
				it.status, it.err = http.StatusBadRequest, "update is not supported: Mamori stores events immutably"
				items = append(items, it)
			} else if rec, nerr := dec.decodeOwned("json", tid, meta.ID, bytes.TrimSpace(doc), occurrence(occ, meta.ID, bytes.TrimSpace(doc)), now); nerr != nil {
				it.status, it.err = http.StatusBadRequest, fmt.Sprintf("line %d: %v", line, nerr)
				items = append(items, it)
			} else {
				rec.Source = "bulk"
				if it.id == "" {
					it.id = rec.ID
				}
				it.status = http.StatusCreated
				items = append(items, it)
				recs = append(recs, rec)
			}
			if derr == io.EOF {
				goto done
			}
		case "delete":
			it.status, it.err = http.StatusBadRequest, "delete is not supported: Mamori stores events immutably"
			items = append(items, it)
		default:
			esError(w, http.StatusBadRequest, "illegal_argument_exception", fmt.Sprintf("line %d: unknown bulk action %q; nothing was stored", line, op))
			return
		}
		if err == io.EOF {
			break
		}
	}
done:
	if err := h.publish(r.Context(), recs); err != nil {
		h.stats.add(0, 0, 1)
		if errors.Is(err, ErrBusy) {
			busy(w, true)
			return
		}
		h.log.Error("bulk publish failed", "org", tid, "records", len(recs), "err", err)
		w.Header().Set("Retry-After", "1")
		esError(w, http.StatusServiceUnavailable, "unavailable_shards_exception", "could not store the documents; nothing was acknowledged: "+err.Error())
		return
	}
	rejected := len(items) - len(recs)
	h.stats.add(int64(len(recs)), int64(rejected), 0)
	writeBulkResponse(w, time.Since(start), items)
}

// occurrence counts raw in occ when it is what identifies the record: a
// sender's _id replaces the content in RecordID, so hashing the document
// for a count that is never used would be wasted.
func occurrence(occ occurrences, senderID string, raw []byte) int {
	if senderID != "" {
		return 0
	}
	return occ.next(raw)
}

// parseAction reads an action/metadata line: its one key (the op) and that
// key's object. The lines shippers send ({"create":{}}, {"index":{"_index":
// "x","_id":"y"}}) are read directly, since encoding/json into a map costs
// as much as normalizing a small event; anything else goes through
// encoding/json, so that every line is read exactly as it always was.
func parseAction(line []byte) (op string, meta bulkAction, ok bool) {
	if op, meta, ok := parseSimpleAction(line); ok {
		return op, meta, true
	}
	var a map[string]bulkAction
	if err := json.Unmarshal(line, &a); err != nil || len(a) != 1 {
		return "", bulkAction{}, false
	}
	for k, v := range a {
		op, meta = k, v
	}
	return op, meta, true
}

// parseSimpleAction accepts only lines that encoding/json would read to
// the same result: a lower-case op, keys exactly "_index" or "_id" (the
// last of duplicates wins, as in encoding/json), values of printable ASCII
// without escapes. It reports false for everything else, valid or not.
func parseSimpleAction(b []byte) (op string, meta bulkAction, ok bool) {
	i := 0
	ws := func() {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
			i++
		}
	}
	// str reads a string of printable ASCII without escapes.
	str := func() ([]byte, bool) {
		if i >= len(b) || b[i] != '"' {
			return nil, false
		}
		start := i + 1
		for i++; i < len(b); i++ {
			c := b[i]
			if c == '"' {
				i++
				return b[start : i-1], true
			}
			if c < 0x20 || c > 0x7e || c == '\\' {
				return nil, false
			}
		}
		return nil, false
	}
	expect := func(c byte) bool {
		ws()
		if i < len(b) && b[i] == c {
			i++
			return true
		}
		return false
	}
	if !expect('{') {
		return "", bulkAction{}, false
	}
	ws()
	name, ok := str()
	if !ok || len(name) == 0 {
		return "", bulkAction{}, false
	}
	for _, c := range name {
		if c < 'a' || c > 'z' {
			return "", bulkAction{}, false
		}
	}
	if !expect(':') || !expect('{') {
		return "", bulkAction{}, false
	}
	ws()
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			ws()
			key, ok := str()
			if !ok || !expect(':') {
				return "", bulkAction{}, false
			}
			ws()
			val, ok := str()
			if !ok {
				return "", bulkAction{}, false
			}
			switch string(key) {
			case "_index":
				meta.Index = string(val)
			case "_id":
				meta.ID = string(val)
			default:
				return "", bulkAction{}, false
			}
			if expect(',') {
				continue
			}
			if !expect('}') {
				return "", bulkAction{}, false
			}
			break
		}
	}
	if !expect('}') {
		return "", bulkAction{}, false
	}
	ws()
	if i != len(b) {
		return "", bulkAction{}, false
	}
	return string(name), meta, true
}

func writeBulkResponse(w http.ResponseWriter, took time.Duration, items []bulkItem) {
	var b bytes.Buffer
	b.WriteString(`{"took":`)
	b.WriteString(itoa(int(took.Milliseconds())))
	errs := false
	for _, it := range items {
		errs = errs || it.status >= 300
	}
	if errs {
		b.WriteString(`,"errors":true,"items":[`)
	} else {
		b.WriteString(`,"errors":false,"items":[`)
	}
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		// As fmt.Fprintf(`{%q:{"_index":%s,"_id":%s,"status":%d`, op,
		// json(index), json(id), status), without its cost per item.
		buf := b.AvailableBuffer()
		buf = append(strconv.AppendQuote(append(buf, '{'), it.op), `:{"_index":`...)
		buf = appendJSONString(buf, it.index)
		buf = appendJSONString(append(buf, `,"_id":`...), it.id)
		buf = strconv.AppendInt(append(buf, `,"status":`...), int64(it.status), 10)
		b.Write(buf)
		if it.status < 300 {
			b.WriteString(`,"_version":1,"result":"created","_shards":{"total":1,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1}}`)
			continue
		}
		reason, _ := json.Marshal(it.err)
		typ := "mapper_parsing_exception"
		if it.op == "delete" || it.op == "update" {
			typ = "action_request_validation_exception"
		}
		fmt.Fprintf(&b, `,"error":{"type":%q,"reason":%s}}}`, typ, reason)
	}
	b.WriteString("]}\n")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b.Bytes())
}

// appendJSONString appends s as json.Marshal renders it. Plain printable
// ASCII (IDs and index names) is written as is; anything json.Marshal would
// escape goes through it.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(dst, q...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// esVersion is the Elasticsearch version Mamori answers as: shippers check
// it to choose their protocol, and 8.x is what current Beats expect.
const esVersion = "8.15.0"

// registerProbes answers the calls shippers make at start (version, licence,
// templates, ILM policies) so that they ship unchanged.
func (h *HTTP) registerProbes(mux *http.ServeMux) {
	es := func(fn func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Elastic-Product", "Elasticsearch")
			fn(w, r)
		}
	}
	root := es(func(w http.ResponseWriter, r *http.Request) {
		// A browser asking for the root wants the console, a shipper the cluster info.
		if strings.Contains(r.Header.Get("Accept"), "text/html") {
			http.Redirect(w, r, "/ui/", http.StatusFound)
			return
		}
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusOK)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"name": "mamori", "cluster_name": "mamori", "cluster_uuid": "bWFtb3JpLW1hbW9yaS1t",
			"version": map[string]any{"number": esVersion, "build_flavor": "default", "build_type": "mamori", "lucene_version": "9.11.1",
				"minimum_wire_compatibility_version": "7.17.0", "minimum_index_compatibility_version": "7.0.0"},
			"tagline": "You Know, for Search",
		})
	})
	mux.HandleFunc("GET /{$}", root)
	mux.HandleFunc("HEAD /{$}", root)
	mux.HandleFunc("GET /_license", es(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"license": map[string]any{"status": "active", "uid": "mamori", "type": "basic", "issue_date_in_millis": 0, "max_nodes": 1000}})
	}))
	mux.HandleFunc("GET /_xpack", es(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"build": map[string]any{}, "license": map[string]any{"status": "active", "type": "basic", "mode": "basic"},
			"features": map[string]any{"ilm": map[string]any{"available": true, "enabled": true}, "security": map[string]any{"available": true, "enabled": true}}})
	}))
	ack := es(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		writeJSON(w, http.StatusOK, map[string]any{"acknowledged": true})
	})
	exists := es(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		switch {
		case r.Method == http.MethodHead:
			w.WriteHeader(http.StatusOK)
		case bytes.Contains([]byte(r.URL.Path), []byte("_index_template")):
			writeJSON(w, http.StatusOK, map[string]any{"index_templates": []any{map[string]any{"name": name, "index_template": map[string]any{"index_patterns": []string{name + "*"}}}}})
		case bytes.Contains([]byte(r.URL.Path), []byte("_ilm")):
			writeJSON(w, http.StatusOK, map[string]any{name: map[string]any{"version": 1, "policy": map[string]any{"phases": map[string]any{}}}})
		default:
			writeJSON(w, http.StatusOK, map[string]any{name: map[string]any{"index_patterns": []string{name + "*"}}})
		}
	})
	for _, p := range []string{"/_template/{name}", "/_index_template/{name}", "/_component_template/{name}", "/_ilm/policy/{name}", "/_ingest/pipeline/{name}", "/_data_stream/{name}"} {
		mux.HandleFunc("PUT "+p, ack)
		mux.HandleFunc("GET "+p, exists)
		mux.HandleFunc("HEAD "+p, exists)
	}
	mux.HandleFunc("GET /_nodes", es(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"_nodes": map[string]int{"total": 1, "successful": 1, "failed": 0}, "cluster_name": "mamori",
			"nodes": map[string]any{"mamori": map[string]any{"name": "mamori", "version": esVersion, "roles": []string{"master", "data", "ingest"}}}})
	}))
	mux.HandleFunc("GET /_cluster/health", es(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"cluster_name": "mamori", "status": "green", "number_of_nodes": 1})
	}))
}
