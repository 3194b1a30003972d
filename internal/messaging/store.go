package messaging

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/fieldcrypt"
)

// Store reads and writes threads, messages, read positions and quick replies.
type Store struct {
	db     *gorm.DB
	sealer Sealer
}

// Sealer encrypts message text at rest (fieldcrypt).
type Sealer interface {
	Seal(plaintext string) (string, error)
	Open(sealed string) (string, error)
}

// NewStore returns a Store over db.
func NewStore(db *gorm.DB) *Store { return &Store{db: db} }

// Sealed returns a store that seals the text of new messages and opens
// sealed text on read; rows written unsealed (before migration 0009, or
// by a store without a sealer) are read as they are.
func (s *Store) Sealed(sealer Sealer) *Store { return &Store{db: s.db, sealer: sealer} }

// opened returns ms with their text opened.
func (s *Store) opened(ms []Message) ([]Message, error) {
	for i := range ms {
		if err := fieldcrypt.OpenFields(s.sealer, &ms[i].BodySealed, &ms[i].Body); err != nil {
			return nil, fmt.Errorf("open message %s: %w", ms[i].ID, err)
		}
	}
	return ms, nil
}

func (s *Store) openOne(m Message) (Message, error) {
	ms, err := s.opened([]Message{m})
	if err != nil {
		return Message{}, err
	}
	return ms[0], nil
}

// Reseal seals the text of up to batch messages written in the clear
// (before migration 0010) and returns how many it sealed; 0 means done.
func (s *Store) Reseal(ctx context.Context, batch int) (int, error) {
	if s.sealer == nil {
		return 0, errors.New("messaging: reseal needs a sealer")
	}
	return database.Reseal(ctx, s.db, database.Sealed{Table: "thread_messages", Flag: "body_sealed",
		Columns: []string{"body"}}, s.sealer.Seal, batch)
}

// errDuplicate means the unique (thread, sender, client_msg_id) index
// refused an insert: the message was stored by an earlier attempt.
var errDuplicate = errors.New("messaging: duplicate client message id")

// EnsureThread returns the patient's thread, creating it on first use. It
// reads first: the thread exists after its first use, and an insert that
// does nothing still costs a write on every read of the thread.
func (s *Store) EnsureThread(ctx context.Context, patientID string, now time.Time) (Thread, error) {
	if t, err := s.ThreadOf(ctx, patientID); !errors.Is(err, ErrThreadNotFound) {
		return t, err
	}
	t := Thread{ID: database.NewID(), PatientID: patientID, CreatedAt: now, UpdatedAt: now}
	if err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&t).Error; err != nil {
		return Thread{}, fmt.Errorf("create thread: %w", err)
	}
	return s.ThreadOf(ctx, patientID)
}

// ThreadOf returns the patient's thread.
func (s *Store) ThreadOf(ctx context.Context, patientID string) (Thread, error) {
	var t Thread
	err := s.db.WithContext(ctx).Where("patient_id = ?", patientID).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Thread{}, ErrThreadNotFound
	}
	if err != nil {
		return Thread{}, fmt.Errorf("load thread: %w", err)
	}
	return t, nil
}

// ByClientID returns the message a sender already stored with clientMsgID.
func (s *Store) ByClientID(ctx context.Context, threadID, senderID, clientMsgID string) (Message, bool, error) {
	var m Message
	err := s.db.WithContext(ctx).Where("thread_id = ? AND sender_id = ? AND client_msg_id = ?", threadID, senderID, clientMsgID).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Message{}, false, nil
	}
	if err != nil {
		return Message{}, false, fmt.Errorf("load message by client id: %w", err)
	}
	m, err = s.openOne(m)
	return m, err == nil, err
}

// ByID returns one message.
func (s *Store) ByID(ctx context.Context, id string) (Message, error) {
	var m Message
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Message{}, ErrMessageNotFound
	}
	if err != nil {
		return Message{}, fmt.Errorf("load message: %w", err)
	}
	return s.openOne(m)
}

