package messaging

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/blob"
	"github.com/carepath/carepath/internal/platform/web"
)

// Handler serves the messaging routes.
type Handler struct {
	svc   *Service
	val   *web.Validator
	local *blob.Local // nil when images live in S3 (their links point there)
}

// NewHandler builds the handler; local is the local-disk store, if that is where images live.
func NewHandler(svc *Service, val *web.Validator, local *blob.Local) *Handler {
	return &Handler{svc: svc, val: val, local: local}
}

// Thread handles GET /api/v1/patients/:patientID/thread.
func (h *Handler) Thread(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	v, err := h.svc.Thread(c.Request.Context(), a, access.GrantFrom(c))
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, v)
}

func seqParam(c *gin.Context, name string) (int64, bool, error) {
	s, ok := c.GetQuery(name)
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, true, apperr.Invalid(name, "invalid_cursor", name+" 必须是非负整数（消息的 seq）")
	}
	return n, true, nil
}

// Messages handles GET /api/v1/patients/:patientID/thread/messages:
// ?after=<seq> pages forward (oldest first; catch-up and polling),
// ?before=<seq> or nothing pages backward (newest first).
func (h *Handler) Messages(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	var p Page
	after, hasAfter, err := seqParam(c, "after")
	if err != nil {
		web.Error(c, err)
		return
	}
	before, hasBefore, err := seqParam(c, "before")
	if err != nil {
		web.Error(c, err)
		return
	}
	if hasAfter && hasBefore {
		web.Error(c, apperr.Invalid("after", "invalid_cursor", "after 与 before 只能二选一"))
		return
	}
	if p.Limit, err = web.QueryLimit(c, 50, 200); err != nil {
		web.Error(c, err)
		return
	}
	p.Forward, p.After, p.Before = hasAfter, after, before
	page, err := h.svc.Messages(c.Request.Context(), a, access.GrantFrom(c), p)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, page)
}

// SendRequest is a text message or an internal note.
type SendRequest struct {
	ClientMsgID  string `json:"client_msg_id" validate:"required,max=64"`
	Kind         string `json:"kind" validate:"omitempty,oneof=text note"`
	Text         string `json:"text" validate:"max=10000"`
	QuickReplyID string `json:"quick_reply_id" validate:"omitempty,max=36"`
}

// Send handles POST /api/v1/patients/:patientID/thread/messages: JSON for
// text and notes, multipart/form-data (fields client_msg_id and file) for an
// image. A retry with the same client_msg_id answers 200 with the message
// stored the first time; a new message answers 201.
func (h *Handler) Send(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	var d Draft
	if strings.HasPrefix(c.ContentType(), "multipart/") {
		var err error
		if d, err = h.imageDraft(c); err != nil {
			web.Error(c, err)
			return
		}
	} else {
		var req SendRequest
		if err := h.val.BindJSON(c, &req); err != nil {
			web.Error(c, err)
			return
		}
		d = Draft{ClientMsgID: req.ClientMsgID, Kind: req.Kind, Text: req.Text, QuickReplyID: req.QuickReplyID}
	}
	v, created, err := h.svc.Send(c.Request.Context(), a, access.GrantFrom(c), d)
	if err != nil {
		web.Error(c, err)
		return
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	c.JSON(status, v)
}

func (h *Handler) imageDraft(c *gin.Context) (Draft, error) {
	max := h.svc.cfg.MaxImageBytes
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max+64<<10)
	fh, err := c.FormFile("file")
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return Draft{}, errImageTooLarge(max)
	case errors.Is(err, http.ErrMissingFile):
		return Draft{}, ErrNoFile
	case err != nil:
		return Draft{}, apperr.Invalid("file", "malformed_multipart", "上传内容不是合法的 multipart/form-data")
	}
	if fh.Size > max {
		return Draft{}, errImageTooLarge(max)
	}
	f, err := fh.Open()
	if err != nil {
		return Draft{}, apperr.Invalid("file", "malformed_multipart", "无法读取上传的文件")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return Draft{}, apperr.Invalid("file", "malformed_multipart", "无法读取上传的文件")
	}
	return Draft{ClientMsgID: c.PostForm("client_msg_id"), Kind: KindImage, Image: data}, nil
}

// Recall handles POST /api/v1/patients/:patientID/thread/messages/:messageID/recall.
func (h *Handler) Recall(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	v, err := h.svc.Recall(c.Request.Context(), a, access.GrantFrom(c), c.Param("messageID"))
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, v)
}

// ReadRequest moves the caller's read position.
type ReadRequest struct {
	Seq *int64 `json:"seq" validate:"required"`
}

