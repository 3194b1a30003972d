package messaging

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/apperr"
)

// The rules of a thread, as plain functions of their inputs and a clock.

// cleanText trims text and checks it is neither empty nor longer than max characters.
func cleanText(text string, max int) (string, error) {
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return "", ErrEmptyText
	case !utf8.ValidString(text):
		return "", apperr.Invalid("text", "invalid_text", "消息不是合法的 UTF-8 文本")
	case utf8.RuneCountInString(text) > max:
		return "", errTooLong(max)
	}
	return text, nil
}

// checkRecall says whether actor may withdraw m at now: only its sender,
// only text, images and notes, only within RecallWindow. A message already
// recalled passes (recalling twice is harmless).
func checkRecall(m Message, actor auth.Actor, now time.Time) error {
	if m.SenderID != actor.ID || m.SenderKind != string(actor.Kind) {
		return ErrRecallNotSender
	}
	if m.Kind != KindText && m.Kind != KindImage && m.Kind != KindNote {
		return ErrNotRecallable
	}
	if m.RecalledAt != nil {
		return nil
	}
	if now.Sub(m.CreatedAt) > RecallWindow {
		return ErrRecallWindow
	}
	return nil
}

// visibleTo says whether a reader sees an entry: internal entries are for staff only.
func visibleTo(m Message, staff bool) bool { return staff || !m.Internal }

// countsAsUnread says whether m adds to reader's unread count: something
// to read (text, image or a note) that the reader can see, did not send and
// that was not withdrawn.
func countsAsUnread(m Message, readerID string, staff bool) bool {
	switch m.Kind {
	case KindText, KindImage, KindNote:
	default:
		return false
	}
	return visibleTo(m, staff) && m.SenderID != readerID && m.RecalledAt == nil
}

// unreadCount counts the entries after lastRead that are unread for the reader.
func unreadCount(msgs []Message, readerID string, staff bool, lastRead int64) int {
	n := 0
	for _, m := range msgs {
		if m.Seq > lastRead && countsAsUnread(m, readerID, staff) {
			n++
		}
	}
	return n
}

// fromPatientSide reports whether a visible message came from the patient or family.
func fromPatientSide(m Message) bool {
	return m.SenderKind == string(auth.KindUser) && (m.Kind == KindText || m.Kind == KindImage)
}

// isStaffReply reports whether m answers the patient: a visible staff text or image.
func isStaffReply(m Message) bool {
	return m.SenderKind == string(auth.KindStaff) && !m.Internal && (m.Kind == KindText || m.Kind == KindImage)
}

// record applies a newly stored entry to the thread's bookkeeping: the
// waiting clock starts at the first unanswered patient or family message and
// stops at the next staff reply; the first such reply is the thread's first
// response. Notes, recalls and transfers change neither.
func (t *Thread) record(m Message) {
	t.LastSeq = m.Seq
	at := m.CreatedAt
	t.LastMessageAt = &at
	switch {
	case fromPatientSide(m):
		if t.WaitingSince == nil {
			t.WaitingSince = &at
		}
		if t.FirstPatientMessageAt == nil {
			t.FirstPatientMessageAt = &at
		}
	case isStaffReply(m):
		t.WaitingSince = nil
		if t.FirstResponseAt == nil && t.FirstPatientMessageAt != nil {
			t.FirstResponseAt = &at
		}
	}
}

// FirstResponse is how long the first patient or family message waited for a staff reply.
func (t Thread) FirstResponse() (time.Duration, bool) {
	if t.FirstPatientMessageAt == nil || t.FirstResponseAt == nil {
		return 0, false
	}
	return t.FirstResponseAt.Sub(*t.FirstPatientMessageAt), true
}

// replyNoticeDue says whether a staff reply to an offline patient should
// ask for a "new message waiting" notification: only when the patient has
// read the reply the last notice was for (or none was sent), so a burst of
// replies spends one notification (and one of the patient's subscription
// credits), not one each.
func replyNoticeDue(lastNoticeSeq, patientLastRead int64) bool {
	return lastNoticeSeq <= patientLastRead
}

// InboxItem is one thread in a case manager's inbox.
type InboxItem struct {
	ThreadID      string
	PatientID     string
	HandlerCMID   string // the assigned CM unless the thread was transferred
	WaitingSince  *time.Time
	LastMessageAt *time.Time
	FirstResponse *time.Duration
	LastSeq       int64
	Unread        int
}

// inboxKey orders the inbox: threads waiting for a reply first, longest
// wait first; then the others, most recent activity first; ties by id.
type inboxKey struct {
	rank int // 0 waiting, 1 answered
	at   int64
	id   string
}

func keyOf(it InboxItem) inboxKey {
	if it.WaitingSince != nil {
		return inboxKey{0, it.WaitingSince.UnixNano(), it.ThreadID}
	}
	var at int64
	if it.LastMessageAt != nil {
		at = -it.LastMessageAt.UnixNano()
	}
	return inboxKey{1, at, it.ThreadID}
}

func (k inboxKey) less(o inboxKey) bool {
	if k.rank != o.rank {
		return k.rank < o.rank
	}
	if k.at != o.at {
		return k.at < o.at
	}
	return k.id < o.id
}

func (k inboxKey) cursor() string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d|%d|%s", k.rank, k.at, k.id)))
}

var errBadInboxCursor = apperr.Invalid("cursor", "invalid_cursor", "分页游标无效")

func parseInboxCursor(s string) (inboxKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return inboxKey{}, errBadInboxCursor
	}
	parts := strings.SplitN(string(b), "|", 3)
	if len(parts) != 3 {
		return inboxKey{}, errBadInboxCursor
	}
	rank, err1 := strconv.Atoi(parts[0])
	at, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil || (rank != 0 && rank != 1) {
		return inboxKey{}, errBadInboxCursor
	}
	return inboxKey{rank, at, parts[2]}, nil
}

// pageInbox sorts items into inbox order and returns the page after cursor
// ("" for the first) with the cursor of the next page ("" when none).
func pageInbox(items []InboxItem, cursor string, limit int) ([]InboxItem, string, error) {
	sort.Slice(items, func(i, j int) bool { return keyOf(items[i]).less(keyOf(items[j])) })
	start := 0
	if cursor != "" {
		after, err := parseInboxCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		start = sort.Search(len(items), func(i int) bool { return after.less(keyOf(items[i])) })
	}
	end := min(start+limit, len(items))
	page := items[start:end]
	next := ""
	if end < len(items) && len(page) > 0 {
		next = keyOf(page[len(page)-1]).cursor()
	}
	return page, next, nil
}
