package schedule

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // time zones on images without /usr/share/zoneinfo

	"github.com/robfig/cron/v3"
)

// parser reads five-field cron expressions, with an optional leading seconds field, and
// descriptors such as @daily; the spec's time zone is applied separately.
var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Timetable is a parsed schedule: when runs are due, in its time zone.
type Timetable struct {
	sched cron.Schedule
	// Location is the schedule's time zone.
	Location *time.Location
}

// Parse reads a cron expression and an IANA time zone (UTC when empty).
func Parse(expr, zone string) (Timetable, error) {
	if strings.HasPrefix(strings.TrimSpace(expr), "CRON_TZ=") || strings.HasPrefix(strings.TrimSpace(expr), "TZ=") {
		return Timetable{}, fmt.Errorf("schedule %q: set the time zone in spec.timeZone, not in the expression", expr)
	}
	loc := time.UTC
	if zone != "" {
		l, err := time.LoadLocation(zone)
		if err != nil {
			return Timetable{}, fmt.Errorf("timeZone %q: %w", zone, err)
		}
		loc = l
	}
	s, err := parser.Parse(expr)
	if err != nil {
		return Timetable{}, fmt.Errorf("schedule %q: %w", expr, err)
	}
	if s.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, loc)).IsZero() {
		return Timetable{}, fmt.Errorf("schedule %q never runs", expr)
	}
	return Timetable{sched: s, Location: loc}, nil
}

// Next returns the first run time strictly after t.
func (tt Timetable) Next(t time.Time) time.Time {
	return tt.sched.Next(t.In(tt.Location))
}

// Period is the time between the next two runs after t: what an alert on "no success
// in 2 × period" needs.
func (tt Timetable) Period(t time.Time) time.Duration {
	n := tt.Next(t)
	return tt.Next(n).Sub(n)
}

// maxSlots bounds the walk from the last run to now, so that an outage under a
// per-second schedule does not cost millions of steps: the walk starts at most this many
// periods before now.
const maxSlots = 1000

// Missed returns the newest run time in (after, now], or the zero time when there is none.
func (tt Timetable) Missed(after, now time.Time) time.Time {
	if p := tt.Period(now); p > 0 {
		if floor := now.Add(-maxSlots * p); after.Before(floor) {
			after = floor
		}
	}
	var last time.Time
	for t := tt.Next(after); !t.IsZero() && !t.After(now); t = tt.Next(t) {
		last = t
	}
	return last
}

// RunName is the deterministic name, and snapshot tag, of a schedule's run due at slot:
// <schedule>-<UTC date>-<UTC time>, as in nightly-20261130-010000.
func RunName(schedule string, slot time.Time) string {
	return schedule + "-" + slot.UTC().Format("20060102-150405")
}
