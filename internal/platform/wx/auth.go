package wx

import (
	"context"
	"fmt"
	"net/url"
)

// Session is who a wx.login code belongs to.
//
// The session_key WeChat also returns is dropped on purpose: phone numbers
// come through the getPhoneNumber code flow (PhoneNumber), so nothing here
// decrypts encryptedData, and a key we never keep cannot leak from a log, a
// response or the database.
type Session struct {
	OpenID  string
	UnionID string // empty unless the mini-program is bound to an Open Platform account
}

// Code2Session exchanges a wx.login code (single use, valid 5 minutes) for
// the user's openid and unionid.
func (c *Client) Code2Session(ctx context.Context, code string) (Session, error) {
	const op = "code2session"
	if code == "" {
		return Session{}, fmt.Errorf("wx: %s: empty code: %w", op, ErrInvalidCode)
	}
	// silenceper pastes the code into the query string unescaped.
	res, err := c.mp.GetAuth().Code2SessionContext(ctx, url.QueryEscape(code))
	// silenceper's error for an errcode is an untyped string; the struct
	// still carries ErrCode, so branch on that first.
	switch {
	case res.ErrCode != 0:
		return Session{}, fmt.Errorf("wx: %s: %w", op, newAPIError(res.ErrCode, res.ErrMsg))
	case err != nil:
		return Session{}, fmt.Errorf("wx: %s: %w", op, classify(err))
	case res.OpenID == "":
		return Session{}, fmt.Errorf("wx: %s: answer without openid: %w", op, ErrWeChat)
	}
	return Session{OpenID: res.OpenID, UnionID: res.UnionID}, nil
}

// PhoneNumber exchanges a getPhoneNumber button code (single use, valid 5
// minutes) for the user's phone number without country code
// (purePhoneNumber). WeChat bills each success.
func (c *Client) PhoneNumber(ctx context.Context, code string) (string, error) {
	const op = "getuserphonenumber"
	if code == "" {
		return "", fmt.Errorf("wx: %s: empty code: %w", op, ErrInvalidCode)
	}
	var phone string
	err := c.withToken(ctx, op, func() error {
		res, err := c.mp.GetAuth().GetPhoneNumberContext(ctx, code)
		if err != nil {
			return classify(err)
		}
		if res.PhoneInfo.PurePhoneNumber == "" {
			return fmt.Errorf("answer without purePhoneNumber: %w", ErrWeChat)
		}
		phone = res.PhoneInfo.PurePhoneNumber
		return nil
	})
	return phone, err
}
