package rules

import (
	"reflect"
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
)

// The benchmarks behind the choice of expression library (docs/rules.md):
// one typical condition over the same Env, compiled once, evaluated on
// a protected read by a program that is not on the allowlist.

const choiceExpr = `event.action == "open" and bansho.file.protected and ` +
	`not (process.executable in ["/opt/mynumber/bin/app", "/usr/local/bin/mn-backup"]) and ` +
	`not any(bansho.process.ancestors.name, # in ["dpkg", "apt", "logrotate"])`

const choiceCEL = `env.event.action == "open" && env.bansho.file.protected && ` +
	`!(env.process.executable in ["/opt/mynumber/bin/app", "/usr/local/bin/mn-backup"]) && ` +
	`!env.bansho.process.ancestors.name.exists(n, n in ["dpkg", "apt", "logrotate"])`

func choiceEnv() *Env {
	env := &Env{}
	env.Event.Action = "open"
	env.Bansho.File.Protected = true
	env.Process.Executable = "/usr/bin/cat"
	env.Bansho.Process.Ancestors.Name = []string{"bash", "sshd", "systemd"}
	return env
}

func BenchmarkChoiceExpr(b *testing.B) {
	prog, err := expr.Compile(choiceExpr, expr.Env(Env{}), expr.AsBool())
	if err != nil {
		b.Fatal(err)
	}
	env := choiceEnv()
	var m vm.VM
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		v, err := m.Run(prog, env)
		if err != nil || v != true {
			b.Fatal(v, err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func BenchmarkChoiceCEL(b *testing.B) {
	ce, err := cel.NewEnv(ext.NativeTypes(reflect.TypeFor[Env](), ext.ParseStructTag("expr")),
		cel.Variable("env", cel.ObjectType("rules.Env")))
	if err != nil {
		b.Fatal(err)
	}
	ast, iss := ce.Compile(choiceCEL)
	if iss.Err() != nil {
		b.Fatal(iss.Err())
	}
	prg, err := ce.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		b.Fatal(err)
	}
	act, err := cel.NewActivation(map[string]any{"env": choiceEnv()})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		v, _, err := prg.Eval(act)
		if err != nil || v.Value() != true {
			b.Fatal(v, err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}
