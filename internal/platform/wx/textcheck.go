package wx

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/silenceper/wechat/v2/miniprogram/security"
)

// TextVerdict is WeChat's suggestion for a piece of user text.
type TextVerdict string

const (
	TextPass   TextVerdict = "pass"
	TextReview TextVerdict = "review" // publish only after a person has looked
	TextRisky  TextVerdict = "risky"  // do not publish
)

// Scenes for CheckText.
const (
	SceneProfile   = 1
	SceneComment   = 2
	SceneForum     = 3
	SceneSocialLog = 4
)

// maxCheckedText is msg_sec_check's limit, in characters.
const maxCheckedText = 2500

// CheckText asks WeChat's content security (msg_sec_check version 2) about
// content written by openID, who must have opened the mini-program in the
// last 2 hours (else ErrOpenIDInactive). Empty content passes without a
// call; content over 2500 characters is refused (ErrBadData): split it.
func (c *Client) CheckText(ctx context.Context, openID string, scene int, content string) (TextVerdict, error) {
	const op = "msg_sec_check"
	switch {
	case openID == "":
		return "", fmt.Errorf("wx: %s: empty openid: %w", op, ErrBadOpenID)
	case scene < SceneProfile || scene > SceneSocialLog:
		return "", fmt.Errorf("wx: %s: scene %d is not 1..4: %w", op, scene, ErrBadData)
	case utf8.RuneCountInString(content) > maxCheckedText:
		return "", fmt.Errorf("wx: %s: text longer than %d characters: %w", op, maxCheckedText, ErrBadData)
	case content == "":
		return TextPass, nil
	}
	var verdict TextVerdict
	err := c.withToken(ctx, op, func() error {
		res, err := c.mp.GetSecurity().MsgCheckContext(ctx, &security.MsgCheckRequest{
			OpenID:  openID,
			Scene:   security.MsgScene(scene),
			Content: content,
		})
		if err != nil {
			return classify(err)
		}
		switch v := TextVerdict(res.Result.Suggest); v {
		case TextPass, TextReview, TextRisky:
			verdict = v
			return nil
		default:
			return fmt.Errorf("unknown suggest %q: %w", v, ErrWeChat)
		}
	})
	return verdict, err
}