// AppendFunc runs inside Append's transaction after the entry is stored and
// the thread's bookkeeping applied, to write what must commit with it.
type AppendFunc func(tx *gorm.DB, t *Thread, m Message) error

// Append stores m as the thread's next entry: in one transaction it takes
// the next sequence number (the UPDATE locks the thread row, so concurrent
// senders queue), inserts the entry, updates the thread and runs also.
// A duplicate client message id returns errDuplicate and stores nothing.
func (s *Store) Append(ctx context.Context, threadID string, m *Message, also AppendFunc) (Thread, error) {
	var t Thread
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Thread{}).Where("id = ?", threadID).
			Updates(map[string]any{"last_seq": gorm.Expr("last_seq + 1"), "updated_at": m.CreatedAt})
		if res.Error != nil {
			return fmt.Errorf("next seq: %w", res.Error)
		}
		if res.RowsAffected != 1 {
			return ErrThreadNotFound
		}
		if err := tx.Where("id = ?", threadID).Take(&t).Error; err != nil {
			return fmt.Errorf("load thread: %w", err)
		}
		m.ID, m.ThreadID, m.Seq = database.NewID(), threadID, t.LastSeq
		row := *m
		if s.sealer != nil && row.Body != "" {
			sealed, err := s.sealer.Seal(row.Body)
			if err != nil {
				return fmt.Errorf("seal message: %w", err)
			}
			row.Body, row.BodySealed = sealed, true
		}
		if err := tx.Create(&row).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return errDuplicate
			}
			return fmt.Errorf("insert message: %w", err)
		}
		t.record(*m)
		if also != nil {
			if err := also(tx, &t, *m); err != nil {
				return err
			}
		}
		return tx.Model(&Thread{}).Where("id = ?", threadID).Updates(map[string]any{
			"last_message_at": t.LastMessageAt, "waiting_since": t.WaitingSince, "handler_cm_id": t.HandlerCMID,
			"first_patient_message_at": t.FirstPatientMessageAt, "first_response_at": t.FirstResponseAt, "notified_seq": t.NotifiedSeq,
		}).Error
	})
	return t, err
}

// Withdraw marks m recalled and clears its content, inside tx.
func withdraw(tx *gorm.DB, id string, at time.Time) error {
	return tx.Model(&Message{}).Where("id = ? AND recalled_at IS NULL", id).
		Updates(map[string]any{"recalled_at": at, "body": "", "blob_key": "", "blob_type": "", "blob_size": 0}).Error
}

// Page asks for a slice of a thread by sequence number.
type Page struct {
	Forward bool // entries with seq > After, oldest first (catch-up and polling)
	After   int64
	Before  int64 // backward: entries with seq < Before, newest first; 0 = from the newest
	Limit   int
	Staff   bool // staff also see internal entries
}

// List returns a page of a thread's entries.
func (s *Store) List(ctx context.Context, threadID string, p Page) ([]Message, error) {
	if p.Forward {
		return s.Since(ctx, threadID, p.After, p.Staff, p.Limit)
	}
	db := s.db.WithContext(ctx).Where("thread_id = ?", threadID)
	if !p.Staff {
		db = db.Where("internal = ?", false)
	}
	if p.Before > 0 {
		db = db.Where("seq < ?", p.Before)
	}
	out, err := scanMessages(db.Order("seq DESC").Limit(p.Limit))
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	return s.opened(out)
}

// Since returns the entries after seq, oldest first, up to limit.
func (s *Store) Since(ctx context.Context, threadID string, after int64, staff bool, limit int) ([]Message, error) {
	db := s.db.WithContext(ctx).Where("thread_id = ? AND seq > ?", threadID, after)
	if !staff {
		db = db.Where("internal = ?", false)
	}
	out, err := scanMessages(db.Order("seq ASC").Limit(limit))
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	return s.opened(out)
}

// messageColumns are Message's columns in scanMessages' order.
const messageColumns = "id, thread_id, seq, sender_kind, sender_id, sender_role, client_msg_id, kind, body, " +
	"blob_key, blob_type, blob_size, ref_id, internal, body_sealed, recalled_at, created_at"

