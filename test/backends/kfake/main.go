// Command kfake runs franz-go's in-process fake Kafka cluster (kfake) as a
// standalone broker for integration tests of the Kafka exporter.
//
// It listens on 127.0.0.1 only, prints exactly one line starting with
// "kfake ready" to stdout once every broker accepts connections, and shuts
// down cleanly on SIGTERM or SIGINT (with -data-dir, state is flushed to disk
// first, so a restarted broker serves the same topics, records and committed
// offsets). A second signal during shutdown forces exit.
//
// This is a test fixture, not a Kafka: no replication, no authentication.
package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Exit codes: 2 for bad flags (the flag package's convention), 1 for a
// cluster that cannot start, 3 for a shutdown forced by a second signal.
const (
	exitStart  = 1
	exitUsage  = 2
	exitForced = 3
)

// shutdownTimeout bounds how long Close may take to flush state before the
// process gives up; a hung broker must not hang the test harness's down.sh.
const shutdownTimeout = 30 * time.Second

type config struct {
	port       int
	brokers    int
	partitions int
	topics     []seedTopic
	dataDir    string
	syncWrites bool
	autoCreate bool
	clusterID  string
	logLevel   kfake.LogLevel
	sasl       []saslUser
	tlsCert    string
	tlsKey     string
}

// saslUser is a -sasl entry: a user the broker authenticates.
type saslUser struct{ mechanism, user, password string }

type seedTopic struct {
	name       string
	partitions int32 // < 1: use -partitions
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "kfake: %v\n", err)
		os.Exit(exitUsage)
	}
	// Subscribe before starting, so a SIGTERM that arrives while the
	// cluster loads its data directory still means a clean shutdown.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	os.Exit(run(cfg, sigs, os.Stdout, os.Stderr))
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("kfake", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: kfake [flags]\n\n"+
			"Runs a fake Kafka cluster on 127.0.0.1 until SIGTERM/SIGINT.\n\n")
		fs.PrintDefaults()
	}

	var cfg config
	var topics topicsFlag
	var level string
	fs.IntVar(&cfg.port, "port", 19092, "port of the first broker; broker i listens on port+i (0: random free ports)")
	fs.IntVar(&cfg.brokers, "brokers", 1, "number of brokers")
	fs.IntVar(&cfg.partitions, "partitions", 1, "partitions of auto-created topics and of -topic entries without a count")
	fs.Var(&topics, "topic", "seed topic as name or name:partitions; repeatable, or comma-separated")
	fs.StringVar(&cfg.dataDir, "data-dir", "", "persist state here and reload it on start (empty: in memory only)")
	fs.BoolVar(&cfg.syncWrites, "sync", false, "fsync every produced batch (with -data-dir; slower)")
	fs.BoolVar(&cfg.autoCreate, "auto-create-topics", true, "create unknown topics on metadata requests, like auto.create.topics.enable")
	fs.StringVar(&cfg.clusterID, "cluster-id", "bansho-kfake", "cluster ID reported in metadata")
	fs.StringVar(&level, "log-level", "warn", "broker log level on stderr: none, error, warn, info, debug")
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "serve TLS with this PEM certificate (with -tls-key)")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "PEM key of -tls-cert")
	fs.Func("sasl", "require SASL and accept this user, as MECHANISM:USER:PASSWORD (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512); repeatable", func(v string) error {
		mech, rest, ok1 := strings.Cut(v, ":")
		user, pass, ok2 := strings.Cut(rest, ":")
		mech = strings.ToUpper(mech)
		if !ok1 || !ok2 || user == "" || pass == "" {
			return fmt.Errorf("%q: want MECHANISM:USER:PASSWORD", v)
		}
		switch mech {
		case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		default:
			return fmt.Errorf("%q: mechanism %s is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", v, mech)
		}
		cfg.sasl = append(cfg.sasl, saslUser{mech, user, pass})
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q (all options are flags; see -h)", fs.Arg(0))
	}
	cfg.topics = topics

	switch {
	case cfg.brokers < 1:
		return config{}, fmt.Errorf("-brokers %d: need at least 1", cfg.brokers)
	case cfg.port < 0 || cfg.port > 65535:
		return config{}, fmt.Errorf("-port %d: out of range 0-65535", cfg.port)
	case cfg.port > 0 && cfg.port+cfg.brokers-1 > 65535:
		return config{}, fmt.Errorf("-port %d with -brokers %d: last broker port %d exceeds 65535",
			cfg.port, cfg.brokers, cfg.port+cfg.brokers-1)
	case cfg.partitions < 1:
		return config{}, fmt.Errorf("-partitions %d: need at least 1", cfg.partitions)
	case cfg.syncWrites && cfg.dataDir == "":
		return config{}, errors.New("-sync needs -data-dir")
	case (cfg.tlsCert == "") != (cfg.tlsKey == ""):
		return config{}, errors.New("-tls-cert and -tls-key go together")
	}
	var err error
	if cfg.logLevel, err = parseLogLevel(level); err != nil {
		return config{}, err
	}
	return cfg, nil
}

