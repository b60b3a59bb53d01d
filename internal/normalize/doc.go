// Package normalize decodes log records of many shapes into Mamori's flat event.Event,
// fast and without allocating per event once warm, with the field names and the Channel
// that Sigma rules and internal/sigma/logsources.yml expect:
//
//   - JSON (Decoder.JSON, split by Lines): a hand-written tokenizer builds a reusable tape,
//     and the record's shape is recognised (evtx_dump, Winlogbeat/ECS, flat Windows JSON
//     from NXLog, Logstash or a SIEM export, Suricata EVE, Zeek, Filebeat carrying an
//     access-log or syslog line, or any other JSON) and mapped;
//   - syslog (Decoder.Syslog, RFC 5424 and RFC 3164, framed on TCP by SplitSyslogTCP);
//   - web server access logs (Decoder.AccessLog, Common and Combined Log Format);
//   - Zeek's tab-separated logs (ZeekTSV).
//
// EntitiesOf then picks, per source, the fields that name an event's host, user, source
// address and the rest, for alerts and dashboards.
//
// It owns splitting, shape recognition, the field-name mapping and timestamp parsing. It
// must never do I/O besides reading the readers it is given (Lines, SplitSyslogTCP,
// ZeekTSV), log, keep global mutable state, or know about rules, tenants, transports or
// storage: it is a pure function of its input (and of Decoder.Now, for syslog years).
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
//   - Any other JSON (custom NDJSON): nested objects flatten to dotted names
//     (alert.signature), arrays to repeated fields; ev.Time from the top-level key that
//     comes first in @timestamp, timestamp, ts, time, Timestamp, TimeGenerated,
//     EventTime, eventTime, TimeCreated and parses (ISO 8601 with any zone form, or epoch
//     seconds such as Zeek's 1588205199.82437; epoch ms/µs/ns integers by their length).
//   - Suricata EVE (a string event_type and timestamp, with src_ip, dest_ip, flow_id,
//     in_iface or pcap_cnt, or a stats object): flattened as any other JSON, after a first
//     field Channel suricata/<event_type> (suricata/alert, suricata/dns…).
//   - Zeek JSON (_path; or @stream with @proc "zeek", as some shippers write it; or ts,
//     uid and id.orig_h): flattened as any other JSON, after a first field Channel
//     zeek/<_path or @stream>. Without either, the log is told from its fields (query:
//     dns, conn_state: conn, method and uri: http, ssl_history, cipher or server_name:
//     ssl, auth_attempts or hassh: ssh, request_type: kerberos… see zeekInfer), and is
//     zeek/unknown when nothing tells. Top-level id_orig_h, id_orig_p, id_resp_h and
//     id_resp_p (dots replaced by a shipper) are named id.orig_h… as in Zeek's own JSON
//     and in Sigma's Zeek rules.
//   - Filebeat documents whose message is a web access-log line (event.dataset
//     nginx.access, apache.access or iis.access, or log.file.path ending in access.log or
//     access_log, rotated .N too) or a syslog line (event.dataset system.auth or
//     system.syslog, or log.file.path auth.log, secure, syslog, messages, cron…): the line
//     is decoded by AccessLog or Syslog and its fields (and Channel) come first, then the
//     rest of the document flattened, with host.name named host unless the line named
//     its host. ev.Time is the line's, else @timestamp; a syslog line's year is read
//     relative to @timestamp. A decoded syslog line keeps its text in event.original
//     (message is its MSG part); an access-log line stays in message. Filebeat's journald
//     input ships only the MSG: the program then comes from log.syslog.appname or
//     process.name (and process.pid). A line that does not decode (IIS's W3C format,
//     say) leaves the document generic, with Channel webserver or linux/syslog.
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
//
// # Syslog
//
// Decoder.Syslog reads one message: RFC 5424 (<PRI>1 TIMESTAMP HOST APP PROCID MSGID
// [SD] MSG, also without PRI as Zeek's syslog.log keeps it) or RFC 3164/BSD
// (<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG; also without PRI as in /var/log files,
// without HOST as local senders write it, with an ISO 8601 time stamp as rsyslog writes
// files, with a year or a fraction as some devices do, or with no time stamp at all, in
// which case everything after PRI is the message). Fields, in this order: facility and
// severity (numbers, only with PRI), host, program, pid, msgid, sd.<SD-ID>.<PARAM-NAME>
// (values unescaped), message (a UTF-8 BOM dropped), then what the message says (below),
// then Channel. "-" (NILVALUE) adds no field. ev.Time is the time stamp, in UTC (zero
// without one). RFC 3164 has no year: it is the latest year that does not put the time
// more than 7 days after Decoder.Now (so December lines read in January are last year's,
// and Feb 29 finds its leap year), read in Decoder.SyslogLocation (UTC by default).
// OpenSSH 9.8's sshd-session and sshd-auth are program sshd (the rules say program:
// sshd), with program_original keeping the name as written. A malformed PRI, RFC 5424
// header or structured data is a *ParseError with its byte offset; RFC 3164 text never
// fails.
//
// Channel is linux/auditd for audit records (type=… msg=audit(…): … through
// audisp-syslog, or the kernel's "audit: type=1400 audit(…):"), whose key=value pairs
// become fields (quotes dropped; the '…' msg of USER_* records is split too;
// msg=audit(TIME:SERIAL); ev.Time from it when the header had none; hex stays hex);
// linux/auth for sshd, sshd-session, sshd-auth, sudo, su, login, systemd-logind, polkitd,
// pkexec, passwd, chpasswd, useradd/userdel/usermod, groupadd/groupdel/groupmod,
// gpasswd, chage, unix_chkpwd, doas, or facility auth/authpriv; linux/cron for cron,
// crond, anacron (any case, any path: /USR/SBIN/CRON) or facility cron; else
// linux/syslog. Known messages add user, src_ip (src_host when sshd logged a name),
// src_port, auth_result (failure or success), auth_method, target_user, command, pwd
// and tty: sshd's "Failed|Accepted METHOD for [invalid user ]USER from IP port N",
// "Invalid user", "User … not allowed", "maximum authentication attempts exceeded",
// "Connection closed|reset by" and "Disconnected from" "[authenticating user |invalid
// user |user ]USER IP port N [preauth]", "Received disconnect", "Did not receive
// identification string"; PAM's "authentication failure; … rhost=IP user=USER" (any
// program), "session opened for user", "password changed for"; sudo's "USER : [REASON
// ; ]TTY=… ; PWD=… ; USER=… ; COMMAND=…" (COMMAND runs to the end of the line; a
// REASON is a failure); su's "[FAILED SU ](to TARGET) USER on TTY"; systemd-logind's
// "New session N of user USER."; useradd's "new user: name=USER"; cron's "(USER) CMD
// (COMMAND)"; also inside rsyslog's "message repeated N times: [ … ]". Addresses are
// read from the right of the message: the user name is the client's to choose,
// " from 6.6.6.6 port 1" included.
//
// SplitSyslogTCP frames a TCP stream as RFC 6587 says, deciding per message: octet
// counting ("LEN MSG") when the message starts with a digit 1-9, digits and a space, else
// ended by LF or NUL; messages over its limit are skipped and reported at the end.
//
// # Access logs
//
// Decoder.AccessLog reads Apache and nginx Common and Combined Log Format lines (and
// vhost_combined's "%v:%p " prefix) into the Sigma webserver names: Channel webserver,
// cs-host and s-port (the virtual host), c-ip, cs-username, cs-method, cs-uri (the whole
// target), cs-uri-stem, cs-uri-query (after the '?', without it), cs-version, sc-status,
// sc-bytes ("-" is 0), cs-referer and cs-user-agent; other "-" values add no field;
// \" and \\ are unescaped, \xhh is kept. A request that is not "METHOD TARGET
// [VERSION]" (a TLS handshake sent to port 80) is kept whole as cs-uri.
//
// # Zeek TSV
//
// ZeekTSV reads Zeek's default tab-separated logs, honouring #separator,
// #set_separator, #empty_field, #unset_field, #path, #fields and #types: Channel
// zeek/<path>, one field per column (set and vector columns one per element, unset ones
// none, bool T/F as true/false as in Zeek's JSON), ts as ev.Time.
//
// # Entities
//
// EntitiesOf picks, per source (by Channel: linux/…, webserver, suricata/…, zeek/…,
// else Windows and generic JSON), the field holding each entity, in order of preference.
// Windows: Computer; SubjectUserName, User, TargetUserName (TargetUserName first for the
// logon events 4624, 4625, 4648, 4768, 4771 and 4776); IpAddress, SourceIp,
// SourceAddress, ClientAddress; DestinationIp, DestAddress; QueryName,
// DestinationHostname; Image, NewProcessName, ProcessName, Application; CommandLine;
// ParentImage, ParentProcessName; the SHA256 (else SHA1, else MD5) of Hashes; then the
// Winlogbeat/ECS leftovers host.name, user.name, source.ip…. Syslog: host, user (or
// auditd's acct), src_ip (or addr), exe or program, command. Web: host, c-ip,
// cs-username, cs-host, cs-uri. Suricata: host (the sensor), src_ip, dest_ip,
// dns.rrname, http.hostname, tls.sni, http.url. Zeek: _system_name, id.orig_h,
// id.resp_h, query, host or server_name, uri. "-", "?" and empty values count as absent,
// and so do ::1 and 127.0.0.1 as a source; ::ffff:a.b.c.d is given as a.b.c.d.
package normalize
