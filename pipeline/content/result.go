package content

import (
	"fmt"
	"math/bits"
)

// encoding is a set of encodings, one bit each.
type encoding uint8

const (
	encASCII encoding = 1 << iota
	encUTF8
	encCP932
	encUTF16LE
	encUTF16BE
)

var encodingNames = [...]string{"ascii", "utf-8", "cp932", "utf-16le", "utf-16be"}

func (e encoding) names() []string {
	out := make([]string, 0, bits.OnesCount8(uint8(e)))
	for i, n := range encodingNames {
		if e&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// layout is a set of the places matches were found in, one bit each.
type layout uint8

const (
	layCSVField layout = 1 << iota // a field of a comma-, tab- or semicolon-separated line
	layLine                        // alone on its line
	layInline                      // anywhere else: running text, a log line
)

var layoutNames = [...]string{"csv-field", "line", "inline"}

func (l layout) names() []string {
	out := make([]string, 0, bits.OnesCount8(uint8(l)))
	for i, n := range layoutNames {
		if l&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// Confidence grades how likely the numbers found are real ones.
type Confidence uint8

const (
	// ConfidenceNone: no number with a valid check digit was found.
	ConfidenceNone Confidence = iota
	// ConfidenceLow: valid check digits and nothing else; about one random 12-digit
	// string in ten passes the check, so alone this is weak.
	ConfidenceLow
	// ConfidenceMedium: valid check digits and one supporting sign: the 4-4-4 or
	// full-width way people write them, several in one column or one per
	// line, or a keyword near numbers that mostly fail the check.
	ConfidenceMedium
	// ConfidenceHigh: valid check digits and a keyword nearby, or at least three
	// numbers laid out as a column or list of which nearly all pass the
	// check (random digits would pass one time in ten).
	ConfidenceHigh
)

var confidenceNames = [...]string{"none", "low", "medium", "high"}

func (c Confidence) String() string {
	if int(c) < len(confidenceNames) {
		return confidenceNames[c]
	}
	return fmt.Sprintf("confidence(%d)", uint8(c))
}

// MarshalText encodes c as its name, e.g. "high".
func (c Confidence) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText decodes a name written by MarshalText.
func (c *Confidence) UnmarshalText(b []byte) error {
	for i, n := range confidenceNames {
		if string(b) == n {
			*c = Confidence(i)
			return nil
		}
	}
	return fmt.Errorf("content: unknown confidence %q", b)
}

// Result is what a scan found. It never holds a number: only counts,
// encodings, layouts, the reasons for the confidence and keyed hashes.
type Result struct {
	MyNumber        Finding `json:"my_number"`
	CorporateNumber Finding `json:"corporate_number"`
	// Encodings lists the encodings matches were found in, in the order
	// ascii, utf-8, cp932, utf-16le, utf-16be.
	Encodings []string `json:"encodings"`
	// Bytes is the number of bytes scanned.
	Bytes int64 `json:"bytes"`
}

// Finding is what was found of one kind of number.
type Finding struct {
	// Distinct counts different numbers. It is exact while at most
	// Config.MaxHashes different numbers were seen; beyond that it is an
	// estimate (HyperLogLog, about 3% standard error) and
	// DistinctEstimated is set.
	Distinct          int  `json:"distinct"`
	DistinctEstimated bool `json:"distinct_estimated,omitempty"`
	// Occurrences counts every match with a valid check digit.
	Occurrences int `json:"occurrences"`
	// Candidates counts every well-formed match, valid check digit or not.
	// Real numbers all pass the check; random digits pass one time in ten.
	Candidates int        `json:"candidates"`
	Confidence Confidence `json:"confidence"`
	// Reasons explain Confidence: "checksum", "keyword",
	// "layout:csv-column", "layout:one-per-line", "separator:4-4-4",
	// "separator:1-4-4-4", "format:full-width", "checksum-ratio:high",
	// "checksum-ratio:low".
	Reasons []string `json:"reasons"`
	// Hashes are the lowercase hex HMAC-SHA256, under Config.HashKey, of
	// the ASCII digits of each distinct number, sorted. At most
	// Config.MaxHashes are kept: those of the numbers whose internal
	// fingerprints are smallest, so the same set of numbers keeps the same
	// subset whatever the order it was seen in. HashesTruncated says some
	// were left out.
	Hashes          []string `json:"hashes"`
	HashesTruncated bool     `json:"hashes_truncated,omitempty"`
	// Encodings lists the encodings of the valid matches ("ascii",
	// "utf-8", "cp932", "utf-16le", "utf-16be"); Layouts where they sat:
	// "csv-field" (between delimiters or line ends), "line" (alone on a
	// line), "inline" (anywhere else).
	Encodings []string `json:"encodings"`
	Layouts   []string `json:"layouts"`
}

// Found reports whether any number with a valid check digit was found.
func (f *Finding) Found() bool { return f.Occurrences > 0 }
