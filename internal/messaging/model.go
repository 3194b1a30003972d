// Package messaging is the conversation between a patient's care team: the
// patient, family members whose link has the message scope, and the
// assigned (and covering) case manager. One thread per patient holds an
// ordered log of entries — text, images, staff-only notes, recalls and
// transfers — each with a per-thread sequence number assigned in the
// transaction that stores it. The database is the truth; the realtime hub
// (Redis pub/sub to WebSockets) only makes delivery fast, and a client fills
// any gap from its last sequence number over HTTP or on reconnect.
//
// It decides no access on its own: routes are registered through the
// access guard, and the hub asks the same policy before delivering.
package messaging

import (
	"fmt"
	"time"

	"github.com/carepath/carepath/internal/platform/apperr"
)

// Kinds of thread entries.
const (
	KindText     = "text"
	KindImage    = "image"
	KindNote     = "note"     // internal: staff see it, patients and family never do
	KindRecall   = "recall"   // withdraws the entry named by RefID
	KindTransfer = "transfer" // the thread was handed to another case manager
)

// Sender roles, fixed when the entry is stored.
const (
	RolePatient = "patient"
	RoleFamily  = "family"
	// Staff senders carry their staff role (cm, lead).
)

// RecallWindow is how long a sender may withdraw a message.
const RecallWindow = 2 * time.Minute

// Thread is a patient's one conversation with their care team.
type Thread struct {
	ID        string
	PatientID string
	// HandlerCMID answers the thread after a transfer; nil means the assigned CM.
	HandlerCMID           *string `gorm:"column:handler_cm_id"`
	LastSeq               int64
	LastMessageAt         *time.Time
	WaitingSince          *time.Time // oldest patient or family message not yet answered by staff
	FirstPatientMessageAt *time.Time
	FirstResponseAt       *time.Time // the first staff answer after FirstPatientMessageAt
	NotifiedSeq           int64      // the last staff reply a "message waiting" notice was written for
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

func (Thread) TableName() string { return "message_threads" }

// Message is one entry of a thread's log.
type Message struct {
	ID          string
	ThreadID    string
	Seq         int64
	SenderKind  string // auth.KindUser or auth.KindStaff
	SenderID    string
	SenderRole  string
	ClientMsgID *string `gorm:"column:client_msg_id"`
	Kind        string
	Body        string
	BlobKey     string
	BlobType    string
	BlobSize    int64
	RefID       *string `gorm:"column:ref_id"`
	Internal    bool
	BodySealed  bool // Body is sealed (fieldcrypt) in the row; the store opens it on read
	RecalledAt  *time.Time
	CreatedAt   time.Time
}

func (Message) TableName() string { return "thread_messages" }

// Read is how far one participant has read a thread.
type Read struct {
	ThreadID    string
	ReaderID    string
	ReaderKind  string
	LastReadSeq int64
	ReadAt      time.Time
}

func (Read) TableName() string { return "thread_reads" }

// QuickReply is a reply template: a case manager's own, or shared by the hospital.
type QuickReply struct {
	ID           string
	HospitalID   string
	OwnerStaffID *string // nil: shared
	Title        string
	Body         string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func (QuickReply) TableName() string { return "quick_replies" }

// Errors clients branch on.
var (
	ErrThreadNotFound     = apperr.NotFound("会话")
	ErrMessageNotFound    = apperr.NotFound("消息")
	ErrQuickReplyNotFound = apperr.NotFound("快捷回复")
	ErrEmptyText          = apperr.Invalid("text", "empty_message", "消息内容不能为空")
	ErrBlocked            = apperr.New(apperr.KindUnprocessable, "message_blocked",
		"消息未发送：微信内容安全检测认为其中含有违规内容，请修改后重试").WithDetail("reason", "content_security")
	ErrRecallWindow = apperr.New(apperr.KindUnprocessable, "recall_window_passed", "消息发出已超过 2 分钟，无法撤回").
			WithDetail("window_seconds", int(RecallWindow.Seconds()))
	ErrRecallNotSender   = apperr.New(apperr.KindForbidden, "recall_not_sender", "只能撤回自己发送的消息")
	ErrNotRecallable     = apperr.New(apperr.KindUnprocessable, "not_recallable", "该条目不能撤回")
	ErrClientMsgIDReused = apperr.New(apperr.KindConflict, "client_msg_id_reused", "该 client_msg_id 已用于另一条内容不同的消息").
				WithDetail("field", "client_msg_id")
	ErrNotesStaffOnly = apperr.New(apperr.KindForbidden, "notes_staff_only", "内部备注仅限医护人员使用")
	ErrImageType      = apperr.Invalid("file", "unsupported_image_type", "仅支持 JPEG、PNG、WebP 或 GIF 图片").
				WithDetail("allowed", []string{"image/jpeg", "image/png", "image/webp", "image/gif"})
	ErrNoFile         = apperr.Invalid("file", "missing_file", "缺少图片文件（表单字段 file）")
	ErrTransferTarget = apperr.Invalid("to_cm_id", "invalid_transfer_target", "只能转交给本院在职的个案管理师")
	ErrStaffOnly      = apperr.New(apperr.KindForbidden, "staff_only", "仅限医护人员操作")
)

func errTooLong(max int) error {
	return apperr.Invalid("text", "message_too_long", fmt.Sprintf("消息不能超过 %d 个字", max)).WithDetail("max", max)
}

func errImageTooLarge(max int64) error {
	return apperr.Invalid("file", "image_too_large", fmt.Sprintf("图片不能超过 %.1f MB", float64(max)/(1<<20))).
		WithDetail("max_bytes", max)
}
