package intel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ClientConfig configures a TAXII 2.1 Client.
type ClientConfig struct {
	// User and Password are sent as HTTP Basic credentials.
	User, Password string
	// Token is sent as a Bearer token; it wins over User and Password.
	Token string
	// Timeout bounds each request; 0 means one minute.
	Timeout time.Duration
	// HTTPClient sends the requests; nil means a client with Timeout.
	HTTPClient *http.Client
	// MaxPages bounds the pages one Poll follows; 0 means 10000.
	MaxPages int
	// MaxResponse bounds a response body in bytes; 0 means 64 MiB.
	MaxResponse int64
}

// Client talks to a TAXII 2.1 server. It is safe for concurrent use.
type Client struct {
	cfg ClientConfig
	hc  *http.Client
}

// NewClient returns a Client for cfg.
func NewClient(cfg ClientConfig) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Minute
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = 10000
	}
	if cfg.MaxResponse <= 0 {
		cfg.MaxResponse = 64 << 20
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: cfg.Timeout}
	}
	return &Client{cfg: cfg, hc: hc}
}

// do sends a request and decodes a 2xx JSON answer into out; any other
// answer becomes an *Error (the server's error resource when it sent one).
func (c *Client) do(ctx context.Context, method, u string, body []byte, out any) (http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("taxii %s %s: %w", method, u, err)
	}
	req.Header.Set("Accept", MediaTypeTAXII)
	if body != nil {
		req.Header.Set("Content-Type", MediaTypeTAXII)
	}
	switch {
	case c.cfg.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	case c.cfg.User != "":
		req.SetBasicAuth(c.cfg.User, c.cfg.Password)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("taxii %s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("taxii %s %s: reading the answer: %w", method, u, err)
	}
	if int64(len(b)) > c.cfg.MaxResponse {
		return nil, fmt.Errorf("taxii %s %s: the answer is over %d bytes", method, u, c.cfg.MaxResponse)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{}
		if json.Unmarshal(b, e) != nil || e.Title == "" {
			e = &Error{Title: http.StatusText(resp.StatusCode)}
		}
		e.HTTPStatus = strconv.Itoa(resp.StatusCode)
		return resp.Header, fmt.Errorf("%s %s: %w", method, u, e)
	}
	if out != nil && len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.Header, fmt.Errorf("taxii %s %s: the answer is not the expected TAXII resource: %w", method, u, err)
		}
	}
	return resp.Header, nil
}

// dirURL makes u end with a slash, as TAXII URLs do.
func dirURL(u string) string {
	if !strings.HasSuffix(u, "/") {
		return u + "/"
	}
	return u
}

// Discover reads the discovery resource at u (e.g. https://host/taxii2/).
// Its API root URLs are made absolute against u.
func (c *Client) Discover(ctx context.Context, u string) (*Discovery, error) {
	u = dirURL(u)
	var d Discovery
	if _, err := c.do(ctx, http.MethodGet, u, nil, &d); err != nil {
		return nil, err
	}
	base, err := url.Parse(u)
	if err != nil {
		return nil, fmt.Errorf("taxii discovery url %q: %w", u, err)
	}
	abs := func(s string) string {
		if s == "" {
			return ""
		}
		r, err := base.Parse(s)
		if err != nil {
			return s
		}
		return dirURL(r.String())
	}
	d.Default = abs(d.Default)
	for i, r := range d.APIRoots {
		d.APIRoots[i] = abs(r)
	}
	return &d, nil
}

