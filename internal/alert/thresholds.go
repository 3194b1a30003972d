package alert

import (
	"fmt"
	"math"
	"sort"

	"github.com/carepath/carepath/internal/platform/apperr"
)

// Threshold keys. Pathway templates (configs/pathways/*.yaml) and the CM's
// per-patient overrides use the same names.
const (
	KeyBPSystolicCritical  = "bp_systolic_critical"
	KeyBPDiastolicCritical = "bp_diastolic_critical"
	KeyBPSystolicHigh      = "bp_systolic_high"
	KeyBPDiastolicHigh     = "bp_diastolic_high"
	KeyGlucoseLowCritical  = "glucose_low_critical"
	KeyGlucoseFastingHigh  = "glucose_fasting_high"
	KeyPainHigh            = "pain_high"
	KeyPainRise            = "pain_rise"
	KeyWeightGainKg3d      = "weight_gain_kg_3d"
	KeyNoReportDays        = "no_report_days"
	// Keys care-plan pathways use as well (configs/pathways/*.yaml).
	KeyBPSystolicLow     = "bp_systolic_low"
	KeyGlucoseRandomHigh = "glucose_random_high"
	KeyTemperatureHigh   = "temperature_high"
	KeySpO2Low           = "spo2_low"
	KeyHeartRateHigh     = "heart_rate_high"
	KeyHeartRateLow      = "heart_rate_low"
)

// keyAliases are other names pathway templates use for a threshold.
var keyAliases = map[string]string{"glucose_low": KeyGlucoseLowCritical}

// CanonicalKey returns the threshold key an alias stands for.
func CanonicalKey(k string) string {
	if c, ok := keyAliases[k]; ok {
		return c
	}
	return k
}

// Thresholds are the numbers the rules compare readings with. A zero turns
// off a rule whose spec allows it (ZeroOffs).
type Thresholds struct {
	BPSystolicCritical  float64
	BPDiastolicCritical float64
	BPSystolicHigh      float64
	BPDiastolicHigh     float64
	GlucoseLowCritical  float64
	GlucoseFastingHigh  float64
	PainHigh            float64
	PainRise            float64
	WeightGainKg3d      float64
	NoReportDays        float64
	BPSystolicLow       float64
	GlucoseRandomHigh   float64
	TemperatureHigh     float64
	SpO2Low             float64
	HeartRateHigh       float64
	HeartRateLow        float64
}

// Overrides replace some thresholds: a pathway's, then a patient's.
type Overrides map[string]float64

// ThresholdSpec documents one threshold: its default, its unit and the range
// a CM may set it to (so that a typo cannot silence a rule).
type ThresholdSpec struct {
	Key      string  `json:"key"`
	Label    string  `json:"label"`
	Unit     string  `json:"unit"`
	Default  float64 `json:"default"`
	Min      float64 `json:"min"`
	Max      float64 `json:"max"`
	ZeroOffs bool    `json:"zero_turns_off"` // 0 turns the rule off
	Source   string  `json:"source"`
	field    func(*Thresholds) *float64
}

