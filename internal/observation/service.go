package observation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/idempotency"
)

// Alerter turns a new reading into alerts (the alert feature implements
// it). RulesFor reads what the rules need (thresholds, care team) before the
// report's transaction opens; Apply then runs inside that transaction, using
// only tx, so the reading, its alerts and their events commit together and a
// transaction never waits for a second pooled connection.
type Alerter interface {
	RulesFor(ctx context.Context, patientID string) (ReadingRules, error)
}

// ReadingRules are one patient's alert rules, ready to apply.
type ReadingRules interface {
	Apply(ctx context.Context, tx *gorm.DB, r Reading) (AlertOutcome, error)
}

// AlertOutcome is what a reading raised, and what the patient should do now.
type AlertOutcome struct {
	Alerts   []AlertNotice `json:"alerts"`
	Guidance []Guidance    `json:"guidance"`
}

// AlertNotice tells the reporter that an alert was raised (or an open one updated).
type AlertNotice struct {
	ID       string `json:"id"`
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Folded   bool   `json:"folded"` // merged into an alert that was already open
}

// Guidance is what the patient is told to do now, shown with the report's result.
type Guidance struct {
	Severity string    `json:"severity"`
	Title    string    `json:"title"`
	Actions  []string  `json:"actions"`
	Contacts []Contact `json:"contacts"`
}

// Contact is someone to call.
type Contact struct {
	Role  string `json:"role"` // emergency | case_manager
	Name  string `json:"name"`
	Phone string `json:"phone,omitempty"`
}

// SymptomChecklist gives the symptoms a patient's pathway asks about (the
// care-plan feature; DefaultChecklist until it is wired).
type SymptomChecklist interface {
	Checklist(ctx context.Context, patientID string) ([]Symptom, error)
}

// DefaultChecklist answers DefaultSymptoms for everyone.
type DefaultChecklist struct{}

// Checklist returns DefaultSymptoms.
func (DefaultChecklist) Checklist(context.Context, string) ([]Symptom, error) {
	return DefaultSymptoms, nil
}

// Targets gives a patient's target range per series (from the alert
// thresholds that apply to them).
type Targets interface {
	TargetRanges(ctx context.Context, patientID string) (map[string]Range, error)
}

// Range is a target band: low ≤ value < high; a missing side is unbounded.
type Range struct {
	Low  *float64 `json:"low,omitempty"`
	High *float64 `json:"high,omitempty"`
}

// Service holds the rules of reporting.
type Service struct {
	store     *Store
	keys      *idempotency.Store
	alerter   Alerter
	checklist SymptomChecklist
	targets   Targets
	loc       *time.Location
	now       func() time.Time
}

// Deps are what the service needs from other features.
type Deps struct {
	Alerter   Alerter
	Checklist SymptomChecklist
	Targets   Targets
	Location  *time.Location
	Now       func() time.Time
}

// NewService builds the service; keys must share store's database.
func NewService(store *Store, keys *idempotency.Store, d Deps) *Service {
	if d.Checklist == nil {
		d.Checklist = DefaultChecklist{}
	}
	return &Service{store: store, keys: keys, alerter: d.Alerter, checklist: d.Checklist, targets: d.Targets, loc: d.Location, now: d.Now}
}

// Location is the hospital's zone.
func (s *Service) Location() *time.Location { return s.loc }

// ReportResult answers a report: the stored reading, the alerts it raised
// and immediate guidance for the patient.
type ReportResult struct {
	Reading  View          `json:"reading"`
	Alerts   []AlertNotice `json:"alerts"`
	Guidance []Guidance    `json:"guidance"`
}

// Reporter is who sends a reading for which patient.
type Reporter struct {
	Actor auth.Actor
	Grant access.Grant
}

// requestHash is what a retry must repeat: the patient and the reading
// itself, not its client id (which is the key). A reading sent alone with
// key K and again in a batch with id K is the same request.
func requestHash(patientID string, in Input) string {
	in.ID = ""
	b, _ := json.Marshal(in) // a struct of plain fields cannot fail to encode
	return idempotency.Hash([]byte("observation.report"), []byte(patientID), b)
}

