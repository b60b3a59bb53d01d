package normalize

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-soc/mamori/internal/event"
)

// TestShapes decodes the hand-written seed records and checks each shape's mapping.
func TestShapes(t *testing.T) {
	type want struct {
		shape  Shape
		fields map[string]string // name → first value
		multi  map[string][]string
		absent []string
		time   string // RFC 3339; "" means zero
	}
	tests := []struct {
		file string
		want []want // one per line
	}{
		{file: "evtx_dump.ndjson", want: []want{
			{shape: ShapeEvtxDump, time: "2024-05-02T11:04:31.482913Z", fields: map[string]string{
				"Provider_Name": "Microsoft-Windows-Sysmon", "Provider_Guid": "5770385F-C22A-43E0-BF4C-06F5698FFBD9",
				"EventID": "10", "Version": "3", "Level": "4", "Task": "10", "Opcode": "0", "Keywords": "0x8000000000000000",
				"TimeCreated_SystemTime": "2024-05-02T11:04:31.482913Z", "EventRecordID": "99120",
				"Execution_ProcessID": "3012", "Execution_ThreadID": "4120", "Channel": "Microsoft-Windows-Sysmon/Operational",
				"Computer": "lab-ws7", "Security_UserID": "S-1-5-18", "GrantedAccess": "0x1fffff", "SourceProcessId": "7312",
				"TargetImage": `C:\Windows\system32\lsass.exe`,
			}, absent: []string{"Correlation", "Correlation_ActivityID", "xmlns", "Event_xmlns", "System", "EventData"}},
			{shape: ShapeEvtxDump, time: "2024-05-02T11:05:00.000001Z", fields: map[string]string{
				"EventID": "1116", "EventID_Qualifiers": "0", "SourceName": "AMSI", "ThreatName": "Virus:DOS/EICAR_Test_File",
				"ProductName": "Microsoft Defender Antivirus", "Provider_Name": "Microsoft-Windows-Windows Defender",
			}, multi: map[string][]string{"Data": {"a", "b"}}, absent: []string{"Security_UserID", "Source Name"}},
			{shape: ShapeEvtxDump, fields: map[string]string{
				"EventID": "1102", "SubjectUserName": "Administrator", "SubjectLogonId": "0x4f2a1", "Channel": "Security",
			}, absent: []string{"LogFileCleared_xmlns", "xmlns", "LogFileCleared"}},
		}},
		{file: "flat_nxlog.ndjson", want: []want{
			{shape: ShapeFlatWindows, time: "2024-05-02T13:04:31Z", fields: map[string]string{
				"Computer": "lab-ws7.lab.local", "Provider_Name": "Microsoft-Windows-Sysmon",
				"Provider_Guid": "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}", "EventRecordID": "88231",
				"Execution_ProcessID": "3012", "Execution_ThreadID": "4120", "Security_UserID": "S-1-5-18",
				"EventID": "1", "Channel": "Microsoft-Windows-Sysmon/Operational", "Image": `C:\Windows\System32\cmd.exe`,
				"CommandLine": `cmd.exe /c "whoami /all"`, "ProcessId": "6612", "Keywords": "0x8000000000000000",
				"EventTime": "2024-05-02 13:04:31",
			}, absent: []string{"Hostname", "SourceName", "ProviderGuid", "RecordNumber", "ThreadID", "UserID"}},
			{shape: ShapeFlatWindows, fields: map[string]string{
				"ProcessID": "4", "Execution_ProcessID": "4", "Execution_ThreadID": "5520", "DestPort": "443",
			}, time: "2024-05-02T13:04:40Z"},
		}},
		{file: "flat_otrf.ndjson", want: []want{
			{shape: ShapeFlatWindows, time: "2024-05-02T11:04:31.377Z", fields: map[string]string{
				"Provider_Name": "Microsoft-Windows-Sysmon", "Provider_Guid": "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}",
				"Computer": "HR02.corp.local", "TimeCreated_SystemTime": "2024-05-02T11:04:31.377Z", "EventID": "1",
				"Level": "4", "Task": "1", "Image": `C:\Windows\System32\rundll32.exe`,
			}, absent: []string{"Hostname", "SourceName", "TimeCreated", "Execution_ProcessID"}},
			{shape: ShapeFlatWindows, fields: map[string]string{
				"ProcessID": "1044", "EventID": "5156", "Direction": "%%14593",
			}, time: "2024-05-02T11:04:40.001Z", absent: []string{"Execution_ProcessID", "UserData"}},
		}},
		{file: "flat_sentinel.ndjson", want: []want{
			{shape: ShapeFlatWindows, time: "2024-05-02T11:04:31.5Z", fields: map[string]string{
				"Provider_Name": "Microsoft-Windows-Sysmon", "Image": `C:\Windows\System32\rundll32.exe`,
				"CommandLine": "rundll32.exe comsvcs.dll MiniDump", "EventID": "1", "Computer": "HR02",
			}, absent: []string{"EventData", "Provider"}},
			{shape: ShapeFlatWindows, fields: map[string]string{
				"Provider_Name": "Microsoft-Windows-Security-Auditing", "ProcessID": "1044", "ProcessId": "1044",
				"Application": `\device\a&b.exe`,
			}, time: "2024-05-02T11:04:40.2Z", absent: []string{"EventData", "EventSourceName", "Empty"}},
			{shape: ShapeFlatWindows, fields: map[string]string{
				"Provider_Name": "Microsoft-Windows-Sysmon", "Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": "18",
			}, time: "2024-05-02T11:05:02.77Z", absent: []string{"Source", "EventLog"}},
		}},
		{file: "zeek.ndjson", want: []want{
			{shape: ShapeZeek, time: "2024-05-02T11:04:31.865716Z", fields: map[string]string{
				"Channel": "zeek/dns", "id.orig_h": "10.1.2.3", "id.resp_p": "53", "rtt": "0.0008699893951416016", "AA": "false", "RD": "true",
			}, multi: map[string][]string{"answers": {"web.example.org", "10.9.8.7"}, "TTLs": {"2230.0", "41830.0"}}},
			{shape: ShapeZeek, time: "2024-05-02T11:04:31.82437Z", fields: map[string]string{
				"ts": "1714647871.82437", "duration": "1.5e-3", "Channel": "zeek/conn", "id.orig_h": "10.0.1.6", "id.resp_p": "53",
			}, absent: []string{"tunnel_parents", "id_orig_h"}},
		}},
		{file: "suricata.ndjson", want: []want{
			{shape: ShapeSuricata, time: "2024-05-02T11:04:31.856335Z", fields: map[string]string{
				"Channel": "suricata/alert", "alert.signature": "ET CHAT IRC authorization message", "alert.signature_id": "2000355",
				"alert.metadata.updated_at": "2010_07_30", "flow.start": "2024-05-02T05:04:30.044623-0600",
				"flow_id": "1127398650588751", "src_ip": "203.0.113.7",
			}, absent: []string{"alert", "flow"}},
			{shape: ShapeSuricata, time: "2024-05-02T11:04:32Z", fields: map[string]string{"dns.rrname": "café.example", "Channel": "suricata/dns"}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", "seeds", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			evs, shapes := decodeAll(t, f)
			if len(evs) != len(tc.want) {
				t.Fatalf("decoded %d events, want %d", len(evs), len(tc.want))
			}
			for i, w := range tc.want {
				ev := evs[i]
				if shapes[i] != w.shape {
					t.Errorf("line %d: shape %v, want %v", i+1, shapes[i], w.shape)
				}
				for name, val := range w.fields {
					if got, ok := ev.Get(name); !ok || string(got) != val {
						t.Errorf("line %d: %s = %q (present %v), want %q\nfields: %q", i+1, name, got, ok, val, fields(ev))
					}
				}
				for name, vals := range w.multi {
					if got := all(ev, name); !slices.Equal(got, vals) {
						t.Errorf("line %d: %s = %q, want %q", i+1, name, got, vals)
					}
				}
				for _, name := range w.absent {
					if v, ok := ev.Get(name); ok {
						t.Errorf("line %d: unexpected field %s = %q", i+1, name, v)
					}
				}
				var wantTime time.Time
				if w.time != "" {
					wantTime, _ = time.Parse(time.RFC3339Nano, w.time)
				}
				if !ev.Time.Equal(wantTime) {
					t.Errorf("line %d: Time = %v, want %v", i+1, ev.Time, wantTime)
				}
				checkNames(t, ev, nil)
			}
		})
	}
}

// TestRegressionData decodes every SigmaHQ regression .json (evtx_dump output,
// concatenated pretty-printed objects) and checks the Windows names against the file's own
// content read with encoding/json.
func TestRegressionData(t *testing.T) {
	root := filepath.Join(sharedData(t), "sigma", "regression_data")
	var files []string
	err := filepath.WalkDir(root, func(p string, de os.DirEntry, err error) error {
		if err == nil && !de.IsDir() && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatalf("regression data: %v", err)
	}
	if len(files) < 100 {
		t.Fatalf("found %d regression .json files under %s, want at least 100", len(files), root)
	}
	d := NewDecoder()
	var ev event.Event
	events := 0
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		// The reference: the same documents through encoding/json.
		var refs []map[string]map[string]map[string]any
		jd := json.NewDecoder(bytes.NewReader(data))
		jd.UseNumber()
		for jd.More() {
			var m map[string]map[string]map[string]any
			if err := jd.Decode(&m); err != nil {
				t.Fatalf("%s: encoding/json: %v", p, err)
			}
			refs = append(refs, m)
		}
		n := 0
		err = Lines(bytes.NewReader(data), func(line int, doc []byte) error {
			if n >= len(refs) {
				t.Fatalf("%s: more documents than encoding/json found (%d)", p, len(refs))
			}
			ref := refs[n]["Event"]
			n++
			if err := d.JSON(doc, &ev); err != nil {
				t.Fatalf("%s line %d: %v", p, line, err)
			}
			if d.Shape() != ShapeEvtxDump {
				t.Errorf("%s line %d: shape %v", p, line, d.Shape())
			}
			for _, name := range []string{"Provider_Name", "EventID", "Channel", "Computer", "EventRecordID", "TimeCreated_SystemTime", "Execution_ProcessID"} {
				if v, ok := ev.Get(name); !ok || len(v) == 0 {
					t.Errorf("%s line %d: %s missing; fields %q", p, line, name, fields(&ev))
				}
			}
			if ev.Time.IsZero() {
				t.Errorf("%s line %d: no time", p, line)
			}
			if got, want := ev.GetString("EventID"), textOf(ref["System"]["EventID"]); got != want {
				t.Errorf("%s line %d: EventID = %q, want %q", p, line, got, want)
			}
			for k, v := range ref["EventData"] {
				if k == "#attributes" {
					if got, want := ev.GetString("EventData_Name"), textOf(v.(map[string]any)["Name"]); got != want {
						t.Errorf("%s line %d: EventData_Name = %q, want %q", p, line, got, want)
					}
					continue
				}
				name := strings.ReplaceAll(k, " ", "")
				if got, ok := ev.Get(name); !ok || string(got) != textOf(v) {
					t.Errorf("%s line %d: %s = %q (present %v), want %q", p, line, name, got, ok, textOf(v))
				}
			}
			checkNames(t, &ev, doc)
			return nil
		}, func(line int, err error) {
			t.Errorf("%s line %d: %v", p, line, err)
		})
		if err != nil {
			t.Fatal(err)
		}
		if n != len(refs) {
			t.Errorf("%s: Lines gave %d documents, encoding/json %d", p, n, len(refs))
		}
		events += n
	}
	t.Logf("%d files, %d events", len(files), events)

	// The process_access case named in the brief.
	p := filepath.Join(root, "rules", "windows", "process_access", "proc_access_win_werfaultsecure_msmpeng_access", "387df17d-3b04-448f-8669-9e7fd5e5fd8c.json")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("process_access case absent: %v", err)
	}
	if err := d.JSON(data, &ev); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"GrantedAccess": "0x1fffff", "Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": "10",
		"Provider_Name": "Microsoft-Windows-Sysmon", "Computer": "swachchhanda", "Execution_ProcessID": "3544",
		"Security_UserID": "S-1-5-18", "SourceThreadId": "4144", "TimeCreated_SystemTime": "2025-11-27T07:22:22.033828Z",
	} {
		if got := ev.GetString(name); got != want {
			t.Errorf("process_access: %s = %q, want %q", name, got, want)
		}
	}
	if _, ok := ev.Get("Correlation_ActivityID"); ok {
		t.Error("process_access: Correlation is null but Correlation_ActivityID is present")
	}
}

