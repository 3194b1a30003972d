package appointment_test

import (
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/appointment"
	"github.com/carepath/carepath/internal/platform/apperr"
)

func TestDueReminders(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	d := func(day, hour, minute int) time.Time { return time.Date(2026, 3, day, hour, minute, 0, 0, sh) }
	cases := []struct {
		name   string
		start  time.Time
		now    time.Time
		status string
		want   string // slot@Shanghai time, comma-separated
	}{
		{"three days ahead: nothing yet", d(10, 9, 0), d(7, 8, 0), "scheduled", ""},
		{"two days ahead: day-before within the lookahead", d(10, 9, 0), d(8, 6, 0), "scheduled", "day_before@09 18:00"},
		{"day before, morning: both", d(10, 9, 0), d(9, 10, 0), "confirmed", "day_before@09 18:00,morning@10 07:00"},
		{"booked at 20:00 the day before: day-before at once", d(10, 9, 0), d(9, 20, 0), "scheduled", "day_before@09 20:00,morning@10 07:00"},
		{"booked at 23:00 the day before: morning only", d(10, 9, 0), d(9, 23, 0), "scheduled", "morning@10 07:00"},
		{"early appointment: morning two hours before", d(10, 7, 30), d(9, 10, 0), "scheduled", "day_before@09 18:00,morning@10 05:30"},
		{"just after midnight in Shanghai (still the 9th in UTC)", d(10, 9, 0), d(10, 0, 30), "scheduled", "morning@10 07:00"},
		{"within the last hour: nothing", d(10, 9, 0), d(10, 8, 30), "scheduled", ""},
		{"cancelled: nothing", d(10, 9, 0), d(9, 10, 0), "cancelled", ""},
		{"reschedule requested: still reminded", d(10, 9, 0), d(9, 10, 0), "reschedule_requested", "day_before@09 18:00,morning@10 07:00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := appointment.Appointment{ID: "a1", StartsAt: tc.start.UTC(), EndsAt: tc.start.Add(30 * time.Minute).UTC(), Status: tc.status}
			var got []string
			for _, r := range appointment.DueReminders(a, tc.now.UTC(), sh) {
				got = append(got, r.Slot+"@"+r.SendAt.In(sh).Format("02 15:04"))
			}
			if g := strings.Join(got, ","); g != tc.want {
				t.Errorf("got %q, want %q", g, tc.want)
			}
		})
	}
}

func TestCheckTimesAndOverlaps(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	h := func(n int) time.Time { return now.Add(time.Duration(n) * time.Hour) }
	for _, tc := range []struct {
		start, end time.Time
		want       string
	}{
		{h(1), h(2), ""},
		{h(-1), h(1), "appointment_in_past"},
		{h(0), h(1), "appointment_in_past"},
		{h(2), h(1), "ends_before_start"},
		{h(2), h(2), "ends_before_start"},
		{h(1), h(14), "appointment_too_long"},
	} {
		err := appointment.CheckTimes(tc.start, tc.end, now)
		got := ""
		if err != nil {
			got = code(err)
		}
		if got != tc.want {
			t.Errorf("CheckTimes(%s, %s) = %q, want %q", tc.start, tc.end, got, tc.want)
		}
	}
	others := []appointment.Appointment{
		{ID: "a", StartsAt: h(1), EndsAt: h(2), Status: "scheduled"},
		{ID: "b", StartsAt: h(2), EndsAt: h(3), Status: "confirmed"},
		{ID: "c", StartsAt: h(1), EndsAt: h(3), Status: "cancelled"},
	}
	if got := appointment.Overlaps(others, "new", h(1).Add(30*time.Minute), h(2)); len(got) != 1 || got[0].AppointmentID != "a" {
		t.Errorf("overlaps %+v, want only a", got)
	}
	if got := appointment.Overlaps(others, "a", h(1), h(2)); len(got) != 0 {
		t.Errorf("an appointment overlaps itself: %+v", got)
	}
}

func code(err error) string {
	if e, ok := apperr.As(err); ok {
		return e.Code
	}
	return err.Error()
}