// scanMessages runs a page query and scans its rows field by field: a
// catch-up page is 200 rows, and gorm's reflective scan cost more CPU than
// the rest of the request.
func scanMessages(db *gorm.DB) ([]Message, error) {
	return database.ScanAll(db.Model(&Message{}), messageColumns, func(m *Message) []any {
		return []any{&m.ID, &m.ThreadID, &m.Seq, &m.SenderKind, &m.SenderID, &m.SenderRole, &m.ClientMsgID, &m.Kind, &m.Body,
			&m.BlobKey, &m.BlobType, &m.BlobSize, &m.RefID, &m.Internal, &m.BodySealed, &m.RecalledAt, &m.CreatedAt}
	})
}

// Reads returns every read position of a thread.
func (s *Store) Reads(ctx context.Context, threadID string) ([]Read, error) {
	var out []Read
	if err := s.db.WithContext(ctx).Where("thread_id = ?", threadID).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("load read positions: %w", err)
	}
	return out, nil
}

// MarkRead moves a reader's position forward to seq (never back) and returns the position.
func (s *Store) MarkRead(ctx context.Context, threadID, readerID, readerKind string, seq int64, now time.Time) (Read, error) {
	r := Read{ThreadID: threadID, ReaderID: readerID, ReaderKind: readerKind, LastReadSeq: seq, ReadAt: now}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&r).Error; err != nil {
			return err
		}
		if err := tx.Model(&Read{}).Where("thread_id = ? AND reader_id = ? AND last_read_seq < ?", threadID, readerID, seq).
			Updates(map[string]any{"last_read_seq": seq, "read_at": now}).Error; err != nil {
			return err
		}
		return tx.Where("thread_id = ? AND reader_id = ?", threadID, readerID).Take(&r).Error
	})
	if err != nil {
		return Read{}, fmt.Errorf("mark read: %w", err)
	}
	return r, nil
}

// readOf returns a reader's position inside tx (0 when they never read).
func readOf(tx *gorm.DB, threadID, readerID string) (int64, error) {
	var got []int64
	err := tx.Model(&Read{}).Where("thread_id = ? AND reader_id = ?", threadID, readerID).Pluck("last_read_seq", &got).Error
	if err != nil || len(got) == 0 {
		return 0, err
	}
	return got[0], nil
}

// readsOf returns a reader's positions in several threads.
func (s *Store) readsOf(ctx context.Context, threadIDs []string, readerID string) (map[string]int64, error) {
	out := map[string]int64{}
	if len(threadIDs) == 0 {
		return out, nil
	}
	var rows []Read
	if err := s.db.WithContext(ctx).Where("thread_id IN ? AND reader_id = ?", threadIDs, readerID).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("load read positions: %w", err)
	}
	for _, r := range rows {
		out[r.ThreadID] = r.LastReadSeq
	}
	return out, nil
}

// unreadCandidates returns, per thread, the entries after the reader's
// position that could count as unread; countsAsUnread decides. At most
// 1000 are read per call: a badge shows "99+" long before that.
func (s *Store) unreadCandidates(ctx context.Context, threadIDs []string, readerID string) (map[string][]Message, error) {
	out := map[string][]Message{}
	if len(threadIDs) == 0 {
		return out, nil
	}
	var rows []Message
	err := s.db.WithContext(ctx).Model(&Message{}).
		Select("thread_messages.thread_id, thread_messages.seq, thread_messages.sender_id, thread_messages.sender_kind, thread_messages.kind, thread_messages.internal, thread_messages.recalled_at").
		Joins("LEFT JOIN thread_reads r ON r.thread_id = thread_messages.thread_id AND r.reader_id = ?", readerID).
		Where("thread_messages.thread_id IN ? AND thread_messages.seq > COALESCE(r.last_read_seq, 0)", threadIDs).
		Where("thread_messages.kind IN ? AND thread_messages.recalled_at IS NULL AND thread_messages.sender_id <> ?",
			[]string{KindText, KindImage, KindNote}, readerID).
		Limit(1000).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("unread messages: %w", err)
	}
	for _, m := range rows {
		out[m.ThreadID] = append(out[m.ThreadID], m)
	}
	return out, nil
}

