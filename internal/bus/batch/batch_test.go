package batch

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/store"
	"github.com/mamori-soc/mamori/internal/tenant"
)

// sample is a batch as ingest publishes it: raw records without fields,
// and one record without a raw form, which carries its fields.
func sample() []store.Event {
	t0 := time.Date(2020, 10, 21, 15, 4, 5, 123456789, time.UTC)
	raw := `{"@timestamp":"2020-10-21T15:04:05.123Z","EventID":4688,"Channel":"Security","Hostname":"WORKSTATION5.theshire.local","NewProcessName":"C:\\Windows\\System32\\rundll32.exe","CommandLine":"rundll32.exe C:\\windows\\System32\\comsvcs.dll, MiniDump 624 C:\\lsass.dmp full"}`
	return []store.Event{
		{ID: "0002a0c1" + strings.Repeat("ab", 28), Tenant: "org-001", Time: t0, Received: t0.Add(time.Second), Source: "bulk",
			Host: "workstation5.theshire.local", Channel: "Security", EventID: "4688", Raw: []byte(raw)},
		{ID: "0002a0c1" + strings.Repeat("cd", 28), Tenant: "org-001", Time: t0.Add(time.Millisecond), Received: t0.Add(time.Second), Source: "evtx",
			Host: "dc1", Channel: "Microsoft-Windows-Sysmon/Operational", EventID: "10",
			Fields: []store.Field{{Name: "EventID", Value: "10"}, {Name: "TargetImage", Value: `C:\Windows\system32\lsass.exe`}, {Name: "GrantedAccess", Value: "0x1010"}}},
	}
}

// eventsEqual reports whether got and want are the same events: times the
// same instant, an empty slice the same as none.
func eventsEqual(t *testing.T, got, want []store.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := canon(got[i]), canon(want[i])
		if !g.Time.Equal(w.Time) || !g.Received.Equal(w.Received) {
			t.Errorf("event %d: times %v, %v; want %v, %v", i, g.Time, g.Received, w.Time, w.Received)
		}
		g.Time, g.Received, w.Time, w.Received = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func canon(e store.Event) store.Event {
	if len(e.Raw) == 0 {
		e.Raw = nil
	}
	if len(e.Fields) == 0 {
		e.Fields = nil
	}
	return e
}

func TestRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte(`{"CommandLine":"powershell -enc AAAA"}`), 30000) // ~1 MiB
	tests := []struct {
		name string
		evs  []store.Event
	}{
		{name: "none", evs: []store.Event{}},
		{name: "as published", evs: sample()},
		{name: "zero event", evs: []store.Event{{}}},
		{name: "zero times", evs: []store.Event{{ID: "a", Tenant: "t", Raw: []byte("x")}}},
		{name: "old and far times", evs: []store.Event{{ID: "a", Time: time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC), Received: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)}}},
		{name: "before 1970", evs: []store.Event{{ID: "a", Time: time.Date(1969, 12, 31, 23, 59, 59, 500, time.UTC)}}},
		{name: "zone", evs: []store.Event{{ID: "a", Time: time.Date(2024, 3, 1, 9, 0, 0, 0, time.FixedZone("JST", 9*3600))}}},
		{name: "seq", evs: []store.Event{{ID: "a", Seq: 1 << 62}, {ID: "b", Seq: -1}}},
		{name: "unicode", evs: []store.Event{{ID: "ü-1", Tenant: "組織", Host: "ホスト.example", Channel: "Säkerhet", EventID: "४६८८",
			Fields: []store.Field{{Name: "ユーザー", Value: "山田 太郎 🔑"}, {Name: "", Value: ""}, {Name: "bad utf-8", Value: "\xff\xfe"}},
			Raw:    []byte("<13>1 2024-01-01T00:00:00Z ホスト app - - - ログイン失敗 \x00\xff")}}},
		{name: "large raw", evs: []store.Event{{ID: "a", Tenant: "t", Raw: big}, {ID: "b", Tenant: "t", Raw: []byte("{}")}}},
		{name: "tenants change", evs: []store.Event{{ID: "a", Tenant: "t1"}, {ID: "b", Tenant: "t1"}, {ID: "c", Tenant: "t2"}, {ID: "d", Tenant: "t1"}, {ID: "e"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := Append(nil, tc.evs)
			size := HeaderSize
			for i := range tc.evs {
				size += EventSize(&tc.evs[i])
			}
			if len(data) > size || len(data) < size-HeaderSize {
				t.Errorf("encoded %d bytes; EventSize adds up to %d (+ header of at most %d)", len(data), size-HeaderSize, HeaderSize)
			}
			got, err := Decode(data)
			if err != nil {
				t.Fatalf("Decode(Append(evs)): %v", err)
			}
			eventsEqual(t, got, tc.evs)
			// Appending to a non-empty slice keeps what was there.
			if again := Append([]byte("prefix"), tc.evs); !bytes.Equal(again[6:], data) || string(again[:6]) != "prefix" {
				t.Errorf("Append to a prefix gave a different encoding")
			}
		})
	}
}