// Report stores one reading exactly once per key (key may be empty), runs
// the alert rules in the same transaction and returns the response to send,
// or the first response again when key was seen before.
func (s *Service) Report(ctx context.Context, who Reporter, in Input, key string) (idempotency.Outcome, error) {
	patientID := who.Grant.PatientID
	k := idempotency.Key{ActorID: who.Actor.ID, Key: key, Hash: requestHash(patientID, in)}
	// Everything read outside the transaction is read before it opens.
	checklist, err := s.checklistFor(ctx, in, patientID)
	if err != nil {
		return idempotency.Outcome{}, err
	}
	var rules ReadingRules
	if s.alerter != nil {
		if rules, err = s.alerter.RulesFor(ctx, patientID); err != nil {
			return idempotency.Outcome{}, fmt.Errorf("alert rules: %w", err)
		}
	}
	return s.keys.Do(ctx, k, func(tx *gorm.DB) (int, any, error) {
		now := s.now().UTC()
		r, err := Normalize(in, checklist, now, s.loc)
		if err != nil {
			return 0, nil, err
		}
		r.ID, r.PatientID, r.ReceivedAt = database.NewID(), patientID, now.Truncate(time.Second)
		r.ReportedBy = who.Actor.ID
		if who.Grant.Relation == access.RelationFamily {
			id := who.Actor.ID
			r.OnBehalfOf = &id
		}
		if err := s.store.LockPatient(ctx, tx, patientID); err != nil {
			return 0, nil, err
		}
		if err := s.store.Create(ctx, tx, &r); err != nil {
			return 0, nil, err
		}
		res := ReportResult{Reading: ViewOf(r), Alerts: []AlertNotice{}, Guidance: []Guidance{}}
		if rules != nil {
			out, err := rules.Apply(ctx, tx, r)
			if err != nil {
				return 0, nil, fmt.Errorf("alert rules: %w", err)
			}
			res.Alerts = append(res.Alerts, out.Alerts...)
			res.Guidance = append(res.Guidance, out.Guidance...)
		}
		return http.StatusCreated, res, nil
	})
}

func (s *Service) checklistFor(ctx context.Context, in Input, patientID string) ([]Symptom, error) {
	if in.Type != TypeSymptoms {
		return nil, nil
	}
	return s.checklist.Checklist(ctx, patientID)
}

// Checklist returns the symptom checklist of a patient.
func (s *Service) Checklist(ctx context.Context, patientID string) ([]Symptom, error) {
	return s.checklist.Checklist(ctx, patientID)
}

// BatchItemResult is the answer for one item of a batch.
type BatchItemResult struct {
	Index    int             `json:"index"`
	ID       string          `json:"id,omitempty"`
	Status   int             `json:"status"`
	Replayed bool            `json:"replayed,omitempty"`
	Result   json.RawMessage `json:"result,omitempty"`
	Error    *ItemError      `json:"error,omitempty"`
}

// ItemError is the error body of one failed item (the API's error shape).
type ItemError struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// BatchResult answers a batch item by item, in request order.
type BatchResult struct {
	Results  []BatchItemResult `json:"results"`
	Accepted int               `json:"accepted"` // stored now or before (replayed)
	Rejected int               `json:"rejected"`
}

// ReportBatch stores a mini-program's offline queue. Each item is a report
// of its own, in its own transaction, keyed by its client id: an item that
// fails writes nothing, the others are unaffected, and a retried batch
// replays the items already stored. An error that is not the item's fault
// (the database is down) stops the batch; retrying it is safe.
func (s *Service) ReportBatch(ctx context.Context, who Reporter, items []json.RawMessage) (BatchResult, error) {
	res := BatchResult{Results: make([]BatchItemResult, 0, len(items))}
	for i, raw := range items {
		item := BatchItemResult{Index: i}
		out, err := s.batchItem(ctx, who, raw, &item)
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Kind == apperr.KindInternal || e.Kind == apperr.KindUnavailable {
				return BatchResult{}, fmt.Errorf("batch item %d: %w", i, err)
			}
			item.Status = statusOf(e.Kind)
			item.Error = &ItemError{Code: e.Code, Message: e.Message, Details: itemDetails(e.Details, i)}
			res.Rejected++
		} else {
			item.Status, item.Replayed, item.Result = out.Status, out.Replayed, out.Body
			res.Accepted++
		}
		res.Results = append(res.Results, item)
	}
	return res, nil
}