// APIRoot reads the information resource of the API root at u.
func (c *Client) APIRoot(ctx context.Context, u string) (*APIRoot, error) {
	var a APIRoot
	if _, err := c.do(ctx, http.MethodGet, dirURL(u), nil, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// Collections lists the collections of an API root.
func (c *Client) Collections(ctx context.Context, apiRoot string) ([]Collection, error) {
	var cs Collections
	if _, err := c.do(ctx, http.MethodGet, dirURL(apiRoot)+"collections/", nil, &cs); err != nil {
		return nil, err
	}
	return cs.Collections, nil
}

// FindCollection returns the collection of apiRoot whose id, alias or
// title (case-insensitive) is ref.
func (c *Client) FindCollection(ctx context.Context, apiRoot, ref string) (*Collection, error) {
	cs, err := c.Collections(ctx, apiRoot)
	if err != nil {
		return nil, err
	}
	for i := range cs {
		if cs[i].ID == ref || cs[i].Alias == ref {
			return &cs[i], nil
		}
	}
	for i := range cs {
		if strings.EqualFold(cs[i].Title, ref) {
			return &cs[i], nil
		}
	}
	return nil, fmt.Errorf("taxii api root %s has no collection with id, alias or title %q", apiRoot, ref)
}

// ObjectsQuery holds the filters of a GET objects request.
type ObjectsQuery struct {
	AddedAfter time.Time // only objects added after it; zero: all
	Limit      int       // 0: the server's default
	Next       string    // the next token of the previous page
	Types      []string  // match[type]
	IDs        []string  // match[id]
}

func (q ObjectsQuery) values() url.Values {
	v := url.Values{}
	if !q.AddedAfter.IsZero() {
		v.Set("added_after", formatDateAdded(q.AddedAfter))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Next != "" {
		v.Set("next", q.Next)
	}
	if len(q.Types) > 0 {
		v.Set("match[type]", strings.Join(q.Types, ","))
	}
	if len(q.IDs) > 0 {
		v.Set("match[id]", strings.Join(q.IDs, ","))
	}
	return v
}

// Page is one page of objects with the dates the server added its first and
// last object (the X-TAXII-Date-Added-First/-Last headers; zero when the
// server did not send them).
type Page struct {
	Envelope
	AddedFirst, AddedLast time.Time
}

func collectionURL(apiRoot, collection string) string {
	return dirURL(apiRoot) + "collections/" + url.PathEscape(collection) + "/"
}

// Objects fetches one page of a collection's objects.
func (c *Client) Objects(ctx context.Context, apiRoot, collection string, q ObjectsQuery) (*Page, error) {
	u := collectionURL(apiRoot, collection) + "objects/"
	if v := q.values(); len(v) > 0 {
		u += "?" + v.Encode()
	}
	var p Page
	h, err := c.do(ctx, http.MethodGet, u, nil, &p.Envelope)
	if err != nil {
		return nil, err
	}
	p.AddedFirst, _ = time.Parse(time.RFC3339Nano, h.Get("X-TAXII-Date-Added-First"))
	p.AddedLast, _ = time.Parse(time.RFC3339Nano, h.Get("X-TAXII-Date-Added-Last"))
	return &p, nil
}

// Poll fetches every object of a collection added after after, page by
// page, following next (or, from servers that give none, added_after of the
// last page), and hands each non-empty page to fn. It returns the date the
// server added the last object fn accepted (after when there was none):
// the cursor to poll from next time. When fn or a request fails, the
// returned cursor still covers every page fn accepted.
func (c *Client) Poll(ctx context.Context, apiRoot, collection string, after time.Time, fn func(objs []json.RawMessage) error) (time.Time, error) {
	cur := after
	q := ObjectsQuery{AddedAfter: after}
	for range c.cfg.MaxPages {
		p, err := c.Objects(ctx, apiRoot, collection, q)
		if err != nil {
			return cur, err
		}
		if len(p.Objects) > 0 {
			if err := fn(p.Objects); err != nil {
				return cur, err
			}
		}
		if p.AddedLast.After(cur) {
			cur = p.AddedLast
		}
		switch {
		case !p.More:
			return cur, nil
		case p.Next != "":
			q.Next = p.Next
			if q.Limit == 0 && len(p.Objects) > 0 {
				// Repeat the page size the server chose: medallion (the OASIS
				// reference server) fails a next request without limit.
				q.Limit = len(p.Objects)
			}
		case p.AddedLast.After(q.AddedAfter):
			q.AddedAfter, q.Next = p.AddedLast, ""
		default:
			return cur, errors.New("taxii poll: the server says more objects follow but gives neither next nor X-TAXII-Date-Added-Last")
		}
	}
	return cur, fmt.Errorf("taxii poll: stopped after %d pages; the rest follows next time", c.cfg.MaxPages)
}

// AddObjects posts objs to a collection and returns the status resource.
func (c *Client) AddObjects(ctx context.Context, apiRoot, collection string, objs []json.RawMessage) (*Status, error) {
	body, err := json.Marshal(Envelope{Objects: objs})
	if err != nil {
		return nil, fmt.Errorf("taxii add objects: %w", err)
	}
	var st Status
	if _, err := c.do(ctx, http.MethodPost, collectionURL(apiRoot, collection)+"objects/", body, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Status reads a status resource.
func (c *Client) Status(ctx context.Context, apiRoot, id string) (*Status, error) {
	var st Status
	if _, err := c.do(ctx, http.MethodGet, dirURL(apiRoot)+"status/"+url.PathEscape(id)+"/", nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}
