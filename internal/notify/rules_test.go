package notify

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func shanghai(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestTruncateCountsCharacters(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int
		want  string
	}{
		{"您有一条新消息", 20, "您有一条新消息"},
		{"术后康复期第一阶段：出院后居家康复与功能锻炼", 20, "术后康复期第一阶段：出院后居家康复与功…"},
		{"预约提醒服务", 5, "预约提醒…"},
		{"abcdef", 1, "a"},
		{"不截断", 0, "不截断"},
		{"", 5, ""},
		{"😀😀😀😀😀😀", 5, "😀😀😀😀…"},
	} {
		got := Truncate(tc.in, tc.limit)
		if got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
		}
		if tc.limit > 0 && len([]rune(got)) > tc.limit {
			t.Errorf("Truncate(%q, %d) has %d characters", tc.in, tc.limit, len([]rune(got)))
		}
	}
}

func TestQuietHoursAcrossMidnightInShanghai(t *testing.T) {
	loc := shanghai(t)
	q, err := ParseQuietHours("21:30", "08:00", loc)
	if err != nil {
		t.Fatal(err)
	}
	at := func(d, hm string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", d+" "+hm, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name   string
		in     time.Time
		urgent bool
		want   time.Time
	}{
		{"afternoon goes now", at("2026-11-22", "15:01"), false, at("2026-11-22", "15:01")},
		{"just before quiet", at("2026-11-22", "21:29"), false, at("2026-11-22", "21:29")},
		{"start of quiet waits for the morning after", at("2026-11-22", "21:30"), false, at("2026-11-23", "08:00")},
		{"before midnight", at("2026-11-22", "23:59"), false, at("2026-11-23", "08:00")},
		{"after midnight waits for this morning", at("2026-11-23", "00:10"), false, at("2026-11-23", "08:00")},
		{"end of quiet goes now", at("2026-11-23", "08:00"), false, at("2026-11-23", "08:00")},
		{"month end", at("2026-11-30", "22:00"), false, at("2026-12-01", "08:00")},
		{"year end", at("2026-12-31", "23:00"), false, at("2027-01-01", "08:00")},
		{"urgent ignores quiet hours", at("2026-11-22", "23:00"), true, at("2026-11-22", "23:00")},
		// 16:00 UTC is 00:00 in Shanghai: a UTC clock's "day" must not decide.
		{"UTC afternoon is Shanghai night", time.Date(2026, 11, 22, 16, 30, 0, 0, time.UTC), false, at("2026-11-23", "08:00")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := q.SendAt(tc.in, tc.urgent)
			if !got.Equal(tc.want) {
				t.Errorf("SendAt(%v) = %v, want %v", tc.in, got.In(loc), tc.want)
			}
		})
	}
	if got, want := q.NextMorning(at("2026-11-22", "10:00")), at("2026-11-23", "08:00"); !got.Equal(want) {
		t.Errorf("NextMorning = %v, want %v", got, want)
	}
	if got, want := q.DayStart(time.Date(2026, 11, 22, 17, 0, 0, 0, time.UTC)), at("2026-11-23", "00:00"); !got.Equal(want) {
		t.Errorf("DayStart = %v, want %v", got, want)
	}
	day, _ := ParseQuietHours("12:00", "14:00", loc)
	if got, want := day.SendAt(at("2026-11-22", "13:00"), false), at("2026-11-22", "14:00"); !got.Equal(want) {
		t.Errorf("same-day window: %v, want %v", got, want)
	}
}

func TestWithinCapKeepsTheLastSlotForImportantKinds(t *testing.T) {
	for _, tc := range []struct {
		priority, sent, cap int
		urgent              bool
		want                bool
	}{
		{priority: 6, sent: 0, cap: 3, want: true},
		{priority: 6, sent: 1, cap: 3, want: true},
		{priority: 6, sent: 2, cap: 3, want: false}, // the last slot is kept
		{priority: 2, sent: 2, cap: 3, want: true},  // an appointment tomorrow may use it
		{priority: 2, sent: 3, cap: 3, want: false},
		{priority: 1, sent: 9, cap: 3, urgent: true, want: true},
		{priority: 6, sent: 0, cap: 1, want: true}, // a cap of one has no slot to keep
	} {
		if got := WithinCap(tc.priority, tc.urgent, tc.sent, tc.cap); got != tc.want {
			t.Errorf("WithinCap(priority %d, urgent %v, sent %d, cap %d) = %v, want %v", tc.priority, tc.urgent, tc.sent, tc.cap, got, tc.want)
		}
	}
}