func parseLogLevel(s string) (kfake.LogLevel, error) {
	switch strings.ToLower(s) {
	case "none":
		return kfake.LogLevelNone, nil
	case "error":
		return kfake.LogLevelError, nil
	case "warn":
		return kfake.LogLevelWarn, nil
	case "info":
		return kfake.LogLevelInfo, nil
	case "debug":
		return kfake.LogLevelDebug, nil
	}
	return 0, fmt.Errorf("-log-level %q: want none, error, warn, info or debug", s)
}

// topicsFlag collects -topic values. Each value may hold several
// comma-separated entries, so both "-topic a -topic b:3" and "-topic a,b:3"
// work.
type topicsFlag []seedTopic

func (t *topicsFlag) String() string {
	parts := make([]string, 0, len(*t))
	for _, st := range *t {
		parts = append(parts, st.String())
	}
	return strings.Join(parts, ",")
}

func (t *topicsFlag) Set(v string) error {
	for entry := range strings.SplitSeq(v, ",") {
		st, err := parseSeedTopic(strings.TrimSpace(entry))
		if err != nil {
			return err
		}
		*t = append(*t, st)
	}
	return nil
}

func (st seedTopic) String() string {
	if st.partitions < 1 {
		return st.name
	}
	return st.name + ":" + strconv.Itoa(int(st.partitions))
}

func parseSeedTopic(s string) (seedTopic, error) {
	name, count, hasCount := strings.Cut(s, ":")
	if err := validTopicName(name); err != nil {
		return seedTopic{}, fmt.Errorf("topic %q: %w", s, err)
	}
	if !hasCount {
		return seedTopic{name: name}, nil
	}
	n, err := strconv.ParseInt(count, 10, 32)
	if err != nil || n < 1 {
		return seedTopic{}, fmt.Errorf("topic %q: partition count %q is not a positive integer", s, count)
	}
	return seedTopic{name: name, partitions: int32(n)}, nil
}

// validTopicName applies Kafka's topic name rules (Topic.validate in Apache
// Kafka), so a typo fails here rather than as an obscure broker error.
func validTopicName(name string) error {
	switch {
	case name == "":
		return errors.New("empty topic name")
	case name == "." || name == "..":
		return errors.New(`topic name cannot be "." or ".."`)
	case len(name) > 249:
		return fmt.Errorf("topic name is %d characters, the limit is 249", len(name))
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '.' || r == '_' || r == '-'
		if !ok {
			return fmt.Errorf("topic name has %q; allowed are ASCII letters, digits, '.', '_' and '-'", r)
		}
	}
	return nil
}

// options translates the configuration into kfake options.
func (cfg config) options(logOut io.Writer) ([]kfake.Opt, error) {
	opts := []kfake.Opt{
		kfake.NumBrokers(cfg.brokers),
		kfake.ClusterID(cfg.clusterID),
		kfake.DefaultNumPartitions(cfg.partitions),
		kfake.WithLogger(kfake.BasicLogger(logOut, cfg.logLevel)),
		// kfake already binds 127.0.0.1; this makes the loopback-only
		// promise independent of that implementation detail.
		kfake.ListenFn(listenLoopback),
	}
	if cfg.port > 0 {
		ports := make([]int, cfg.brokers)
		for i := range ports {
			ports[i] = cfg.port + i
		}
		opts = append(opts, kfake.Ports(ports...))
	}
	if cfg.autoCreate {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	for _, st := range cfg.topics {
		// A count < 1 makes kfake use DefaultNumPartitions.
		opts = append(opts, kfake.SeedTopics(st.partitions, st.name))
	}
	if cfg.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("-tls-cert %s -tls-key %s: %w", cfg.tlsCert, cfg.tlsKey, err)
		}
		opts = append(opts, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	}
	if len(cfg.sasl) > 0 {
		opts = append(opts, kfake.EnableSASL())
		for _, u := range cfg.sasl {
			opts = append(opts, kfake.Superuser(u.mechanism, u.user, u.password))
		}
	}
	if cfg.dataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.dataDir))
		if cfg.syncWrites {
			opts = append(opts, kfake.SyncWrites())
		}
	}
	return opts, nil
}