// textOf renders an encoding/json value (decoded with UseNumber) as the decoder should.
func textOf(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		if v {
			return "true"
		}
		return "false"
	case map[string]any:
		return textOf(v["#text"])
	}
	return "<unexpected>"
}

// TestOTRF decodes the OTRF LSASS campaign 03 Windows log (NXLog/Logstash-style flat JSON)
// completely, and the first lines of other OTRF archives.
func TestOTRF(t *testing.T) {
	zipPath := dataFile(t, "otrf/compound/LSASS_campaign_03/metasploit_comsvcs_lsass_memory_dump.zip")
	r := zipMember(t, zipPath, ".json")
	d := NewDecoder()
	var ev event.Event
	total, sysmon1 := 0, 0
	channels := map[string]int{}
	err := Lines(r, func(line int, doc []byte) error {
		total++
		if err := d.JSON(doc, &ev); err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		if d.Shape() != ShapeFlatWindows {
			t.Fatalf("line %d: shape %v, want flat-windows", line, d.Shape())
		}
		ch := ev.GetString("Channel")
		channels[ch]++
		for _, name := range []string{"Provider_Name", "Computer", "EventID", "TimeCreated_SystemTime"} {
			if _, ok := ev.Get(name); !ok {
				t.Fatalf("line %d: %s missing: %q", line, name, fields(&ev))
			}
		}
		for _, name := range []string{"SourceName", "Hostname", "TimeCreated", "ProviderGuid"} {
			if _, ok := ev.Get(name); ok {
				t.Fatalf("line %d: unmapped %s present", line, name)
			}
		}
		if ev.Time.IsZero() {
			t.Fatalf("line %d: no time", line)
		}
		if ch == "Microsoft-Windows-Sysmon/Operational" && ev.GetString("EventID") == "1" {
			sysmon1++
			for _, name := range []string{"Image", "CommandLine", "ParentImage", "User", "ProcessId"} {
				if v, ok := ev.Get(name); !ok || len(v) == 0 {
					t.Errorf("line %d: Sysmon 1 without %s", line, name)
				}
			}
			if got := ev.GetString("Provider_Name"); got != "Microsoft-Windows-Sysmon" {
				t.Errorf("line %d: Provider_Name = %q", line, got)
			}
		}
		if ev.GetString("EventID") == "5156" {
			if _, ok := ev.Get("ProcessID"); !ok {
				t.Errorf("line %d: Security 5156 lost its EventData ProcessID", line)
			}
		}
		checkNames(t, &ev, doc)
		return nil
	}, func(line int, err error) {
		t.Errorf("line %d: %v", line, err)
	})
	if err != nil {
		t.Fatal(err)
	}
	// Counted independently with Python's json module.
	if total != 41954 || sysmon1 != 127 {
		t.Errorf("decoded %d events with %d Sysmon 1, want 41954 and 127", total, sysmon1)
	}
	wantCh := map[string]int{"Microsoft-Windows-Sysmon/Operational": 36993, "Microsoft-Windows-PowerShell/Operational": 3118,
		"Security": 1355, "Windows PowerShell": 483, "System": 5}
	for ch, n := range wantCh {
		if channels[ch] != n {
			t.Errorf("channel %q: %d events, want %d", ch, channels[ch], n)
		}
	}

	// Other archives: Sentinel exports (EventData as JSON and as XML) and Zeek logs.
	t.Run("sentinel-windowsevent", func(t *testing.T) {
		p := dataFile(t, "otrf/compound/Log4Shell/sysmon_log4shell_cve2021_44228_java_serialized_object.zip")
		evs, shapes := decodeAll(t, zipMember(t, p, ".json"))
		if len(evs) != 487 {
			t.Errorf("%d events, want 487", len(evs))
		}
		withImage := 0
		for i, ev := range evs {
			if shapes[i] != ShapeFlatWindows || ev.GetString("Provider_Name") != "Microsoft-Windows-Sysmon" {
				t.Fatalf("event %d: shape %v, Provider_Name %q", i, shapes[i], ev.GetString("Provider_Name"))
			}
			if _, ok := ev.Get("EventData"); ok {
				t.Fatalf("event %d: EventData not expanded: %q", i, ev.GetString("EventData"))
			}
			if _, ok := ev.Get("Image"); ok {
				withImage++
			}
		}
		if withImage < 400 {
			t.Errorf("%d of %d events have Image, want most", withImage, len(evs))
		}
	})
	t.Run("sentinel-securityevent", func(t *testing.T) {
		p := dataFile(t, "otrf/compound/Log4Shell/securityauditing_log4shell_cve2021_44228_java_serialized_object.zip")
		evs, _ := decodeAll(t, zipMember(t, p, ".json"))
		if len(evs) != 39 {
			t.Errorf("%d events, want 39", len(evs))
		}
		n5156, port8080 := 0, 0
		for _, ev := range evs {
			if ev.GetString("EventID") != "5156" {
				continue
			}
			n5156++
			if ev.GetString("DestPort") == "8080" {
				port8080++
			}
			for _, name := range []string{"Application", "DestAddress", "DestPort", "ProcessID", "RemoteUserID"} {
				if _, ok := ev.Get(name); !ok {
					t.Errorf("5156 without %s (EventData XML not expanded): %q", name, fields(ev))
				}
			}
			if _, ok := ev.Get("EventData"); ok {
				t.Errorf("5156 kept its EventData XML")
			}
		}
		if n5156 == 0 || port8080 == 0 {
			t.Errorf("%d 5156 events, %d to port 8080; want some of each", n5156, port8080)
		}
	})
	t.Run("zeek-epoch", func(t *testing.T) {
		p := dataFile(t, "otrf/compound/apt29/day1/zeek/NASHUA-zeek_logs.zip")
		evs, _ := decodeAll(t, zipMember(t, p, "dns.log"))
		if len(evs) == 0 {
			t.Fatal("no events")
		}
		for i, ev := range evs {
			if ev.Time.Year() != 2020 || ev.GetString("@stream") != "dns" {
				t.Fatalf("event %d: time %v, @stream %q", i, ev.Time, ev.GetString("@stream"))
			}
		}
	})
}

