package observation

import "math"

// Vital types a patient can report. The names are shared with care-plan
// templates (which types a stage collects) and alert thresholds.
const (
	TypeBloodPressure = "blood_pressure"
	TypeGlucose       = "glucose"
	TypePain          = "pain"
	TypeWeight        = "weight"
	TypeTemperature   = "temperature"
	TypeSpO2          = "spo2"
	TypeHeartRate     = "heart_rate"
	TypeSymptoms      = "symptoms"
	TypeNote          = "note"
)

// Code systems, so that an export to FHIR Observation is lossless.
const (
	LOINCSystem = "http://loinc.org"
	UCUMSystem  = "http://unitsofmeasure.org"
)

// Glucose contexts (the meal relation of a capillary glucose reading).
const (
	GlucoseFasting   = "fasting"
	GlucoseAfterMeal = "after_meal"
	GlucoseRandom    = "random"
	GlucoseBedtime   = "bedtime"
)

// Pain contexts: at rest or on movement (after joint surgery both are asked).
const (
	PainAtRest     = "rest"
	PainOnMovement = "movement"
)

// MgPerDLPerMmolPerL converts glucose: mmol/L = mg/dL ÷ 18.0. The exact
// factor is the molar mass of glucose, 180.16 g/mol ÷ 10 = 18.016; 18.0 is
// the factor Chinese and international clinical practice print on meters and
// in guidelines (中国2型糖尿病防治指南 2020 quotes both units with it), so a
// converted value matches what the patient's meter shows.
const MgPerDLPerMmolPerL = 18.0

// Component is one measured quantity of a reading, stored in value, value2
// or value3 (in this order) in its canonical UCUM unit.
type Component struct {
	Name    string // series and JSON field name: systolic, glucose…
	Label   string // zh-CN, for messages
	LOINC   string
	Display string // LOINC long common name (abridged)
	Unit    string // canonical UCUM code
	// Min and Max are physiological plausibility bounds in Unit: outside them
	// a reading is a typing or device error, not a clinical finding. They
	// are deliberately wider than any alert threshold so that a dangerous
	// true value is always accepted.
	Min, Max float64
	Integer  bool
	Optional bool
}

// Spec describes one vital type.
type Spec struct {
	Type       string
	Label      string // zh-CN
	LOINC      string // the reading's code (a panel code when it has several components)
	Display    string
	Components []Component
	// Units maps each accepted input unit (UCUM code) to a conversion into the
	// canonical unit; a unit not listed is rejected. Empty unit = canonical.
	Units map[string]func(float64) float64
	// UnitLabels lists the accepted units for messages, in display order.
	UnitLabels []string
	Contexts   []string
	// SplitByContext draws one trend series per context (glucose: fasting
	// and post-meal values must not be averaged together).
	SplitByContext bool
}

// Numeric reports whether the type has measured values (and so a trend).
func (s Spec) Numeric() bool { return len(s.Components) > 0 }

func identity(v float64) float64 { return v }

