package wx

import (
	"context"
	"fmt"

	"github.com/silenceper/wechat/v2/miniprogram/subscribe"
	"github.com/silenceper/wechat/v2/util"
)

const subscribeSendURL = wechatAPIBase + "/cgi-bin/message/subscribe/send"

// SubscribeMessage is one subscription message (订阅消息). Whatever is in
// Data shows on a lock screen: say that something is waiting, never a
// diagnosis, a reading or a message body.
type SubscribeMessage struct {
	ToOpenID   string
	TemplateID string
	// Page is the mini-program page the card opens, e.g.
	// "pages/chat/index?thread=…". Required: a card that opens nothing is
	// of no use to a patient.
	Page string
	// Data maps template keys to values, e.g. {"thing1": "您有一条新消息"}.
	// WeChat counts characters: thing ≤20, phrase ≤5, name ≤10,
	// character_string ≤32.
	Data map[string]string
}

// SendSubscribe sends m, with the configured miniprogram_state and lang.
// Errors to branch on: ErrNoQuota (do not retry; the user has no credit
// left), ErrBadData (a bug: alert the operator), ErrBadOpenID, ErrBadPage,
// ErrDailyLimit, ErrUnavailable (retry with backoff).
func (c *Client) SendSubscribe(ctx context.Context, m SubscribeMessage) error {
	const op = "subscribe send"
	switch {
	case m.ToOpenID == "":
		return fmt.Errorf("wx: %s: empty openid: %w", op, ErrBadOpenID)
	case m.Page == "":
		return fmt.Errorf("wx: %s: empty page: %w", op, ErrBadPage)
	case m.TemplateID == "" || len(m.Data) == 0:
		return fmt.Errorf("wx: %s: template id and data are required: %w", op, ErrBadData)
	}
	data := make(map[string]*subscribe.DataItem, len(m.Data))
	for k, v := range m.Data {
		data[k] = &subscribe.DataItem{Value: v}
	}
	msg := &subscribe.Message{
		ToUser:           m.ToOpenID,
		TemplateID:       m.TemplateID,
		Page:             m.Page,
		Data:             data,
		MiniprogramState: c.state,
		Lang:             c.lang,
	}
	return c.withToken(ctx, op, func() error {
		// silenceper's Subscribe.Send takes no context; this posts the same
		// body the same way, with the caller's context.
		token, err := c.mp.GetContext().GetAccessTokenContext(ctx)
		if err != nil {
			return classify(err)
		}
		body, err := util.PostJSONContext(ctx, subscribeSendURL+"?access_token="+token, msg)
		if err != nil {
			return classify(err)
		}
		return classify(util.DecodeWithCommonError(body, "subscribe.send"))
	})
}
