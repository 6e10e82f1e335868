package incident

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bansho-sec/bansho/pipeline/content"
)

// LoadReport reads a report written by `bansho incident`: its JSON, or
// the HTML page, which embeds the JSON.
func LoadReport(b []byte) (*Report, error) {
	const open = `<script type="application/json" id="bansho-incident">`
	if i := bytes.Index(b, []byte(open)); i >= 0 {
		rest := b[i+len(open):]
		j := bytes.Index(rest, []byte("</script>"))
		if j < 0 {
			return nil, errors.New("incident: the HTML report's embedded data is cut short")
		}
		b = rest[:j]
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("incident: not a report of bansho incident: %w", err)
	}
	if r.Schema != Schema {
		return nil, fmt.Errorf("incident: report schema %q, this bansho reads %q", r.Schema, Schema)
	}
	return &r, nil
}

// AffectedRow is a roster row whose number is in the incident. Columns
// are the row's cells with every cell that holds a number (or anything
// shaped like one) replaced by its mask; the number itself is never kept.
type AffectedRow struct {
	Row     int      `json:"row"`    // line of the record in the roster, from 1
	Status  string   `json:"status"` // seen: the number left in a scanned flow; possible: only within the upper bound
	Kind    string   `json:"kind"`   // my_number or corporate_number
	Columns []string `json:"columns"`
}

// Affected is the answer of `incident affected`.
type Affected struct {
	Encoding string        `json:"encoding"`
	Header   []string      `json:"header"` // the first row when it holds no number, masked like the rows
	Rows     []AffectedRow `json:"rows"`
	// RosterRows: records read; WithNumbers: of them, holding a number.
	RosterRows  int `json:"roster_rows"`
	WithNumbers int `json:"rows_with_numbers"`
	// NotInRoster: the incident's hashes (seen) no row of the roster has.
	NotInRoster int `json:"incident_hashes_not_in_roster"`
}

// FindAffected reads a roster (CSV, or tab-separated as Excel's "Unicode
// text", in any encoding the detector reads) and returns the rows whose
// numbers' keyed hashes are in the report. The detector must use the
// sensor's hash key.
func FindAffected(rep *Report, roster []byte, det *content.Detector) (*Affected, error) {
	text, enc := content.DecodeText(roster)
	text = strings.TrimPrefix(text, "\uFEFF")
	out := &Affected{Encoding: enc, Rows: []AffectedRow{}}
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = false
	if first, _, _ := strings.Cut(text, "\n"); strings.Count(first, "\t") > strings.Count(first, ",") {
		r.Comma = '\t'
	}
	sets := map[string]map[string]string{"my_number": {}, "corporate_number": {}}
	for _, h := range rep.Hashes.MyNumber {
		sets["my_number"][h] = "seen"
	}
	for _, h := range rep.Hashes.MyNumberPossible {
		sets["my_number"][h] = "possible"
	}
	for _, h := range rep.Hashes.CorporateNumber {
		sets["corporate_number"][h] = "seen"
	}
	for _, h := range rep.Hashes.CorporateNumberPossible {
		sets["corporate_number"][h] = "possible"
	}
	found := map[string]bool{}
	n := 0
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("incident: roster line %d: %v", pe.Line, pe.Err)
			}
			return nil, fmt.Errorf("incident: roster: %w", err)
		}
		line, _ := r.FieldPos(0)
		n++
		cols := make([]string, len(rec))
		status, kind := "", ""
		hasNumber := false
		for i, cell := range rec {
			res := det.Scan([]byte(cell))
			if res.MyNumber.Candidates > 0 || res.CorporateNumber.Candidates > 0 || res.MyNumber.Found() || res.CorporateNumber.Found() {
				hasNumber = true
				cols[i] = maskCell(res)
				for _, k := range []struct {
					name string
					f    *content.Finding
				}{{"my_number", &res.MyNumber}, {"corporate_number", &res.CorporateNumber}} {
					for _, h := range k.f.Hashes {
						if st, ok := sets[k.name][h]; ok {
							if st == "seen" {
								found[h] = true
							}
							if status != "seen" {
								status, kind = st, k.name
							}
						}
					}
				}
				continue
			}
			cols[i] = cell
		}
		if hasNumber {
			out.WithNumbers++
		}
		if n == 1 && !hasNumber {
			out.Header = cols
			continue
		}
		if status != "" {
			out.Rows = append(out.Rows, AffectedRow{Row: line, Status: status, Kind: kind, Columns: cols})
		}
	}
	out.RosterRows = n
	for _, h := range rep.Hashes.MyNumber {
		if !found[h] {
			out.NotInRoster++
		}
	}
	for _, h := range rep.Hashes.CorporateNumber {
		if !found[h] {
			out.NotInRoster++
		}
	}
	return out, nil
}

func maskCell(r content.Result) string {
	switch {
	case r.MyNumber.Found():
		return content.Mask(content.MyNumber)
	case r.CorporateNumber.Found():
		return content.Mask(content.CorporateNumber)
	}
	return "(number masked)"
}
