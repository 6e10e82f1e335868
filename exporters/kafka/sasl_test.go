package kafka

import (
	"strings"
	"testing"

	"github.com/bansho-sec/bansho/exporters/delivery"
	"github.com/bansho-sec/bansho/test/backends"
)

// SASL against a real broker that requires it (kfake with -sasl): each
// mechanism with the right password delivers; a wrong password or a wrong
// mechanism is a clear error naming the settings, and nothing is lost.
func TestSASLAgainstBroker(t *testing.T) {
	needBroker(t)
	addr, stop, err := backends.Kfake("-sasl", "PLAIN:plainuser:right-pw", "-sasl", "SCRAM-SHA-256:scram256:right-pw",
		"-sasl", "SCRAM-SHA-512:scram512:right-pw")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	run := uniq(t)
	try := func(mech, user, pass string) ([]delivery.Result, error) {
		return sendBatch(t, Options{Brokers: []string{addr}, Topics: Topics{Events: run, Alerts: run, Health: run},
			SASL: SASL{Mechanism: mech, Username: user, Password: pass}})
	}
	for mech, user := range map[string]string{"plain": "plainuser", "scram-sha-256": "scram256", "scram-sha-512": "scram512"} {
		res, err := try(mech, user, "right-pw")
		if err != nil {
			t.Fatalf("%s: %v", mech, err)
		}
		requireStatus(t, mech+": ", res, delivery.Delivered)
	}
	for _, c := range []struct{ mech, user string }{{"scram-sha-512", "scram512"}, {"plain", "plainuser"}, {"scram-sha-256", "scram512"}} {
		res, err := try(c.mech, c.user, "wrong-pw")
		t.Logf("%s %s, wrong password: %v", c.mech, c.user, err)
		if err == nil || !strings.Contains(err.Error(), "SASL authentication as \""+c.user+"\" with "+c.mech) || !strings.Contains(err.Error(), "outputs.kafka.sasl") {
			t.Errorf("%s: error %v, want one naming the SASL user and outputs.kafka.sasl", c.mech, err)
		}
		if err != nil && strings.Contains(err.Error(), "wrong-pw") {
			t.Errorf("%s: the error holds the SASL password", c.mech)
		}
		requireStatus(t, c.mech+": ", res, delivery.Pending)
	}
}
