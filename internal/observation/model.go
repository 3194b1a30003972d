// Package observation owns what patients (or relatives with the report
// scope) measure at home: blood pressure, glucose, pain, weight, temperature,
// SpO2, heart rate, symptoms and notes. It validates each reading against
// physiological bounds, converts it to a canonical UCUM unit with its LOINC
// code, stores it exactly once (client keys, see platform/idempotency),
// hands it to the alert rules inside the same transaction, and serves
// chart-ready daily trends. It decides nothing about what is dangerous: that
// is the alert package's job, reached through the Alerter interface.
package observation

import (
	"time"

	"github.com/carepath/carepath/internal/platform/apperr"
)

// Sources of a reading.
const (
	SourceManual = "manual" // typed in by the patient or a relative
	SourceDevice = "device" // read from a connected meter
)

// Limits of a report.
const (
	// MaxAge is how far back a reading may have been taken: older values say
	// little about the patient now, and a typo in the date is likelier.
	MaxAge = 30 * 24 * time.Hour
	// FutureSkew tolerates phones whose clocks run a little ahead.
	FutureSkew = 5 * time.Minute
	// MaxBatch is the largest offline queue the mini-program sends at once.
	MaxBatch       = 100
	maxNoteRunes   = 500
	maxSymptoms    = 20
	maxLocation    = 32
	maxDeviceRunes = 64
)

// Reading is one stored measurement. Values are in the canonical unit of
// their component (value = first component, value2, value3 the next);
// OrigValue/OrigUnit keep what was reported before conversion.
type Reading struct {
	ID         string
	PatientID  string
	Type       string
	MeasuredAt time.Time
	LocalDay   string // YYYY-MM-DD of MeasuredAt in the hospital's zone
	Code       string // LOINC
	Value      *float64
	Value2     *float64
	Value3     *float64
	Unit       string
	OrigValue  *float64
	OrigUnit   string
	Context    string
	Location   string
	Symptoms   string // comma-separated symptom codes
	Note       string
	NoteSealed bool // Note is sealed at rest (migration 0013); older rows are read as they are
	Source     string
	Device     string
	ReportedBy string  // the user who sent it
	OnBehalfOf *string // the relative's user id when a relative reported for the patient
	ClientID   string
	ReceivedAt time.Time
	CreatedAt  time.Time
}

func (Reading) TableName() string { return "observations" }

// Component returns the i-th component value (0 = value).
func (r Reading) Component(i int) *float64 {
	switch i {
	case 0:
		return r.Value
	case 1:
		return r.Value2
	case 2:
		return r.Value3
	}
	return nil
}

// Input is one reading as the mini-program sends it. Fields that do not
// apply to the type must be absent.
type Input struct {
	// ID is the client's id for the reading; in a batch it is required and
	// serves as the item's idempotency key.
	ID         string   `json:"id,omitempty"`
	Type       string   `json:"type"`
	MeasuredAt string   `json:"measured_at"` // RFC 3339 with offset
	Source     string   `json:"source,omitempty"`
	Device     string   `json:"device,omitempty"`
	Systolic   *float64 `json:"systolic,omitempty"`
	Diastolic  *float64 `json:"diastolic,omitempty"`
	Pulse      *float64 `json:"pulse,omitempty"`
	Score      *float64 `json:"score,omitempty"`
	Value      *float64 `json:"value,omitempty"`
	Unit       string   `json:"unit,omitempty"`
	Context    string   `json:"context,omitempty"`
	Location   string   `json:"location,omitempty"`
	Symptoms   []string `json:"symptoms,omitempty"`
	Note       string   `json:"note,omitempty"`
}

// Symptom is one item of a symptom checklist.
type Symptom struct {
	Code  string `json:"code"`
	Label string `json:"label"`
}

// DefaultSymptoms is the general checklist, used when the patient's pathway
// defines none. Pathways narrow or extend it (heart failure asks about
// orthopnoea and oedema, joint replacement about the wound and the calf).
var DefaultSymptoms = []Symptom{
	{"dyspnea", "呼吸困难"}, {"orthopnea", "夜间不能平卧"}, {"edema", "下肢水肿"},
	{"chest_pain", "胸痛或胸闷"}, {"palpitations", "心慌心悸"}, {"dizziness", "头晕"},
	{"headache", "头痛"}, {"fatigue", "乏力"}, {"cough", "咳嗽"}, {"fever", "发热"},
	{"nausea", "恶心呕吐"}, {"poor_appetite", "食欲差"}, {"wound_redness", "伤口红肿"},
	{"wound_discharge", "伤口渗液"}, {"calf_pain", "小腿肿痛"}, {"numbness", "肢体麻木"},
	{"thirst_polyuria", "口渴多尿"}, {"blurred_vision", "视物模糊"}, {"cold_sweat", "出冷汗、手抖"},
	{"insomnia", "失眠"},
}

// Errors a client branches on (validation errors are built per field in validate.go).
var (
	ErrNotTrendable = apperr.Invalid("type", "type_not_trendable", "该类型没有数值，无法生成趋势图")
	ErrBadRange     = apperr.Invalid("range", "invalid_range", "range 必须是 7d、30d、90d 或 1y")
	errBadCursor    = apperr.Invalid("cursor", "invalid_cursor", "分页游标无效")
	errBadKey       = apperr.Invalid("Idempotency-Key", "invalid_idempotency_key", "幂等键必须是 1 到 64 个字母、数字或 - _ . : 字符")
	errKeyMismatch  = apperr.Invalid("id", "idempotency_key_mismatch", "请求头 Idempotency-Key 与 id 不一致")
)
