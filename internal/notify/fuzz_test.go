package notify

import (
	"encoding/json"
	"testing"
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
