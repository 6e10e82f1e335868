package incident

import "time"

// Schema names the version of the JSON report; a change that removes or
// changes the meaning of a field changes it (docs/incident.md).
const Schema = "bansho.incident/1"

// Report is the scope of an incident. Its JSON form is documented in
// docs/incident.md; never holds a number, only keyed hashes.
type Report struct {
	Schema    string    `json:"schema"`
	Generated time.Time `json:"generated"`
	Query     Query     `json:"query"`
	// Window is the time of the first and last document the story uses.
	Window struct {
		First *time.Time `json:"first"`
		Last  *time.Time `json:"last"`
	} `json:"window"`
	Hosts            []string  `json:"hosts"`
	Persons          Count     `json:"persons"`
	CorporateNumbers Count     `json:"corporate_numbers"`
	Hashes           Hashes    `json:"hashes"`
	PIITypes         []string  `json:"pii_types"`
	People           []Person  `json:"people"`
	Sources          []Source  `json:"sources"`
	Flows            []Flow    `json:"flows"`
	Deadlines        Deadlines `json:"deadlines"`
	Unknowns         []Unknown `json:"unknowns"`
	// Documents read, and those that did not decode.
	DocumentsRead int `json:"documents_read"`
}

// Query is what the report was asked about.
type Query struct {
	Files   []string   `json:"files,omitempty"`
	User    string     `json:"user,omitempty"`
	Host    string     `json:"host,omitempty"`
	AlertID string     `json:"alert_id,omitempty"`
	Since   *time.Time `json:"since,omitempty"`
	Until   *time.Time `json:"until,omitempty"`
	Inputs  []string   `json:"inputs"`
}

// Count is how many distinct numbers (people, or corporations). Lower is
// the distinct keyed hashes found in the bytes actually scanned: certain,
// but a lower bound when some data was not scanned. Upper is the most it
// can be: when every flow was scanned whole, Lower; else, when every flow
// not scanned whole derives from protected files whose whole content is
// known (scanned at rest), the distinct hashes of those files and of what
// was scanned; else null (not known). Exact is Lower == Upper.
type Count struct {
	Lower int    `json:"lower"`
	Upper *int   `json:"upper"`
	Exact bool   `json:"exact"`
	Basis string `json:"basis"`
}

// Hashes are the keyed hashes (HMAC-SHA256 under the sensor's
// content.hash_key) of the numbers: Seen in the scanned bytes of a flow,
// Possible those only the at-rest content of a source adds (within the
// upper bound, not seen leaving).
type Hashes struct {
	MyNumber                []string `json:"my_number"`
	MyNumberPossible        []string `json:"my_number_possible"`
	CorporateNumber         []string `json:"corporate_number"`
	CorporateNumberPossible []string `json:"corporate_number_possible"`
}

// Person is someone who acted in the incident: the login user and where
// their session came from.
type Person struct {
	Host      string   `json:"host"`
	LoginUser string   `json:"login_user"`
	Sources   []string `json:"ssh_sources"`
	Flows     int      `json:"flows"`
}

// Source is a protected file whose data the flows carry.
type Source struct {
	Host      string    `json:"host"`
	Path      string    `json:"path"`
	FirstRead time.Time `json:"first_read"`
	Readers   []string  `json:"readers"`
	AtRest    *AtRest   `json:"at_rest"`
}

// AtRest is what a whole-file scan of a source found.
type AtRest struct {
	Persons          int    `json:"persons"`
	CorporateNumbers int    `json:"corporate_numbers"`
	Truncated        bool   `json:"hashes_truncated"`
	From             string `json:"from"` // where the count came from
	hashes, corp     []string
}

// Flow is data leaving the protected files: a file written, renamed or
// linked, or data sent over the network, by a process that read them.
type Flow struct {
	ID        int       `json:"id"`
	Kind      string    `json:"kind"` // file, rename, link, network
	Via       string    `json:"via"`  // copy, archive, pipe, rename, link, upload, tls-upload, send, connect
	Time      time.Time `json:"time"`
	LastTime  time.Time `json:"last_time"`
	Host      string    `json:"host"`
	LoginUser string    `json:"login_user"`
	SSHSource string    `json:"ssh_source"`
	Process   Process   `json:"process"`
	// Destination: a file path with its file system, or an address.
	Destination Destination `json:"destination"`
	Bytes       int64       `json:"bytes"`
	// SampledBytes of Bytes were scanned; Complete says all were (and no
	// hash was left out), so Persons.Lower is exact for this flow.
	SampledBytes int64 `json:"sampled_bytes"`
	// AtRestBytes: the destination file was scanned whole by the sensor
	// once written (bansho.content.at_rest), this many bytes; 0 when not.
	AtRestBytes      int64    `json:"at_rest_bytes"`
	Complete         bool     `json:"complete"`
	Persons          Count    `json:"persons"`
	CorporateNumbers Count    `json:"corporate_numbers"`
	Hashes           []string `json:"hashes"`
	CorporateHashes  []string `json:"corporate_hashes"`
	PIITypes         []string `json:"pii_types"`
	// From: the protected files (and the copies) the data came from.
	From   []string `json:"from"`
	Events []string `json:"events"`
	Alerts []string `json:"alerts"`
	// Inferred says how a flow no event recorded was found: "command
	// line" for a rename of a copy (not protected data, so the kernel
	// does not report it) read from mv's arguments.
	Inferred string `json:"inferred,omitempty"`
}

// Process is the acting process and its ancestry, nearest first.
type Process struct {
	EntityID    string     `json:"entity_id"`
	PID         int        `json:"pid"`
	Name        string     `json:"name"`
	Executable  string     `json:"executable"`
	CommandLine string     `json:"command_line"`
	User        string     `json:"user"`
	Ancestry    []Ancestor `json:"ancestry"`
}

// Ancestor is one process up the tree.
type Ancestor struct {
	PID         int    `json:"pid"`
	Name        string `json:"name"`
	CommandLine string `json:"command_line"`
	User        string `json:"user,omitempty"`
}

// Destination is where a flow went.
type Destination struct {
	Path      string `json:"path,omitempty"`
	FSType    string `json:"fstype,omitempty"`
	Mount     string `json:"mount,omitempty"`
	Removable bool   `json:"removable,omitempty"`
	NetworkFS bool   `json:"network_fs,omitempty"`
	IP        string `json:"ip,omitempty"`
	Port      int    `json:"port,omitempty"`
	Domain    string `json:"domain,omitempty"`
	Class     string `json:"class,omitempty"`
	Transport string `json:"transport,omitempty"`
	TLS       bool   `json:"tls,omitempty"`
}

// Deadlines of the report to the Personal Information Protection
// Commission (個人情報保護委員会): a preliminary report (速報) promptly,
// in practice within 3 to 5 days of discovery, and the final report
// (確報) within 30 days, 60 when the leak was malicious (不正の目的).
type Deadlines struct {
	Discovered      time.Time `json:"discovered"`
	PreliminaryFrom time.Time `json:"preliminary_from"`
	PreliminaryDue  time.Time `json:"preliminary_due"`
	Final           time.Time `json:"final_due"`
	FinalDays       int       `json:"final_days"`
	Malicious       bool      `json:"malicious"`
}

// Unknown is something the record cannot tell, so the report claims no
// more than it holds.
type Unknown struct {
	Kind   string `json:"kind"`
	Host   string `json:"host,omitempty"`
	Count  int64  `json:"count"`
	Detail string `json:"detail"`
}
