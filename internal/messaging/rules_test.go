package messaging

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/apperr"
)

func TestCleanText(t *testing.T) {
	tests := []struct {
		name, in, want, code string
	}{
		{"trimmed", "  您好，伤口有点痛 \n", "您好，伤口有点痛", ""},
		{"empty", "", "", "empty_message"},
		{"only spaces", " \t\n ", "", "empty_message"},
		{"exactly at the limit", strings.Repeat("痛", 10), strings.Repeat("痛", 10), ""},
		{"one character over", strings.Repeat("痛", 11), "", "message_too_long"},
		{"invalid utf-8", "ab\xffcd", "", "invalid_text"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cleanText(tc.in, 10)
			if code := codeOf(err); code != tc.code {
				t.Fatalf("cleanText(%q) error code = %q, want %q (err %v)", tc.in, code, tc.code, err)
			}
			if got != tc.want {
				t.Errorf("cleanText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func codeOf(err error) string {
	if e, ok := apperr.As(err); ok {
		return e.Code
	}
	if err != nil {
		return "unclassified"
	}
	return ""
}

func TestCheckRecall(t *testing.T) {
	sent := time.Date(2026, 3, 1, 23, 59, 0, 0, time.UTC)
	me := auth.Actor{Kind: auth.KindUser, ID: "u1"}
	mine := Message{SenderKind: "user", SenderID: "u1", Kind: KindText, CreatedAt: sent}
	recalled := mine
	recalled.RecalledAt = &sent
	tests := []struct {
		name  string
		m     Message
		actor auth.Actor
		at    time.Time
		want  error
	}{
		{"at once", mine, me, sent, nil},
		{"exactly two minutes later", mine, me, sent.Add(RecallWindow), nil},
		{"one second too late", mine, me, sent.Add(RecallWindow + time.Second), ErrRecallWindow},
		{"someone else's", mine, auth.Actor{Kind: auth.KindUser, ID: "u2"}, sent, ErrRecallNotSender},
		{"same id, other kind of actor", mine, auth.Actor{Kind: auth.KindStaff, ID: "u1"}, sent, ErrRecallNotSender},
		{"a recall entry", Message{SenderKind: "user", SenderID: "u1", Kind: KindRecall, CreatedAt: sent}, me, sent, ErrNotRecallable},
		{"already recalled, even late", recalled, me, sent.Add(time.Hour), nil},
	}
	for _, tc := range tests {
		if got := checkRecall(tc.m, tc.actor, tc.at); !errors.Is(got, tc.want) {
			t.Errorf("%s: checkRecall = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestUnreadCount(t *testing.T) {
	at := time.Now()
	msgs := []Message{
		{Seq: 1, SenderID: "patient", Kind: KindText},
		{Seq: 2, SenderID: "cm", Kind: KindText},
		{Seq: 3, SenderID: "cm", Kind: KindNote, Internal: true},
		{Seq: 4, SenderID: "family", Kind: KindImage},
		{Seq: 5, SenderID: "family", Kind: KindText, RecalledAt: &at},
		{Seq: 6, SenderID: "family", Kind: KindRecall},
		{Seq: 7, SenderID: "cm", Kind: KindTransfer},
		{Seq: 8, SenderID: "cm2", Kind: KindNote, Internal: true},
	}
	tests := []struct {
		name     string
		reader   string
		staff    bool
		lastRead int64
		want     int
	}{
		{"patient sees staff text only, never notes", "patient", false, 0, 2},   // 2, 4
		{"patient after reading up to 2", "patient", false, 2, 1},               // 4
		{"cm counts patient side and other staff's notes", "cm", true, 0, 3},    // 1, 4, 8
		{"another cm counts every note but their own", "cm2", true, 0, 4},       // 1, 2, 3, 4
		{"everything read", "cm", true, 8, 0},                                   //
		{"recalled, recall and transfer entries never count", "x", false, 4, 0}, //
	}
	for _, tc := range tests {
		if got := unreadCount(msgs, tc.reader, tc.staff, tc.lastRead); got != tc.want {
			t.Errorf("%s: unreadCount = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestThreadRecordWaitingAndFirstResponse(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	patient := func(min int) Message {
		return Message{SenderKind: "user", Kind: KindText, CreatedAt: t0.Add(time.Duration(min) * time.Minute)}
	}
	staff := func(min int, kind string) Message {
		return Message{SenderKind: "staff", Kind: kind, Internal: kind == KindNote, CreatedAt: t0.Add(time.Duration(min) * time.Minute)}
	}
	var th Thread
	for i, step := range []struct {
		m           Message
		waitingFrom *int // minutes after t0; nil = not waiting
		firstResp   *int
	}{
		{staff(0, KindText), nil, nil}, // a CM writing first is no response to anything
		{patient(1), ptr(1), nil},
		{patient(3), ptr(1), nil},         // still waiting since the first unanswered one
		{staff(5, KindNote), ptr(1), nil}, // a note answers nobody
		{staff(9, KindText), nil, ptr(8)},
		{patient(20), ptr(20), ptr(8)},
		{staff(30, KindImage), nil, ptr(8)}, // the first response stays the first
	} {
		step.m.Seq = int64(i + 1)
		th.record(step.m)
		if got := minutesOf(th.WaitingSince, t0); !same(got, step.waitingFrom) {
			t.Errorf("step %d: waiting since %v, want %v", i, show(got), show(step.waitingFrom))
		}
		if d, ok := th.FirstResponse(); ok != (step.firstResp != nil) || ok && int(d.Minutes()) != *step.firstResp {
			t.Errorf("step %d: first response %v (%v), want %v", i, d, ok, show(step.firstResp))
		}
		if th.LastSeq != step.m.Seq {
			t.Errorf("step %d: LastSeq = %d, want %d", i, th.LastSeq, step.m.Seq)
		}
	}
}

func ptr(i int) *int { return &i }

func minutesOf(at *time.Time, t0 time.Time) *int {
	if at == nil {
		return nil
	}
	m := int(at.Sub(t0).Minutes())
	return &m
}

func same(a, b *int) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

func show(p *int) any {
	if p == nil {
		return "none"
	}
	return *p
}

func TestReplyNoticeDue(t *testing.T) {
	tests := []struct {
		prev, read int64
		want       bool
	}{
		{0, 0, true},  // no notice sent yet
		{5, 7, true},  // the patient read what the last notice was for
		{5, 5, true},  //
		{5, 4, false}, // the last notice's reply is still unread: one notice is enough
	}
	for _, tc := range tests {
		if got := replyNoticeDue(tc.prev, tc.read); got != tc.want {
			t.Errorf("replyNoticeDue(notice %d, read %d) = %v, want %v", tc.prev, tc.read, got, tc.want)
		}
	}
}

func TestInboxOrderAndPages(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	at := func(min int) *time.Time { v := t0.Add(time.Duration(min) * time.Minute); return &v }
	items := []InboxItem{
		{ThreadID: "answered-old", LastMessageAt: at(1)},
		{ThreadID: "waiting-short", WaitingSince: at(50), LastMessageAt: at(50)},
		{ThreadID: "answered-new", LastMessageAt: at(40)},
		{ThreadID: "waiting-long", WaitingSince: at(5), LastMessageAt: at(45)},
		{ThreadID: "waiting-tie-b", WaitingSince: at(30), LastMessageAt: at(30)},
		{ThreadID: "waiting-tie-a", WaitingSince: at(30), LastMessageAt: at(30)},
	}
	want := []string{"waiting-long", "waiting-tie-a", "waiting-tie-b", "waiting-short", "answered-new", "answered-old"}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		page, next, err := pageInbox(append([]InboxItem(nil), items...), cursor, 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page {
			got = append(got, it.ThreadID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("inbox order = %v, want %v", got, want)
	}
	if _, _, err := pageInbox(items, "not-a-cursor!", 4); codeOf(err) != "invalid_cursor" {
		t.Errorf("bad cursor: err = %v, want invalid_cursor", err)
	}
}