// TestWinlogbeat checks that the Winlogbeat fixtures map to the same names and values as
// the same events in evtx_dump's shape, and cover the names of a real Sysmon 1 event.
func TestWinlogbeat(t *testing.T) {
	// Fields Winlogbeat does not ship in the EVTX form: it sends task, opcode, keywords and
	// level as rendered text (winlog.task, log.level…) and the time as @timestamp.
	notShipped := map[string]bool{"Level": true, "Task": true, "Opcode": true, "Keywords": true, "TimeCreated_SystemTime": true}
	d := NewDecoder()
	for _, name := range []string{"sysmon_1", "security_4688"} {
		t.Run(name, func(t *testing.T) {
			wb := decodeFile(t, d, filepath.Join("testdata", "winlogbeat", name+".ndjson"), ShapeWinlogbeat)
			ex := decodeFile(t, d, filepath.Join("testdata", "winlogbeat", name+".evtx.json"), ShapeEvtxDump)
			for i := 0; i < ex.Len(); i++ {
				n := string(ex.Name(i))
				if notShipped[n] {
					continue
				}
				got, ok := wb.Get(n)
				if !ok {
					t.Errorf("winlogbeat lacks %s (evtx_dump has %q)", n, ex.Value(i))
					continue
				}
				// evtx_dump writes GUIDs upper-case without braces; Windows and Winlogbeat
				// with braces. That is a value difference of the source, not a name one.
				if canonGUID(string(got)) != canonGUID(string(ex.Value(i))) {
					t.Errorf("%s: winlogbeat %q, evtx_dump %q", n, got, ex.Value(i))
				}
			}
			if wb.Time.IsZero() || wb.Time.Sub(ex.Time).Abs() > time.Millisecond {
				t.Errorf("Time: winlogbeat %v, evtx_dump %v", wb.Time, ex.Time)
			}
			for _, n := range []string{"winlog.event_data.CommandLine", "winlog.channel", "winlog.process.pid", "CommandLine ", "xml_name"} {
				if _, ok := wb.Get(n); ok {
					t.Errorf("unexpected field %s", n)
				}
			}
			for _, n := range []string{"host.name", "winlog.opcode", "winlog.task", "event.code", "agent.version", "message", "@timestamp"} {
				if _, ok := wb.Get(n); !ok {
					t.Errorf("kept field %s missing", n)
				}
			}
			if got := wb.GetString("Computer"); got != "WS01.corp.example.com" {
				t.Errorf("Computer = %q, want winlog.computer_name", got)
			}
			checkNames(t, wb, nil)
		})
	}

	t.Run("host.name fallback", func(t *testing.T) {
		var ev event.Event
		if err := d.JSON([]byte(`{"host":{"name":"ws9"},"winlog":{"event_id":4624,"user_data":{"xml_name":"X","A B":"1"}}}`), &ev); err != nil {
			t.Fatal(err)
		}
		if got := fields(&ev); !slices.Equal(got, []string{"host.name=ws9", "EventID=4624", "AB=1", "Computer=ws9"}) {
			t.Errorf("fields %q", got)
		}
	})

	t.Run("names of a real Sysmon 1", func(t *testing.T) {
		p := filepath.Join(sharedData(t), "sigma", "regression_data", "rules-emerging-threats", "2025", "Malware", "Shai-Hulud",
			"proc_creation_win_mal_shai_hulud_malicious_node_bun_execution", "5299fadf-f228-4526-8274-251db1960be9.json")
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("absent: %v", err)
		}
		real := decodeFirst(t, d, p)
		wb := decodeFile(t, d, filepath.Join("testdata", "winlogbeat", "sysmon_1.ndjson"), ShapeWinlogbeat)
		for i := 0; i < real.Len(); i++ {
			if n := string(real.Name(i)); !notShipped[n] {
				if _, ok := wb.Get(n); !ok {
					t.Errorf("winlogbeat Sysmon 1 lacks %s, which evtx_dump gives", n)
				}
			}
		}
	})
}

