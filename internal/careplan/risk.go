package careplan

import (
	"fmt"
	"sort"
	"time"
)

// Risk levels (stored in patients.risk_level as well).
const (
	RiskLow    = "low"
	RiskMedium = "medium"
	RiskHigh   = "high"
)

// Comorbidity is a condition a CM records, with its Charlson weight.
type Comorbidity struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	Charlson int    `json:"charlson_weight"`
}

// Comorbidities are the codes a CM may record. Weights are those of the
// Charlson Comorbidity Index (Charlson ME et al., J Chronic Dis 1987;40:373–83);
// hypertension, atrial fibrillation and obesity are not part of the index and
// are kept for the CM's picture of the patient with weight 0.
var Comorbidities = []Comorbidity{
	{"myocardial_infarction", "心肌梗死", 1},
	{"heart_failure", "充血性心力衰竭", 1},
	{"peripheral_vascular", "周围血管疾病", 1},
	{"cerebrovascular", "脑血管疾病", 1},
	{"dementia", "痴呆", 1},
	{"copd", "慢性肺病（COPD 等）", 1},
	{"connective_tissue", "结缔组织病", 1},
	{"peptic_ulcer", "消化性溃疡", 1},
	{"liver_mild", "轻度肝病", 1},
	{"diabetes", "糖尿病（无终末器官损害）", 1},
	{"hemiplegia", "偏瘫", 2},
	{"ckd", "中重度慢性肾病", 2},
	{"diabetes_complicated", "糖尿病伴终末器官损害", 2},
	{"cancer", "恶性肿瘤（无转移）", 2},
	{"leukemia", "白血病", 2},
	{"lymphoma", "淋巴瘤", 2},
	{"liver_severe", "中重度肝病", 3},
	{"metastatic_cancer", "转移性实体瘤", 6},
	{"aids", "艾滋病", 6},
	{"hypertension", "高血压", 0},
	{"atrial_fibrillation", "心房颤动", 0},
	{"obesity", "肥胖", 0},
}

// ComorbidityByCode finds a code.
func ComorbidityByCode(code string) (Comorbidity, bool) {
	for _, c := range Comorbidities {
		if c.Code == code {
			return c, true
		}
	}
	return Comorbidity{}, false
}

// RiskInput is what the risk rules look at.
type RiskInput struct {
	BirthDate       *time.Time // nil when unknown: age scores nothing
	Today           time.Time  // day, hospital zone
	Comorbidities   []string   // codes
	CriticalAlerts  int        // critical alerts in the last 30 days
	MissedFollowups int        // follow-ups missed in the last 90 days
	Floor           string     // the pathway's risk_floor, "" for none
}

// RiskResult is the computed level with the reasons that led to it.
type RiskResult struct {
	Level   string   `json:"level"`
	Points  int      `json:"points"`
	Factors []string `json:"factors"`
}

