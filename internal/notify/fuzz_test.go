package notify

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// FuzzPushEvent: any body WeChat (or anyone) posts decodes to an event whose
// items can be read; never a panic.
func FuzzPushEvent(f *testing.F) {
	f.Add([]byte(`{"FromUserName":"o1","MsgType":"event","Event":"subscribe_msg_popup_event","List":[{"TemplateId":"t","SubscribeStatusString":"accept"}]}`))
	f.Add([]byte(`{"Event":"subscribe_msg_change_event","List":{"TemplateId":"t","SubscribeStatusString":"reject"}}`))
	f.Add([]byte(`{"Event":"subscribe_msg_sent_event","List":{"TemplateId":"t","ErrorCode":43101,"ErrorStatus":"fail:user refuse to accept the msg"}}`))
	f.Add([]byte(`{"List":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var ev pushEvent
		if json.Unmarshal(body, &ev) != nil {
			return
		}
		_ = ev.items()
	})
}

// xmlPush is a subscription event in WeChat's XML format.
const xmlPush = `<xml><ToUserName><![CDATA[gh_x]]></ToUserName>
<FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1676138120</CreateTime>
<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_popup_event]]></Event>
<SubscribeMsgPopupEvent><List><TemplateId><![CDATA[t1]]></TemplateId><SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString><PopupScene>0</PopupScene></List>
<List><TemplateId><![CDATA[t2]]></TemplateId><SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString><PopupScene>0</PopupScene></List>
</SubscribeMsgPopupEvent></xml>`

// FuzzPushXML: any body, XML or JSON, decodes to an event or is refused
// with malformed_push; never a panic, and the same body always decodes the same.
func FuzzPushXML(f *testing.F) {
	f.Add([]byte(xmlPush))
	f.Add([]byte(`<xml><Event>subscribe_msg_sent_event</Event><SubscribeMsgSentEvent><List><TemplateId>t</TemplateId><MsgID>1</MsgID><ErrorCode>43101</ErrorCode><ErrorStatus>fail:user refuse to accept the msg</ErrorStatus></List></SubscribeMsgSentEvent></xml>`))
	f.Add([]byte(`<xml><Event>subscribe_msg_change_event</Event><SubscribeMsgChangeEvent><List><ErrorCode>x</ErrorCode></List></SubscribeMsgChangeEvent></xml>`))
	f.Add([]byte(`<!DOCTYPE xml [<!ENTITY a "aaaa">]><xml><Event>&a;</Event></xml>`))
	f.Add([]byte(`<xml><Encrypt><![CDATA[abc]]></Encrypt></xml>`))
	f.Add([]byte(`{"Event":"subscribe_msg_popup_event","List":[]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := decodePush(body)
		if err != nil {
			if err != errMalformedPush {
				t.Fatalf("refused with %v, want malformed_push", err)
			}
			return
		}
		again, _ := decodePush(body)
		if !reflect.DeepEqual(ev, again) {
			t.Fatalf("the same body decoded twice differently: %+v, %+v", ev, again)
		}
	})
}

// xmlItem and xmlEvent write an event the way WeChat does, to compare formats.
type xmlEvent struct {
	XMLName      xml.Name        `xml:"xml"`
	FromUserName string          `xml:"FromUserName"`
	MsgType      string          `xml:"MsgType"`
	Event        string          `xml:"Event"`
	Popup        []pushEventItem `xml:"SubscribeMsgPopupEvent>List,omitempty"`
	Change       []pushEventItem `xml:"SubscribeMsgChangeEvent>List,omitempty"`
	Sent         []pushEventItem `xml:"SubscribeMsgSentEvent>List,omitempty"`
}

// FuzzPushFormatsAgree: the same event sent as JSON and as XML decodes to
// the same openid, event and items, so the push settings' format choice
// cannot change what a user's subscriptions become.
func FuzzPushFormatsAgree(f *testing.F) {
	f.Add(uint8(0), "o1", "t1", "accept", 0, "")
	f.Add(uint8(1), "o2", "t2", "reject", 0, "")
	f.Add(uint8(2), "o3", "t3", "", 43101, "fail:user refuse to accept the msg")
	f.Fuzz(func(t *testing.T, which uint8, openid, tmpl, status string, code int, errStatus string) {
		for _, s := range []string{openid, tmpl, status, errStatus} {
			if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return !xmlChar(r) }) || strings.TrimSpace(s) != s {
				t.Skip("not representable in both formats")
			}
		}
		events := []string{"subscribe_msg_popup_event", "subscribe_msg_change_event", "subscribe_msg_sent_event"}
		event := events[int(which)%len(events)]
		item := pushEventItem{TemplateID: tmpl, SubscribeStatusString: status, ErrorCode: code, ErrorStatus: errStatus}
		j, _ := json.Marshal(map[string]any{"FromUserName": openid, "MsgType": "event", "Event": event, "List": []pushEventItem{item}})
		x := xmlEvent{FromUserName: openid, MsgType: "event", Event: event}
		switch event {
		case events[0]:
			x.Popup = []pushEventItem{item}
		case events[1]:
			x.Change = []pushEventItem{item}
		default:
			x.Sent = []pushEventItem{item}
		}
		xb, err := xml.Marshal(x)
		if err != nil {
			t.Skip()
		}
		fromJSON, err1 := decodePush(j)
		fromXML, err2 := decodePush(xb)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(fromJSON, fromXML) {
			t.Fatalf("formats disagree:\nJSON %s → %+v %v\nXML  %s → %+v %v", j, fromJSON, err1, xb, fromXML, err2)
		}
	})
}

// xmlChar is XML 1.0's Char production.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// FuzzPushUnsigned: a push that does not carry the token's signature is
// refused with 403 before its body is read, whatever the query and body
// (the handler has no accounts here: reaching them would panic).
func FuzzPushUnsigned(f *testing.F) {
	f.Add("timestamp=1&nonce=2&signature=bad", []byte(xmlPush))
	f.Add("", []byte(`{"Event":"subscribe_msg_change_event","FromUserName":"o1","List":[{"TemplateId":"t","SubscribeStatusString":"reject"}]}`))
	f.Add("timestamp=1&nonce=2&signature="+Signature("other-token", "1", "2"), []byte(xmlPush))
	f.Add("msg_signature=x&encrypt_type=aes&timestamp=1&nonce=2", []byte(`<xml><Encrypt>abc</Encrypt></xml>`))
	gin.SetMode(gin.ReleaseMode)
	const token = "push-token"
	h := &Handler{svc: &Service{cfg: Config{PushToken: token}}}
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/wechat/push", strings.NewReader(string(body)))
		req.URL.RawQuery = query
		q := req.URL.Query()
		if Signature(token, q.Get("timestamp"), q.Get("nonce")) == q.Get("signature") {
			t.Skip("signed")
		}
		rec := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(rec)
		c.Request = req
		h.Push(c)
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "bad_signature") {
			t.Fatalf("unsigned push answered %d %s", rec.Code, rec.Body)
		}
	})
}

// FuzzSignature: the signature does not depend on the order of its parts
// and changes with the token.
func FuzzSignature(f *testing.F) {
	f.Add("token", "1700000000", "nonce")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, token, ts, nonce string) {
		s := Signature(token, ts, nonce)
		if s != Signature(nonce, token, ts) || len(s) != 40 {
			t.Fatalf("signature depends on order or has the wrong length: %q", s)
		}
		if token != ts && token != nonce && Signature(token+"x", ts, nonce) == s {
			t.Fatal("a different token gives the same signature")
		}
	})
}
