package event

// Alert is what the rule engine made of one or more events: the rule that
// fired and the events that made it fire. An alert travels as an Event
// with Op OpAlert and Time the time of the event that completed it, and
// is encoded as an ECS document with event.kind alert.
type Alert struct {
	RuleID      string // rule.id
	RuleName    string // rule.name
	Description string // rule.description
	Ruleset     string // rule.ruleset: the rule file's name
	Category    string // rule.category: the guideline safeguard
	Version     string // rule.version
	Priority    string // bansho.rule.priority (Falco's priority names)
	Severity    int    // event.severity: 21 low, 47 medium, 73 high, 99 critical
	Tags        []string
	Threats     []Threat
	// Message is the rule's output rendered for the event; the encoder
	// masks any My Number in it.
	Message string
	// Events are the event.id of the events that made the rule fire, the
	// completing one last.
	Events []string
	// Trigger is the ECS document of the completing event: the alert
	// carries its process, user, file, destination and host fields.
	Trigger []byte
	// TriggerMasked: Trigger was written by this process's encoder, which
	// masks every My Number as it writes, so the alert copies it as it is.
	// A trigger read back from elsewhere (replay, rules test) is masked
	// again.
	TriggerMasked bool
}

// Threat is one MITRE ATT&CK mapping (threat.* in ECS).
type Threat struct {
	TacticID, TacticName             string
	TechniqueID, TechniqueName       string
	SubtechniqueID, SubtechniqueName string
}