var specs = map[string]Spec{
	TypeBloodPressure: {
		Type: TypeBloodPressure, Label: "血压", LOINC: "85354-9", Display: "Blood pressure panel with all children optional",
		Components: []Component{
			// Bounds: the measuring range of validated upper-arm home monitors
			// (cuff pressure 0–299 mmHg); a hypertensive emergency is far inside.
			{Name: "systolic", Label: "收缩压", LOINC: "8480-6", Display: "Systolic blood pressure", Unit: "mm[Hg]", Min: 50, Max: 299},
			{Name: "diastolic", Label: "舒张压", LOINC: "8462-4", Display: "Diastolic blood pressure", Unit: "mm[Hg]", Min: 20, Max: 200},
			{Name: "pulse", Label: "脉搏", LOINC: "8867-4", Display: "Heart rate", Unit: "/min", Min: 20, Max: 250, Integer: true, Optional: true},
		},
		Units:      map[string]func(float64) float64{"mm[Hg]": identity, "mmHg": identity},
		UnitLabels: []string{"mmHg"},
	},
	TypeGlucose: {
		Type: TypeGlucose, Label: "血糖", LOINC: "14743-9", Display: "Glucose [Moles/volume] in Capillary blood by Glucometer",
		Components: []Component{
			// Bounds: the reporting range of home glucometers under ISO 15197
			// (1.1–33.3 mmol/L = 20–600 mg/dL); beyond it a meter shows LO/HI.
			{Name: "glucose", Label: "血糖", LOINC: "14743-9", Display: "Glucose [Moles/volume] in Capillary blood by Glucometer", Unit: "mmol/L", Min: 1.1, Max: 33.3},
		},
		Units: map[string]func(float64) float64{
			"mmol/L": identity,
			"mg/dL":  func(v float64) float64 { return v / MgPerDLPerMmolPerL },
		},
		UnitLabels:     []string{"mmol/L", "mg/dL"},
		Contexts:       []string{GlucoseFasting, GlucoseAfterMeal, GlucoseRandom, GlucoseBedtime},
		SplitByContext: true,
	},
	TypePain: {
		Type: TypePain, Label: "疼痛评分", LOINC: "72514-3", Display: "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
		Components: []Component{
			// NRS: an integer from 0 (no pain) to 10 (worst imaginable).
			{Name: "score", Label: "疼痛评分", LOINC: "72514-3", Display: "Pain severity - 0-10 verbal numeric rating [Score] - Reported", Unit: "{score}", Min: 0, Max: 10, Integer: true},
		},
		Units:      map[string]func(float64) float64{"{score}": identity},
		UnitLabels: []string{"{score}"},
		Contexts:   []string{PainAtRest, PainOnMovement},
	},
	TypeWeight: {
		Type: TypeWeight, Label: "体重", LOINC: "29463-7", Display: "Body weight",
		Components: []Component{
			// Bounds: adult patients on a bathroom scale.
			{Name: "weight", Label: "体重", LOINC: "29463-7", Display: "Body weight", Unit: "kg", Min: 10, Max: 300},
		},
		Units: map[string]func(float64) float64{
			"kg":      identity,
			"g":       func(v float64) float64 { return v / 1000 },
			"[lb_av]": func(v float64) float64 { return v * 0.45359237 },
		},
		UnitLabels: []string{"kg", "g", "[lb_av]"},
	},
	TypeTemperature: {
		Type: TypeTemperature, Label: "体温", LOINC: "8310-5", Display: "Body temperature",
		Components: []Component{
			// Bounds: below 34 °C or above 43 °C a home thermometer reading is
			// a measurement error far more often than a survivable temperature.
			{Name: "temperature", Label: "体温", LOINC: "8310-5", Display: "Body temperature", Unit: "Cel", Min: 34, Max: 43},
		},
		Units: map[string]func(float64) float64{
			"Cel":    identity,
			"[degF]": func(v float64) float64 { return (v - 32) * 5 / 9 },
		},
		UnitLabels: []string{"Cel", "[degF]"},
	},
	TypeSpO2: {
		Type: TypeSpO2, Label: "血氧饱和度", LOINC: "59408-5", Display: "Oxygen saturation in Arterial blood by Pulse oximetry",
		Components: []Component{
			// Bounds: fingertip oximeters display 50–100 % (accuracy is specified from 70 %).
			{Name: "spo2", Label: "血氧饱和度", LOINC: "59408-5", Display: "Oxygen saturation in Arterial blood by Pulse oximetry", Unit: "%", Min: 50, Max: 100},
		},
		Units:      map[string]func(float64) float64{"%": identity},
		UnitLabels: []string{"%"},
	},
	TypeHeartRate: {
		Type: TypeHeartRate, Label: "心率", LOINC: "8867-4", Display: "Heart rate",
		Components: []Component{
			{Name: "heart_rate", Label: "心率", LOINC: "8867-4", Display: "Heart rate", Unit: "/min", Min: 20, Max: 250, Integer: true},
		},
		Units:      map[string]func(float64) float64{"/min": identity, "{beats}/min": identity},
		UnitLabels: []string{"/min"},
	},
	TypeSymptoms: {Type: TypeSymptoms, Label: "症状", LOINC: "75325-1", Display: "Symptom"},
	TypeNote:     {Type: TypeNote, Label: "备注", LOINC: "34109-9", Display: "Note"},
}

// Types lists the vital types in display order.
var Types = []string{TypeBloodPressure, TypeGlucose, TypePain, TypeWeight, TypeTemperature, TypeSpO2, TypeHeartRate, TypeSymptoms, TypeNote}

// SpecOf returns the spec of a type.
func SpecOf(t string) (Spec, bool) {
	s, ok := specs[t]
	return s, ok
}

// round2 keeps two decimals: enough for every canonical unit, and free of
// float noise from conversions (130 mg/dL = 7.22 mmol/L).
func round2(v float64) float64 { return math.Round(v*100) / 100 }