// TestDecodeCopies checks that the events do not alias the message (the bus
// reuses it once the handler returns) and that tenants have storage of
// their own.
func TestDecodeCopies(t *testing.T) {
	data := Append(nil, sample())
	got, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 'X'
	}
	eventsEqual(t, got, sample())
	// An append to a raw record must not overwrite what follows it.
	_ = append(got[0].Raw, "junk"...)
	eventsEqual(t, got, sample())
}

func TestDecodeJSON(t *testing.T) {
	// What older versions published: encoding/json of []store.Event.
	want := sample()
	data, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatalf("Decode(json): %v", err)
	}
	eventsEqual(t, got, want)

	if _, err := Decode([]byte(`[{"ID":1}]`)); err == nil || !strings.Contains(err.Error(), "json batch") {
		t.Errorf("Decode(bad json) error = %v, want a json batch error", err)
	}
}

// TestDecodeTruncated cuts a valid batch at every byte: each prefix is an error.
func TestDecodeTruncated(t *testing.T) {
	data := Append(nil, sample())
	for i := range len(data) {
		if evs, err := Decode(data[:i]); err == nil {
			t.Fatalf("Decode of the first %d of %d bytes = %d events, want an error", i, len(data), len(evs))
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	u := func(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
	s := func(b []byte, v string) []byte { return append(u(b, uint64(len(v))), v...) }
	// ev appends an event with the given fields count, up to (not including) the fields.
	ev := func(b []byte, id string, fields uint64) []byte {
		b = binary.AppendVarint(b, 0) // Seq
		b = s(s(b, id), "org-1")
		b = append(b, 0, 0, 0, 0) // two zero-ish times
		b = s(s(s(s(b, "bulk"), "h"), "Security"), "4688")
		return u(b, fields)
	}
	hdr := func(events, fields uint64) []byte { return u(u([]byte{magic, version}, events), fields) }
	overflow := bytes.Repeat([]byte{0xff}, 11)

	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "empty batch"},
		{"not a batch", []byte("{\"a\":1}"), "not a batch: first byte 0x7b"},
		{"no version", []byte{magic}, "no version byte"},
		{"newer version", []byte{magic, 2, 0, 0}, "batch version 2 unknown"},
		{"no event count", []byte{magic, version}, "header: event count: the batch ends inside a number"},
		{"event count overflows", append([]byte{magic, version}, overflow...), "event count: a number overflows 64 bits"},
		{"no field count", []byte{magic, version, 1}, "header: field count"},
		{"forged event count", hdr(1<<40, 0), "1099511627776 events cannot fit in the 0 bytes left"},
		{"forged field count", append(hdr(1, 1<<30), make([]byte, 20)...), "1073741824 fields cannot fit"},
		{"no events, bytes follow", append(hdr(0, 0), 1), "batch of no events: header says 0 fields, 1 bytes follow"},
		{"forged string length", u(ev(hdr(1, 0), "a", 0)[:len(ev(hdr(1, 0), "a", 0))-17], 1<<50), "event 0 of 1: Host: length 1125899906842624 beyond the end of the batch"},
		{"forged raw length", u(ev(hdr(1, 0), "a", 0), 1000), "event 0 of 1: Raw: length 1000 beyond the end of the batch (0 bytes left)"},
		{"raw length overflows", append(ev(hdr(1, 0), "a", 0), overflow...), "event 0 of 1: Raw: a number overflows 64 bits"},
		{"nanoseconds out of range", append(s(s(append(hdr(1, 0), 0), "a"), "t"), 0, 0x80, 0x94, 0xeb, 0xdc, 0x03, 0, 0, 0, 0, 0, 0, 0, 0), "event 0 of 1: Time: nanoseconds 1000000000 out of range"},
		{"more fields than the header", u(s(s(ev(hdr(1, 1), "a", 2), "n"), "v"), 0), "event 0 of 1: 2 fields, but the header counts 1 left"},
		{"fewer fields than the header", u(ev(hdr(1, 2), "a", 0), 0), "the header counts 2 fields more than the events carry"},
		{"field value cut", s(ev(hdr(1, 1), "a", 1), "CommandLine"), `event 0 of 1: field 0 ("CommandLine") value: the batch ends inside a number`},
		{"second event cut", ev(u(ev(hdr(2, 0), "a", 0), 0), "b", 0), "event 1 of 2: Raw"},
		{"trailing bytes", append(u(ev(hdr(1, 0), "a", 0), 0), "xyz"...), "3 bytes after the last of 1 events"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode(%q) = %d events, error %v; want an error containing %q", tc.in, len(got), err, tc.want)
			}
		})
	}
}

