package export

import (
	"encoding/json"
	"math"
	"time"

	"github.com/carepath/carepath/internal/appointment"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/messaging"
	"github.com/carepath/carepath/internal/observation"
	"github.com/carepath/carepath/internal/questionnaire"
)

// Resource is one FHIR R4 resource as JSON. Plain maps keep the encoder
// honest to the FHIR JSON format (absent, not empty, optional elements).
type Resource = map[string]any

// Bundle is a FHIR R4 Bundle of type collection.
type Bundle struct {
	ResourceType string  `json:"resourceType"`
	ID           string  `json:"id"`
	Meta         Meta    `json:"meta"`
	Type         string  `json:"type"`
	Timestamp    string  `json:"timestamp"`
	Total        *int    `json:"total,omitempty"`
	Entry        []Entry `json:"entry"`
}

// Meta says which profile the bundle claims (none beyond base R4).
type Meta struct {
	LastUpdated string `json:"lastUpdated"`
}

// Entry is one bundle entry: its full URL (urn:uuid:<id>, so references
// resolve inside the bundle without a server) and the resource.
type Entry struct {
	FullURL  string   `json:"fullUrl"`
	Resource Resource `json:"resource"`
}

// Code systems beyond LOINC/UCUM (which come from the observation package).
const (
	systemMRN            = "urn:carepath:mrn"
	systemObsCategory    = "http://terminology.hl7.org/CodeSystem/observation-category"
	systemQuestionnaires = "urn:carepath:questionnaire"
)

func ref(id string) string { return "urn:uuid:" + id }

func fhirTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func fhirGender(g string) string {
	switch g {
	case "M":
		return "male"
	case "F":
		return "female"
	default:
		return "unknown"
	}
}

// patientResource is the Patient; name and phone are the patient's own, so
// they are in their copy unmasked.
func patientResource(d Data, name, phone string) Resource {
	p := d.Patient
	r := Resource{
		"resourceType": "Patient",
		"id":           p.ID,
		"active":       p.Status == "active",
		"name":         []Resource{{"use": "official", "text": name}},
		"gender":       fhirGender(p.Gender),
	}
	if p.MRN != "" {
		r["identifier"] = []Resource{{"use": "usual", "system": systemMRN, "value": p.MRN}}
	}
	if phone != "" {
		r["telecom"] = []Resource{{"system": "phone", "value": phone, "use": "mobile"}}
	}
	if p.BirthDate != nil {
		r["birthDate"] = p.BirthDate.Format(time.DateOnly)
	}
	return r
}

func quantity(v float64, unit string) Resource {
	return Resource{"value": round(v), "unit": unit, "system": observation.UCUMSystem, "code": unit}
}

func round(v float64) float64 { return math.Round(v*1000) / 1000 }

func coding(system, code, display string) Resource {
	return Resource{"system": system, "code": code, "display": display}
}

// observationResource maps a reading: the type's LOINC code, one
// valueQuantity in UCUM for a single-component type, components (e.g.
// systolic and diastolic) for a panel, text for symptoms and notes.
func observationResource(patientID string, r observation.Reading) Resource {
	spec, _ := observation.SpecOf(r.Type)
	code := r.Code
	if code == "" {
		code = spec.LOINC
	}
	category := "vital-signs"
	if !spec.Numeric() {
		category = "survey"
	}
	res := Resource{
		"resourceType":      "Observation",
		"id":                r.ID,
		"status":            "final",
		"category":          []Resource{{"coding": []Resource{coding(systemObsCategory, category, category)}}},
		"code":              Resource{"coding": []Resource{coding(observation.LOINCSystem, code, spec.Display)}, "text": spec.Label},
		"subject":           Resource{"reference": ref(patientID)},
		"effectiveDateTime": fhirTime(r.MeasuredAt),
		"issued":            fhirTime(r.ReceivedAt),
	}
	var notes []Resource
	if r.Context != "" {
		notes = append(notes, Resource{"text": "context: " + r.Context})
	}
	if r.Note != "" {
		notes = append(notes, Resource{"text": r.Note})
	}
	switch {
	case len(spec.Components) == 1 && r.Value != nil:
		res["valueQuantity"] = quantity(*r.Value, spec.Components[0].Unit)
	case len(spec.Components) > 1:
		var comps []Resource
		for i, c := range spec.Components {
			v := r.Component(i)
			if v == nil {
				continue
			}
			comps = append(comps, Resource{
				"code":          Resource{"coding": []Resource{coding(observation.LOINCSystem, c.LOINC, c.Display)}, "text": c.Label},
				"valueQuantity": quantity(*v, c.Unit),
			})
		}
		res["component"] = comps
	case r.Symptoms != "":
		res["valueString"] = r.Symptoms
	case r.Note != "":
		res["valueString"] = r.Note
		notes = notes[:len(notes)-1]
	}
	if len(notes) > 0 {
		res["note"] = notes
	}
	return res
}