func TestSignature(t *testing.T) {
	// sha1 of the sorted strings "1700000000", "nonce", "token" joined.
	got := Signature("token", "1700000000", "nonce")
	if got != "bf37e74fc61ce5974ce58c68e55130b79b2578b9" {
		t.Fatalf("signature %q", got)
	}
	if Signature("token", "1", "2") != Signature("token", "1", "2") || Signature("token", "1", "2") == Signature("token", "1", "3") {
		t.Fatal("signature is not a function of its inputs")
	}
}

func TestShippedRegistryAndItsChecks(t *testing.T) {
	b, err := os.ReadFile("../../configs/notify/templates.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := ParseRegistry(b)
	if err != nil {
		t.Fatalf("shipped registry: %v", err)
	}
	if got := len(reg.Kinds()); got != 7 {
		t.Fatalf("kinds: %v", reg.Kinds())
	}
	stage, _ := reg.Template(KindStageBegins)
	loc := shanghai(t)
	data := stage.Render(Request{At: time.Date(2026, 11, 22, 7, 1, 0, 0, time.UTC),
		Data: map[string]string{"stage_name": "术后康复期第一阶段：出院后居家康复与功能锻炼"}}, loc)
	want := map[string]string{"thing1": "护理计划进入新阶段", "thing2": "术后康复期第一阶段：出院后居家康复与功…", "time3": "2026年11月22日 15:01"}
	for k, v := range want {
		if data[k] != v {
			t.Errorf("%s = %q, want %q", k, data[k], v)
		}
	}
	// Every card opens a page the mini-program has (WeChat refuses others).
	appJSON, err := os.ReadFile("../../miniprogram/app.json")
	if err != nil {
		t.Fatal(err)
	}
	var app struct {
		Pages []string `json:"pages"`
	}
	if err := json.Unmarshal(appJSON, &app); err != nil {
		t.Fatal(err)
	}
	for _, kind := range reg.Kinds() {
		tm, _ := reg.Template(kind)
		page, _, _ := strings.Cut(tm.PageFor("p1"), "?")
		if !slices.Contains(app.Pages, page) {
			t.Errorf("%s opens %q, not a page of the mini-program", kind, page)
		}
	}
	// The reporting reminder opens the report page and says only that a report is due.
	rem, ok := reg.Template(KindReportingReminder)
	if !ok || rem.PageFor("p1") != "pages/report/report?patient=p1" || rem.Priority <= 2 {
		t.Fatalf("reporting_reminder: %+v", rem)
	}
	got := rem.Render(Request{At: time.Date(2026, 11, 22, 17, 0, 0, 0, time.UTC)}, loc)
	if got["thing1"] != "请记得按计划上报健康数据" || got["date2"] != "2026年11月23日" || len(got) != 2 {
		t.Fatalf("reporting_reminder renders %v", got)
	}
	bad := []struct{ name, yaml, want string }{
		{"health field", "from: reading", "not a field a push may show"},
		{"too long", "value: 这是一段超过二十个字符的固定文字内容用于测试长度检查", "longer than 20"},
		{"type prefix", "key: phrase9", "must start with its type"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(string(b), "{key: thing1, type: thing, value: 有新的健康资料可阅读}", "{key: thing1, type: thing, value: 有新的健康资料可阅读}\n      - {key: thing9, type: thing, "+tc.yaml+"}", 1)
			if tc.name == "type prefix" {
				doc = strings.Replace(string(b), "{key: thing1, type: thing, value: 有新的健康资料可阅读}", "{key: phrase9, type: thing, value: 新}", 1)
			}
			_, err := ParseRegistry([]byte(doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
