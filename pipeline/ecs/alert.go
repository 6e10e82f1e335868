package ecs

import (
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/bansho-sec/bansho/internal/dockey"
	"github.com/bansho-sec/bansho/internal/event"
)

// The sections of the triggering event an alert carries, in the order
// they are written: who did it, to what, where.
var alertCopied = [...]string{"process", "user", "group", "file", "source", "destination", "network",
	"related", "container", "orchestrator"}

// appendAlert writes the document of a rule alert (event.kind alert):
// rule.*, threat.*, event.severity, the rule's output as message, the
// links to the events that made it fire (bansho.alert.events), and the
// triggering event's process, user, file, destination and host fields,
// taken from its document as it was written. During a mass access every
// event may alert, so the trigger is split at its top level only
// (gjson), and a trigger this encoder wrote is copied without masking it
// again.
func (e *Encoder) appendAlert(dst []byte, ev *event.Event) []byte {
	a := ev.Alert
	trig := splitTrigger(a.Trigger, a.TriggerMasked)
	ts := ev.Time
	if trig.ts != "" {
		if t, err := time.Parse(time.RFC3339Nano, trig.ts); err == nil {
			ts = t
		}
	}
	o := obj{b: dst, trusted: a.TriggerMasked}
	o.open()
	o.time("@timestamp", ts)
	o.section("ecs")
	o.str("version", Version)
	o.close()
	o.section("agent")
	o.str("type", "bansho")
	o.strNE("version", e.Version)
	o.str("ephemeral_id", string(e.agentID()))
	o.close()
	if trig.host != "" {
		o.key("host")
		o.b = append(o.b, o.masked(trig.host)...)
	} else {
		e.host(&o)
	}

	// event: the trigger's categorization, as an alert.
	var tev struct {
		Category, Type []string
		Action         string
	}
	if trig.event != "" {
		r := gjson.Parse(trig.event)
		tev.Category, tev.Type = jsonStrings(r.Get("category")), jsonStrings(r.Get("type"))
		tev.Action = r.Get("action").String()
	}
	o.section("event")
	seq := e.seq.Add(1)
	o.key("id")
	o.b = e.appendEventID(o.b, seq)
	o.uint("sequence", seq)
	o.str("kind", "alert")
	if len(tev.Category) == 0 {
		tev.Category, tev.Type = []string{"host"}, []string{"info"}
	}
	o.strs("category", tev.Category)
	o.strs("type", tev.Type)
	o.userNE("action", tev.Action)
	o.str("module", "bansho")
	o.str("dataset", "bansho.alert")
	o.uint("severity", uint64(a.Severity))
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	o.time("created", now())
	o.close()

	o.section("rule")
	o.str("id", a.RuleID)
	o.user("name", a.RuleName)
	o.userNE("description", a.Description)
	o.strNE("ruleset", a.Ruleset)
	o.strNE("category", a.Category)
	o.strNE("version", a.Version)
	o.close()
	if len(a.Threats) > 0 {
		threat(&o, a.Threats)
	}
	o.user("message", a.Message)

	for i, k := range alertCopied {
		if raw := trig.copied[i]; raw != "" {
			o.key(k)
			o.b = append(o.b, o.masked(raw)...)
		}
	}

	o.section("bansho")
	// The trigger's own bansho fields first (login user, content
	// findings, file and network details), then the alert's.
	hadRedacted := false
	if raw := trig.bansho; len(raw) > 2 && raw[0] == '{' {
		o.sep()
		o.b = append(o.b, o.masked(raw[1:len(raw)-1])...)
		hadRedacted = strings.Contains(raw, `"redacted":true`)
	}
	o.section("rule")
	o.strNE("priority", a.Priority)
	if len(a.Tags) > 0 {
		o.strs("tags", a.Tags)
	}
	o.close()
	o.section("alert")
	o.strs("events", a.Events)
	o.close()
	if o.redacted && !hadRedacted {
		o.boolean("redacted", true)
	}
	o.close()
	o.close()
	return o.b
}