func carePlanResource(patientID string, p careplan.Plan, pathwayName, stageName string, tasks []careplan.PlanTask) Resource {
	status := "active"
	if p.Status != careplan.StatusActive {
		status = "completed"
	}
	period := Resource{"start": fhirTime(p.CreatedAt)}
	if p.ClosedAt != nil {
		period["end"] = fhirTime(*p.ClosedAt)
	}
	res := Resource{
		"resourceType": "CarePlan",
		"id":           p.ID,
		"status":       status,
		"intent":       "plan",
		"title":        pathwayName,
		"description":  "当前阶段：" + stageName + "；风险等级：" + p.RiskLevel,
		"subject":      Resource{"reference": ref(patientID)},
		"period":       period,
		"created":      fhirTime(p.CreatedAt),
	}
	var acts []Resource
	for _, t := range tasks {
		detail := Resource{"status": "not-started", "description": t.Title}
		if t.DoneAt != nil {
			detail["status"] = "completed"
		}
		if t.DueOn != nil {
			detail["scheduledString"] = *t.DueOn
		}
		acts = append(acts, Resource{"detail": detail})
	}
	if len(acts) > 0 {
		res["activity"] = acts
	}
	return res
}

var appointmentStatus = map[string]string{
	appointment.StatusScheduled:           "booked",
	appointment.StatusConfirmed:           "booked",
	appointment.StatusRescheduleRequested: "pending",
	appointment.StatusCancelled:           "cancelled",
	appointment.StatusCompleted:           "fulfilled",
	appointment.StatusNoShow:              "noshow",
}

func appointmentResource(patientID string, a appointment.Appointment) Resource {
	status, ok := appointmentStatus[a.Status]
	if !ok {
		status = "booked"
	}
	partStatus := "needs-action"
	switch a.Status {
	case appointment.StatusConfirmed, appointment.StatusCompleted:
		partStatus = "accepted"
	case appointment.StatusCancelled:
		partStatus = "declined"
	}
	res := Resource{
		"resourceType": "Appointment",
		"id":           a.ID,
		"status":       status,
		"serviceType":  []Resource{{"text": appointment.Kinds[a.Kind]}},
		"description":  a.Title,
		"start":        fhirTime(a.StartsAt),
		"end":          fhirTime(a.EndsAt),
		"created":      fhirTime(a.CreatedAt),
		"participant":  []Resource{{"actor": Resource{"reference": ref(patientID)}, "status": partStatus, "required": "required"}},
	}
	var comment string
	for _, s := range []string{a.Department, a.Clinician, a.Location, a.Preparation} {
		if s != "" {
			if comment != "" {
				comment += "；"
			}
			comment += s
		}
	}
	if comment != "" {
		res["comment"] = comment
	}
	return res
}

// communicationResource is a message of the care-team thread. Staff are
// named by their function only (the export is the patient's data, not the
// hospital's staff directory).
func communicationResource(patientID, patientUserID string, m messaging.Message) Resource {
	sender := Resource{"display": "家属"}
	switch {
	case m.SenderKind == string(auth.KindStaff):
		sender = Resource{"display": "医护人员"}
	case m.SenderID == patientUserID:
		sender = Resource{"reference": ref(patientID), "display": "本人"}
	}
	payload := Resource{"contentString": m.Body}
	if m.Kind == messaging.KindImage {
		payload = Resource{"contentAttachment": Resource{"contentType": m.BlobType, "size": m.BlobSize, "title": "图片"}}
	}
	return Resource{
		"resourceType": "Communication",
		"id":           m.ID,
		"status":       "completed",
		"subject":      Resource{"reference": ref(patientID)},
		"sent":         fhirTime(m.CreatedAt),
		"sender":       sender,
		"payload":      []Resource{payload},
	}
}

// questionnaireResponseResource is an answered questionnaire: each item's
// answers by link id (the definition's item key), with the score.
func questionnaireResponseResource(patientID string, a questionnaire.Assignment, name string) (Resource, error) {
	var answers map[string]any
	if a.Answers != "" {
		if err := json.Unmarshal([]byte(a.Answers), &answers); err != nil {
			return nil, err
		}
	}
	keys := sortedKeys(answers)
	items := make([]Resource, 0, len(keys))
	for _, k := range keys {
		var vals []Resource
		for _, v := range flatten(answers[k]) {
			vals = append(vals, answerValue(v))
		}
		if len(vals) == 0 {
			continue
		}
		items = append(items, Resource{"linkId": k, "answer": vals})
	}
	res := Resource{
		"resourceType":  "QuestionnaireResponse",
		"id":            a.ID,
		"questionnaire": systemQuestionnaires + ":" + a.Questionnaire + "|" + itoa(a.Version),
		"status":        "completed",
		"subject":       Resource{"reference": ref(patientID)},
		"item":          items,
	}
	if name != "" {
		res["extension"] = []Resource{{"url": "urn:carepath:questionnaire-name", "valueString": name}}
	}
	if a.AnsweredAt != nil {
		res["authored"] = fhirTime(*a.AnsweredAt)
	}
	if a.Score != nil {
		res["extension"] = append(extensionsOf(res), Resource{"url": "urn:carepath:questionnaire-score", "valueDecimal": *a.Score})
	}
	return res, nil
}

func extensionsOf(r Resource) []Resource {
	ext, _ := r["extension"].([]Resource)
	return ext
}

func flatten(v any) []any {
	if list, ok := v.([]any); ok {
		return list
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

func answerValue(v any) Resource {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<31 {
			return Resource{"valueInteger": int(x)}
		}
		return Resource{"valueDecimal": x}
	case bool:
		return Resource{"valueBoolean": x}
	case string:
		return Resource{"valueString": x}
	default:
		b, _ := json.Marshal(x)
		return Resource{"valueString": string(b)}
	}
}

func specOf(t string) (string, bool) {
	spec, ok := observation.SpecOf(t)
	return spec.Label, ok
}
