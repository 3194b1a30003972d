package database

import (
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0005Messaging: one thread per patient care team, its ordered messages
// (with internal notes, recalls and transfers as entries of the same log),
// per-reader read positions, and the case managers' quick-reply templates.
func m0005Messaging() *gormigrate.Migration {
	type messageThread struct {
		ID        string `gorm:"type:varchar(36);primaryKey"`
		PatientID string `gorm:"type:varchar(36);not null;uniqueIndex:ux_message_threads_patient"`
		// HandlerCMID is who answers after a transfer; NULL means the patient's assigned CM.
		HandlerCMID           *string `gorm:"column:handler_cm_id;type:varchar(36);index:ix_message_threads_handler"`
		LastSeq               int64   `gorm:"not null;default:0"`
		LastMessageAt         *time.Time
		WaitingSince          *time.Time `gorm:"index:ix_message_threads_waiting"`
		FirstPatientMessageAt *time.Time
		FirstResponseAt       *time.Time
		NotifiedSeq           int64     `gorm:"not null;default:0"` // the last reply a "message waiting" notice was sent for
		CreatedAt             time.Time `gorm:"not null"`
		UpdatedAt             time.Time `gorm:"not null"`
	}
	type threadMessage struct {
		ID       string `gorm:"type:varchar(36);primaryKey"`
		ThreadID string `gorm:"type:varchar(36);not null;uniqueIndex:ux_thread_messages_seq,priority:1;uniqueIndex:ux_thread_messages_client,priority:1"`
		// Seq is assigned in the transaction that stores the message: the thread's order and every client's cursor.
		Seq         int64   `gorm:"not null;uniqueIndex:ux_thread_messages_seq,priority:2"`
		SenderKind  string  `gorm:"type:varchar(8);not null"`
		SenderID    string  `gorm:"type:varchar(36);not null;uniqueIndex:ux_thread_messages_client,priority:2"`
		SenderRole  string  `gorm:"type:varchar(8);not null"`
		ClientMsgID *string `gorm:"column:client_msg_id;type:varchar(64);uniqueIndex:ux_thread_messages_client,priority:3"`
		Kind        string  `gorm:"type:varchar(12);not null"`
		Body        string  `gorm:"type:text;not null"`
		BlobKey     string  `gorm:"type:varchar(64);not null;default:''"`
		BlobType    string  `gorm:"type:varchar(32);not null;default:''"`
		BlobSize    int64   `gorm:"not null;default:0"`
		RefID       *string `gorm:"column:ref_id;type:varchar(36)"`
		Internal    bool    `gorm:"not null;default:false"`
		RecalledAt  *time.Time
		CreatedAt   time.Time `gorm:"not null"`
	}
	type threadRead struct {
		ThreadID    string    `gorm:"type:varchar(36);primaryKey"`
		ReaderID    string    `gorm:"type:varchar(36);primaryKey"`
		ReaderKind  string    `gorm:"type:varchar(8);not null"`
		LastReadSeq int64     `gorm:"not null;default:0"`
		ReadAt      time.Time `gorm:"not null"`
	}
	type quickReply struct {
		ID           string  `gorm:"type:varchar(36);primaryKey"`
		HospitalID   string  `gorm:"type:varchar(36);not null;index:ix_quick_replies_owner,priority:1"`
		OwnerStaffID *string `gorm:"type:varchar(36);index:ix_quick_replies_owner,priority:2"` // NULL: shared by the hospital
		Title        string  `gorm:"type:varchar(64);not null"`
		Body         string  `gorm:"type:text;not null"`
		CreatedAt    time.Time
		UpdatedAt    time.Time
	}
	tables := []table{
		{"message_threads", &messageThread{}}, {"thread_messages", &threadMessage{}},
		{"thread_reads", &threadRead{}}, {"quick_replies", &quickReply{}},
	}
	return &gormigrate.Migration{
		ID:       "0005_messaging",
		Migrate:  func(tx *gorm.DB) error { return createTables(tx, tables...) },
		Rollback: func(tx *gorm.DB) error { return dropTables(tx, tables...) },
	}
}