// Read handles POST /api/v1/patients/:patientID/thread/read.
func (h *Handler) Read(c *gin.Context) {
	var req ReadRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	a, _ := auth.ActorFrom(c)
	r, err := h.svc.MarkRead(c.Request.Context(), a, access.GrantFrom(c), *req.Seq)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, r)
}

// TransferRequest names the case manager to hand the thread to.
type TransferRequest struct {
	ToCMID string `json:"to_cm_id" validate:"required,max=36"`
}

// Transfer handles POST /api/v1/patients/:patientID/thread/transfer.
func (h *Handler) Transfer(c *gin.Context) {
	var req TransferRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	a, _ := auth.ActorFrom(c)
	v, err := h.svc.Transfer(c.Request.Context(), a, access.GrantFrom(c), req.ToCMID)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, v)
}

// InboxResponse is one page of the inbox.
type InboxResponse struct {
	Items      []InboxEntry `json:"items"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// Inbox handles GET /api/v1/inbox: the threads of the caller's patients.
func (h *Handler) Inbox(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	limit, err := web.QueryLimit(c, 50, 200)
	if err != nil {
		web.Error(c, err)
		return
	}
	items, next, err := h.svc.Inbox(c.Request.Context(), a, c.Query("cursor"), limit)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, InboxResponse{Items: items, NextCursor: next})
}

// QuickReplyView is a reply template.
type QuickReplyView struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Body   string `json:"body"`
	Shared bool   `json:"shared"`
}

func viewOfQuickReply(q QuickReply) QuickReplyView {
	return QuickReplyView{ID: q.ID, Title: q.Title, Body: q.Body, Shared: q.OwnerStaffID == nil}
}

// QuickReplies handles GET /api/v1/quick-replies.
func (h *Handler) QuickReplies(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	qs, err := h.svc.QuickReplies(c.Request.Context(), a)
	if err != nil {
		web.Error(c, err)
		return
	}
	out := make([]QuickReplyView, 0, len(qs))
	for _, q := range qs {
		out = append(out, viewOfQuickReply(q))
	}
	web.OK(c, gin.H{"items": out})
}

// QuickReplyRequest creates a template.
type QuickReplyRequest struct {
	Title  string `json:"title" validate:"required,max=64"`
	Body   string `json:"body" validate:"required,max=2500"`
	Shared bool   `json:"shared"`
}

// CreateQuickReply handles POST /api/v1/quick-replies.
func (h *Handler) CreateQuickReply(c *gin.Context) {
	var req QuickReplyRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	a, _ := auth.ActorFrom(c)
	q, err := h.svc.CreateQuickReply(c.Request.Context(), a, strings.TrimSpace(req.Title), req.Body, req.Shared)
	if err != nil {
		web.Error(c, err)
		return
	}
	c.JSON(http.StatusCreated, viewOfQuickReply(q))
}

// DeleteQuickReply handles DELETE /api/v1/quick-replies/:replyID.
func (h *Handler) DeleteQuickReply(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	if err := h.svc.DeleteQuickReply(c.Request.Context(), a, c.Param("replyID")); err != nil {
		web.Error(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// Socket handles GET /api/v1/ws: the WebSocket. The access token comes as
// the subprotocol "bearer.<token>" beside "carepath.v1" (or the staff
// cookie); each thread subscription is then checked by the access policy.
func (h *Handler) Socket(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	if !strings.EqualFold(c.GetHeader("Upgrade"), "websocket") {
		web.Error(c, apperr.New(apperr.KindInvalid, "websocket_required", "该接口需要 WebSocket 连接（Upgrade: websocket）"))
		return
	}
	h.svc.Serve(c.Writer, c.Request, a)
}

var errBlobNotFound = apperr.NotFound("文件")

// Blob handles GET /api/v1/blobs/:key: a local-disk file behind a signed,
// expiring link. The signature is the authorization: links are minted only
// for readers who passed the access check, and expire after url_ttl.
func (h *Handler) Blob(c *gin.Context) {
	key := c.Param("key")
	if h.local == nil || !h.local.Verify(key, c.Query("exp"), c.Query("sig"), h.svc.now()) {
		web.Error(c, errBlobNotFound)
		return
	}
	f, err := h.local.Open(c.Request.Context(), key)
	if errors.Is(err, blob.ErrNotFound) {
		web.Error(c, errBlobNotFound)
		return
	}
	if err != nil {
		web.Error(c, err)
		return
	}
	defer f.Close()
	c.Header("Cache-Control", "private, max-age=300")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Content-Security-Policy", "default-src 'none'")
	http.ServeContent(c.Writer, c.Request, "", time.Time{}, f)
}
