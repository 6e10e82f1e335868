package rules

import (
	"strings"

	"github.com/bansho-sec/bansho/internal/event"
)

// Threat is one MITRE ATT&CK mapping of a rule, from its tags: a tactic
// tag (mitre_exfiltration) and technique tags (T1048, T1052.001).
type Threat = event.Threat

// The ATT&CK (Enterprise) tactics and the techniques the default pack
// uses; a technique tag not listed here is kept with its id only.
var tactics = map[string][2]string{
	"mitre_initial_access":       {"TA0001", "Initial Access"},
	"mitre_execution":            {"TA0002", "Execution"},
	"mitre_persistence":          {"TA0003", "Persistence"},
	"mitre_privilege_escalation": {"TA0004", "Privilege Escalation"},
	"mitre_defense_evasion":      {"TA0005", "Defense Evasion"},
	"mitre_credential_access":    {"TA0006", "Credential Access"},
	"mitre_discovery":            {"TA0007", "Discovery"},
	"mitre_lateral_movement":     {"TA0008", "Lateral Movement"},
	"mitre_collection":           {"TA0009", "Collection"},
	"mitre_exfiltration":         {"TA0010", "Exfiltration"},
	"mitre_command_and_control":  {"TA0011", "Command and Control"},
	"mitre_impact":               {"TA0040", "Impact"},
}

var techniques = map[string]string{
	"T1005":     "Data from Local System",
	"T1020":     "Automated Exfiltration",
	"T1041":     "Exfiltration Over C2 Channel",
	"T1048":     "Exfiltration Over Alternative Protocol",
	"T1052":     "Exfiltration Over Physical Medium",
	"T1052.001": "Exfiltration over USB",
	"T1059":     "Command and Scripting Interpreter",
	"T1059.004": "Unix Shell",
	"T1070":     "Indicator Removal",
	"T1074":     "Data Staged",
	"T1074.001": "Local Data Staging",
	"T1078":     "Valid Accounts",
	"T1119":     "Automated Collection",
	"T1219":     "Remote Access Software",
	"T1485":     "Data Destruction",
	"T1505":     "Server Software Component",
	"T1505.003": "Web Shell",
	"T1562":     "Impair Defenses",
	"T1562.001": "Disable or Modify Tools",
	"T1562.012": "Disable or Modify Linux Audit System",
	"T1567":     "Exfiltration Over Web Service",
	"T1572":     "Protocol Tunneling",
	"T1039":     "Data from Network Shared Drive",
	"T1105":     "Ingress Tool Transfer",
	"T1055":     "Process Injection",
	"T1055.008": "Ptrace System Calls",
	"T1222":     "File and Directory Permissions Modification",
	"T1222.002": "Linux and Mac File and Directory Permissions Modification",
	"T1036":     "Masquerading",
}

func isTechnique(t string) bool {
	if len(t) < 5 || t[0] != 'T' {
		return false
	}
	for i := 1; i < len(t); i++ {
		if !(t[i] >= '0' && t[i] <= '9' || t[i] == '.' && i == 5) {
			return false
		}
	}
	return len(t) == 5 || len(t) == 9
}

// threatsOf pairs the tactic tags with the technique tags: each
// technique under the first tactic (ATT&CK puts one technique under
// several tactics; the rule's tactic tag says which applies).
func threatsOf(tags []string) []Threat {
	var tac [2]string
	var out []Threat
	for _, t := range tags {
		if v, ok := tactics[t]; ok && tac[0] == "" {
			tac = v
		}
	}
	for _, t := range tags {
		if !isTechnique(t) {
			continue
		}
		th := Threat{TacticID: tac[0], TacticName: tac[1]}
		if i := strings.IndexByte(t, '.'); i > 0 {
			th.TechniqueID, th.TechniqueName = t[:i], techniques[t[:i]]
			th.SubtechniqueID, th.SubtechniqueName = t, techniques[t]
		} else {
			th.TechniqueID, th.TechniqueName = t, techniques[t]
		}
		out = append(out, th)
	}
	if len(out) == 0 && tac[0] != "" {
		out = append(out, Threat{TacticID: tac[0], TacticName: tac[1]})
	}
	return out
}
