package incident

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/bansho-sec/bansho/internal/store"
	"github.com/bansho-sec/bansho/pipeline/content"
)

// healthMargin: health documents this far outside the time range are
// read too, to tell what was lost inside it.
const healthMargin = 10 * time.Minute

// ReadStore adds the events and alerts of a store in the analyzer's time
// range. Records missing from a stream's sequence inside the range
// (removed by retention or unreadable) are reported as not known.
func (a *Analyzer) ReadStore(s *store.Store, name string) error {
	var since, until int64
	if !a.opt.Since.IsZero() {
		since = a.opt.Since.Add(-healthMargin).UnixNano()
	}
	if !a.opt.Until.IsZero() {
		until = a.opt.Until.Add(healthMargin).UnixNano()
	}
	for _, stream := range []string{store.StreamEvents, store.StreamAlerts} {
		var prev uint64
		var gaps int64
		err := s.Scan(store.Query{Stream: stream, Since: since, Until: until}, func(r store.Record) error {
			if prev != 0 && r.Seq > prev+1 {
				gaps += int64(r.Seq - prev - 1)
			}
			prev = r.Seq
			a.AddJSON(r.Doc)
			return nil
		})
		if err != nil {
			return err
		}
		a.Note(Unknown{Kind: "store-records-missing", Count: gaps,
			Detail: fmt.Sprintf("records of stream %s missing from %s inside the window (damaged, or removed by retention): `bansho store verify` names them", stream, name)})
	}
	return nil
}

// ReadJSONLines adds documents from ECS JSON lines (`bansho store dump`,
// the file output, an export from Kafka or Elasticsearch). Elasticsearch
// search hits ({"_source": {...}}) are unwrapped.
func (a *Analyzer) ReadJSONLines(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), store.MaxDocument)
	for sc.Scan() {
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		if src := hitSource(line); src != nil {
			line = src
		}
		a.AddJSON(line)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("a line is longer than %d bytes", store.MaxDocument)
		}
		return err
	}
	return nil
}

func hitSource(line []byte) []byte {
	if !strings.Contains(string(line[:min(len(line), 64)]), `"_source"`) {
		return nil
	}
	var hit struct {
		Source json.RawMessage `json:"_source"`
	}
	if json.Unmarshal(line, &hit) != nil || len(hit.Source) == 0 {
		return nil
	}
	return hit.Source
}

// LoadAtRest reads `bansho scan --format json` output: the whole-file
// counts and hashes of protected files.
func LoadAtRest(r io.Reader, from string, into map[string]*AtRest) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var v struct {
			Path            string  `json:"path"`
			MyNumber        Finding `json:"my_number"`
			CorporateNumber Finding `json:"corporate_number"`
		}
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return err
		}
		if v.Path == "" {
			continue
		}
		into[v.Path] = &AtRest{Persons: v.MyNumber.Distinct, CorporateNumbers: v.CorporateNumber.Distinct,
			Truncated: v.MyNumber.Distinct > len(v.MyNumber.Hashes) || v.CorporateNumber.Distinct > len(v.CorporateNumber.Hashes),
			From:      from, hashes: v.MyNumber.Hashes, corp: v.CorporateNumber.Hashes}
	}
	return sc.Err()
}

// ScanSources scans, now, the protected files the report found that are
// on this machine (the report's host), for their whole content. Files
// larger than maxBytes are left out.
func ScanSources(rep *Report, det *content.Detector, maxBytes int64, into map[string]*AtRest, now time.Time) []string {
	var notes []string
	host, _ := os.Hostname()
	for _, s := range rep.Sources {
		if s.Host != "" && host != "" && s.Host != host {
			continue
		}
		if _, ok := into[s.Path]; ok {
			continue
		}
		f, err := os.Open(s.Path)
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s: %v", s.Path, err))
			continue
		}
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() || st.Size() > maxBytes {
			f.Close()
			notes = append(notes, fmt.Sprintf("%s: not a regular file of at most %d bytes", s.Path, maxBytes))
			continue
		}
		stream := det.NewStream()
		_, err = io.Copy(stream, f)
		f.Close()
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s: %v", s.Path, err))
			continue
		}
		r := stream.Result()
		into[s.Path] = &AtRest{Persons: r.MyNumber.Distinct, CorporateNumbers: r.CorporateNumber.Distinct,
			Truncated: r.MyNumber.HashesTruncated || r.CorporateNumber.HashesTruncated,
			From:      "scanned at report time " + now.UTC().Format(time.RFC3339) + " (modified " + st.ModTime().UTC().Format(time.RFC3339) + ")",
			hashes:    r.MyNumber.Hashes, corp: r.CorporateNumber.Hashes}
	}
	return notes
}

// SetAtRest replaces what is known of the sources at rest (Report can be
// made again).
func (a *Analyzer) SetAtRest(m map[string]*AtRest) { a.opt.AtRest = m }