// TestDecodeAllocs pins the allocations of decoding a batch: the copy, the
// events, the fields, one tenant; not one per string.
func TestDecodeAllocs(t *testing.T) {
	evs := sample()
	for range 100 {
		evs = append(evs, sample()...)
	}
	data := Append(nil, evs)
	if n := testing.AllocsPerRun(20, func() {
		if _, err := Decode(data); err != nil {
			t.Fatal(err)
		}
	}); n > 4 {
		t.Errorf("Decode of %d events allocates %.0f times, want at most 4", len(evs), n)
	}
	buf := make([]byte, 0, len(data))
	if n := testing.AllocsPerRun(20, func() { buf = Append(buf[:0], evs) }); n != 0 {
		t.Errorf("Append into a large enough slice allocates %.0f times, want 0", n)
	}
}

func FuzzDecode(f *testing.F) {
	evs := sample()
	data := Append(nil, evs)
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add(Append(nil, nil))
	f.Add(Append(nil, []store.Event{{ID: "x", Tenant: tenant.ID("t"), Fields: []store.Field{{Name: "a", Value: "b"}}}}))
	js, _ := json.Marshal(evs)
	f.Add(js)
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"Time":"2024-01-01T00:00:00+09:00","Raw":"AAE="}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := Decode(data) // must never panic, whatever the bytes
		if err != nil {
			return
		}
		// Whatever decodes encodes again to the same events.
		again, err := Decode(Append(nil, evs))
		if err != nil {
			t.Fatalf("Decode(Append(Decode(%q))): %v", data, err)
		}
		eventsEqual(t, again, evs)
		if data[0] == magic {
			// A binary batch holds its events' bytes at least once, and
			// no forged header makes it decode to more than it holds.
			raw := 0
			for i := range evs {
				raw += len(evs[i].Raw)
			}
			if raw+len(evs)*minEventBytes > len(data) {
				t.Fatalf("%d bytes decoded to %d events with %d raw bytes", len(data), len(evs), raw)
			}
		}
	})
}