// persistAutoCreatedTopics makes a topic created by a metadata request
// (auto.create.topics.enable) survive a SIGKILL. kfake's own auto-creation
// does not write topics.json: only a clean shutdown saved such a topic, so
// after a crash the broker forgot it, created it again empty over the old
// segment files and served garbage (kcat: "Unsupported Message(Set)
// MagicByte" at the first old offset). This control function sees every
// metadata request first and creates each missing topic the request may
// auto-create through Cluster.CreateTopic, which is the CreateTopics path
// and writes topics.json before the topic is used; the request then runs
// as usual and finds the topic.
func persistAutoCreatedTopics(c *kfake.Cluster) {
	c.ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		m, ok := req.(*kmsg.MetadataRequest)
		if !ok || !m.AllowAutoTopicCreation {
			return nil, nil, false
		}
		for _, t := range m.Topics {
			if t.Topic == nil || *t.Topic == "" || validTopicName(*t.Topic) != nil {
				continue
			}
			// TOPIC_ALREADY_EXISTS for the usual case: nothing to do.
			_ = c.CreateTopic(*t.Topic, -1, nil)
		}
		return nil, nil, false
	})
}

func listenLoopback(network, address string) (net.Listener, error) {
	_, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", address, err)
	}
	return net.Listen(network, net.JoinHostPort("127.0.0.1", port))
}

// run starts the cluster, announces it on stdout and serves until the first
// value on sigs; a second value aborts a slow shutdown.
func run(cfg config, sigs <-chan os.Signal, stdout, stderr io.Writer) int {
	opts, err := cfg.options(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "kfake: %v\n", err)
		return exitStart
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintf(stderr, "kfake: start cluster (ports from %d, %d brokers, data dir %q): %v\n",
			cfg.port, cfg.brokers, cfg.dataDir, err)
		return exitStart
	}
	if cfg.autoCreate && cfg.dataDir != "" {
		persistAutoCreatedTopics(cluster)
	}
	// NewCluster returns with every listener bound, so clients can connect
	// from here on.
	addrs := cluster.ListenAddrs()
	fmt.Fprintln(stdout, readyLine(cfg, addrs))

	sig := <-sigs
	fmt.Fprintf(stderr, "kfake: %s received, shutting down\n", signalName(sig))
	done := make(chan struct{})
	go func() {
		cluster.Close()
		close(done)
	}()
	select {
	case <-done:
		fmt.Fprintln(stderr, "kfake: stopped")
		return 0
	case sig := <-sigs:
		fmt.Fprintf(stderr, "kfake: %s received during shutdown, exiting without finishing it\n", signalName(sig))
	case <-time.After(shutdownTimeout):
		fmt.Fprintf(stderr, "kfake: shutdown did not finish in %v, exiting\n", shutdownTimeout)
	}
	return exitForced
}

// signalName prints SIGTERM rather than Go's "terminated".
func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	}
	return sig.String()
}

// readyLine is the single line test harnesses wait for. Fields are
// space-separated key=value pairs after the fixed "kfake ready" prefix.
func readyLine(cfg config, addrs []string) string {
	var b strings.Builder
	b.WriteString("kfake ready brokers=")
	b.WriteString(strings.Join(addrs, ","))
	if len(cfg.topics) > 0 {
		b.WriteString(" topics=")
		b.WriteString((*topicsFlag)(&cfg.topics).String())
	}
	dataDir := "none"
	if cfg.dataDir != "" {
		dataDir = cfg.dataDir
	}
	fmt.Fprintf(&b, " data_dir=%s pid=%d", dataDir, os.Getpid())
	return b.String()
}
