package messaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/blob"
	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/outbox"
	"github.com/carepath/carepath/internal/platform/queue"
	"github.com/carepath/carepath/internal/platform/wx"
)

// TopicReplyWaiting is the outbox topic written when staff reply to a
// patient who has no live connection. The notification pipeline turns it
// into a subscription message that says only that a message is waiting.
const TopicReplyWaiting = "messaging.reply_waiting"

// ReplyWaiting is the payload of TopicReplyWaiting. It carries ids only:
// no message text ever reaches a lock screen.
type ReplyWaiting struct {
	PatientID string    `json:"patient_id"`
	UserID    string    `json:"user_id"` // the patient's WeChat user, to notify
	ThreadID  string    `json:"thread_id"`
	MessageID string    `json:"message_id"`
	Seq       int64     `json:"seq"`
	At        time.Time `json:"at"`
}

// Config tunes the service.
type Config struct {
	ContentCheck  bool
	MaxTextLength int
	MaxImageBytes int64
	URLTTL        time.Duration
}

// TextChecker is WeChat content security.
type TextChecker interface {
	CheckText(ctx context.Context, openID string, scene int, content string) (wx.TextVerdict, error)
}

// Accounts loads staff and users (the auth store).
type Accounts interface {
	StaffByID(ctx context.Context, id string) (auth.Staff, error)
	UserByID(ctx context.Context, id string) (auth.User, error)
}

// Patients is what messaging needs of patient records (the patient feature).
type Patients interface {
	Name(ctx context.Context, patientID string) (string, error)
	SetCoveringCM(ctx context.Context, patientID, staffID string) error
}

// Service holds the rules of sending, reading, recalling and transferring.
type Service struct {
	store    *Store
	policy   *access.Policy
	blobs    blob.Store
	checker  TextChecker
	accounts Accounts
	patients Patients
	hub      *Hub
	cfg      Config
	now      func() time.Time
	log      *slog.Logger
}

// Deps are the service's collaborators.
type Deps struct {
	Store    *Store
	Policy   *access.Policy
	Blobs    blob.Store
	Checker  TextChecker
	Accounts Accounts
	Patients Patients
	Hub      *Hub
	Now      func() time.Time
	Log      *slog.Logger
}

// NewService builds the service.
func NewService(d Deps, cfg Config) *Service {
	return &Service{store: d.Store, policy: d.Policy, blobs: d.Blobs, checker: d.Checker, accounts: d.Accounts,
		patients: d.Patients, hub: d.Hub, cfg: cfg, now: d.Now, log: d.Log}
}

// Store returns the store (the demo seed writes through it).
func (s *Service) Store() *Store { return s.store }

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Draft is a message to send.
type Draft struct {
	ClientMsgID  string
	Kind         string // text (default), note, or image
	Text         string
	QuickReplyID string // staff: send this template's text
	Image        []byte
}

var clientMsgIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// wholeImage reports whether b is an image of type ct through and through:
// the sniffed header is not enough (a PNG header can front an executable or
// an HTML page), so PNG, JPEG and GIF are decoded in full, after a check of
// their dimensions against decompression bombs. WebP, which the standard
// library cannot decode, must at least be a well-formed RIFF WEBP container.
func wholeImage(ct string, b []byte) bool {
	if ct == "image/webp" {
		return len(b) >= 16 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP" &&
			int(binary.LittleEndian.Uint32(b[4:8])) == len(b)-8
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width < 1 || cfg.Height < 1 || cfg.Width*cfg.Height > 50_000_000 {
		return false
	}
	_, _, err = image.Decode(bytes.NewReader(b))
	return err == nil
}

var imageTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/webp": true, "image/gif": true}

func senderRole(a auth.Actor, g access.Grant) string {
	switch g.Relation {
	case access.RelationSelf:
		return RolePatient
	case access.RelationFamily:
		return RoleFamily
	default:
		return string(a.Role)
	}
}

// prepare validates a draft into the entry to store.
func (s *Service) prepare(ctx context.Context, a auth.Actor, g access.Grant, d Draft) (Message, error) {
	if !clientMsgIDPattern.MatchString(d.ClientMsgID) {
		return Message{}, apperr.Invalid("client_msg_id", "invalid_client_msg_id",
			"client_msg_id 必填，1 到 64 个字符（字母、数字或 _ . : -），同一条消息重试时保持不变")
	}
	staff := a.Kind == auth.KindStaff
	if d.Kind == "" {
		d.Kind = KindText
	}
	m := Message{SenderKind: string(a.Kind), SenderID: a.ID, SenderRole: senderRole(a, g), Kind: d.Kind,
		ClientMsgID: &d.ClientMsgID, CreatedAt: s.clock()}
	switch d.Kind {
	case KindText, KindNote:
		if d.Kind == KindNote && !staff {
			return Message{}, ErrNotesStaffOnly
		}
		m.Internal = d.Kind == KindNote
		if d.QuickReplyID != "" {
			if !staff {
				return Message{}, ErrStaffOnly
			}
			q, err := s.store.QuickReply(ctx, d.QuickReplyID, a.HospitalID, a.ID)
			if err != nil {
				return Message{}, err
			}
			if d.Text == "" {
				d.Text = q.Body
			}
		}
		text, err := cleanText(d.Text, s.cfg.MaxTextLength)
		if err != nil {
			return Message{}, err
		}
		m.Body = text
	case KindImage:
		if len(d.Image) == 0 {
			return Message{}, ErrNoFile
		}
		if int64(len(d.Image)) > s.cfg.MaxImageBytes {
			return Message{}, errImageTooLarge(s.cfg.MaxImageBytes)
		}
		ct := http.DetectContentType(d.Image)
		if !imageTypes[ct] || !wholeImage(ct, d.Image) {
			return Message{}, ErrImageType
		}
		m.BlobType, m.BlobSize = ct, int64(len(d.Image))
	default:
		return Message{}, apperr.Invalid("kind", "invalid_kind", "kind 必须是 text、note 或 image")
	}
	return m, nil
}

// sameDraft reports whether a retry carries the message already stored.
func sameDraft(stored, m Message) bool {
	if stored.Kind != m.Kind {
		return false
	}
	if m.Kind == KindImage {
		return stored.BlobSize == m.BlobSize || stored.RecalledAt != nil
	}
	return stored.Body == m.Body || stored.RecalledAt != nil
}

// Send stores a message exactly once per client message id and delivers
// it. created is false when an earlier attempt had already stored it (the
// stored message is returned, as it was first answered). A message is
// either committed with its sequence number, or rejected and not stored.
func (s *Service) Send(ctx context.Context, a auth.Actor, g access.Grant, d Draft) (_ MessageView, created bool, _ error) {
	m, err := s.prepare(ctx, a, g, d)
	if err != nil {
		return MessageView{}, false, err
	}
	thread, err := s.store.EnsureThread(ctx, g.PatientID, m.CreatedAt)
	if err != nil {
		return MessageView{}, false, err
	}
	if replay, done, err := s.replay(ctx, thread, m); done || err != nil {
		return replay, false, err
	}
	if m.Kind == KindText && a.Kind == auth.KindUser && s.cfg.ContentCheck {
		if err := s.checkText(ctx, a, m.Body); err != nil {
			return MessageView{}, false, err
		}
	}
	if m.Kind == KindImage {
		m.BlobKey = database.NewID()
		if err := s.blobs.Put(ctx, m.BlobKey, bytes.NewReader(d.Image), m.BlobSize, m.BlobType); err != nil {
			return MessageView{}, false, apperr.Unavailable("storage", err)
		}
	}
	also, err := s.replyNotice(ctx, g.PatientID, m)
	if err != nil {
		return MessageView{}, false, err
	}
	thread, err = s.store.Append(ctx, thread.ID, &m, also)
	if errors.Is(err, errDuplicate) {
		s.dropBlob(m.BlobKey)
		replay, _, err := s.replay(ctx, thread, m)
		return replay, false, err
	}
	if err != nil {
		s.dropBlob(m.BlobKey)
		return MessageView{}, false, err
	}
	v := s.view(ctx, g.PatientID, m, &staffNames{accounts: s.accounts})
	s.deliver(ctx, thread, v)
	return v, true, nil
}

// replay finds the message an earlier attempt stored under the same client id.
func (s *Service) replay(ctx context.Context, t Thread, m Message) (MessageView, bool, error) {
	stored, ok, err := s.store.ByClientID(ctx, t.ID, m.SenderID, *m.ClientMsgID)
	if err != nil || !ok {
		return MessageView{}, false, err
	}
	if !sameDraft(stored, m) {
		return MessageView{}, true, ErrClientMsgIDReused
	}
	return s.view(ctx, t.PatientID, stored, &staffNames{accounts: s.accounts}), true, nil
}

func (s *Service) dropBlob(key string) {
	if key == "" {
		return
	}
	if err := s.blobs.Delete(context.Background(), key); err != nil {
		s.log.Warn("delete unused image", "key", key, "error", err.Error())
	}
}

// checkText asks WeChat about a patient's or relative's text.
func (s *Service) checkText(ctx context.Context, a auth.Actor, text string) error {
	u, err := s.accounts.UserByID(ctx, a.ID)
	if err != nil {
		return fmt.Errorf("load sender: %w", err)
	}
	if u.OpenID == nil {
		return ErrContentCheckFailed
	}
	verdict, err := s.checker.CheckText(ctx, *u.OpenID, wx.SceneComment, text)
	switch {
	case errors.Is(err, wx.ErrOpenIDInactive), errors.Is(err, wx.ErrBadOpenID):
		return ErrContentCheckFailed
	case err != nil:
		return apperr.Unavailable("wechat", err)
	case verdict == wx.TextRisky:
		return ErrBlocked
	}
	// "review" passes: the reader is a clinician, a person who looks.
	return nil
}

// ErrContentCheckFailed means WeChat would not check the sender's text.
var ErrContentCheckFailed = apperr.New(apperr.KindUnprocessable, "content_check_failed",
	"无法完成内容安全检测，请重新打开小程序后再发送").WithDetail("reason", "content_security")

// replyNotice returns what a staff reply writes with itself: a
// "reply waiting" outbox event when the patient has no live connection.
func (s *Service) replyNotice(ctx context.Context, patientID string, m Message) (AppendFunc, error) {
	if !isStaffReply(m) {
		return nil, nil
	}
	team, err := s.policy.CareTeam(ctx, access.MessagesRead, patientID)
	if err != nil {
		return nil, err
	}
	if team.PatientUser == "" || s.hub.Online(ctx, actorKey(auth.KindUser, team.PatientUser)) {
		return nil, nil
	}
	return func(tx *gorm.DB, t *Thread, m Message) error {
		read, err := readOf(tx, t.ID, team.PatientUser)
		if err != nil {
			return err
		}
		if !replyNoticeDue(t.NotifiedSeq, read) {
			return nil
		}
		t.NotifiedSeq = m.Seq
		return outbox.Add(tx, TopicReplyWaiting, queue.Default, ReplyWaiting{
			PatientID: patientID, UserID: team.PatientUser, ThreadID: t.ID, MessageID: m.ID, Seq: m.Seq, At: m.CreatedAt,
		})
	}, nil
}

// deliver publishes a stored entry to the thread's sockets, and tells the
// care team's case managers that their inbox changed.
func (s *Service) deliver(ctx context.Context, t Thread, v MessageView) {
	s.hub.PublishThread(ctx, t.PatientID, v.Seq, v.Internal, Event{Type: EventMessage, PatientID: t.PatientID, Message: &v})
	team, err := s.policy.CareTeam(ctx, access.MessagesRead, t.PatientID)
	if err != nil {
		s.log.Warn("inbox event", "error", err.Error())
		return
	}
	ev := Event{Type: EventInbox, PatientID: t.PatientID, Inbox: &InboxEvent{LastSeq: t.LastSeq, WaitingSince: t.WaitingSince}}
	for _, id := range uniq(team.AssignedCMID, team.CoveringCMID, deref(t.HandlerCMID)) {
		s.hub.PublishActor(ctx, actorKey(auth.KindStaff, id), ev)
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func uniq(ids ...string) []string {
	var out []string
	for _, id := range ids {
		dup := id == ""
		for _, o := range out {
			dup = dup || o == id
		}
		if !dup {
			out = append(out, id)
		}
	}
	return out
}

// Recall withdraws the actor's own message within RecallWindow: the entry
// loses its content, and a recall entry tells every client to hide it.
func (s *Service) Recall(ctx context.Context, a auth.Actor, g access.Grant, messageID string) (MessageView, error) {
	t, err := s.store.ThreadOf(ctx, g.PatientID)
	if err != nil {
		return MessageView{}, ErrMessageNotFound
	}
	m, err := s.store.ByID(ctx, messageID)
	if err != nil {
		return MessageView{}, err
	}
	if m.ThreadID != t.ID || !visibleTo(m, a.Kind == auth.KindStaff) {
		return MessageView{}, ErrMessageNotFound
	}
	now := s.clock()
	if err := checkRecall(m, a, now); err != nil {
		return MessageView{}, err
	}
	names := &staffNames{accounts: s.accounts}
	if m.RecalledAt != nil {
		return s.view(ctx, g.PatientID, m, names), nil
	}
	ref := m.ID
	entry := Message{SenderKind: m.SenderKind, SenderID: m.SenderID, SenderRole: m.SenderRole, Kind: KindRecall,
		RefID: &ref, Internal: m.Internal, CreatedAt: now}
	t, err = s.store.Append(ctx, t.ID, &entry, func(tx *gorm.DB, _ *Thread, _ Message) error { return withdraw(tx, m.ID, now) })
	if err != nil {
		return MessageView{}, err
	}
	s.dropBlob(m.BlobKey)
	s.deliver(ctx, t, s.view(ctx, g.PatientID, entry, names))
	m.Body, m.BlobKey, m.BlobType, m.BlobSize, m.RecalledAt = "", "", "", 0, &now
	return s.view(ctx, g.PatientID, m, names), nil
}

// MessagesPage is a page of entries with the cursors to go on.
type MessagesPage struct {
	Items      []MessageView `json:"items"`
	LastSeq    int64         `json:"last_seq"`              // the thread's newest seq
	NextAfter  *int64        `json:"next_after,omitempty"`  // forward: ask again with after=this
	NextBefore *int64        `json:"next_before,omitempty"` // backward: older entries exist before this
	HasMore    bool          `json:"has_more"`
}

// Messages returns a page of the thread: forward from a cursor (catch-up,
// polling) or backward from the newest (scrolling back).
func (s *Service) Messages(ctx context.Context, a auth.Actor, g access.Grant, p Page) (MessagesPage, error) {
	t, err := s.store.ThreadOf(ctx, g.PatientID)
	if errors.Is(err, ErrThreadNotFound) {
		return MessagesPage{Items: []MessageView{}}, nil
	}
	if err != nil {
		return MessagesPage{}, err
	}
	p.Staff = a.Kind == auth.KindStaff
	limit := p.Limit
	p.Limit++
	msgs, err := s.store.List(ctx, t.ID, p)
	if err != nil {
		return MessagesPage{}, err
	}
	page := MessagesPage{LastSeq: t.LastSeq}
	if len(msgs) > limit {
		msgs, page.HasMore = msgs[:limit], true
	}
	page.Items = s.views(ctx, g.PatientID, msgs)
	switch {
	case p.Forward:
		next := p.After
		if len(msgs) > 0 {
			next = msgs[len(msgs)-1].Seq
		}
		page.NextAfter = &next
	case page.HasMore:
		next := msgs[len(msgs)-1].Seq
		page.NextBefore = &next
	}
	return page, nil
}

// Unread is the reader's unread count in the patient's thread (the home
// screen's badge): one read, and no thread is created for it.
func (s *Service) Unread(ctx context.Context, a auth.Actor, g access.Grant) (int, error) {
	msgs, err := s.store.unreadOfPatient(ctx, g.PatientID, a.ID)
	if err != nil {
		return 0, err
	}
	return unreadCount(msgs, a.ID, a.Kind == auth.KindStaff, 0), nil
}

// Thread returns the thread with the care team's read positions and the
// reader's unread count.
func (s *Service) Thread(ctx context.Context, a auth.Actor, g access.Grant) (ThreadView, error) {
	t, err := s.store.EnsureThread(ctx, g.PatientID, s.clock())
	if err != nil {
		return ThreadView{}, err
	}
	return s.threadView(ctx, a, t)
}

func (s *Service) threadView(ctx context.Context, a auth.Actor, t Thread) (ThreadView, error) {
	staff := a.Kind == auth.KindStaff
	team, err := s.policy.CareTeam(ctx, access.MessagesRead, t.PatientID)
	if err != nil {
		return ThreadView{}, err
	}
	reads, err := s.store.Reads(ctx, t.ID)
	if err != nil {
		return ThreadView{}, err
	}
	readBy := map[string]Read{}
	for _, r := range reads {
		readBy[r.ReaderID] = r
	}
	cands, err := s.store.unreadCandidates(ctx, []string{t.ID}, a.ID)
	if err != nil {
		return ThreadView{}, err
	}
	v := ThreadView{ID: t.ID, PatientID: t.PatientID, LastSeq: t.LastSeq, LastReadSeq: readBy[a.ID].LastReadSeq,
		HandlerCMID: deref(t.HandlerCMID), Participants: []ParticipantView{}}
	v.UnreadCount = unreadCount(cands[t.ID], a.ID, staff, v.LastReadSeq)
	if v.HandlerCMID == "" {
		v.HandlerCMID = team.AssignedCMID
	}
	if staff {
		v.WaitingSince = t.WaitingSince
	}
	names := &staffNames{accounts: s.accounts}
	add := func(kind auth.ActorKind, id, role string) {
		if id == "" {
			return
		}
		p := ParticipantView{Kind: string(kind), ID: id, Role: role}
		if r, ok := readBy[id]; ok {
			at := r.ReadAt.UTC()
			p.LastReadSeq, p.ReadAt = r.LastReadSeq, &at
		}
		if kind == auth.KindStaff {
			p.DisplayName = names.name(ctx, id)
		}
		v.Participants = append(v.Participants, p)
	}
	add(auth.KindUser, team.PatientUser, RolePatient)
	for _, id := range team.Family {
		add(auth.KindUser, id, RoleFamily)
	}
	add(auth.KindStaff, team.AssignedCMID, "cm")
	if team.CoveringCMID != team.AssignedCMID {
		add(auth.KindStaff, team.CoveringCMID, "covering_cm")
	}
	return v, nil
}

// ReadReceipt is a reader's new position.
type ReadReceipt struct {
	LastReadSeq int64     `json:"last_read_seq"`
	ReadAt      time.Time `json:"read_at"`
	UnreadCount int       `json:"unread_count"`
}

// MarkRead records that the actor has read up to seq (clamped to the
// thread's newest entry; a position never moves back) and tells the others.
func (s *Service) MarkRead(ctx context.Context, a auth.Actor, g access.Grant, seq int64) (ReadReceipt, error) {
	if seq < 0 {
		return ReadReceipt{}, apperr.Invalid("seq", "invalid_seq", "seq 不能为负数")
	}
	t, err := s.store.EnsureThread(ctx, g.PatientID, s.clock())
	if err != nil {
		return ReadReceipt{}, err
	}
	r, err := s.store.MarkRead(ctx, t.ID, a.ID, string(a.Kind), min(seq, t.LastSeq), s.clock())
	if err != nil {
		return ReadReceipt{}, err
	}
	cands, err := s.store.unreadCandidates(ctx, []string{t.ID}, a.ID)
	if err != nil {
		return ReadReceipt{}, err
	}
	receipt := ReadReceipt{LastReadSeq: r.LastReadSeq, ReadAt: r.ReadAt.UTC(),
		UnreadCount: unreadCount(cands[t.ID], a.ID, a.Kind == auth.KindStaff, r.LastReadSeq)}
	sender := SenderView{Kind: string(a.Kind), ID: a.ID, Role: senderRole(a, g), DisplayName: a.DisplayName}
	s.hub.PublishThread(ctx, g.PatientID, 0, false, Event{Type: EventRead, PatientID: g.PatientID,
		Read: &ReadEvent{Reader: sender, LastReadSeq: r.LastReadSeq, ReadAt: receipt.ReadAt}})
	return receipt, nil
}

// Transfer hands the thread to another case manager of the hospital, who
// becomes the patient's covering CM (so the access policy lets them in) and
// the thread's handler. A transfer entry tells the team.
func (s *Service) Transfer(ctx context.Context, a auth.Actor, g access.Grant, toCMID string) (ThreadView, error) {
	target, err := s.accounts.StaffByID(ctx, toCMID)
	if err != nil || target.Role != auth.RoleCM || target.Status != auth.StatusActive || target.HospitalID != a.HospitalID {
		return ThreadView{}, ErrTransferTarget
	}
	team, err := s.policy.CareTeam(ctx, access.MessagesRead, g.PatientID)
	if err != nil {
		return ThreadView{}, err
	}
	t, err := s.store.EnsureThread(ctx, g.PatientID, s.clock())
	if err != nil {
		return ThreadView{}, err
	}
	current := deref(t.HandlerCMID)
	if current == "" {
		current = team.AssignedCMID
	}
	if current == toCMID {
		return s.threadView(ctx, a, t)
	}
	if toCMID != team.AssignedCMID && toCMID != team.CoveringCMID {
		if err := s.patients.SetCoveringCM(ctx, g.PatientID, toCMID); err != nil {
			return ThreadView{}, err
		}
	}
	entry := Message{SenderKind: string(a.Kind), SenderID: a.ID, SenderRole: senderRole(a, g), Kind: KindTransfer,
		Body: "会话已转交给 " + target.DisplayName, CreatedAt: s.clock()}
	t, err = s.store.Append(ctx, t.ID, &entry, func(_ *gorm.DB, t *Thread, _ Message) error {
		t.HandlerCMID = &toCMID
		return nil
	})
	if err != nil {
		return ThreadView{}, err
	}
	s.deliver(ctx, t, s.view(ctx, g.PatientID, entry, &staffNames{accounts: s.accounts}))
	return s.threadView(ctx, a, t)
}

// InboxEntry is a thread in a case manager's inbox.
type InboxEntry struct {
	PatientID            string     `json:"patient_id"`
	PatientName          string     `json:"patient_name"`
	ThreadID             string     `json:"thread_id"`
	HandlerCMID          string     `json:"handler_cm_id,omitempty"`
	Waiting              bool       `json:"waiting"`
	WaitingSince         *time.Time `json:"waiting_since,omitempty"`
	WaitingSeconds       int64      `json:"waiting_seconds"`
	LastMessageAt        *time.Time `json:"last_message_at,omitempty"`
	LastSeq              int64      `json:"last_seq"`
	UnreadCount          int        `json:"unread_count"`
	FirstResponseSeconds *int64     `json:"first_response_seconds,omitempty"`
}

// Inbox lists the threads of the staff member's patients: those waiting
// for a reply first, longest wait first, then the rest by recent activity.
func (s *Service) Inbox(ctx context.Context, a auth.Actor, cursor string, limit int) ([]InboxEntry, string, error) {
	rows, err := s.store.inbox(ctx, access.StaffPatients(a, "patients"))
	if err != nil {
		return nil, "", err
	}
	items := make([]InboxItem, 0, len(rows))
	for _, r := range rows {
		it := InboxItem{ThreadID: r.ID, PatientID: r.PatientID, HandlerCMID: deref(r.HandlerCMID),
			WaitingSince: r.WaitingSince, LastMessageAt: r.LastMessageAt, LastSeq: r.LastSeq}
		if it.HandlerCMID == "" {
			it.HandlerCMID = deref(r.AssignedCMID)
		}
		if d, ok := r.Thread.FirstResponse(); ok {
			it.FirstResponse = &d
		}
		items = append(items, it)
	}
	page, next, err := pageInbox(items, cursor, limit)
	if err != nil {
		return nil, "", err
	}
	ids := make([]string, len(page))
	for i, it := range page {
		ids[i] = it.ThreadID
	}
	cands, err := s.store.unreadCandidates(ctx, ids, a.ID)
	if err != nil {
		return nil, "", err
	}
	reads, err := s.store.readsOf(ctx, ids, a.ID)
	if err != nil {
		return nil, "", err
	}
	now := s.clock()
	out := make([]InboxEntry, 0, len(page))
	for _, it := range page {
		name, err := s.patients.Name(ctx, it.PatientID)
		if err != nil {
			return nil, "", err
		}
		e := InboxEntry{PatientID: it.PatientID, PatientName: name, ThreadID: it.ThreadID, HandlerCMID: it.HandlerCMID,
			Waiting: it.WaitingSince != nil, WaitingSince: it.WaitingSince, LastMessageAt: it.LastMessageAt, LastSeq: it.LastSeq,
			UnreadCount: unreadCount(cands[it.ThreadID], a.ID, true, reads[it.ThreadID])}
		if it.WaitingSince != nil {
			e.WaitingSeconds = int64(now.Sub(*it.WaitingSince).Seconds())
		}
		if it.FirstResponse != nil {
			sec := int64(it.FirstResponse.Seconds())
			e.FirstResponseSeconds = &sec
		}
		out = append(out, e)
	}
	return out, next, nil
}

// QuickReplies lists the templates the staff member may use.
func (s *Service) QuickReplies(ctx context.Context, a auth.Actor) ([]QuickReply, error) {
	return s.store.QuickReplies(ctx, a.HospitalID, a.ID)
}

// CreateQuickReply adds a template: the author's own, or shared with the
// hospital when a lead or admin asks for it.
func (s *Service) CreateQuickReply(ctx context.Context, a auth.Actor, title, body string, shared bool) (QuickReply, error) {
	if shared && a.Role != auth.RoleLead && a.Role != auth.RoleAdmin {
		return QuickReply{}, apperr.New(apperr.KindForbidden, "shared_quick_reply_forbidden", "只有护士长或管理员可以创建共享快捷回复")
	}
	text, err := cleanText(body, s.cfg.MaxTextLength)
	if err != nil {
		return QuickReply{}, err
	}
	now := s.clock()
	q := QuickReply{HospitalID: a.HospitalID, Title: title, Body: text, CreatedAt: now, UpdatedAt: now}
	if !shared {
		q.OwnerStaffID = &a.ID
	}
	if err := s.store.CreateQuickReply(ctx, &q); err != nil {
		return QuickReply{}, err
	}
	return q, nil
}

// DeleteQuickReply removes one of the author's templates (leads and admins may remove shared ones).
func (s *Service) DeleteQuickReply(ctx context.Context, a auth.Actor, id string) error {
	return s.store.DeleteQuickReply(ctx, id, a.HospitalID, a.ID, a.Role == auth.RoleLead || a.Role == auth.RoleAdmin)
}
