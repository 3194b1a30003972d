package observation

import (
	"strings"
	"time"
)

// View is a reading as the API shows it: codes and units as FHIR would carry them.
type View struct {
	ID         string          `json:"id"`
	ClientID   string          `json:"client_id,omitempty"`
	PatientID  string          `json:"patient_id"`
	Type       string          `json:"type"`
	Code       Coding          `json:"code"`
	MeasuredAt time.Time       `json:"measured_at"`
	ReceivedAt time.Time       `json:"received_at"`
	LocalDay   string          `json:"local_day"`
	Components []ComponentView `json:"components"`
	Original   *Quantity       `json:"original,omitempty"`
	Context    string          `json:"context,omitempty"`
	Location   string          `json:"location,omitempty"`
	Symptoms   []string        `json:"symptoms,omitempty"`
	Note       string          `json:"note,omitempty"`
	Source     SourceView      `json:"source"`
}

// Coding is a code in a code system.
type Coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display"`
}

// ComponentView is one measured value with its code and UCUM unit.
type ComponentView struct {
	Name  string  `json:"name"`
	Code  string  `json:"code"` // LOINC
	Value float64 `json:"value"`
	Unit  string  `json:"unit"` // UCUM
}

// Quantity is a value with its unit as the patient reported it.
type Quantity struct {
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// SourceView says how a reading arrived.
type SourceView struct {
	Kind       string `json:"kind"` // manual | device
	Device     string `json:"device,omitempty"`
	OnBehalfOf string `json:"on_behalf_of,omitempty"` // the relative who reported for the patient
}

// ViewOf converts a stored reading.
func ViewOf(r Reading) View {
	spec, _ := SpecOf(r.Type)
	v := View{
		ID: r.ID, ClientID: r.ClientID, PatientID: r.PatientID, Type: r.Type,
		Code:       Coding{System: LOINCSystem, Code: r.Code, Display: spec.Display},
		MeasuredAt: r.MeasuredAt.UTC(), ReceivedAt: r.ReceivedAt.UTC(), LocalDay: r.LocalDay,
		Components: []ComponentView{}, Context: r.Context, Location: r.Location, Note: r.Note,
		Source: SourceView{Kind: r.Source, Device: r.Device},
	}
	for i, c := range spec.Components {
		if p := r.Component(i); p != nil {
			v.Components = append(v.Components, ComponentView{Name: c.Name, Code: c.LOINC, Value: *p, Unit: c.Unit})
		}
	}
	if r.OrigValue != nil {
		v.Original = &Quantity{Value: *r.OrigValue, Unit: r.OrigUnit}
	}
	if r.Symptoms != "" {
		v.Symptoms = strings.Split(r.Symptoms, ",")
	}
	if r.OnBehalfOf != nil {
		v.Source.OnBehalfOf = *r.OnBehalfOf
	}
	return v
}