func (s *Service) batchItem(ctx context.Context, who Reporter, raw json.RawMessage, item *BatchItemResult) (idempotency.Outcome, error) {
	var in Input
	err := decodeItem(raw, &in)
	item.ID = in.ID // a wrongly typed field still leaves the others decoded
	if err != nil {
		return idempotency.Outcome{}, err
	}
	if in.ID == "" {
		return idempotency.Outcome{}, apperr.Invalid("id", "missing_field", "批量上报的每一项都需要客户端生成的 id（用于防止重复提交）")
	}
	if !idempotency.ValidKey(in.ID) {
		return idempotency.Outcome{}, apperr.Invalid("id", "invalid_idempotency_key", "id 必须是 1 到 64 个字母、数字或 - _ . : 字符")
	}
	return s.Report(ctx, who, in, in.ID)
}

func decodeItem(raw json.RawMessage, in *Input) error {
	if err := json.Unmarshal(raw, in); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return apperr.Invalid(typeErr.Field, "invalid_field_type", fmt.Sprintf("字段 %s 的类型错误，应为 %s", typeErr.Field, typeErr.Type.String()))
		}
		return apperr.Invalid("", "malformed_item", "该项不是合法的 JSON 对象")
	}
	return nil
}

// itemDetails keeps the item's own field name in details.field and adds the
// item's position, so the client can point at the right row of its queue.
func itemDetails(details map[string]any, index int) map[string]any {
	out := map[string]any{"index": index}
	for k, v := range details {
		out[k] = v
	}
	return out
}

// statusOf mirrors web.Status for the kinds an item can fail with; the batch
// answers 200 and carries each item's status inside.
func statusOf(k apperr.Kind) int {
	switch k {
	case apperr.KindInvalid:
		return http.StatusBadRequest
	case apperr.KindNotFound:
		return http.StatusNotFound
	case apperr.KindConflict:
		return http.StatusConflict
	case apperr.KindUnprocessable:
		return http.StatusUnprocessableEntity
	case apperr.KindForbidden:
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

// Page is one page of readings.
type Page struct {
	Items      []View `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// measuredTypes are the home screen's readings, in the order it shows them.
var measuredTypes = []string{TypeBloodPressure, TypeGlucose, TypeWeight, TypePain, TypeHeartRate, TypeSpO2, TypeTemperature}

// Latest returns the patient's newest reading of each measured type they
// have reported (symptoms and notes are not measurements), in a fixed order.
func (s *Service) Latest(ctx context.Context, patientID string) ([]View, error) {
	rows, err := s.store.LatestOfEach(ctx, patientID, measuredTypes)
	if err != nil {
		return nil, err
	}
	byType := make(map[string]Reading, len(rows))
	for _, r := range rows {
		byType[r.Type] = r
	}
	out := make([]View, 0, len(rows))
	for _, typ := range measuredTypes {
		if r, ok := byType[typ]; ok {
			out = append(out, ViewOf(r))
		}
	}
	return out, nil
}

// List returns a page of a patient's readings, newest measured first.
func (s *Service) List(ctx context.Context, patientID, typ, cursor string, limit int) (Page, error) {
	if typ != "" {
		if _, ok := SpecOf(typ); !ok {
			return Page{}, apperr.Invalid("type", "unknown_type", fmt.Sprintf("未知的数据类型 %q，可选：%s", typ, strings.Join(Types, "、")))
		}
	}
	q := ListQuery{PatientID: patientID, Type: typ, Limit: limit + 1}
	if cursor != "" {
		t, id, err := parseCursor(cursor)
		if err != nil {
			return Page{}, err
		}
		q.Before, q.BeforeID = &t, id
	}
	rows, err := s.store.List(ctx, q)
	if err != nil {
		return Page{}, err
	}
	page := Page{Items: make([]View, 0, len(rows))}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		page.NextCursor = formatCursor(last.MeasuredAt, last.ID)
	}
	for _, r := range rows {
		page.Items = append(page.Items, ViewOf(r))
	}
	return page, nil
}

// The cursor is "<unix seconds>_<id>" of the last reading of a page.
func formatCursor(t time.Time, id string) string { return fmt.Sprintf("%d_%s", t.Unix(), id) }

func parseCursor(c string) (time.Time, string, error) {
	secs, id, ok := strings.Cut(c, "_")
	var n int64
	if _, err := fmt.Sscanf(secs, "%d", &n); !ok || err != nil || len(id) == 0 || len(id) > 36 {
		return time.Time{}, "", errBadCursor
	}
	return time.Unix(n, 0).UTC(), id, nil
}
