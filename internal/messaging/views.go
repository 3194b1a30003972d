package messaging

import (
	"context"
	"time"

	"github.com/carepath/carepath/internal/auth"
)

// The shapes of threads and messages in HTTP responses and WebSocket events.

// SenderView says who wrote an entry. Staff carry their display name;
// patients' and relatives' names never travel with messages.
type SenderView struct {
	Kind        string `json:"kind"` // user | staff
	ID          string `json:"id"`
	Role        string `json:"role"` // patient | family | cm | lead
	DisplayName string `json:"display_name,omitempty"`
}

// ImageView is an image with a link that expires.
type ImageView struct {
	URL         string    `json:"url"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// MessageView is one thread entry.
type MessageView struct {
	ID          string     `json:"id"`
	PatientID   string     `json:"patient_id"`
	Seq         int64      `json:"seq"`
	Kind        string     `json:"kind"`
	Sender      SenderView `json:"sender"`
	Text        string     `json:"text,omitempty"`
	Image       *ImageView `json:"image,omitempty"`
	Internal    bool       `json:"internal"`
	Recalled    bool       `json:"recalled"`
	RefID       string     `json:"ref_id,omitempty"` // the recalled entry, for kind recall
	ClientMsgID string     `json:"client_msg_id,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

// ParticipantView is a member of the care team with how far they have read.
type ParticipantView struct {
	Kind        string     `json:"kind"`
	ID          string     `json:"id"`
	Role        string     `json:"role"` // patient | family | cm | covering_cm
	DisplayName string     `json:"display_name,omitempty"`
	LastReadSeq int64      `json:"last_read_seq"`
	ReadAt      *time.Time `json:"read_at,omitempty"`
}

// ThreadView is a thread as its reader sees it.
type ThreadView struct {
	ID           string            `json:"id"`
	PatientID    string            `json:"patient_id"`
	LastSeq      int64             `json:"last_seq"`
	LastReadSeq  int64             `json:"last_read_seq"`
	UnreadCount  int               `json:"unread_count"`
	HandlerCMID  string            `json:"handler_cm_id,omitempty"`
	WaitingSince *time.Time        `json:"waiting_since,omitempty"` // staff only
	Participants []ParticipantView `json:"participants"`
}

// staffNames resolves staff display names, once each per call.
type staffNames struct {
	accounts Accounts
	names    map[string]string
}

func (n *staffNames) name(ctx context.Context, id string) string {
	if v, ok := n.names[id]; ok {
		return v
	}
	name := ""
	if st, err := n.accounts.StaffByID(ctx, id); err == nil {
		name = st.DisplayName
	}
	if n.names == nil {
		n.names = map[string]string{}
	}
	n.names[id] = name
	return name
}

// views renders entries for a reader; image links are minted here, only
// for readers who passed the access check.
func (s *Service) views(ctx context.Context, patientID string, msgs []Message) []MessageView {
	names := &staffNames{accounts: s.accounts}
	out := make([]MessageView, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, s.view(ctx, patientID, m, names))
	}
	return out
}

func (s *Service) view(ctx context.Context, patientID string, m Message, names *staffNames) MessageView {
	v := MessageView{
		ID: m.ID, PatientID: patientID, Seq: m.Seq, Kind: m.Kind, Text: m.Body, Internal: m.Internal,
		Recalled: m.RecalledAt != nil, CreatedAt: m.CreatedAt.UTC(),
		Sender: SenderView{Kind: m.SenderKind, ID: m.SenderID, Role: m.SenderRole},
	}
	if m.ClientMsgID != nil {
		v.ClientMsgID = *m.ClientMsgID
	}
	if m.RefID != nil {
		v.RefID = *m.RefID
	}
	if m.SenderKind == string(auth.KindStaff) {
		v.Sender.DisplayName = names.name(ctx, m.SenderID)
	}
	if m.Kind == KindImage && m.BlobKey != "" {
		expires := s.now().Add(s.cfg.URLTTL).UTC().Truncate(time.Second)
		url, err := s.blobs.URL(ctx, m.BlobKey, expires)
		if err != nil {
			s.log.Warn("image link", "message_id", m.ID, "error", err.Error())
		} else {
			v.Image = &ImageView{URL: url, ContentType: m.BlobType, Size: m.BlobSize, ExpiresAt: expires}
		}
	}
	return v
}