// ThresholdSpecs are the global defaults, each with its clinical source.
var ThresholdSpecs = []ThresholdSpec{
	// 中国高血压防治指南 2018：3 级高血压为收缩压 ≥180 和/或舒张压 ≥110 mmHg，
	// 家庭自测达到此值应立即复测并评估是否为高血压急症。
	{Key: KeyBPSystolicCritical, Label: "收缩压危急值", Unit: "mm[Hg]", Default: 180, Min: 150, Max: 250,
		Source: "中国高血压防治指南 2018（3 级高血压）", field: func(t *Thresholds) *float64 { return &t.BPSystolicCritical }},
	{Key: KeyBPDiastolicCritical, Label: "舒张压危急值", Unit: "mm[Hg]", Default: 110, Min: 90, Max: 150,
		Source: "中国高血压防治指南 2018（3 级高血压）", field: func(t *Thresholds) *float64 { return &t.BPDiastolicCritical }},
	// 中国高血压防治指南 2018：高血压为收缩压 ≥140 和/或舒张压 ≥90 mmHg（诊室）；
	// 家庭血压的诊断界值为 135/85 mmHg，个案管理师可按患者下调。
	{Key: KeyBPSystolicHigh, Label: "收缩压偏高（连续 3 次）", Unit: "mm[Hg]", Default: 140, Min: 120, Max: 200,
		Source: "中国高血压防治指南 2018（高血压定义）", field: func(t *Thresholds) *float64 { return &t.BPSystolicHigh }},
	{Key: KeyBPDiastolicHigh, Label: "舒张压偏高（连续 3 次）", Unit: "mm[Hg]", Default: 90, Min: 70, Max: 130,
		Source: "中国高血压防治指南 2018（高血压定义）", field: func(t *Thresholds) *float64 { return &t.BPDiastolicHigh }},
	// 中国2型糖尿病防治指南 2020：接受药物治疗的糖尿病患者血糖 <3.9 mmol/L 即属低血糖。
	{Key: KeyGlucoseLowCritical, Label: "低血糖危急值", Unit: "mmol/L", Default: 3.9, Min: 2.8, Max: 6,
		Source: "中国2型糖尿病防治指南 2020（低血糖 <3.9 mmol/L）", field: func(t *Thresholds) *float64 { return &t.GlucoseLowCritical }},
	// 中国2型糖尿病防治指南 2020：血糖 >13.9 mmol/L 应警惕高血糖危象（需查酮体、及时就诊）。
	{Key: KeyGlucoseFastingHigh, Label: "空腹血糖偏高（连续 3 天）", Unit: "mmol/L", Default: 13.9, Min: 7, Max: 25,
		Source: "中国2型糖尿病防治指南 2020（血糖 >13.9 mmol/L）", field: func(t *Thresholds) *float64 { return &t.GlucoseFastingHigh }},
	// NRS 7–10 为重度疼痛（NRS 分级；癌症疼痛诊疗规范 2018 同此分级）。
	{Key: KeyPainHigh, Label: "重度疼痛", Unit: "{score}", Default: 7, Min: 4, Max: 10,
		Source: "NRS 疼痛分级：7–10 分为重度疼痛", field: func(t *Thresholds) *float64 { return &t.PainHigh }},
	// A rise of 2 NRS points is the smallest change patients call meaningful
	// (IMMPACT); 3 in one day after surgery suggests a complication.
	{Key: KeyPainRise, Label: "疼痛较前一日上升", Unit: "{score}", Default: 3, Min: 1, Max: 10,
		Source: "NRS 较前一日上升 ≥3 分（IMMPACT：≥2 分即有临床意义）", field: func(t *Thresholds) *float64 { return &t.PainRise }},
	// ESC 2021 心衰指南 / 中国心力衰竭诊断和治疗指南 2018：3 天内体重增加 >2 kg
	// 提示液体潴留。只对心衰患者有意义，故全局默认关闭，由心衰路径或个案管理师开启（2）。
	{Key: KeyWeightGainKg3d, Label: "3 天内体重增加", Unit: "kg", Default: 0, Min: 0.5, Max: 10, ZeroOffs: true,
		Source: "ESC 2021 心衰指南、中国心力衰竭诊断和治疗指南 2018（3 天内增加 >2 kg）", field: func(t *Thresholds) *float64 { return &t.WeightGainKg3d }},
	// Care-plan practice: three missed days of a daily report is when a CM would phone.
	{Key: KeyNoReportDays, Label: "计划内未上报天数", Unit: "d", Default: 3, Min: 1, Max: 60, ZeroOffs: true,
		Source: "个案管理随访规范：计划内连续 3 天未上报即电话随访", field: func(t *Thresholds) *float64 { return &t.NoReportDays }},
	// 中国心力衰竭诊断和治疗指南 2018：收缩压 <90 mmHg 伴症状为低血压，需调整药物；
	// 心衰与高血压路径在药物加量期设为 90–100。
	{Key: KeyBPSystolicLow, Label: "收缩压过低", Unit: "mm[Hg]", Default: 90, Min: 70, Max: 120, ZeroOffs: true,
		Source: "中国心力衰竭诊断和治疗指南 2018（收缩压 <90 mmHg 为低血压）", field: func(t *Thresholds) *float64 { return &t.BPSystolicLow }},
	// 中国2型糖尿病防治指南 2020：随机血糖 >16.7 mmol/L 应警惕糖尿病酮症酸中毒或高渗状态。
	{Key: KeyGlucoseRandomHigh, Label: "非空腹血糖过高", Unit: "mmol/L", Default: 16.7, Min: 11.1, Max: 33.3, ZeroOffs: true,
		Source: "中国2型糖尿病防治指南 2020（血糖 >16.7 mmol/L 警惕高血糖危象）", field: func(t *Thresholds) *float64 { return &t.GlucoseRandomHigh }},
	// 术后：体温 ≥38.5 °C 提示感染可能；化疗后：中国中性粒细胞缺乏伴发热患者抗菌药物
	// 临床应用指南 2020 以口腔温度 ≥38.0 °C 持续 1 小时为发热，化疗路径设为 38.0。
	{Key: KeyTemperatureHigh, Label: "发热", Unit: "Cel", Default: 38.5, Min: 37.3, Max: 40, ZeroOffs: true,
		Source: "术后 ≥38.5 °C；中国中性粒细胞缺乏伴发热患者抗菌药物临床应用指南 2020（≥38.0 °C）", field: func(t *Thresholds) *float64 { return &t.TemperatureHigh }},
	// BTS 2017 成人急诊氧疗指南：SpO2 <90% 为低氧血症，需紧急评估。
	{Key: KeySpO2Low, Label: "血氧饱和度过低", Unit: "%", Default: 90, Min: 80, Max: 95, ZeroOffs: true,
		Source: "BTS 2017 成人急诊氧疗指南（SpO2 <90% 需紧急评估）", field: func(t *Thresholds) *float64 { return &t.SpO2Low }},
	// 静息心率 >120 次/分的心动过速需评估诱因（感染、心衰加重、房颤等）。
	{Key: KeyHeartRateHigh, Label: "心率过快", Unit: "/min", Default: 120, Min: 100, Max: 160, ZeroOffs: true,
		Source: "静息心率 >120 次/分需评估（心动过速）", field: func(t *Thresholds) *float64 { return &t.HeartRateHigh }},
	// 2018 ACC/AHA/HRS 心动过缓指南：清醒时心率 <40 次/分为显著心动过缓；
	// 心衰路径（β 受体阻滞剂加量）设为 50。
	{Key: KeyHeartRateLow, Label: "心率过慢", Unit: "/min", Default: 40, Min: 30, Max: 60, ZeroOffs: true,
		Source: "2018 ACC/AHA/HRS 心动过缓指南（清醒时 <40 次/分）", field: func(t *Thresholds) *float64 { return &t.HeartRateLow }},
}

