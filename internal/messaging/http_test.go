package messaging_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/family"
	"github.com/carepath/carepath/internal/messaging"
	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/dbtest"
	"github.com/carepath/carepath/internal/platform/outbox"
)

func TestMain(m *testing.M) {
	for _, ct := range []string{"image/png", "image/jpeg", "image/webp", "image/gif"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
	}
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

// who is a caller: a bearer token or a staff session.
type who struct {
	token string
	staff apitest.StaffSession
}

func (w who) req(method, path string, body any) apitest.Request {
	return apitest.Request{Method: method, Path: path, Body: body, Token: w.token, Cookie: w.staff.Cookie, CSRF: w.staff.CSRF}
}

type env struct {
	*apitest.Env
	t   *testing.T
	ids int
}

// newEnv starts from empty threads: the demo's messages (see TestDemoThreads)
// would shift every sequence number these tests count.
func newEnv(t *testing.T) *env {
	e := &env{Env: apitest.New(t), t: t}
	clearThreads(t, e.App.DB)
	return e
}

func clearThreads(t *testing.T, db *gorm.DB) {
	t.Helper()
	for _, table := range []string{"thread_messages", "thread_reads", "message_threads"} {
		if err := db.Exec("DELETE FROM " + table).Error; err != nil {
			t.Fatal(err)
		}
	}
}

func TestDemoThreads(t *testing.T) {
	e := &env{Env: apitest.New(t), t: t}
	p1, p3 := e.Demo.Patients["patient1"], e.Demo.Patients["patient3"]
	if p := e.list(e.user("patient1"), p1, "?after=0"); len(p.Items) != 3 || strings.Contains(texts(p), "note") {
		t.Errorf("patient1's demo thread = %s, want 3 messages and no note", texts(p))
	}
	resp := e.Do(e.staff("cm2").req(http.MethodGet, "/api/v1/inbox", nil))
	var in messaging.InboxResponse
	resp.JSON(t, &in)
	if len(in.Items) != 1 || in.Items[0].PatientID != p3 || !in.Items[0].Waiting || in.Items[0].WaitingSeconds < 40*60 {
		t.Errorf("cm2's demo inbox = %+v, want patient3 waiting about 42 minutes", in.Items)
	}
	resp = e.Do(e.staff("cm1").req(http.MethodGet, "/api/v1/quick-replies", nil))
	if !strings.Contains(string(resp.Body), "术后肿胀") {
		t.Errorf("demo quick replies = %s", resp.Body)
	}
}

func (e *env) user(name string) who  { return who{token: e.LoginWeChat(name).AccessToken} }
func (e *env) staff(name string) who { return who{staff: e.LoginStaff(name)} }

func threadPath(patientID string) string { return "/api/v1/patients/" + patientID + "/thread" }

// send posts a text message with a fresh client id and returns the response.
func (e *env) send(w who, patientID string, body map[string]any) apitest.Response {
	e.t.Helper()
	if _, ok := body["client_msg_id"]; !ok {
		e.ids++
		body["client_msg_id"] = fmt.Sprintf("c-%d", e.ids)
	}
	return e.Do(w.req(http.MethodPost, threadPath(patientID)+"/messages", body))
}

func (e *env) sendText(w who, patientID, text string) messaging.MessageView {
	e.t.Helper()
	resp := e.send(w, patientID, map[string]any{"text": text})
	if resp.Status != http.StatusCreated {
		e.t.Fatalf("send %q: %d %s", text, resp.Status, resp.Body)
	}
	var m messaging.MessageView
	resp.JSON(e.t, &m)
	return m
}

func (e *env) list(w who, patientID, query string) messaging.MessagesPage {
	e.t.Helper()
	resp := e.Do(w.req(http.MethodGet, threadPath(patientID)+"/messages"+query, nil))
	if resp.Status != http.StatusOK {
		e.t.Fatalf("list %s: %d %s", query, resp.Status, resp.Body)
	}
	var p messaging.MessagesPage
	resp.JSON(e.t, &p)
	return p
}

func (e *env) thread(w who, patientID string) messaging.ThreadView {
	e.t.Helper()
	resp := e.Do(w.req(http.MethodGet, threadPath(patientID), nil))
	if resp.Status != http.StatusOK {
		e.t.Fatalf("thread: %d %s", resp.Status, resp.Body)
	}
	var v messaging.ThreadView
	resp.JSON(e.t, &v)
	return v
}

func texts(p messaging.MessagesPage) string {
	var out []string
	for _, m := range p.Items {
		s := m.Kind + ":" + m.Text
		if m.Recalled {
			s += "(recalled)"
		}
		out = append(out, s)
	}
	return strings.Join(out, " | ")
}

func wantStatus(t *testing.T, what string, resp apitest.Response, status int, code string) {
	t.Helper()
	if resp.Status != status || code != "" && resp.ErrorCode() != code {
		t.Errorf("%s: got %d %s, want %d %s", what, resp.Status, resp.Body, status, code)
	}
}

func TestSendIsExactlyOnceAndOrdered(t *testing.T) {
	e := newEnv(t)
	p1 := e.Demo.Patients["patient1"]
	patient, cm := e.user("patient1"), e.staff("cm1")

	first := e.send(patient, p1, map[string]any{"client_msg_id": "retry-me", "text": "护士您好，伤口有点渗液"})
	wantStatus(t, "first send", first, http.StatusCreated, "")
	var m1 messaging.MessageView
	first.JSON(t, &m1)
	if m1.Seq != 1 || m1.Sender.Role != "patient" || m1.ClientMsgID != "retry-me" {
		t.Errorf("first message = %+v, want seq 1 from the patient with its client id", m1)
	}
	for i := 0; i < 2; i++ { // a weak network retries
		again := e.send(patient, p1, map[string]any{"client_msg_id": "retry-me", "text": "护士您好，伤口有点渗液"})
		wantStatus(t, "retry", again, http.StatusOK, "")
		var m messaging.MessageView
		again.JSON(t, &m)
		if m.ID != m1.ID || m.Seq != 1 {
			t.Errorf("retry answered %s seq %d, want the first message %s seq 1", m.ID, m.Seq, m1.ID)
		}
	}
	wantStatus(t, "same id, other text", e.send(patient, p1, map[string]any{"client_msg_id": "retry-me", "text": "另一句话"}),
		http.StatusConflict, "client_msg_id_reused")
	// The id is per sender: the CM may use the same string.
	wantStatus(t, "CM with the same client id", e.send(cm, p1, map[string]any{"client_msg_id": "retry-me", "text": "您好，请拍张照片给我看看"}),
		http.StatusCreated, "")
	e.sendText(patient, p1, "好的")

	all := e.list(patient, p1, "?after=0")
	if got, want := texts(all), "text:护士您好，伤口有点渗液 | text:您好，请拍张照片给我看看 | text:好的"; got != want {
		t.Errorf("forward from 0 = %q, want %q", got, want)
	}
	for i, m := range all.Items {
		if m.Seq != int64(i+1) {
			t.Errorf("item %d has seq %d, want %d", i, m.Seq, i+1)
		}
	}
	if all.LastSeq != 3 || all.NextAfter == nil || *all.NextAfter != 3 || all.HasMore {
		t.Errorf("forward page cursors = last %d next_after %v has_more %v, want 3, 3, false", all.LastSeq, all.NextAfter, all.HasMore)
	}
	// Polling with the cursor: nothing new, then exactly the new message.
	if p := e.list(patient, p1, "?after=3"); len(p.Items) != 0 || *p.NextAfter != 3 {
		t.Errorf("poll after 3 = %s next %v, want nothing and the same cursor", texts(p), *p.NextAfter)
	}
	e.sendText(cm, p1, "收到")
	if p := e.list(patient, p1, "?after=3"); texts(p) != "text:收到" || *p.NextAfter != 4 {
		t.Errorf("poll after 3 = %s, want the CM's new message and cursor 4", texts(p))
	}
	// Backward from the newest, one page at a time.
	page := e.list(patient, p1, "?limit=3")
	if texts(page) != "text:收到 | text:好的 | text:您好，请拍张照片给我看看" || !page.HasMore || page.NextBefore == nil || *page.NextBefore != 2 {
		t.Errorf("newest page = %s has_more %v next_before %v", texts(page), page.HasMore, page.NextBefore)
	}
	older := e.list(patient, p1, fmt.Sprintf("?before=%d&limit=3", *page.NextBefore))
	if texts(older) != "text:护士您好，伤口有点渗液" || older.HasMore {
		t.Errorf("older page = %s has_more %v, want the first message and no more", texts(older), older.HasMore)
	}
}

func TestThreadAccessForEveryParticipant(t *testing.T) {
	e := newEnv(t)
	p1, p3 := e.Demo.Patients["patient1"], e.Demo.Patients["patient3"]
	// cm2 covers patient1 while cm1 is away; a relative of patient1 has a revoked link.
	if err := e.App.Patients.SetCoveringCM(t.Context(), p1, e.Demo.Staff["cm2"]); err != nil {
		t.Fatal(err)
	}
	revoked := e.LoginWeChat("exdaughter")
	link := family.NewLink(database.NewID(), p1, revoked.UserID, "前儿媳", nil, time.Now())
	if err := e.App.Family.Store().CreateLink(t.Context(), &link); err != nil {
		t.Fatal(err)
	}
	patient1 := auth.Actor{Kind: auth.KindUser, ID: e.Demo.Users["fake-openid-patient1"], Role: auth.RoleUser}
	if _, err := e.App.Family.Revoke(t.Context(), patient1, p1, link.ID); err != nil {
		t.Fatal(err)
	}
	callers := map[string]who{
		"anonymous": {}, "patient1": e.user("patient1"), "patient2": e.user("patient2"),
		"family1 (message scope)": e.user("family1"), "family2 (no message scope)": e.user("family2"),
		"revoked relative": {token: revoked.AccessToken}, "stranger": e.user("stranger"),
		"cm1 (assigned)": e.staff("cm1"), "cm2 (covering p1, assigned p3)": e.staff("cm2"),
		"lead1 (ortho)": e.staff("lead1"), "admin": e.staff("admin"),
	}
	cases := []struct {
		caller, patient string
		want            int
	}{
		{"anonymous", p1, 401},
		{"patient1", p1, 200}, {"patient1", p3, 404}, {"patient2", p1, 404},
		{"family1 (message scope)", p1, 200}, {"family1 (message scope)", p3, 404},
		{"family2 (no message scope)", p3, 404},
		{"revoked relative", p1, 404}, {"stranger", p1, 404},
		{"cm1 (assigned)", p1, 200}, {"cm1 (assigned)", p3, 404},
		{"cm2 (covering p1, assigned p3)", p1, 200}, {"cm2 (covering p1, assigned p3)", p3, 200},
		{"lead1 (ortho)", p1, 200}, {"lead1 (ortho)", p3, 404},
		{"admin", p1, 404},
	}
	for _, tc := range cases {
		c := callers[tc.caller]
		read := e.Do(c.req(http.MethodGet, threadPath(tc.patient)+"/messages", nil))
		if read.Status != tc.want {
			t.Errorf("%s reads %s: %d, want %d", tc.caller, tc.patient[:8], read.Status, tc.want)
		}
		wantSend := tc.want
		if wantSend == 200 {
			wantSend = 201
		}
		sent := e.send(c, tc.patient, map[string]any{"text": "你好"})
		if sent.Status != wantSend {
			t.Errorf("%s sends to %s: %d %s, want %d", tc.caller, tc.patient[:8], sent.Status, sent.Body, wantSend)
		}
		if tc.want == 404 && !strings.Contains(string(read.Body), "not_found") {
			t.Errorf("%s: denial body %s, want a plain not_found", tc.caller, read.Body)
		}
	}
	// Family reads are audited; the patient's own reads are not.
	var n int64
	e.FlushAudit() // audit events are written in batches
	e.App.DB.Table("audit_events").Where("actor_id = ? AND action = ?", e.Demo.Users["fake-openid-family1"],
		"GET /api/v1/patients/:patientID/thread/messages").Count(&n)
	if n == 0 {
		t.Error("family1's read of the thread left no audit event")
	}
	v := e.thread(callers["patient1"], p1)
	roles := map[string]int{}
	for _, p := range v.Participants {
		roles[p.Role]++
	}
	if roles["patient"] != 1 || roles["family"] != 1 || roles["cm"] != 1 || roles["covering_cm"] != 1 {
		t.Errorf("participants = %+v, want the patient, family1 (not the revoked relative), cm1 and covering cm2", v.Participants)
	}
}

func TestInternalNotesNeverReachPatientsOrFamily(t *testing.T) {
	e := newEnv(t)
	p1 := e.Demo.Patients["patient1"]
	patient, family, cm, lead := e.user("patient1"), e.user("family1"), e.staff("cm1"), e.staff("lead1")
	e.sendText(patient, p1, "今天血压 150/95")
	note := e.send(cm, p1, map[string]any{"kind": "note", "text": "家属情绪焦虑，电话随访时注意安抚"})
	wantStatus(t, "staff note", note, http.StatusCreated, "")
	e.sendText(cm, p1, "请继续按时服药，明早再量一次")
	wantStatus(t, "patient writing a note", e.send(patient, p1, map[string]any{"kind": "note", "text": "x"}), http.StatusForbidden, "notes_staff_only")

	for name, w := range map[string]who{"patient": patient, "family": family} {
		p := e.list(w, p1, "?after=0")
		if strings.Contains(texts(p), "note") || strings.Contains(string(mustJSON(t, p)), "安抚") {
			t.Errorf("%s sees the note: %s", name, texts(p))
		}
		if v := e.thread(w, p1); v.UnreadCount != 1 && name == "patient" {
			t.Errorf("%s unread = %d, want 1 (the reply, not the note)", name, v.UnreadCount)
		}
	}
	for name, w := range map[string]who{"cm1": cm, "lead1": lead} {
		if p := e.list(w, p1, "?after=0"); !strings.Contains(texts(p), "note:家属情绪焦虑") {
			t.Errorf("%s does not see the note: %s", name, texts(p))
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRecallWithinTwoMinutesBySenderOnly(t *testing.T) {
	e := newEnv(t)
	p1, p3 := e.Demo.Patients["patient1"], e.Demo.Patients["patient3"]
	patient, family, cm := e.user("patient1"), e.user("family1"), e.staff("cm1")
	recall := func(w who, patientID, id string) apitest.Response {
		return e.Do(w.req(http.MethodPost, threadPath(patientID)+"/messages/"+id+"/recall", nil))
	}
	oops := e.sendText(patient, p1, "发错了")
	wantStatus(t, "someone else recalls", recall(family, p1, oops.ID), http.StatusForbidden, "recall_not_sender")
	wantStatus(t, "recall through another patient's path", recall(e.user("patient3"), p3, oops.ID), http.StatusNotFound, "not_found")
	e.Clock.Advance(messaging.RecallWindow)
	resp := recall(patient, p1, oops.ID)
	wantStatus(t, "recall at two minutes", resp, http.StatusOK, "")
	var got messaging.MessageView
	resp.JSON(t, &got)
	if !got.Recalled || got.Text != "" {
		t.Errorf("recalled message = %+v, want recalled with no text", got)
	}
	wantStatus(t, "recall twice", recall(patient, p1, oops.ID), http.StatusOK, "")

	late := e.sendText(cm, p1, "请明天上午来复查")
	e.Clock.Advance(messaging.RecallWindow + time.Second)
	wantStatus(t, "recall after two minutes", recall(cm, p1, late.ID), http.StatusUnprocessableEntity, "recall_window_passed")
	wantStatus(t, "recall of no such message", recall(cm, p1, "01900000-0000-7000-8000-000000000000"), http.StatusNotFound, "not_found")

	// Everyone learns of the recall by cursor: a recall entry follows.
	p := e.list(family, p1, "?after=0")
	if got, want := texts(p), "text:(recalled) | recall: | text:请明天上午来复查"; got != want {
		t.Errorf("thread after recall = %q, want %q", got, want)
	}
	if p.Items[1].RefID != oops.ID {
		t.Errorf("recall entry ref_id = %q, want %q", p.Items[1].RefID, oops.ID)
	}
}

func TestContentSecurityBlocksPatientTextBeforeStoring(t *testing.T) {
	e := newEnv(t)
	p1 := e.Demo.Patients["patient1"]
	patient, family, cm := e.user("patient1"), e.user("family1"), e.staff("cm1")
	for name, w := range map[string]who{"patient": patient, "family": family} {
		resp := e.send(w, p1, map[string]any{"text": "这是一段违禁内容"})
		wantStatus(t, name+" sends blocked text", resp, http.StatusUnprocessableEntity, "message_blocked")
		if !strings.Contains(string(resp.Body), "content_security") {
			t.Errorf("blocked answer %s does not give the reason", resp.Body)
		}
	}
	if p := e.list(cm, p1, "?after=0"); len(p.Items) != 0 || p.LastSeq != 0 {
		t.Errorf("blocked text was stored: %s (last seq %d)", texts(p), p.LastSeq)
	}
	e.sendText(patient, p1, "review-test 这句需要人工复核") // "review" reaches the clinician
	// Staff text is trusted (no openid to check with): it is not sent to WeChat.
	e.sendText(cm, p1, "“违禁”药品清单请勿自行购买")
	e.Fake.SetDown(true)
	wantStatus(t, "WeChat down", e.send(patient, p1, map[string]any{"text": "在吗"}), http.StatusServiceUnavailable, "dependency_unavailable")
	e.Fake.SetDown(false)
	if p := e.list(cm, p1, "?after=0"); len(p.Items) != 2 {
		t.Errorf("thread = %s, want the reviewed text and the CM's", texts(p))
	}
}

func multipartBody(t *testing.T, fields map[string]string, file []byte) (string, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	if file != nil {
		fw, err := w.CreateFormFile("file", "photo.png")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(file)
	}
	w.Close()
	return buf.String(), w.FormDataContentType()
}

var pngBytes = func() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err)
	}
	return buf.Bytes()
}()

// TestUploadsAreImagesThroughAndThrough: the sniffed type is not enough; a
// PNG header in front of an executable, an HTML page named .png, and a
// truncated PNG are all refused and nothing is stored.
func TestUploadsAreImagesThroughAndThrough(t *testing.T) {
	e := newEnv(t)
	p1 := e.Demo.Patients["patient1"]
	patient, cm := e.user("patient1"), e.staff("cm1")
	upload := func(id string, data []byte) apitest.Response {
		body, ct := multipartBody(t, map[string]string{"client_msg_id": id}, data)
		r := patient.req(http.MethodPost, threadPath(p1)+"/messages", body)
		r.Headers = map[string]string{"Content-Type": ct}
		return e.Do(r)
	}
	exe := append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"), bytes.Repeat([]byte("This program cannot be run in DOS mode."), 20)...)
	cases := map[string][]byte{
		"png header, exe body": append(append([]byte{}, pngBytes[:33]...), exe...),
		"html named png":       []byte("<!doctype html><html><script>alert(1)</script></html>"),
		"exe":                  exe,
		"truncated png":        pngBytes[:len(pngBytes)-20],
	}
	for name, data := range cases {
		wantStatus(t, name, upload(strings.NewReplacer(" ", "-", ",", "").Replace(name), data), http.StatusBadRequest, "unsupported_image_type")
	}
	if p := e.list(cm, p1, "?after=0"); len(p.Items) != 0 {
		t.Fatalf("refused uploads were stored: %s", texts(p))
	}
	wantStatus(t, "a real png", upload("real", pngBytes), http.StatusCreated, "")
}

func TestImagesAreServedOnlyThroughExpiringSignedLinks(t *testing.T) {
	e := newEnv(t)
	p1 := e.Demo.Patients["patient1"]
	patient, cm := e.user("patient1"), e.staff("cm1")
	upload := func(w who, id string, data []byte) apitest.Response {
		body, ct := multipartBody(t, map[string]string{"client_msg_id": id}, data)
		r := w.req(http.MethodPost, threadPath(p1)+"/messages", body)
		r.Headers = map[string]string{"Content-Type": ct}
		return e.Do(r)
	}
	resp := upload(patient, "img-1", pngBytes)
	wantStatus(t, "upload", resp, http.StatusCreated, "")
	var m messaging.MessageView
	resp.JSON(t, &m)
	if m.Kind != "image" || m.Image == nil || m.Image.ContentType != "image/png" || m.Image.Size != int64(len(pngBytes)) {
		t.Fatalf("image message = %+v", m)
	}
	wantStatus(t, "upload retry", upload(patient, "img-1", pngBytes), http.StatusOK, "")

	// The CM opens the image through the link minted for their read.
	page := e.list(cm, p1, "?after=0")
	link := page.Items[0].Image.URL
	got := e.Do(apitest.Request{Method: http.MethodGet, Path: link})
	if got.Status != http.StatusOK || !bytes.Equal(got.Body, pngBytes) || got.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("download: %d %q %d bytes", got.Status, got.Header.Get("Content-Type"), len(got.Body))
	}
	u, _ := url.Parse(link)
	q := u.Query()
	q.Set("sig", "forged"+q.Get("sig")[6:])
	wantStatus(t, "forged signature", e.Do(apitest.Request{Method: http.MethodGet, Path: u.Path + "?" + q.Encode()}), http.StatusNotFound, "not_found")
	wantStatus(t, "no signature", e.Do(apitest.Request{Method: http.MethodGet, Path: u.Path}), http.StatusNotFound, "not_found")
	e.Clock.Advance(11 * time.Minute) // past messaging.url_ttl
	wantStatus(t, "expired link", e.Do(apitest.Request{Method: http.MethodGet, Path: link}), http.StatusNotFound, "not_found")

	wantStatus(t, "not an image", upload(patient, "img-2", []byte("%PDF-1.7 not an image at all")), http.StatusBadRequest, "unsupported_image_type")
	big := append(append([]byte{}, pngBytes...), make([]byte, 5<<20)...)
	wantStatus(t, "too large", upload(patient, "img-3", big), http.StatusBadRequest, "image_too_large")
	wantStatus(t, "no file", upload(patient, "img-4", nil), http.StatusBadRequest, "missing_file")
	if p := e.list(cm, p1, "?after=0"); len(p.Items) != 1 {
		t.Errorf("rejected uploads were stored: %s", texts(p))
	}
}

