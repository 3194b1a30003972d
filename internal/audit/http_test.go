package audit

import "testing"

func TestResourceAndSummary(t *testing.T) {
	cases := []struct{ action, resource, summary string }{
		{"GET /api/v1/patients/:patientID", "profile", "查看了患者档案"},
		{"GET /api/v1/patients/:patientID/vitals", "vitals", "查看了体征数据"},
		{"GET /api/v1/patients/:patientID/vitals/trends", "vitals/trends", "查看了体征数据"},
		{"PUT /api/v1/patients/:patientID/family/members/:linkID/scopes", "family/members/scopes", "修改了家属关联"},
		{"POST /api/v1/patients/:patientID/appointments/:appointmentID/confirm", "appointments/confirm", "提交了预约"},
		{"GET /api/v1/family/invitations/:code", "family/invitations", "查看了家属邀请"},
		{"POST /api/v1/patients/:patientID/pain-diary", "pain-diary", "提交了pain-diary"},
		{"OPTIONS /api/v1/patients/:patientID", "profile", "访问了患者档案"},
	}
	for _, tc := range cases {
		if got := ResourceOf(tc.action); got != tc.resource {
			t.Errorf("ResourceOf(%q) = %q, want %q", tc.action, got, tc.resource)
		}
		if got := Summarize(tc.action, ResourceOf(tc.action)); got != tc.summary {
			t.Errorf("Summarize(%q) = %q, want %q", tc.action, got, tc.summary)
		}
	}
}