func canonGUID(s string) string {
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	return strings.ToUpper(s)
}

func decodeFile(t *testing.T, d *Decoder, path string, shape Shape) *event.Event {
	t.Helper()
	ev := decodeFirst(t, d, path)
	if d.Shape() != shape {
		t.Fatalf("%s: shape %v, want %v", path, d.Shape(), shape)
	}
	return ev
}

func decodeFirst(t *testing.T, d *Decoder, path string) *event.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ev event.Event
	var derr error
	err = Lines(bytes.NewReader(data), func(line int, doc []byte) error {
		derr = d.JSON(doc, &ev)
		return errStop
	}, func(line int, err error) { t.Fatalf("%s line %d: %v", path, line, err) })
	if err != errStop || derr != nil {
		t.Fatalf("%s: %v / %v", path, err, derr)
	}
	return &ev
}

var errStop = &SyntaxError{Msg: "stop"} // any distinct error value

// TestNetwork flattens the Zeek and Suricata samples.
func TestNetwork(t *testing.T) {
	t.Run("zeek", func(t *testing.T) {
		p := dataFile(t, "network/zeek/zeek-json/dns.json.gz")
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		zr, err := gzipReader(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := readLines(t, zr, 2000)
		d := NewDecoder()
		var ev event.Event
		var ref map[string]any
		for i, line := range lines {
			if err := d.JSON(line, &ev); err != nil {
				t.Fatalf("line %d: %v", i+1, err)
			}
			ref = nil
			jd := json.NewDecoder(bytes.NewReader(line))
			jd.UseNumber()
			if err := jd.Decode(&ref); err != nil {
				t.Fatal(err)
			}
			// Every scalar and every array element comes out under its key, in order.
			for k, v := range ref {
				var want []string
				if arr, ok := v.([]any); ok {
					for _, e := range arr {
						want = append(want, textOf(e))
					}
				} else if v != nil {
					want = []string{textOf(v)}
				}
				if got := all(&ev, k); !slices.Equal(got, want) {
					t.Fatalf("line %d: %s = %q, want %q", i+1, k, got, want)
				}
			}
			ts, _ := time.Parse(time.RFC3339Nano, ref["ts"].(string))
			if !ev.Time.Equal(ts) {
				t.Fatalf("line %d: Time %v, want ts %v", i+1, ev.Time, ts)
			}
		}
	})
	t.Run("suricata", func(t *testing.T) {
		p := dataFile(t, "network/suricata/samples/wrccdc-2017/alerts-only.json")
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var ref []map[string]any
		jd := json.NewDecoder(bytes.NewReader(data))
		jd.UseNumber()
		if err := jd.Decode(&ref); err != nil {
			t.Fatal(err)
		}
		// The file is one pretty-printed JSON array: Lines yields its elements.
		evs, _ := decodeAll(t, bytes.NewReader(data))
		if len(evs) != len(ref) {
			t.Fatalf("%d events, want %d", len(evs), len(ref))
		}
		for i, ev := range evs {
			alert := ref[i]["alert"].(map[string]any)
			if got := ev.GetString("alert.signature"); got != alert["signature"] {
				t.Errorf("event %d: alert.signature = %q, want %q", i, got, alert["signature"])
			}
			if got, want := ev.GetString("alert.signature_id"), textOf(alert["signature_id"]); got != want {
				t.Errorf("event %d: alert.signature_id = %q, want %q", i, got, want)
			}
			ts, _ := time.Parse("2006-01-02T15:04:05.999999-0700", ref[i]["timestamp"].(string))
			if !ev.Time.Equal(ts) {
				t.Errorf("event %d: Time %v, want %v", i, ev.Time, ts)
			}
			checkNames(t, ev, nil)
		}
	})
}

// TestJSONDoesNotAllocate: after warm-up, decoding allocates nothing, for each shape.
func TestJSONDoesNotAllocate(t *testing.T) {
	docs := map[string][]byte{}
	for _, f := range []string{"flat_otrf.ndjson", "flat_nxlog.ndjson", "evtx_dump.ndjson", "zeek.ndjson", "suricata.ndjson", "escapes.ndjson"} {
		data, err := os.ReadFile(filepath.Join("testdata", "seeds", f))
		if err != nil {
			t.Fatal(err)
		}
		docs[f] = data[:bytes.IndexByte(data, '\n')]
	}
	for _, f := range []string{"sysmon_1.ndjson", "security_4688.ndjson"} {
		data, err := os.ReadFile(filepath.Join("testdata", "winlogbeat", f))
		if err != nil {
			t.Fatal(err)
		}
		docs[f] = bytes.TrimSpace(data)
	}
	docs["host.name fallback"] = []byte(`{"host":{"name":"ws9"},"winlog":{"event_id":4624,"user_data":{"xml_name":"X","A B":"1"}}}`)
	docs["sentinel xml"] = []byte(`{"EventID":5156,"EventSourceName":"S","EventData":"<EventData><Data Name=\"A\">1&amp;2</Data><Data>x</Data></EventData>"}`)
	docs["sentinel json"] = []byte(`{"EventID":1,"Provider":"P","EventData":"{\"Image\":\"C:\\\\x.exe\"}"}`)
	// Real OTRF events: the first 200 lines of a campaign.
	p := dataFile(t, "otrf/compound/LSASS_campaign_03/metasploit_comsvcs_lsass_memory_dump.zip")
	for i, l := range readLines(t, zipMember(t, p, ".json"), 200) {
		docs[fmt.Sprintf("otrf line %d", i+1)] = l
	}
	d := NewDecoder()
	var ev event.Event
	for name, doc := range docs {
		if err := d.JSON(doc, &ev); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n := testing.AllocsPerRun(100, func() { _ = d.JSON(doc, &ev) }); n != 0 {
			t.Errorf("JSON(%s) allocates %.1f times per event, want 0", name, n)
		}
	}
}

func gzipReader(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }

// TestOutputBound: a small document cannot make the decoder write unbounded output.
func TestOutputBound(t *testing.T) {
	d := NewDecoder()
	var ev event.Event
	key := strings.Repeat("k", 100<<10)
	elems := strings.TrimSuffix(strings.Repeat("1,", 2000), ",")
	doc := []byte(`{"` + key + `":[` + elems + `]}`) // 104 KB in, 200 MB of names out
	if err := d.JSON(doc, &ev); !errors.Is(err, ErrOutputTooLarge) || ev.Len() != 0 {
		t.Fatalf("JSON(long key over 2000 elements) = %v with %d fields, want ErrOutputTooLarge and none", err, ev.Len())
	}
	// The same shape, smaller, is fine: 10 KB names × 100 = 1 MB < 16 × 10 KB + 1 MiB.
	doc = []byte(`{"` + key[:10<<10] + `":[` + elems[:199] + `]}`)
	if err := d.JSON(doc, &ev); err != nil || ev.Len() != 100 {
		t.Fatalf("JSON(10 KB key over 100 elements) = %v with %d fields, want 100", err, ev.Len())
	}
}

// TestWindowsValues: Windows fields lose trailing whitespace and empty values, as in
// Mamori's EVTX reader (and evtx_dump); other JSON keeps its strings as they are.
func TestWindowsValues(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{name: "flat", in: `{"EventID":1,"Channel":"c","ParentCommandLine":"\"C:\\cmd.exe\" ","Empty":"","Tab":"a\t\r\n","Nbsp":"x\u00a0"}`,
			want: []string{"EventID=1", "Channel=c", `ParentCommandLine="C:\cmd.exe"`, "Tab=a", "Nbsp=x"}},
		{name: "evtx_dump", in: `{"Event":{"System":{"Computer":"pc ","Channel":""},"EventData":{"A":"x ","B":"","C":" "}},"meta":" kept "}`,
			want: []string{"Computer=pc", "A=x", "meta= kept "}},
		{name: "winlogbeat", in: `{"message":"m ","winlog":{"channel":"Security ","event_data":{"A":"x  ","B":""},"api":""}}`,
			want: []string{"message=m ", "Channel=Security", "A=x"}},
		{name: "generic", in: `{"a":"x ","b":""}`, want: []string{"a=x ", "b="}},
	}
	d := NewDecoder()
	var ev event.Event
	for _, tc := range tests {
		if err := d.JSON([]byte(tc.in), &ev); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := fields(&ev); !slices.Equal(got, tc.want) {
			t.Errorf("%s: fields\n got: %q\nwant: %q", tc.name, got, tc.want)
		}
	}
}
