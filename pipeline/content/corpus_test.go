package content

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// A generated corpus with known truth: documents in every encoding and
// layout, numbers planted with valid check digits, and near misses that
// must not count.

type corpusDoc struct {
	name string
	text string
	my   []string // planted individual numbers, one entry per occurrence
	corp []string
}

type planter struct {
	r     *rand.Rand
	ascii bool // only ASCII text, digits and separators
	doc   corpusDoc
	b     strings.Builder
}

func (p *planter) text(s string) { p.b.WriteString(s) }

// number plants a valid number of kind k in a random format.
func (p *planter) number(k Kind) {
	d := genMyNumber(p.r)
	if k == CorporateNumber {
		d = genCorporate(p.r)
	}
	p.numberAs(k, d, p.r.IntN(2) == 0)
}

func (p *planter) numberAs(k Kind, d string, grouped bool) {
	full := !p.ascii && p.r.IntN(3) == 0
	seps := separators
	if p.ascii {
		seps = []rune{'-', ' ', '.'}
	}
	p.text(formatNumber(d, grouped, seps[p.r.IntN(len(seps))], full))
	if k == MyNumber {
		p.doc.my = append(p.doc.my, d)
	} else {
		p.doc.corp = append(p.doc.corp, d)
	}
}

func (p *planter) prose(n int) { p.text(prose(p.r, !p.ascii, n)) }

// nearMiss writes something that looks like a number but is none: it must
// not count as an individual or a corporate number.
func (p *planter) nearMiss() {
	r := p.r
	my := genMyNumber(r)
	switch r.IntN(14) {
	case 0: // a digit before a valid number: 13 digits, not a corporate number
		p.nearMissDigitBefore(my)
	case 1: // a digit after it
		for c := byte('0'); ; c++ {
			if s := my + string(c); !refCheck(CorporateNumber, s) {
				p.text(s)
				return
			}
		}
	case 2: // a 16-digit card number whose first 12 digits pass the check
		p.text(my + fmt.Sprintf("%04d", r.IntN(10000)))
	case 3: // the same in four groups
		p.text(formatCard(my+fmt.Sprintf("%04d", r.IntN(10000)), []string{"-", " "}[r.IntN(2)]))
	case 4: // phone numbers
		p.text([]string{"03-1234-5678", "090-1234-5678", "0120-123-456", "+81-90-1234-5678", "06 1234 5678", "(03) 1234-5678"}[r.IntN(6)])
	case 5: // dates and times
		p.text([]string{"2024-01-15", "2024/01/15 12:30:45", "20240115123045", "2024-01-15T12:30:45.123Z", "1705312345", "12:30:45.123456"}[r.IntN(6)])
	case 6: // a wrong check digit
		p.text(formatNumber(corrupt(MyNumber, my), r.IntN(2) == 0, '-', false))
	case 7:
		p.text(formatNumber(corrupt(CorporateNumber, genCorporate(r)), r.IntN(2) == 0, '-', false))
	case 8: // mixed separators
		p.text(my[:4] + "-" + my[4:8] + " " + my[8:])
	case 9:
		p.text(my[:4] + "." + my[4:8] + "-" + my[8:])
	case 10: // a decimal
		p.text("0." + my)
	case 11: // a group before it
		p.text("12-" + my)
	case 12: // a number in a longer grouped code
		p.text(formatNumber(my, true, '-', false) + "-12")
	case 13: // a full-width digit next to it (ASCII: a digit before it)
		if p.ascii {
			p.nearMissDigitBefore(my)
		} else {
			p.text(my + "\uFF19")
		}
	}
}

func (p *planter) nearMissDigitBefore(my string) {
	for c := byte('1'); ; c++ {
		if s := string(c) + my; !refCheck(CorporateNumber, s) {
			p.text(s)
			return
		}
	}
}

func formatCard(d, sep string) string {
	return d[:4] + sep + d[4:8] + sep + d[8:12] + sep + d[12:]
}

func (p *planter) done(name string) corpusDoc {
	p.doc.name = name
	p.doc.text = p.b.String()
	d := p.doc
	p.doc = corpusDoc{}
	p.b.Reset()
	return d
}

