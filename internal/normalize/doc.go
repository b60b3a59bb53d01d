// Package normalize decodes JSON log records of many shapes into Mamori's flat
// event.Event, fast: a hand-written tokenizer builds a reusable tape, and a Decoder maps
// the record's shape (evtx_dump, Winlogbeat/ECS, flat Windows JSON from NXLog, Logstash or
// a SIEM export, or any other JSON) to the field names Sigma rules use, without allocating
// per event once warm. It owns JSON splitting (Lines), shape recognition, the field-name
// mapping and timestamp parsing. It must never do I/O besides reading Lines' reader, log,
// keep global mutable state, or know about rules, tenants, transports or storage: it is a
// pure function of its input.
//
// # Field names
//
// Windows events come out with the names Mamori's EVTX reader gives (the Sigma names):
//
//   - evtx_dump {"Event":{"System":…,"EventData":…,"UserData":…}}: an XML attribute is
//     <Element>_<Attribute> (Provider_Name, Provider_Guid, TimeCreated_SystemTime,
//     Execution_ProcessID, Execution_ThreadID, Correlation_ActivityID, Security_UserID,
//     EventID_Qualifiers), element text is <Element> (EventID, Version, Level, Task,
//     Opcode, Keywords, EventRecordID, Channel, Computer); null values (evtx_dump's absent
//     Correlation, Security) are omitted; xmlns attributes are dropped; EventData's own
//     template name attribute is EventData_Name. EventData and UserData fields are named
//     by their leaf element with spaces removed ("Source Name" → SourceName); an array
//     gives one field per element with the same name. Of RenderingInfo only Message is
//     kept (its rendered Level, Task… would collide with the numeric System fields).
//   - Winlogbeat/ECS (a "winlog" object): winlog.event_data.X → X (spaces removed),
//     winlog.user_data leaves → their names (its xml_name is dropped), channel → Channel,
//     event_id → EventID, provider_name → Provider_Name, provider_guid → Provider_Guid,
//     computer_name → Computer (else host.name is copied to Computer), record_id →
//     EventRecordID, version → Version, activity_id → Correlation_ActivityID,
//     related_activity_id → Correlation_RelatedActivityID, process.pid →
//     Execution_ProcessID, process.thread.id → Execution_ThreadID, user.identifier →
//     Security_UserID; winlog's other keys and all other fields stay, dotted
//     (winlog.opcode, process.command_line, host.name). @timestamp gives ev.Time.
//     winlog.task/opcode/keywords and log.level are text, not the EVTX numbers, so they
//     are not mapped to Task/Opcode/Keywords/Level.
//   - Flat Windows records (a top-level EventID beside Channel, SourceName, Hostname,
//     ProviderGuid, EventSourceName, Provider or EventLog: NXLog im_msvistalog, the OTRF
//     exports, Microsoft Sentinel tables): Hostname → Computer; SourceName → Provider_Name
//     (the first one only, and only when no EventSourceName/Provider/EventLog names the
//     provider: Windows Defender has an EventData field "Source Name", which comes out as
//     SourceName); EventSourceName and Provider (Sentinel SecurityEvent and WindowsEvent)
//     → Provider_Name; EventLog → Channel and Source → Provider_Name (Sentinel's Event
//     table); ProviderGuid → Provider_Guid; RecordNumber → EventRecordID; TimeCreated →
//     TimeCreated_SystemTime; a numeric Keywords (NXLog's signed decimal mask) becomes
//     the EVTX hex form, -9218868437227405312 → 0x8010000000000000, which Sigma rules
//     test. ev.Time comes from TimeCreated, else EventTime (NXLog's, in the collector's
//     local time without a zone, so read as UTC), else @timestamp, else TimeGenerated.
//     NXLog's ThreadID → Execution_ThreadID and UserID →
//     Security_UserID, but only when the record has a top-level ThreadID (NXLog's execution
//     block). ProcessID is always kept as ProcessID, because Security 5156/5158 carry an
//     EventData field of that exact name (in the OTRF LSASS campaigns every ProcessID is
//     that field and no record has ThreadID); with ThreadID present it is also added as
//     Execution_ProcessID. A Sentinel EventData column holding JSON or <Data Name=…> XML is
//     expanded into fields. Every other key is already an EventData name and is kept with
//     spaces removed; nested values are flattened with dots.
//   - Any other JSON (Zeek, Suricata EVE, custom NDJSON): nested objects flatten to dotted
//     names (alert.signature), arrays to repeated fields; ev.Time from the top-level key
//     that comes first in @timestamp, timestamp, ts, time, Timestamp, TimeGenerated,
//     EventTime, eventTime, TimeCreated and parses (ISO 8601 with any zone form, or epoch
//     seconds such as Zeek's 1588205199.82437; epoch ms/µs/ns integers by their length).
//
// Values are text as a Sigma rule expects it: numbers exactly as written (EventID 4688,
// 0.0008699893951416016), strings unescaped (including \uXXXX surrogate pairs; lone
// surrogates become U+FFFD; other bytes are kept as they are), booleans true/false; null
// adds no field; a field whose name would be empty is dropped. Windows fields (all of an
// evtx_dump or flat Windows record, winlog.* of a Winlogbeat one) lose trailing whitespace
// and are omitted when empty, as Mamori's EVTX reader (internal/evtx) and evtx_dump do:
// Sysmon's ParentCommandLine `"C:\Windows\system32\cmd.exe" ` reads the same from every
// source. Other JSON keeps its strings, empty ones included. Apart from NXLog's Keywords,
// values are not otherwise normalised: GUID braces and case and hex versus decimal stay as
// the shipper wrote them. ev.Time is in UTC.
package normalize