// ScoreRisk applies CarePath's risk rules. Points add up; 0–1 is low, 2–3
// medium, 4 or more high; the pathway's floor then raises the level if needed.
//
//   - Age: 65–79 scores 1, 80 or older 2. 65 is where 中国老年高血压管理指南 2019
//     begins "老年", and 80 its 高龄 group, who need closer follow-up.
//   - Comorbidity burden by the Charlson index (see Comorbidities): a sum of
//     1–2 scores 1, 3 or more scores 2 (Charlson's own grading: mild 1–2, severe ≥3).
//   - Critical alerts in the last 30 days score 2 each, at most 4: a critical
//     reading (e.g. BP ≥180/110 mmHg, the urgent threshold of 中国高血压防治指南
//     2018年修订版; glucose <3.9 mmol/L, hypoglycaemia in 中国2型糖尿病防治指南
//     2020年版) shows the condition is not controlled.
//   - Missed follow-ups in the last 90 days score 1 each, at most 2: a patient
//     who cannot be reached cannot be managed remotely (a CarePath rule; 中国心力
//     衰竭诊断和治疗指南 2024 asks for structured follow-up after discharge).
//   - Floor: pathways whose patients are never low risk say so (heart failure:
//     the guideline above follows every patient within 1–2 weeks of discharge;
//     chemotherapy: CSCO guidance monitors blood counts every cycle).
func ScoreRisk(in RiskInput) RiskResult {
	r := RiskResult{Factors: []string{}}
	if in.BirthDate != nil {
		age := ageOn(*in.BirthDate, in.Today)
		switch {
		case age >= 80:
			r.Points += 2
			r.Factors = append(r.Factors, fmt.Sprintf("年龄 %d 岁（≥80）+2", age))
		case age >= 65:
			r.Points++
			r.Factors = append(r.Factors, fmt.Sprintf("年龄 %d 岁（65–79）+1", age))
		}
	}
	cci := 0
	for _, code := range in.Comorbidities {
		if c, ok := ComorbidityByCode(code); ok {
			cci += c.Charlson
		}
	}
	switch {
	case cci >= 3:
		r.Points += 2
		r.Factors = append(r.Factors, fmt.Sprintf("Charlson 合并症指数 %d（≥3）+2", cci))
	case cci >= 1:
		r.Points++
		r.Factors = append(r.Factors, fmt.Sprintf("Charlson 合并症指数 %d（1–2）+1", cci))
	}
	if in.CriticalAlerts > 0 {
		p := min(2*in.CriticalAlerts, 4)
		r.Points += p
		r.Factors = append(r.Factors, fmt.Sprintf("近30天危急预警 %d 次 +%d", in.CriticalAlerts, p))
	}
	if in.MissedFollowups > 0 {
		p := min(in.MissedFollowups, 2)
		r.Points += p
		r.Factors = append(r.Factors, fmt.Sprintf("近90天失访 %d 次 +%d", in.MissedFollowups, p))
	}
	switch {
	case r.Points >= 4:
		r.Level = RiskHigh
	case r.Points >= 2:
		r.Level = RiskMedium
	default:
		r.Level = RiskLow
	}
	if in.Floor != "" && riskRank(in.Floor) > riskRank(r.Level) {
		r.Level = in.Floor
		r.Factors = append(r.Factors, "本路径风险不低于"+riskNames[in.Floor])
	}
	return r
}

var riskNames = map[string]string{RiskLow: "低危", RiskMedium: "中危", RiskHigh: "高危"}

func riskRank(level string) int { return indexOf(riskLevels, level) }

// HighestRisk returns the highest of levels ("" when none).
func HighestRisk(levels ...string) string {
	best := ""
	for _, l := range levels {
		if riskRank(l) > riskRank(best) {
			best = l
		}
	}
	return best
}

// ageOn is the age in whole years on day.
func ageOn(birth, day time.Time) int {
	age := day.Year() - birth.Year()
	if day.Month() < birth.Month() || day.Month() == birth.Month() && day.Day() < birth.Day() {
		age--
	}
	return age
}

// Rhythm is the follow-up rhythm a risk level sets, on top of the pathway's
// own contacts.
type Rhythm struct {
	Level       string `json:"level"`
	EveryDays   int    `json:"every_days"`
	Lifestyle   bool   `json:"lifestyle_guidance"`
	Specialist  bool   `json:"specialist_review"`
	Description string `json:"description"`
}

// RhythmFor maps a level to its rhythm: low yearly; medium quarterly with
// lifestyle guidance; high monthly with a specialist review.
func RhythmFor(level string) Rhythm {
	switch level {
	case RiskHigh:
		return Rhythm{Level: level, EveryDays: 30, Lifestyle: true, Specialist: true, Description: "每月随访一次，并安排专科医生复诊评估"}
	case RiskMedium:
		return Rhythm{Level: level, EveryDays: 90, Lifestyle: true, Description: "每季度随访一次，并给予生活方式指导"}
	default:
		return Rhythm{Level: RiskLow, EveryDays: 365, Description: "每年随访一次"}
	}
}

// MergeThresholds combines the overrides of several current stages, keeping
// the stricter value of each key.
func MergeThresholds(sets ...map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, set := range sets {
		for k, v := range set {
			lowerIsStricter, known := ThresholdKeys[k]
			old, seen := out[k]
			switch {
			case !known:
			case !seen, lowerIsStricter && v < old, !lowerIsStricter && v > old:
				out[k] = v
			}
		}
	}
	return out
}

// MergeVitals combines expectations, keeping the most frequent per type,
// ordered by type.
func MergeVitals(lists ...[]VitalExpectation) []VitalExpectation {
	every := map[string]int{}
	for _, list := range lists {
		for _, v := range list {
			if old, ok := every[v.Type]; !ok || v.EveryDays < old {
				every[v.Type] = v.EveryDays
			}
		}
	}
	out := make([]VitalExpectation, 0, len(every))
	for t, d := range every {
		out = append(out, VitalExpectation{Type: t, EveryDays: d})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}