// unreadOfPatient is readerID's unread candidates in the patient's thread,
// in one statement (none when the thread was never used).
func (s *Store) unreadOfPatient(ctx context.Context, patientID, readerID string) ([]Message, error) {
	var rows []Message
	err := s.db.WithContext(ctx).Model(&Message{}).
		Select("thread_messages.thread_id, thread_messages.seq, thread_messages.sender_id, thread_messages.sender_kind, thread_messages.kind, thread_messages.internal, thread_messages.recalled_at").
		Joins("JOIN message_threads t ON t.id = thread_messages.thread_id AND t.patient_id = ?", patientID).
		Joins("LEFT JOIN thread_reads r ON r.thread_id = thread_messages.thread_id AND r.reader_id = ?", readerID).
		Where("thread_messages.seq > COALESCE(r.last_read_seq, 0)").
		Where("thread_messages.kind IN ? AND thread_messages.recalled_at IS NULL AND thread_messages.sender_id <> ?",
			[]string{KindText, KindImage, KindNote}, readerID).
		Limit(1000).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("unread messages: %w", err)
	}
	return rows, nil
}

// inboxRow is a thread joined with its patient's assignment.
type inboxRow struct {
	Thread
	AssignedCMID *string `gorm:"column:assigned_cm_id"`
}

// inbox returns the threads of the patients scope allows, at most 2000
// (a department's worth); the caller orders and pages them.
func (s *Store) inbox(ctx context.Context, scope func(*gorm.DB) *gorm.DB) ([]inboxRow, error) {
	var rows []inboxRow
	err := s.db.WithContext(ctx).Table("message_threads").
		Select("message_threads.*, patients.assigned_cm_id").
		Joins("JOIN patients ON patients.id = message_threads.patient_id").
		Scopes(scope).Where("message_threads.last_seq > 0").
		Limit(2000).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("load inbox: %w", err)
	}
	return rows, nil
}

// QuickReplies lists a staff member's own templates and the hospital's shared ones.
func (s *Store) QuickReplies(ctx context.Context, hospitalID, staffID string) ([]QuickReply, error) {
	var out []QuickReply
	err := s.db.WithContext(ctx).Where("hospital_id = ? AND (owner_staff_id IS NULL OR owner_staff_id = ?)", hospitalID, staffID).
		Order("owner_staff_id IS NULL, title, id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list quick replies: %w", err)
	}
	return out, nil
}

// QuickReply returns one template, if hospitalID's staff member staffID may use it.
func (s *Store) QuickReply(ctx context.Context, id, hospitalID, staffID string) (QuickReply, error) {
	var q QuickReply
	err := s.db.WithContext(ctx).Where("id = ? AND hospital_id = ? AND (owner_staff_id IS NULL OR owner_staff_id = ?)", id, hospitalID, staffID).Take(&q).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return QuickReply{}, ErrQuickReplyNotFound
	}
	if err != nil {
		return QuickReply{}, fmt.Errorf("load quick reply: %w", err)
	}
	return q, nil
}

// CreateQuickReply inserts q.
func (s *Store) CreateQuickReply(ctx context.Context, q *QuickReply) error {
	q.ID = database.NewID()
	if err := s.db.WithContext(ctx).Create(q).Error; err != nil {
		return fmt.Errorf("create quick reply: %w", err)
	}
	return nil
}

// DeleteQuickReply removes a template; shared ones only when shared is true.
func (s *Store) DeleteQuickReply(ctx context.Context, id, hospitalID, staffID string, shared bool) error {
	db := s.db.WithContext(ctx).Where("id = ? AND hospital_id = ?", id, hospitalID)
	if shared {
		db = db.Where("(owner_staff_id IS NULL OR owner_staff_id = ?)", staffID)
	} else {
		db = db.Where("owner_staff_id = ?", staffID)
	}
	res := db.Delete(&QuickReply{})
	if res.Error != nil {
		return fmt.Errorf("delete quick reply: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrQuickReplyNotFound
	}
	return nil
}
