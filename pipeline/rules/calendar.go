package rules

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // time zones also where the system has none (minimal images)
)

// Calendar is the business hours of the site: a time zone, working
// weekdays, opening hours and holidays. Rules with business_hours:
// outside fire only outside them.
type Calendar struct {
	Location   *time.Location
	Weekdays   [7]bool      // by time.Weekday
	Start, End int          // minutes after midnight, local; End may be < Start (night shift)
	Holidays   map[int]bool // by yyyymmdd
}

// NewCalendar builds a calendar from configuration values: an IANA time
// zone ("Asia/Tokyo"), weekday names (mon..sun), "HH:MM" start and end,
// and holidays as YYYY-MM-DD.
func NewCalendar(tz string, weekdays []string, start, end string, holidays []string) (*Calendar, error) {
	c := &Calendar{Holidays: map[int]bool{}}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("timezone %q: %w", tz, err)
	}
	c.Location = loc
	names := map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
		"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}
	for _, w := range weekdays {
		d, ok := names[strings.ToLower(w)[:min(3, len(w))]]
		if !ok {
			return nil, fmt.Errorf("weekday %q: expected mon, tue, wed, thu, fri, sat or sun", w)
		}
		c.Weekdays[d] = true
	}
	if c.Start, err = clock(start); err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	if c.End, err = clock(end); err != nil {
		return nil, fmt.Errorf("end: %w", err)
	}
	for _, h := range holidays {
		d, err := time.Parse("2006-01-02", h)
		if err != nil {
			return nil, fmt.Errorf("holiday %q: expected YYYY-MM-DD", h)
		}
		c.Holidays[dayKey(d)] = true
	}
	return c, nil
}

func clock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("%q: expected HH:MM", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// Inside reports whether t falls in business hours.
func (c *Calendar) Inside(t time.Time) bool {
	l := t.In(c.Location)
	if !c.Weekdays[l.Weekday()] || len(c.Holidays) > 0 && c.Holidays[dayKey(l)] {
		return false
	}
	m := l.Hour()*60 + l.Minute()
	if c.Start <= c.End {
		return m >= c.Start && m < c.End
	}
	return m >= c.Start || m < c.End
}

// DefaultCalendar is the calendar when the configuration sets none:
// Monday to Friday, 08:00 to 19:00 in Tokyo, no holidays.
func DefaultCalendar() *Calendar {
	c, err := NewCalendar("Asia/Tokyo", []string{"mon", "tue", "wed", "thu", "fri"}, "08:00", "19:00", nil)
	if err != nil {
		panic(err) // constant input
	}
	return c
}

func dayKey(t time.Time) int {
	y, m, d := t.Date()
	return y*10000 + int(m)*100 + d
}