// corpus returns the documents of one encoding: every layout, with near
// misses mixed in, and a document of near misses alone.
func corpus(r *rand.Rand, ascii bool) []corpusDoc {
	p := &planter{r: r, ascii: ascii}
	var docs []corpusDoc
	sep := func() string { return []string{",", "\t", ";"}[r.IntN(3)] }
	// CSV, one row per person, numbers in columns, quoted or not.
	for range 8 {
		d := sep()
		p.text(strings.Join([]string{"id", "name", "my_number", "corporate_number", "note"}, d) + "\r\n")
		for row := range 40 {
			p.text(fmt.Sprint(row) + d + "yamada" + d)
			q := []string{"", "\""}[r.IntN(2)]
			p.text(q)
			p.number(MyNumber)
			p.text(q + d)
			p.number(CorporateNumber)
			p.text(d)
			p.nearMiss()
			p.text("\r\n")
		}
		docs = append(docs, p.done("csv"))
	}
	// One number per line.
	for range 8 {
		for range 50 {
			p.number(Kind(r.IntN(2)))
			p.text("\n")
			if r.IntN(4) == 0 {
				p.nearMiss()
				p.text("\n")
			}
		}
		docs = append(docs, p.done("list"))
	}
	// Prose with numbers and near misses inline.
	for range 8 {
		for range 30 {
			p.prose(r.IntN(200))
			p.text(" ")
			if r.IntN(3) == 0 {
				p.nearMiss()
			} else {
				p.number(Kind(r.IntN(2)))
			}
			p.text(" ")
		}
		docs = append(docs, p.done("prose"))
	}
	// Near misses alone.
	for range 8 {
		for range 100 {
			p.nearMiss()
			p.text([]string{" ", "\n", ", ", " / "}[r.IntN(4)])
			if r.IntN(5) == 0 {
				p.prose(20)
			}
		}
		docs = append(docs, p.done("near-misses"))
	}
	return docs
}

func TestCorpusPrecisionRecall(t *testing.T) {
	d := testDetector(t)
	for enc := range numTestEnc {
		r := rand.New(rand.NewPCG(11, uint64(enc)))
		var tp, fp, fn, docsN [numKinds]int
		for _, doc := range corpus(r, enc == tASCII) {
			in := encodeText(doc.text, enc)
			if enc == tUTF16LE || (enc == tUTF8 && r.IntN(2) == 0) {
				in = append(encodeText("\uFEFF", enc), in...) // BOM, as Windows writes them
			}
			res := d.Scan(in)
			for k, f := range []Finding{res.MyNumber, res.CorporateNumber} {
				planted := doc.my
				if k == int(CorporateNumber) {
					planted = doc.corp
				}
				want := map[string]int{}
				for _, n := range planted {
					want[hmacHex(testKey, n)]++
				}
				found := map[string]bool{}
				for _, h := range f.Hashes {
					found[h] = true
					if want[h] > 0 {
						tp[k]++
					} else {
						fp[k]++
					}
				}
				for h := range want {
					if !found[h] {
						fn[k]++
					}
				}
				if f.Occurrences != len(planted) && fp[k] == 0 {
					t.Errorf("%s %s %v: %d occurrences, %d planted", testEncNames[enc], doc.name, Kind(k), f.Occurrences, len(planted))
				}
				if doc.name == "near-misses" && f.Occurrences != 0 {
					t.Errorf("%s: near misses counted as %d %v", testEncNames[enc], f.Occurrences, Kind(k))
				}
				if f.HashesTruncated {
					t.Fatal("corpus documents must stay within MaxHashes")
				}
				docsN[k]++
			}
		}
		for k := range numKinds {
			precision := float64(tp[k]) / float64(max(tp[k]+fp[k], 1))
			recall := float64(tp[k]) / float64(max(tp[k]+fn[k], 1))
			t.Logf("%-8s %-16v distinct numbers %5d: precision %.4f recall %.4f", testEncNames[enc], Kind(k), tp[k]+fn[k], precision, recall)
			if precision != 1 || recall < 0.99 {
				t.Errorf("%s %v: precision %.4f (want 1), recall %.4f (want >= 0.99)", testEncNames[enc], Kind(k), precision, recall)
			}
			if tp[k]+fn[k] < 500 {
				t.Errorf("%s %v: only %d numbers planted", testEncNames[enc], Kind(k), tp[k]+fn[k])
			}
		}
	}
}
