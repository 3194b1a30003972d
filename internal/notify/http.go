package notify

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/silenceper/wechat/v2/util"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/cache"
	"github.com/carepath/carepath/internal/platform/idempotency"
	"github.com/carepath/carepath/internal/platform/web"
)

// Accounts finds the user behind an openid in WeChat's message push.
type Accounts interface {
	UserIDByOpenID(ctx context.Context, openID string) (string, bool, error)
}

// Handler serves subscriptions, WeChat's message push, the notification
// centre and the push log.
type Handler struct {
	svc      *Service
	accounts Accounts
	val      *web.Validator
	once     *cache.Once // signed push URLs already acted on
}

// NewHandler builds the handler.
func NewHandler(svc *Service, accounts Accounts, val *web.Validator, once *cache.Once) *Handler {
	return &Handler{svc: svc, accounts: accounts, val: val, once: once}
}

type subscribeRequest struct {
	Results []struct {
		TemplateID string `json:"template_id" validate:"required,max=64"`
		Result     string `json:"result" validate:"required,oneof=accept reject ban filter"`
	} `json:"results" validate:"required,min=1,max=5,dive"`
}

// SubscriptionView is a user's standing for one template.
type SubscriptionView struct {
	TemplateID string    `json:"template_id"`
	Kind       string    `json:"kind"`
	Type       string    `json:"type"`
	Quota      int       `json:"quota"`
	LongTerm   bool      `json:"long_term_active"`
	Status     string    `json:"status"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Subscribe records the results of wx.requestSubscribeMessage.
func (h *Handler) Subscribe(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	var req subscribeRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	results := make([]SubscriptionResult, len(req.Results))
	for i, r := range req.Results {
		results[i] = SubscriptionResult{TemplateID: r.TemplateID, Result: r.Result}
	}
	key := c.GetHeader(idempotency.Header)
	if err := idempotency.CheckKey(key); err != nil {
		web.Error(c, err)
		return
	}
	out, err := h.svc.RecordSubscriptions(c.Request.Context(), a, results, key)
	if err != nil {
		web.Error(c, err)
		return
	}
	out.Write(c.Writer)
}

// SubscriptionsView is the answer to a subscription report.
type SubscriptionsView struct {
	Subscriptions []SubscriptionView `json:"subscriptions"`
}

func (s *Service) subscriptionViews(subs []Subscription) []SubscriptionView {
	out := make([]SubscriptionView, 0, len(subs))
	for _, sub := range subs {
		v := SubscriptionView{TemplateID: sub.TemplateID, Quota: sub.Quota, LongTerm: sub.LongTerm, Status: sub.Status, UpdatedAt: sub.UpdatedAt}
		if t, ok := s.Registry.ByID(sub.TemplateID); ok {
			v.Kind, v.Type = t.Kind, t.Type
		}
		out = append(out, v)
	}
	return out
}

// Signature is WeChat's message-push signature: the SHA-1 of the token,
// timestamp and nonce sorted and joined, in hex.
func Signature(token, timestamp, nonce string) string {
	return util.Signature(token, timestamp, nonce)
}

// MessageSignature is the signature of an encrypted push (msg_signature):
// Signature's parts and the body's Encrypt.
func MessageSignature(token, timestamp, nonce, encrypted string) string {
	return util.Signature(token, timestamp, nonce, encrypted)
}

func (h *Handler) signed(c *gin.Context) bool {
	token := h.svc.cfg.PushToken
	if token == "" {
		return false
	}
	want := Signature(token, c.Query("timestamp"), c.Query("nonce"))
	return subtle.ConstantTimeCompare([]byte(want), []byte(c.Query("signature"))) == 1
}

// VerifyPush answers WeChat's URL verification: echostr back when the signature holds.
func (h *Handler) VerifyPush(c *gin.Context) {
	if !h.signed(c) {
		web.Error(c, ErrBadSignature)
		return
	}
	c.String(http.StatusOK, c.Query("echostr"))
}

// pushEvent is a message-push event in JSON (in clear, or once decrypted).
type pushEvent struct {
	FromUserName string          `json:"FromUserName"`
	MsgType      string          `json:"MsgType"`
	Event        string          `json:"Event"`
	List         json.RawMessage `json:"List"`
}

type pushEventItem struct {
	TemplateID            string `json:"TemplateId" xml:"TemplateId"`
	SubscribeStatusString string `json:"SubscribeStatusString" xml:"SubscribeStatusString"`
	ErrorCode             int    `json:"ErrorCode" xml:"ErrorCode"`
	ErrorStatus           string `json:"ErrorStatus" xml:"ErrorStatus"` // sent events: success, fail:user refuse to accept the msg, fail:system failed
}

// items reads List, which WeChat sends as an array or, for one item, an object.
func (e pushEvent) items() []pushEventItem {
	var many []pushEventItem
	if json.Unmarshal(e.List, &many) == nil {
		return many
	}
	var one pushEventItem
	if json.Unmarshal(e.List, &one) == nil {
		return []pushEventItem{one}
	}
	return nil
}

// pushXML is a message-push event in XML (in clear, or once decrypted): the items sit
// in an element named for the event.
type pushXML struct {
	FromUserName string          `xml:"FromUserName"`
	MsgType      string          `xml:"MsgType"`
	Event        string          `xml:"Event"`
	Popup        []pushEventItem `xml:"SubscribeMsgPopupEvent>List"`
	Change       []pushEventItem `xml:"SubscribeMsgChangeEvent>List"`
	Sent         []pushEventItem `xml:"SubscribeMsgSentEvent>List"`
}

// pushed is a decoded message-push event, whichever format it came in.
type pushed struct {
	FromUserName string
	Event        string
	Items        []pushEventItem
}

// decodePush reads a message-push body in the format the push settings
// chose (数据格式 JSON or XML): XML when it starts with '<', else JSON.
func decodePush(body []byte) (pushed, error) {
	trimmed := bytes.TrimSpace(body)
	if bytes.HasPrefix(trimmed, []byte("<")) {
		var x pushXML
		if err := xml.Unmarshal(trimmed, &x); err != nil {
			return pushed{}, errMalformedPush
		}
		out := pushed{FromUserName: x.FromUserName, Event: x.Event}
		switch x.Event {
		case "subscribe_msg_popup_event":
			out.Items = x.Popup
		case "subscribe_msg_change_event":
			out.Items = x.Change
		case "subscribe_msg_sent_event":
			out.Items = x.Sent
		}
		return out, nil
	}
	var ev pushEvent
	if err := json.Unmarshal(trimmed, &ev); err != nil {
		return pushed{}, errMalformedPush
	}
	return pushed{FromUserName: ev.FromUserName, Event: ev.Event, Items: ev.items()}, nil
}

var (
	errMalformedPush     = apperr.Invalid("", "malformed_push", "推送内容不是合法的 JSON 或 XML")
	errUndecryptablePush = apperr.New(apperr.KindUnavailable, "undecryptable_push", "暂时无法解密加密推送：消息加密密钥或小程序 AppID 与微信后台不符")
	errPushKeyMissing    = apperr.New(apperr.KindUnavailable, "push_key_missing", "暂时无法解密加密推送：未配置消息推送的 EncodingAESKey")
)

// encryptedPush is a push in safe or compatible mode (安全模式/兼容模式), in
// either data format: the event is in Encrypt (compatible mode also has it in
// clear beside it; only the encrypted copy is covered by msg_signature).
type encryptedPush struct {
	Encrypt string `json:"Encrypt" xml:"Encrypt"`
}

// openPush returns the event a signed push carries: the body itself in
// plain-text mode; with encrypt_type=aes the body's Encrypt, checked against
// msg_signature and decrypted with the EncodingAESKey (AES-256-CBC, the
// plaintext ending with the app id it is for).
func (h *Handler) openPush(c *gin.Context, body []byte) ([]byte, error) {
	if c.Query("encrypt_type") != "aes" {
		return body, nil
	}
	var env encryptedPush
	trimmed := bytes.TrimSpace(body)
	var err error
	if bytes.HasPrefix(trimmed, []byte("<")) {
		err = xml.Unmarshal(trimmed, &env)
	} else {
		err = json.Unmarshal(trimmed, &env)
	}
	if err != nil || env.Encrypt == "" {
		return nil, errMalformedPush
	}
	cfg := h.svc.cfg
	want := MessageSignature(cfg.PushToken, c.Query("timestamp"), c.Query("nonce"), env.Encrypt)
	if subtle.ConstantTimeCompare([]byte(want), []byte(c.Query("msg_signature"))) != 1 {
		return nil, ErrBadSignature
	}
	if cfg.PushAESKey == "" {
		web.Logger(c).Error("an encrypted WeChat push arrived but wechat.push_aes_key is not set: set it or choose plain-text mode in the WeChat console")
		return nil, errPushKeyMissing
	}
	_, plain, err := util.DecryptMsg(cfg.AppID, env.Encrypt, cfg.PushAESKey)
	if err != nil {
		// msg_signature held, so WeChat sent it: our key or app id is not
		// the console's (a key changed there). 503: WeChat sends it again.
		web.Logger(c).Error("an encrypted WeChat push does not decrypt: wechat.push_aes_key or wechat.app_id differs from the WeChat console", "error", err.Error())
		return nil, errUndecryptablePush
	}
	return plain, nil
}

// pushMaxAge bounds how far a push's timestamp may be from our clock. The
// signature covers the token, timestamp and nonce, not the body: a signed
// URL seen later (a proxy's access log keeps query strings) must not carry a
// forged body. Within the window each signed URL is acted on once.
const pushMaxAge = 5 * time.Minute

var (
	errStalePush        = apperr.New(apperr.KindForbidden, "stale_push", "推送时间戳超出允许范围")
	errPushNotEncrypted = apperr.New(apperr.KindForbidden, "push_not_encrypted", "已配置消息加密，拒绝未加密的推送")
)

// fresh reports whether the push's timestamp is within pushMaxAge of now.
func (h *Handler) fresh(c *gin.Context) bool {
	ts, err := strconv.ParseInt(c.Query("timestamp"), 10, 64)
	if err != nil {
		return false
	}
	age := h.svc.Now().Sub(time.Unix(ts, 0))
	return age <= pushMaxAge && age >= -pushMaxAge
}

// Push receives WeChat's message push (JSON or XML; plain-text, compatible or safe mode):
// subscription events applied to the user's credits. Anything else is acknowledged and ignored.
// With wechat.push_aes_key set only encrypted pushes are taken: a plain body
// is covered by no signature. A signed URL used again (WeChat repeating a
// push it got no answer to, or a replay) is acknowledged and not applied again.
func (h *Handler) Push(c *gin.Context) {
	if !h.signed(c) {
		web.Error(c, ErrBadSignature)
		return
	}
	if !h.fresh(c) {
		web.Error(c, errStalePush)
		return
	}
	if h.svc.cfg.PushAESKey != "" && c.Query("encrypt_type") != "aes" {
		web.Error(c, errPushNotEncrypted)
		return
	}
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, 1<<20))
	if err != nil {
		web.Error(c, apperr.Invalid("", "malformed_json", "请求体无法读取"))
		return
	}
	if body, err = h.openPush(c, body); err != nil {
		web.Error(c, err)
		return
	}
	ev, err := decodePush(body)
	if err != nil {
		web.Error(c, err)
		return
	}
	ctx := c.Request.Context()
	signedURL := []string{c.Query("timestamp"), c.Query("nonce"), c.Query("signature")}
	first, err := h.once.First(ctx, 2*pushMaxAge, signedURL...)
	if err != nil {
		web.Error(c, apperr.Unavailable("redis", err))
		return
	}
	if first {
		if err := h.apply(c, ev); err != nil {
			// Not applied: WeChat's repeat of this push must be taken.
			if ferr := h.once.Forget(context.WithoutCancel(ctx), signedURL...); ferr != nil {
				web.Logger(c).Warn("a failed push stays marked as seen; WeChat's repeat of it will be ignored", "error", ferr.Error())
			}
			web.Error(c, err)
			return
		}
	}
	c.String(http.StatusOK, "success")
}

// apply applies a push's subscription events to the user's credits.
func (h *Handler) apply(c *gin.Context, ev pushed) error {
	ctx := c.Request.Context()
	switch ev.Event {
	case "subscribe_msg_popup_event", "subscribe_msg_change_event", "subscribe_msg_sent_event":
		userID, ok, err := h.accounts.UserIDByOpenID(ctx, ev.FromUserName)
		if err != nil {
			return err
		}
		if ok {
			for _, it := range ev.Items {
				status := it.SubscribeStatusString
				if ev.Event == "subscribe_msg_sent_event" {
					// Our own send already recorded its outcome; a failure
					// reported later is logged, and a user who refuses the
					// template's messages gets no more of them.
					if it.ErrorCode == 0 {
						continue
					}
					web.Logger(c).Warn("WeChat reports a subscription message not delivered", "template_id", it.TemplateID, "errcode", it.ErrorCode)
					status = ""
					if strings.Contains(it.ErrorStatus, "refuse") {
						status = ResultReject
					}
				}
				if err := h.svc.ApplyWeChatEvent(ctx, userID, ev.Event, it.TemplateID, status); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// NotificationView is one entry of the notification centre.
type NotificationView struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	Title     string     `json:"title"`
	Page      string     `json:"page"`
	CreatedAt time.Time  `json:"created_at"`
	ReadAt    *time.Time `json:"read_at,omitempty"`
}

// Notifications lists a patient's notification centre, newest first.
func (h *Handler) Notifications(c *gin.Context) {
	cursor, limit, err := web.Page(c)
	if err != nil {
		web.Error(c, err)
		return
	}
	ns, unread, err := h.svc.Notifications(c.Request.Context(), c.Param("patientID"), cursor, limit)
	if err != nil {
		web.Error(c, err)
		return
	}
	out := make([]NotificationView, len(ns))
	for i, n := range ns {
		out[i] = NotificationView{ID: n.ID, Kind: n.Kind, Title: n.Title, Page: n.Page, CreatedAt: n.CreatedAt, ReadAt: n.ReadAt}
	}
	resp := gin.H{"notifications": out, "unread": unread}
	if len(ns) == limit {
		resp["next_cursor"] = ns[len(ns)-1].ID
	}
	web.OK(c, resp)
}

type readRequest struct {
	IDs []string `json:"ids" validate:"max=200,dive,max=36"`
}

// MarkRead marks notifications read: the ones named, or all.
func (h *Handler) MarkRead(c *gin.Context) {
	var req readRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	n, err := h.svc.MarkRead(c.Request.Context(), c.Param("patientID"), req.IDs)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, gin.H{"marked": n})
}

// AttemptView is one try at a push.
type AttemptView struct {
	Outcome string    `json:"outcome"`
	ErrCode int       `json:"errcode,omitempty"`
	At      time.Time `json:"at"`
}

// PushView is one push as the care team sees it: what, to whom (patient or
// relative, by user id), when, and how it went — never its text.
type PushView struct {
	ID          string        `json:"id"`
	Kind        string        `json:"kind"`
	UserID      string        `json:"user_id"`
	Recipient   string        `json:"recipient"`
	Urgent      bool          `json:"urgent"`
	Status      string        `json:"status"`
	ErrCode     int           `json:"errcode,omitempty"`
	ScheduledAt time.Time     `json:"scheduled_at"`
	SentAt      *time.Time    `json:"sent_at,omitempty"`
	CreatedAt   time.Time     `json:"created_at"`
	Attempts    []AttemptView `json:"attempts"`
}

// Pushes lists a patient's push log.
func (h *Handler) Pushes(c *gin.Context) {
	cursor, limit, err := web.Page(c)
	if err != nil {
		web.Error(c, err)
		return
	}
	ps, attempts, err := h.svc.Pushes(c.Request.Context(), c.Param("patientID"), cursor, limit)
	if err != nil {
		web.Error(c, err)
		return
	}
	out := make([]PushView, len(ps))
	for i, p := range ps {
		v := PushView{ID: p.ID, Kind: p.Kind, UserID: p.UserID, Recipient: p.Recipient, Urgent: p.Urgent, Status: p.Status,
			ErrCode: p.ErrCode, ScheduledAt: p.ScheduledAt, SentAt: p.SentAt, CreatedAt: p.CreatedAt, Attempts: []AttemptView{}}
		for _, a := range attempts[p.ID] {
			v.Attempts = append(v.Attempts, AttemptView{Outcome: a.Outcome, ErrCode: a.ErrCode, At: a.At})
		}
		out[i] = v
	}
	resp := gin.H{"pushes": out}
	if len(ps) == limit {
		resp["next_cursor"] = ps[len(ps)-1].ID
	}
	web.OK(c, resp)
}