// AlertMeta fills m with the index metadata of an alert on trigger, whose
// metadata is trig: an alert copies its trigger's time and the sections
// the store indexes (process, user, file, bansho.login_user), so its keys
// are the trigger's. The keys are copied into m's own.
func AlertMeta(m *dockey.Meta, trig *dockey.Meta) {
	*m = dockey.Meta{Time: trig.Time, Kind: "alert", Keys: append(m.Keys[:0], trig.Keys...), Valid: trig.Valid}
}

// masked is raw JSON from a trigger document with any My Number in it
// masked. Documents this encoder wrote are masked already (o.trusted); a
// replayed one may come from elsewhere. A number is only ever inside a
// string, and the mask has no character JSON would need to escape.
func (o *obj) masked(raw string) string {
	if o.trusted {
		return raw
	}
	s, changed := Redact(raw)
	if changed {
		o.redacted = true
	}
	return s
}

// trigger is a trigger document's top-level values, as raw JSON (empty
// where absent).
type trigger struct {
	ts                  string // @timestamp, unquoted
	host, event, bansho string
	copied              [len(alertCopied)]string
}

// splitTrigger reads a trigger document's top level. One that is not
// valid JSON (a replayed line from elsewhere) gives nothing: the alert
// is written from the rule and the encoder's own host.
func splitTrigger(doc []byte, trusted bool) (t trigger) {
	if len(doc) == 0 || (!trusted && !gjson.ValidBytes(doc)) {
		return t
	}
	r := gjson.ParseBytes(doc)
	if !r.IsObject() {
		return t
	}
	r.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "@timestamp":
			t.ts = v.String()
		case "host":
			t.host = v.Raw
		case "event":
			t.event = v.Raw
		case "bansho":
			t.bansho = v.Raw
		default:
			for i, c := range alertCopied {
				if k.Str == c {
					t.copied[i] = v.Raw
				}
			}
		}
		return true
	})
	return t
}

// jsonStrings is a JSON array's string values (nil for anything else).
func jsonStrings(r gjson.Result) []string {
	if !r.IsArray() {
		return nil
	}
	var out []string
	r.ForEach(func(_, v gjson.Result) bool {
		out = append(out, v.String())
		return true
	})
	return out
}

// agentID is agent.ephemeral_id, as the static part of documents has it.
func (e *Encoder) agentID() []byte {
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 2*len(e.runKey))
	for _, c := range e.runKey {
		out = append(out, hex[c>>4], hex[c&0xf])
	}
	return out
}

// threat writes threat.*: ECS keeps tactics and techniques as parallel
// arrays.
func threat(o *obj, ts []event.Threat) {
	var tacID, tacName, techID, techName, subID, subName []string
	seen := map[string]bool{}
	for _, t := range ts {
		if t.TacticID != "" && !seen[t.TacticID] {
			seen[t.TacticID] = true
			tacID, tacName = append(tacID, t.TacticID), append(tacName, t.TacticName)
		}
		if t.TechniqueID != "" && !seen[t.TechniqueID] {
			seen[t.TechniqueID] = true
			techID, techName = append(techID, t.TechniqueID), append(techName, t.TechniqueName)
		}
		if t.SubtechniqueID != "" && !seen[t.SubtechniqueID] {
			seen[t.SubtechniqueID] = true
			subID, subName = append(subID, t.SubtechniqueID), append(subName, t.SubtechniqueName)
		}
	}
	o.section("threat")
	o.str("framework", "MITRE ATT&CK")
	if len(tacID) > 0 {
		o.section("tactic")
		o.strs("id", tacID)
		o.strs("name", tacName)
		o.close()
	}
	if len(techID) > 0 {
		o.section("technique")
		o.strs("id", techID)
		o.strs("name", techName)
		if len(subID) > 0 {
			o.section("subtechnique")
			o.strs("id", subID)
			o.strs("name", subName)
			o.close()
		}
		o.close()
	}
	o.close()
}
