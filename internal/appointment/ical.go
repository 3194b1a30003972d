package appointment

import (
	"strings"
	"time"
)

// Calendar renders appointments as an iCalendar file (RFC 5545): one VEVENT
// per appointment with times in UTC (the "Z" form, so no VTIMEZONE is
// needed and every calendar shows the right local time), CRLF line ends and
// lines folded at 75 octets without splitting a UTF-8 character.
func Calendar(list []Appointment, stamp time.Time, host string) []byte {
	var b strings.Builder
	line := func(s string) { writeFolded(&b, s) }
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:-//CarePath//Appointments//ZH")
	line("CALSCALE:GREGORIAN")
	line("METHOD:PUBLISH")
	line("X-WR-CALNAME:" + escapeText("我的预约"))
	for _, a := range list {
		line("BEGIN:VEVENT")
		line("UID:" + a.ID + "@" + host)
		line("DTSTAMP:" + icalTime(stamp))
		line("DTSTART:" + icalTime(a.StartsAt))
		line("DTEND:" + icalTime(a.EndsAt))
		line("SUMMARY:" + escapeText(Summary(a)))
		if loc := a.Location; loc != "" {
			line("LOCATION:" + escapeText(loc))
		}
		var desc []string
		if a.Department != "" {
			desc = append(desc, "科室："+a.Department)
		}
		if a.Clinician != "" {
			desc = append(desc, "医生："+a.Clinician)
		}
		if a.Directions != "" {
			desc = append(desc, "路线："+a.Directions)
		}
		if a.Preparation != "" {
			desc = append(desc, "准备："+a.Preparation)
		}
		if len(desc) > 0 {
			line("DESCRIPTION:" + escapeText(strings.Join(desc, "\n")))
		}
		if a.Status == StatusConfirmed {
			line("STATUS:CONFIRMED")
		} else {
			line("STATUS:TENTATIVE")
		}
		line("END:VEVENT")
	}
	line("END:VCALENDAR")
	return []byte(b.String())
}

// Summary is an appointment's one-line title.
func Summary(a Appointment) string {
	if a.Title != "" {
		return a.Title
	}
	return Kinds[a.Kind]
}

func icalTime(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// escapeText escapes a TEXT value (RFC 5545 §3.3.11).
func escapeText(s string) string {
	r := strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`)
	return r.Replace(s)
}

// writeFolded writes one content line, folded so no line exceeds 75 octets
// (continuations begin with a space), ending in CRLF.
func writeFolded(b *strings.Builder, s string) {
	limit := 75
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
		limit = 74 // the leading space counts
	}
	b.WriteString(s)
	b.WriteString("\r\n")
}

func utf8Start(c byte) bool { return c&0xC0 != 0x80 }
