package config

import (
	"time"
	_ "time/tzdata" // schedules name zones; the static image has no zoneinfo
)

// OpenAt reports whether the recurring window is open at t and, if so, when
// this occurrence ends. Occurrences may cross midnight and week boundaries.
func (w *Schedule) OpenAt(t time.Time) (bool, time.Time) {
	if w.loc == nil {
		return false, time.Time{}
	}
	local := t.In(w.loc)
	// The occurrence that could contain t started on one of the last 8 days.
	for back := 0; back <= 7; back++ {
		day := local.AddDate(0, 0, -back)
		if day.Weekday() != w.weekday {
			continue
		}
		start := time.Date(day.Year(), day.Month(), day.Day(), w.startMin/60, w.startMin%60, 0, 0, w.loc)
		end := start.Add(time.Duration(w.Duration))
		if !t.Before(start) && t.Before(end) {
			return true, end
		}
	}
	return false, time.Time{}
}

// LastEnd returns the end of the latest occurrence that ended at or before
// t, looking back up to 8 days; zero if none (or the schedule is invalid).
func (w *Schedule) LastEnd(t time.Time) time.Time {
	if w.loc == nil {
		return time.Time{}
	}
	local := t.In(w.loc)
	for back := 0; back <= 8; back++ {
		day := local.AddDate(0, 0, -back)
		if day.Weekday() != w.weekday {
			continue
		}
		start := time.Date(day.Year(), day.Month(), day.Day(), w.startMin/60, w.startMin%60, 0, 0, w.loc)
		if end := start.Add(time.Duration(w.Duration)); !end.After(t) {
			return end
		}
	}
	return time.Time{}
}
