// Package ingest receives telemetry the way shippers already send it: NDJSON
// over HTTP, the Elasticsearch _bulk API (with the handful of endpoints Beats,
// Logstash, Fluent Bit and Vector probe at start), and syslog over UDP, TCP
// and TLS. It normalizes each record, reports bad records with their
// position, and acknowledges a sender only after its Sink has made the
// records durable. When the pipeline is saturated it answers 429/503 instead
// of dropping anything.
package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/mamori-soc/mamori/internal/event"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// Record is one received and normalized record.
type Record struct {
	Tenant   tenant.ID
	Source   string // bulk, ndjson, syslog-udp, syslog-tcp, syslog-tls
	ID       string // stable id: the sender's _id, else a hash of tenant and raw bytes
	Raw      []byte
	Event    *event.Event
	Received time.Time
}

// Sink accepts records.
//
// Publish returns nil only once every record is durable enough to
// acknowledge to the sender. It may keep neither recs nor anything reachable
// from them after returning. ErrBusy (or an error wrapping it) tells the
// sender to retry later.
type Sink interface {
	Publish(ctx context.Context, recs []Record) error
}

// ErrBusy is returned by a Sink that is saturated.
var ErrBusy = errors.New("pipeline saturated, retry later")

// Authenticator maps a sender's credential to the organisation it may send for.
type Authenticator interface {
	IngestTenant(ctx context.Context, credential string) (tenant.ID, error)
}

// RecordID derives a record's stable id: the sender's id when it gave one,
// else a hash of tenant, raw bytes and the record's occurrence among
// identical records of the same request. A retried request yields the same
// ids (stored once), while identical lines within one request (a log with
// second resolution repeats itself) stay distinct records.
//
// The id starts with the hour of the event's time, so that new ids land in
// a narrow range of the store's index (sequential, not random, writes).
func RecordID(tid tenant.ID, senderID string, raw []byte, occurrence int, t time.Time) string {
	const hexdigits = "0123456789abcdef"
	var prefix [8]byte
	hour := uint32(t.Unix() / 3600)
	for i := 7; i >= 0; i-- {
		prefix[i] = hexdigits[hour&0xF]
		hour >>= 4
	}
	return string(prefix[:]) + recordHash(tid, senderID, raw, occurrence)
}

func recordHash(tid tenant.ID, senderID string, raw []byte, occurrence int) string {
	h := sha256.New()
	h.Write([]byte(tid))
	h.Write([]byte{0})
	if senderID != "" {
		h.Write([]byte{1})
		h.Write([]byte(senderID))
	} else {
		h.Write(raw)
		if occurrence > 0 {
			var b [9]byte
			b[0] = 2
			for i := 0; i < 8; i++ {
				b[1+i] = byte(occurrence >> (8 * i))
			}
			h.Write(b[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// occurrences counts identical records within one request.
type occurrences map[[32]byte]int

func (o occurrences) next(raw []byte) int {
	k := sha256.Sum256(raw)
	n := o[k]
	o[k] = n + 1
	return n
}
