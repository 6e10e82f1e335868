package kibana

// The queries the dashboards are built on.
const (
	kqlProtected = `event.category : "file" and bansho.file.protected : true`
	kqlAlerts    = `event.kind : "alert"`
	kqlFindings  = `bansho.content.my_number.distinct > 0`
	kqlOutbound  = `event.category : "network" and network.direction : "egress"`
)

func count(id string) column { return column{id: id, op: "count", label: "Events"} }

func hourly(id string) column {
	return column{id: id, op: "date_histogram", field: "@timestamp", label: "Hour"}
}

func top(id, field, label string, size int, order string) column {
	return column{id: id, op: "terms", field: field, label: label, size: size, order: order}
}

func dashboards() []dashboard {
	return []dashboard{
		{
			id: "bansho-dashboard-access", title: "bansho: access to protected data",
			desc: "Who opened, wrote, moved or deleted protected (My Number) files, from which host and when: the access record of the technical safeguards.",
			lenses: []lens{
				{
					id: "bansho-lens-access-by-person-hour", title: "Protected data access by person, per hour",
					desc: "Events on protected files per hour, split by the person who logged in (audit login uid, kept across sudo).",
					vis:  "lnsXY", series: "bar_stacked", kql: kqlProtected,
					columns: []column{hourly("x"), top("split", "bansho.login_user.name", "Person (login user)", 10, "y"), count("y")},
					x:       "x", ys: []string{"y"}, split: "split",
				},
				{
					id: "bansho-lens-access-by-host-hour", title: "Protected data access by host, per hour",
					desc: "Events on protected files per hour, split by host.",
					vis:  "lnsXY", series: "bar_stacked", kql: kqlProtected,
					columns: []column{hourly("x"), top("split", "host.name", "Host", 10, "y"), count("y")},
					x:       "x", ys: []string{"y"}, split: "split",
				},
				{
					id: "bansho-lens-access-table", title: "Protected data access: person, account, host, program",
					desc: "Who touched how many protected files with which program, on which host.",
					vis:  "lnsDatatable", kql: kqlProtected,
					columns: []column{
						top("person", "bansho.login_user.name", "Person (login user)", 20, "events"),
						top("account", "user.name", "Account", 10, "events"),
						top("host", "host.name", "Host", 20, "events"),
						top("program", "process.executable", "Program", 10, "events"),
						count("events"),
						{id: "files", op: "unique_count", field: "file.path", label: "Distinct files"},
					},
				},
			},
			widths: []int{24, 24, 48},
		},
		{
			id: "bansho-dashboard-alerts", title: "bansho: alerts",
			desc: "Alerts of the rule engine by rule and severity (event.severity: 99 critical, 73 error, 47 warning, 21 notice).",
			lenses: []lens{
				{
					id: "bansho-lens-alerts-by-rule", title: "Alerts by rule and severity",
					vis: "lnsXY", series: "bar_horizontal_stacked", kql: kqlAlerts,
					columns: []column{top("x", "rule.name", "Rule", 20, "y"), top("split", "event.severity", "Severity", 5, "y"), count("y")},
					x:       "x", ys: []string{"y"}, split: "split",
				},
				{
					id: "bansho-lens-alerts-over-time", title: "Alerts per hour by severity",
					vis: "lnsXY", series: "bar_stacked", kql: kqlAlerts,
					columns: []column{hourly("x"), top("split", "event.severity", "Severity", 5, "y"), count("y")},
					x:       "x", ys: []string{"y"}, split: "split",
				},
				{
					id: "bansho-lens-alerts-table", title: "Alerts by rule, host and person",
					vis: "lnsDatatable", kql: kqlAlerts,
					columns: []column{
						top("rule", "rule.name", "Rule", 20, "alerts"),
						top("severity", "event.severity", "Severity", 5, "alerts"),
						top("host", "host.name", "Host", 20, "alerts"),
						top("person", "bansho.login_user.name", "Person (login user)", 20, "alerts"),
						count("alerts"),
					},
				},
			},
			widths: []int{24, 24, 48},
		},
		{
			id: "bansho-dashboard-content", title: "bansho: My Number findings",
			desc: "Writes and sends in which the content detector found My Numbers, and how many people they touch. Affected persons count distinct keyed hashes, so one person counts once across files and hosts sharing the hash key; no number is ever stored.",
			lenses: []lens{
				{
					id: "bansho-lens-content-persons", title: "Affected persons (distinct My Number hashes)",
					vis: "lnsMetric", kql: kqlFindings,
					columns: []column{{id: "persons", op: "unique_count", field: "bansho.content.my_number.hashes", label: "Affected persons"}},
					ys:      []string{"persons"},
				},
				{
					id: "bansho-lens-content-largest", title: "Largest single finding (people in one write or send)",
					vis: "lnsMetric", kql: kqlFindings,
					columns: []column{{id: "largest", op: "max", field: "bansho.content.my_number.distinct", label: "People in one write or send"}},
					ys:      []string{"largest"},
				},
				{
					id: "bansho-lens-content-over-time", title: "Findings per hour by confidence",
					vis: "lnsXY", series: "bar_stacked", kql: kqlFindings,
					columns: []column{hourly("x"), top("split", "bansho.content.my_number.confidence", "Confidence", 3, "y"), count("y")},
					x:       "x", ys: []string{"y"}, split: "split",
				},
				{
					id: "bansho-lens-content-table", title: "Findings by host, program and action",
					vis: "lnsDatatable", kql: kqlFindings,
					columns: []column{
						top("host", "host.name", "Host", 20, "persons"),
						top("program", "process.executable", "Program", 20, "persons"),
						top("action", "event.action", "Action", 5, "persons"),
						{id: "persons", op: "unique_count", field: "bansho.content.my_number.hashes", label: "Affected persons"},
						{id: "occurrences", op: "sum", field: "bansho.content.my_number.occurrences", label: "Occurrences"},
						count("events"),
					},
				},
			},
			widths: []int{24, 24, 48, 48},
		},
		{
			id: "bansho-dashboard-outbound", title: "bansho: outbound destinations",
			desc: "Where the protected hosts connect and send to; sends by processes that read protected data (tainted) first.",
			lenses: []lens{
				{
					id: "bansho-lens-outbound-tainted", title: "Sends by processes that read protected data",
					desc: "Every send of a tainted process is reported with its peer: the path of a leak.",
					vis:  "lnsDatatable", kql: `event.action : "send" and bansho.network.tainted : true`,
					columns: []column{
						top("dest", "destination.ip", "Destination", 20, "bytes"),
						top("port", "destination.port", "Port", 10, "bytes"),
						top("program", "process.executable", "Program", 10, "bytes"),
						top("host", "host.name", "Host", 20, "bytes"),
						{id: "bytes", op: "sum", field: "bansho.network.bytes", label: "Bytes sent"},
						{id: "persons", op: "unique_count", field: "bansho.content.my_number.hashes", label: "Affected persons"},
					},
				},
				{
					id: "bansho-lens-outbound-destinations", title: "Top destinations by host",
					vis: "lnsXY", series: "bar_horizontal_stacked", kql: kqlOutbound,
					columns: []column{top("x", "destination.ip", "Destination", 20, "y"), top("split", "host.name", "Host", 10, "y"), count("y")},
					x:       "x", ys: []string{"y"}, split: "split",
				},
				{
					id: "bansho-lens-outbound-table", title: "Outbound connections: destination, port, transport",
					vis: "lnsDatatable", kql: kqlOutbound,
					columns: []column{
						top("dest", "destination.ip", "Destination", 50, "events"),
						top("port", "destination.port", "Port", 10, "events"),
						top("transport", "network.transport", "Transport", 3, "events"),
						count("events"),
						{id: "hosts", op: "unique_count", field: "host.name", label: "Hosts"},
						{id: "programs", op: "unique_count", field: "process.executable", label: "Programs"},
					},
				},
			},
			widths: []int{48, 24, 24},
		},
	}
}