// HeartFailureWeightGainKg is what a heart-failure pathway sets weight_gain_kg_3d to.
const HeartFailureWeightGainKg = 2

// Defaults are the global thresholds.
func Defaults() Thresholds {
	var t Thresholds
	for _, s := range ThresholdSpecs {
		*s.field(&t) = s.Default
	}
	return t
}

func specOfOK(key string) bool {
	_, ok := specOf(key)
	return ok
}

func specOf(key string) (ThresholdSpec, bool) {
	for _, s := range ThresholdSpecs {
		if s.Key == key {
			return s, true
		}
	}
	return ThresholdSpec{}, false
}

// With returns t with the overrides applied. Unknown keys are ignored here
// (Validate rejects them where they enter).
func (t Thresholds) With(o Overrides) Thresholds {
	for k, v := range o {
		if s, ok := specOf(CanonicalKey(k)); ok {
			*s.field(&t) = v
		}
	}
	return t
}

// Map lists t by key.
func (t Thresholds) Map() map[string]float64 {
	out := make(map[string]float64, len(ThresholdSpecs))
	for _, s := range ThresholdSpecs {
		out[s.Key] = *s.field(&t)
	}
	return out
}

// Validate checks every key and value; the error names the first bad key.
func (o Overrides) Validate() error {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := o[k]
		s, ok := specOf(k)
		if !ok {
			return apperr.Invalid("overrides."+k, "unknown_threshold", fmt.Sprintf("未知的阈值 %s", k))
		}
		if s.ZeroOffs && v == 0 {
			continue
		}
		if math.IsNaN(v) || v < s.Min || v > s.Max {
			msg := fmt.Sprintf("%s必须在 %g 到 %g 之间", s.Label, s.Min, s.Max)
			if s.ZeroOffs {
				msg += "（0 表示关闭）"
			}
			return apperr.Invalid("overrides."+k, "threshold_out_of_range", msg).WithDetail("min", s.Min).WithDetail("max", s.Max)
		}
	}
	return nil
}
