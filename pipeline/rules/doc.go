// Package rules is bansho's rule engine: Falco-style YAML rule files
// (rules, lists, macros, exceptions) over the events' ECS fields,
// compiled once with expr; sequence, threshold and business-hours rules
// with bounded, expiring state; and the alerts they make, as events with
// Op event.OpAlert that the ECS encoder writes as event.kind alert.
//
// Load or LoadFS compile a rule set (every problem as an Errors, each at
// its file, line and column); NewEngine runs one over live events (Eval,
// from the pipeline) or recorded documents (EvalDoc, for replay and rule
// tests); Reloader swaps in a new set when the files change. See
// docs/rules.md.
package rules
