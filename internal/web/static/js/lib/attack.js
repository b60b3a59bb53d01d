// MITRE ATT&CK (Enterprise) tactics in kill-chain order, and the names of the
// techniques most often met in Sigma rules. Names are for display only; an
// unknown technique is shown by its id. ATT&CK® is a registered trademark of
// The MITRE Corporation; names from attack.mitre.org.

export const TACTICS = [
  ['reconnaissance', 'Reconnaissance'],
  ['resource-development', 'Resource Development'],
  ['initial-access', 'Initial Access'],
  ['execution', 'Execution'],
  ['persistence', 'Persistence'],
  ['privilege-escalation', 'Privilege Escalation'],
  ['defense-evasion', 'Defense Evasion'],
  ['credential-access', 'Credential Access'],
  ['discovery', 'Discovery'],
  ['lateral-movement', 'Lateral Movement'],
  ['collection', 'Collection'],
  ['command-and-control', 'Command and Control'],
  ['exfiltration', 'Exfiltration'],
  ['impact', 'Impact'],
];

const NAMES = {
  T1003: 'OS Credential Dumping', 'T1003.001': 'LSASS Memory', 'T1003.002': 'Security Account Manager', 'T1003.003': 'NTDS',
  T1005: 'Data from Local System', T1016: 'System Network Configuration Discovery', T1018: 'Remote System Discovery',
  T1021: 'Remote Services', 'T1021.001': 'Remote Desktop Protocol', 'T1021.002': 'SMB/Windows Admin Shares', 'T1021.004': 'SSH',
  'T1021.006': 'Windows Remote Management', T1027: 'Obfuscated Files or Information', T1033: 'System Owner/User Discovery',
  T1036: 'Masquerading', T1041: 'Exfiltration Over C2 Channel', T1046: 'Network Service Discovery',
  T1047: 'Windows Management Instrumentation', T1048: 'Exfiltration Over Alternative Protocol', T1053: 'Scheduled Task/Job',
  'T1053.005': 'Scheduled Task', T1055: 'Process Injection', T1057: 'Process Discovery', T1059: 'Command and Scripting Interpreter',
  'T1059.001': 'PowerShell', 'T1059.003': 'Windows Command Shell', 'T1059.004': 'Unix Shell', 'T1059.005': 'Visual Basic',
  'T1059.007': 'JavaScript', T1068: 'Exploitation for Privilege Escalation', T1070: 'Indicator Removal',
  'T1070.001': 'Clear Windows Event Logs', T1071: 'Application Layer Protocol', 'T1071.001': 'Web Protocols',
  'T1071.004': 'DNS', T1078: 'Valid Accounts', T1082: 'System Information Discovery', T1083: 'File and Directory Discovery',
  T1087: 'Account Discovery', T1090: 'Proxy', T1098: 'Account Manipulation', T1105: 'Ingress Tool Transfer',
  T1110: 'Brute Force', 'T1110.001': 'Password Guessing', 'T1110.003': 'Password Spraying', T1112: 'Modify Registry',
  T1133: 'External Remote Services', T1136: 'Create Account', T1140: 'Deobfuscate/Decode Files or Information',
  T1189: 'Drive-by Compromise', T1190: 'Exploit Public-Facing Application', T1197: 'BITS Jobs',
  T1204: 'User Execution', 'T1204.002': 'Malicious File', T1210: 'Exploitation of Remote Services',
  T1218: 'System Binary Proxy Execution', 'T1218.011': 'Rundll32', T1219: 'Remote Access Software',
  T1486: 'Data Encrypted for Impact', T1489: 'Service Stop', T1490: 'Inhibit System Recovery', T1498: 'Network Denial of Service',
  T1505: 'Server Software Component', 'T1505.003': 'Web Shell', T1543: 'Create or Modify System Process',
  'T1543.003': 'Windows Service', T1547: 'Boot or Logon Autostart Execution', 'T1547.001': 'Registry Run Keys / Startup Folder',
  T1548: 'Abuse Elevation Control Mechanism', 'T1548.002': 'Bypass User Account Control', T1550: 'Use Alternate Authentication Material',
  T1552: 'Unsecured Credentials', T1555: 'Credentials from Password Stores', T1558: 'Steal or Forge Kerberos Tickets',
  T1562: 'Impair Defenses', 'T1562.001': 'Disable or Modify Tools', T1566: 'Phishing', 'T1566.001': 'Spearphishing Attachment',
  'T1566.002': 'Spearphishing Link', T1569: 'System Services', 'T1569.002': 'Service Execution',
  T1570: 'Lateral Tool Transfer', T1571: 'Non-Standard Port', T1572: 'Protocol Tunneling', T1573: 'Encrypted Channel',
  T1574: 'Hijack Execution Flow', T1583: 'Acquire Infrastructure', T1595: 'Active Scanning',
};

export function techniqueName(id) {
  const t = String(id || '').toUpperCase();
  return NAMES[t] || (t.includes('.') ? NAMES[t.split('.')[0]] : '') || '';
}

export function tacticLabel(tactic) {
  const t = TACTICS.find(([k]) => k === tactic);
  return t ? t[1] : String(tactic || 'unknown').replace(/-/g, ' ');
}

export const techniqueURL = (id) => `https://attack.mitre.org/techniques/${String(id).toUpperCase().replace('.', '/')}/`;
