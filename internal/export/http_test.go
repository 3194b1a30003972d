package export_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/observation"
)

type obj = map[string]any

func exportPath(patientID string) string { return "/api/v1/patients/" + patientID + "/export" }

// TestExportBundleIsValidFHIR exports patient 1's data after a reading, a
// message and a staff-only note, and checks the Bundle the way a FHIR
// validator would for what we claim: resource types, each type's required
// elements, codes and units, dates, and that every reference resolves
// inside the bundle.
func TestExportBundleIsValidFHIR(t *testing.T) {
	e := apitest.New(t)
	p1 := e.Demo.Patients["patient1"]
	tok := e.LoginWeChat("patient1").AccessToken
	measured := e.Clock.Now().Add(-time.Hour).Format(time.RFC3339)
	if r := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/observations", Token: tok,
		Body: obj{"type": "blood_pressure", "systolic": 131, "diastolic": 84, "measured_at": measured}}); r.Status != http.StatusCreated {
		t.Fatalf("report: %d %s", r.Status, r.Body)
	}
	if r := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/thread/messages", Token: tok,
		Body: obj{"client_msg_id": "exp-1", "text": "导出测试消息：伤口有点痒"}}); r.Status >= 300 {
		t.Fatalf("send: %d %s", r.Status, r.Body)
	}
	cm := e.LoginStaff("cm1")
	if r := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/thread/messages", Cookie: cm.Cookie, CSRF: cm.CSRF,
		Body: obj{"client_msg_id": "exp-note", "kind": "note", "text": "内部备注：家属情绪紧张"}}); r.Status >= 300 {
		t.Fatalf("note: %d %s", r.Status, r.Body)
	}

	resp := e.Do(apitest.Request{Method: http.MethodGet, Path: exportPath(p1), Token: tok})
	if resp.Status != http.StatusOK {
		t.Fatalf("export: %d %s", resp.Status, resp.Body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/fhir+json" {
		t.Errorf("Content-Type %q, want application/fhir+json", ct)
	}
	wantFile := `attachment; filename="carepath-export-` + e.Clock.Now().In(shanghai(t)).Format("20060102") + `.json"`
	if cd := resp.Header.Get("Content-Disposition"); cd != wantFile {
		t.Errorf("Content-Disposition %q, want %q", cd, wantFile)
	}
	if strings.Contains(string(resp.Body), "内部备注") {
		t.Error("a staff-only note is in the patient's export")
	}
	var b struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Timestamp    string `json:"timestamp"`
		Entry        []struct {
			FullURL  string         `json:"fullUrl"`
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	resp.JSON(t, &b)
	if b.ResourceType != "Bundle" || b.Type != "collection" {
		t.Fatalf("bundle resourceType %q type %q", b.ResourceType, b.Type)
	}
	mustTime(t, "Bundle.timestamp", b.Timestamp)
	urls := map[string]bool{}
	byType := map[string][]map[string]any{}
	for i, en := range b.Entry {
		r := en.Resource
		rt, _ := r["resourceType"].(string)
		id, _ := r["id"].(string)
		if id == "" || en.FullURL != "urn:uuid:"+id {
			t.Errorf("entry %d (%s): fullUrl %q does not name id %q", i, rt, en.FullURL, id)
		}
		if urls[en.FullURL] {
			t.Errorf("entry %d: duplicate fullUrl %s", i, en.FullURL)
		}
		urls[en.FullURL] = true
		byType[rt] = append(byType[rt], r)
	}
	for _, rt := range []string{"Patient", "Observation", "CarePlan", "Appointment", "Communication", "QuestionnaireResponse"} {
		if len(byType[rt]) == 0 {
			t.Errorf("no %s in the export", rt)
		}
	}
	if len(byType) != 6 {
		t.Errorf("resource types %v, want exactly the six", keys(byType))
	}
	if len(byType["Patient"]) != 1 {
		t.Fatalf("%d Patient resources", len(byType["Patient"]))
	}
	pt := byType["Patient"][0]
	if pt["id"] != p1 || !strings.Contains(str(pt, "name", 0, "text"), "张建国") {
		t.Errorf("Patient: %v", pt)
	}
	// Required elements, per FHIR R4, for every resource of each type.
	for _, r := range byType["Observation"] {
		need(t, r, "status", "code", "subject", "effectiveDateTime")
		mustTime(t, "Observation.effectiveDateTime", r["effectiveDateTime"])
		c := r["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)
		if c["system"] != observation.LOINCSystem || !loinc.MatchString(c["code"].(string)) {
			t.Errorf("Observation %s code %v: want a LOINC code", r["id"], c)
		}
		quantities := []any{}
		if q, ok := r["valueQuantity"]; ok {
			quantities = append(quantities, q)
		}
		if comps, ok := r["component"].([]any); ok {
			for _, comp := range comps {
				cm := comp.(map[string]any)
				cc := cm["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)
				if cc["system"] != observation.LOINCSystem || !loinc.MatchString(cc["code"].(string)) {
					t.Errorf("Observation %s component code %v", r["id"], cc)
				}
				quantities = append(quantities, cm["valueQuantity"])
			}
		}
		if len(quantities) == 0 && r["valueString"] == nil {
			t.Errorf("Observation %s has no value", r["id"])
		}
		for _, q := range quantities {
			qm, _ := q.(map[string]any)
			if _, num := qm["value"].(float64); !num || qm["system"] != observation.UCUMSystem || qm["code"] == "" || qm["code"] == nil {
				t.Errorf("Observation %s quantity %v: want a number with a UCUM code", r["id"], qm)
			}
		}
	}
	if !hasBP(byType["Observation"], 131, 84) {
		t.Error("the reported blood pressure 131/84 mm[Hg] (LOINC 8480-6/8462-4) is not in the export")
	}
	for _, r := range byType["CarePlan"] {
		need(t, r, "status", "intent", "subject")
		oneOf(t, r, "status", "draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown")
	}
	for _, r := range byType["Appointment"] {
		need(t, r, "status", "participant", "start", "end")
		oneOf(t, r, "status", "proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow", "entered-in-error", "checked-in", "waitlist")
		mustTime(t, "Appointment.start", r["start"])
		mustTime(t, "Appointment.end", r["end"])
		for _, p := range r["participant"].([]any) {
			if p.(map[string]any)["status"] == nil {
				t.Errorf("Appointment %s participant without status", r["id"])
			}
		}
	}
	var sawMessage bool
	for _, r := range byType["Communication"] {
		need(t, r, "status", "subject", "sent", "payload")
		mustTime(t, "Communication.sent", r["sent"])
		if strings.Contains(str(r, "payload", 0, "contentString"), "伤口有点痒") {
			sawMessage = true
		}
	}
	if !sawMessage {
		t.Error("the patient's message is not in the export")
	}
	for _, r := range byType["QuestionnaireResponse"] {
		need(t, r, "status", "questionnaire", "subject", "authored", "item")
		mustTime(t, "QuestionnaireResponse.authored", r["authored"])
		for _, it := range r["item"].([]any) {
			im := it.(map[string]any)
			if im["linkId"] == "" || len(im["answer"].([]any)) == 0 {
				t.Errorf("QuestionnaireResponse %s item %v", r["id"], im)
			}
		}
	}
	// Every reference anywhere resolves to an entry of this bundle.
	refs := 0
	for _, en := range b.Entry {
		walk(en.Resource, func(k string, v any) {
			if k == "reference" {
				refs++
				if s, _ := v.(string); !urls[s] {
					t.Errorf("%s %s: reference %v does not resolve inside the bundle", en.Resource["resourceType"], en.Resource["id"], v)
				}
			}
		})
	}
	if refs < len(b.Entry)-1 {
		t.Errorf("only %d references for %d entries: every resource but Patient should point at the patient", refs, len(b.Entry))
	}
	e.FlushAudit()
	var n int64
	e.App.DB.Table("audit_events").Where("patient_id = ? AND action = ? AND object_type = ?", p1, "GET /api/v1/patients/:patientID/export", "fhir_bundle").Count(&n)
	if n != 1 {
		t.Errorf("audit events for the export: %d, want 1", n)
	}
}

// TestExportIsThePatientsAlone: a relative with every scope, the assigned CM,
// the admin and another patient get the policy's 404 on both routes.
func TestExportIsThePatientsAlone(t *testing.T) {
	e := apitest.New(t)
	p1 := e.Demo.Patients["patient1"]
	callers := map[string]apitest.Request{
		"relative with all scopes": {Token: e.LoginWeChat("family1").AccessToken},
		"another patient":          {Token: e.LoginWeChat("patient3").AccessToken},
	}
	for _, st := range []string{"cm1", "lead1", "admin"} {
		s := e.LoginStaff(st)
		callers["staff "+st] = apitest.Request{Cookie: s.Cookie, CSRF: s.CSRF}
	}
	for who, req := range callers {
		for _, path := range []string{exportPath(p1), exportPath(p1) + "/summary"} {
			req.Method, req.Path = http.MethodGet, path
			resp := e.Do(req)
			if resp.Status != http.StatusNotFound || strings.Contains(string(resp.Body), "张建国") {
				t.Errorf("%s GET %s: %d %s, want 404 without the patient's data", who, path, resp.Status, resp.Body)
			}
		}
	}
	if resp := e.Do(apitest.Request{Method: http.MethodGet, Path: exportPath(p1)}); resp.Status != http.StatusUnauthorized {
		t.Errorf("anonymous: %d, want 401", resp.Status)
	}
}

func TestExportSummary(t *testing.T) {
	e := apitest.New(t)
	p1 := e.Demo.Patients["patient1"]
	resp := e.Do(apitest.Request{Method: http.MethodGet, Path: exportPath(p1) + "/summary", Token: e.LoginWeChat("patient1").AccessToken})
	if resp.Status != http.StatusOK {
		t.Fatalf("summary: %d %s", resp.Status, resp.Body)
	}
	var s struct {
		Title    string `json:"title"`
		Sections []struct {
			Heading string   `json:"heading"`
			Items   []string `json:"items"`
		} `json:"sections"`
		RetentionNotice string `json:"retention_notice"`
	}
	resp.JSON(t, &s)
	if s.Title != "我的健康数据副本" || !strings.Contains(s.RetentionNotice, "临床记录按医院病历管理规定保存") {
		t.Errorf("title %q notice %q", s.Title, s.RetentionNotice)
	}
	if len(s.Sections) < 5 || s.Sections[0].Heading != "基本信息" || !strings.Contains(strings.Join(s.Sections[0].Items, " "), "张建国") {
		t.Errorf("sections: %+v", s.Sections)
	}
}

var loinc = regexp.MustCompile(`^\d{1,7}-\d$`)

func shanghai(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustTime(t *testing.T, what string, v any) {
	t.Helper()
	s, _ := v.(string)
	if _, err := time.Parse(time.RFC3339, s); err != nil {
		t.Errorf("%s %q is not a FHIR dateTime with zone: %v", what, s, err)
	}
}

func need(t *testing.T, r map[string]any, fields ...string) {
	t.Helper()
	for _, f := range fields {
		v, ok := r[f]
		if !ok || v == nil || v == "" {
			t.Errorf("%s %s lacks required %s", r["resourceType"], r["id"], f)
		}
		if list, isList := v.([]any); isList && len(list) == 0 {
			t.Errorf("%s %s has an empty %s", r["resourceType"], r["id"], f)
		}
	}
}

func oneOf(t *testing.T, r map[string]any, field string, allowed ...string) {
	t.Helper()
	for _, a := range allowed {
		if r[field] == a {
			return
		}
	}
	t.Errorf("%s %s: %s %v is not a FHIR code", r["resourceType"], r["id"], field, r[field])
}

func str(r map[string]any, path ...any) string {
	var v any = r
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return ""
			}
			v = l[k]
		}
	}
	s, _ := v.(string)
	return s
}

func walk(v any, f func(k string, v any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			f(k, c)
			walk(c, f)
		}
	case []any:
		for _, c := range x {
			walk(c, f)
		}
	}
}

func hasBP(obs []map[string]any, sys, dia float64) bool {
	for _, r := range obs {
		comps, _ := r["component"].([]any)
		var gotSys, gotDia bool
		for _, c := range comps {
			cm := c.(map[string]any)
			code := cm["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"]
			q := cm["valueQuantity"].(map[string]any)
			if code == "8480-6" && q["value"] == sys && q["code"] == "mm[Hg]" {
				gotSys = true
			}
			if code == "8462-4" && q["value"] == dia && q["code"] == "mm[Hg]" {
				gotDia = true
			}
		}
		if gotSys && gotDia {
			return true
		}
	}
	return false
}

func keys(m map[string][]map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