func TestBadInputIsRejectedClearly(t *testing.T) {
	e := newEnv(t)
	p1 := e.Demo.Patients["patient1"]
	patient := e.user("patient1")
	for _, tc := range []struct {
		name string
		body any
		code string
	}{
		{"empty text", map[string]any{"client_msg_id": "a1", "text": "   "}, "empty_message"},
		{"over-long text", map[string]any{"client_msg_id": "a2", "text": strings.Repeat("长", 2001)}, "message_too_long"},
		{"no client id", map[string]any{"text": "hi"}, "invalid_field"},
		{"bad client id", map[string]any{"client_msg_id": "has space", "text": "hi"}, "invalid_client_msg_id"},
		{"unknown kind", map[string]any{"client_msg_id": "a3", "kind": "video", "text": "hi"}, "invalid_field"},
		{"not json", "{", "malformed_json"},
	} {
		wantStatus(t, tc.name, e.Do(patient.req(http.MethodPost, threadPath(p1)+"/messages", tc.body)), http.StatusBadRequest, tc.code)
	}
	for _, q := range []string{"?after=1&before=5", "?after=-1", "?before=x", "?limit=0", "?limit=201"} {
		wantStatus(t, "list "+q, e.Do(patient.req(http.MethodGet, threadPath(p1)+"/messages"+q, nil)), http.StatusBadRequest, "")
	}
	wantStatus(t, "read without seq", e.Do(patient.req(http.MethodPost, threadPath(p1)+"/read", map[string]any{})), http.StatusBadRequest, "invalid_field")
	wantStatus(t, "socket without upgrade", e.Do(patient.req(http.MethodGet, "/api/v1/ws", nil)), http.StatusBadRequest, "websocket_required")
	wantStatus(t, "socket anonymous", e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/ws"}), http.StatusUnauthorized, "")
}

func TestReadReceiptsAndUnreadCounts(t *testing.T) {
	e := newEnv(t)
	p1 := e.Demo.Patients["patient1"]
	patient, family, cm := e.user("patient1"), e.user("family1"), e.staff("cm1")
	e.sendText(patient, p1, "一")
	e.sendText(family, p1, "二")
	if v := e.thread(cm, p1); v.UnreadCount != 2 || v.LastSeq != 2 || v.WaitingSince == nil {
		t.Errorf("cm thread = unread %d last %d waiting %v, want 2, 2, waiting", v.UnreadCount, v.LastSeq, v.WaitingSince)
	}
	if v := e.thread(patient, p1); v.UnreadCount != 1 || v.WaitingSince != nil {
		t.Errorf("patient thread = unread %d waiting %v, want 1 (family's) and no staff-only fields", v.UnreadCount, v.WaitingSince)
	}
	resp := e.Do(cm.req(http.MethodPost, threadPath(p1)+"/read", map[string]any{"seq": 99}))
	wantStatus(t, "mark read", resp, http.StatusOK, "")
	var r messaging.ReadReceipt
	resp.JSON(t, &r)
	if r.LastReadSeq != 2 || r.UnreadCount != 0 {
		t.Errorf("receipt = %+v, want clamped to 2 with nothing unread", r)
	}
	wantStatus(t, "read backwards", e.Do(cm.req(http.MethodPost, threadPath(p1)+"/read", map[string]any{"seq": 1})), http.StatusOK, "")
	for _, p := range e.thread(patient, p1).Participants {
		if p.Role == "cm" && (p.LastReadSeq != 2 || p.ReadAt == nil) {
			t.Errorf("the patient sees the CM's position %d, want 2 (a position never moves back)", p.LastReadSeq)
		}
	}
}

func TestInboxTransferAndQuickReplies(t *testing.T) {
	e := newEnv(t)
	p1, p2, p5 := e.Demo.Patients["patient1"], e.Demo.Patients["patient2"], e.Demo.Patients["patient5"]
	cm1, cm2 := e.staff("cm1"), e.staff("cm2")
	e.sendText(e.user("patient2"), p2, "术后第三天，可以洗澡吗？")
	e.Clock.Advance(10 * time.Minute)
	e.sendText(e.user("patient5"), p5, "药吃完了")
	e.Clock.Advance(5 * time.Minute)
	e.sendText(e.user("patient1"), p1, "有点发烧")
	e.Clock.Advance(time.Minute)
	e.sendText(cm1, p5, "请到门诊开药")

	inbox := func(w who, q string) messaging.InboxResponse {
		resp := e.Do(w.req(http.MethodGet, "/api/v1/inbox"+q, nil))
		if resp.Status != http.StatusOK {
			t.Fatalf("inbox: %d %s", resp.Status, resp.Body)
		}
		var in messaging.InboxResponse
		resp.JSON(t, &in)
		return in
	}
	in := inbox(cm1, "")
	var order []string
	for _, it := range in.Items {
		order = append(order, it.PatientName)
	}
	if got, want := strings.Join(order, ","), "李秀英,张建国,陈明"; got != want {
		t.Fatalf("inbox order = %s, want %s (waiting longest first, then answered)", got, want)
	}
	if w := in.Items[0]; !w.Waiting || w.WaitingSeconds != 16*60 || w.UnreadCount != 1 {
		t.Errorf("first entry = %+v, want waiting 960 s with 1 unread", w)
	}
	if a := in.Items[2]; a.Waiting || a.FirstResponseSeconds == nil || *a.FirstResponseSeconds != 6*60 {
		t.Errorf("answered entry = %+v, want a first response of 360 s", a)
	}
	page1 := inbox(cm1, "?limit=2")
	page2 := inbox(cm1, "?limit=2&cursor="+page1.NextCursor)
	if len(page1.Items) != 2 || len(page2.Items) != 1 || page2.Items[0].PatientID != p5 || page2.NextCursor != "" {
		t.Errorf("paged inbox = %d + %d items", len(page1.Items), len(page2.Items))
	}
	if in := inbox(cm2, ""); len(in.Items) != 0 {
		t.Errorf("cm2's inbox shows another caseload: %+v", in.Items)
	}
	wantStatus(t, "patient inbox", e.Do(e.user("patient1").req(http.MethodGet, "/api/v1/inbox", nil)), http.StatusForbidden, "")

	// Transfer patient1's thread to cm2: cm2 covers the patient and answers.
	transfer := func(w who, to string) apitest.Response {
		return e.Do(w.req(http.MethodPost, threadPath(p1)+"/transfer", map[string]any{"to_cm_id": to}))
	}
	wantStatus(t, "transfer to a lead", transfer(cm1, e.Demo.Staff["lead1"]), http.StatusBadRequest, "invalid_transfer_target")
	wantStatus(t, "patient transfers", transfer(e.user("patient1"), e.Demo.Staff["cm2"]), http.StatusNotFound, "")
	wantStatus(t, "cm2 transfers a thread not theirs", transfer(cm2, e.Demo.Staff["cm2"]), http.StatusNotFound, "")
	resp := transfer(cm1, e.Demo.Staff["cm2"])
	wantStatus(t, "transfer", resp, http.StatusOK, "")
	var v messaging.ThreadView
	resp.JSON(t, &v)
	if v.HandlerCMID != e.Demo.Staff["cm2"] {
		t.Errorf("handler = %q, want cm2", v.HandlerCMID)
	}
	in = inbox(cm2, "")
	if len(in.Items) != 1 || in.Items[0].PatientID != p1 || in.Items[0].HandlerCMID != e.Demo.Staff["cm2"] {
		t.Errorf("cm2's inbox after transfer = %+v, want patient1's thread", in.Items)
	}
	if p := e.list(e.user("patient1"), p1, "?after=1"); !strings.HasPrefix(texts(p), "transfer:会话已转交给 吴婷") {
		t.Errorf("the patient is not told of the transfer: %s", texts(p))
	}

	// Quick replies: a CM's own, usable when sending; a shared one needs a lead.
	resp = e.Do(cm2.req(http.MethodPost, "/api/v1/quick-replies", map[string]any{"title": "发热", "body": "体温超过 38.5℃ 请及时就诊"}))
	wantStatus(t, "create quick reply", resp, http.StatusCreated, "")
	var q messaging.QuickReplyView
	resp.JSON(t, &q)
	wantStatus(t, "shared by a CM", e.Do(cm2.req(http.MethodPost, "/api/v1/quick-replies", map[string]any{"title": "x", "body": "y", "shared": true})),
		http.StatusForbidden, "shared_quick_reply_forbidden")
	sent := e.send(cm2, p1, map[string]any{"quick_reply_id": q.ID})
	wantStatus(t, "send a quick reply", sent, http.StatusCreated, "")
	var m messaging.MessageView
	sent.JSON(t, &m)
	if m.Text != "体温超过 38.5℃ 请及时就诊" || m.Sender.DisplayName != "吴婷（心内个案管理师）" {
		t.Errorf("quick reply message = %+v", m)
	}
	wantStatus(t, "another CM's template", e.send(cm1, p1, map[string]any{"quick_reply_id": q.ID}), http.StatusNotFound, "")
	wantStatus(t, "another CM deletes it", e.Do(cm1.req(http.MethodDelete, "/api/v1/quick-replies/"+q.ID, nil)), http.StatusNotFound, "")
	wantStatus(t, "delete", e.Do(cm2.req(http.MethodDelete, "/api/v1/quick-replies/"+q.ID, nil)), http.StatusNoContent, "")
}

// TestReplyWaitingNotifiesAnOfflinePatientOnce: a CM's reply to a patient
// with no live socket writes one outbox event, with ids only, until the
// patient reads it.
func TestReplyWaitingNotifiesAnOfflinePatientOnce(t *testing.T) {
	e := newEnv(t)
	p1 := e.Demo.Patients["patient1"]
	patient, cm := e.user("patient1"), e.staff("cm1")
	events := func() []outbox.Event {
		var out []outbox.Event
		e.App.DB.Where("topic = ?", messaging.TopicReplyWaiting).Order("id").Find(&out)
		return out
	}
	e.sendText(patient, p1, "什么时候拆线？")
	e.sendText(cm, p1, "下周一上午")
	e.send(cm, p1, map[string]any{"kind": "note", "text": "提醒门诊预留号"})
	e.sendText(cm, p1, "记得空腹")
	evs := events()
	if len(evs) != 1 {
		t.Fatalf("outbox has %d reply-waiting events, want 1 for two unread replies", len(evs))
	}
	var payload map[string]any
	if err := json.Unmarshal(evs[0].Payload, &payload); err != nil {
		t.Fatal(err)
	}
	if payload["patient_id"] != p1 || payload["user_id"] != e.Demo.Users["fake-openid-patient1"] || payload["seq"] != float64(2) {
		t.Errorf("payload = %v", payload)
	}
	if strings.Contains(string(evs[0].Payload), "拆线") || strings.Contains(string(evs[0].Payload), "周一") {
		t.Errorf("payload carries message content: %s", evs[0].Payload)
	}
	e.Do(patient.req(http.MethodPost, threadPath(p1)+"/read", map[string]any{"seq": 4}))
	e.sendText(cm, p1, "另外请带上出院小结")
	if n := len(events()); n != 2 {
		t.Errorf("after the patient read, a new reply wrote %d events in total, want 2", n)
	}
}
