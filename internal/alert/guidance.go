package alert

import (
	"fmt"
	"sort"

	"github.com/carepath/carepath/internal/observation"
)

// Emergency is the number a patient calls when a critical value persists.
const Emergency = "120"

// guidanceFor is what the patient is told right away, in the response to the
// report. Critical values say what to do now and to call 120; every alert
// says the CM has been told. Texts follow the guidelines cited in
// thresholds.go; they never promise a call-back time the hospital cannot keep.
func guidanceFor(f Finding, th Thresholds, team CareTeam) *observation.Guidance {
	cm := observation.Contact{Role: "case_manager", Name: team.CaseManagerName}
	if cm.Name == "" {
		cm.Name = "您的个案管理师"
	}
	emergency := observation.Contact{Role: "emergency", Name: "急救电话", Phone: Emergency}
	told := "您的个案管理师已收到提醒，会尽快与您联系。"
	g := observation.Guidance{Severity: f.Severity, Contacts: []observation.Contact{cm}}
	switch f.Rule {
	case RuleBPCritical:
		g.Title = "血压明显升高，请立即处理"
		g.Actions = []string{
			"立即停止活动，坐下安静休息 5 分钟后复测血压。",
			fmt.Sprintf("如复测仍 ≥%g/%g mmHg，或伴有胸痛、剧烈头痛、呼吸困难、一侧肢体无力、言语不清、视物模糊，请立即拨打 120。", th.BPSystolicCritical, th.BPDiastolicCritical),
			"不要自行加服或大量服用降压药。",
			told,
		}
		g.Contacts = []observation.Contact{emergency, cm}
	case RuleGlucoseLow:
		// 中国2型糖尿病防治指南 2020 低血糖处理：意识清楚者口服 15–20 g 糖类食品，每 15 分钟复测。
		g.Title = "血糖过低，请立即进食含糖食物"
		g.Actions = []string{
			"立即吃 15 克含糖食物：如 3–4 块方糖、半杯（约 150 毫升）果汁或含糖饮料。",
			fmt.Sprintf("15 分钟后复测血糖；仍低于 %g mmol/L 再吃 15 克，并再次复测。", th.GlucoseLowCritical),
			"血糖回升后如距下一餐超过 1 小时，再吃一份含淀粉的食物（如面包、饼干）。",
			"如出现意识模糊、抽搐或无法进食，家属请立即拨打 120，不要强行喂食。",
			told,
		}
		g.Contacts = []observation.Contact{emergency, cm}
	case RuleBPHigh:
		g.Title = "血压连续偏高"
		g.Actions = []string{"请按时服用降压药，不要自行停药或减量。", "每天早晚各测一次血压并上报。", "如出现剧烈头痛、胸痛或呼吸困难，请立即就医或拨打 120。", told}
	case RuleSpO2Low:
		g.Title = "血氧偏低，请立即处理"
		g.Actions = []string{
			"坐下安静休息，手指保暖、指夹放正后复测。",
			fmt.Sprintf("如复测仍低于 %g%%，或伴有气促加重、胸闷、口唇发紫、意识模糊，请立即拨打 120。", th.SpO2Low),
			"家中有制氧机的，请按医嘱吸氧。",
			told,
		}
		g.Contacts = []observation.Contact{emergency, cm}
	case RuleBPLow:
		g.Title = "血压偏低"
		g.Actions = []string{"请缓慢起身，避免突然站立，注意防跌倒。", "不要自行停用或加用药物。", "如出现头晕、黑蒙、晕厥或胸闷，请立即就医或拨打 120。", told}
	case RuleFever:
		g.Title = "体温升高"
		g.Actions = []string{"多饮水、注意休息，30 分钟后复测体温。", "化疗后发热可能是粒细胞减少合并感染，请立即就医；术后发热伴伤口红肿渗液，请尽快就诊。", told}
	case RuleHeartRateHigh, RuleHeartRateLow:
		g.Title = "心率异常"
		g.Actions = []string{"请坐下安静休息 5 分钟后复测。", "如伴有胸闷、心慌、头晕或晕厥，请立即就医或拨打 120。", told}
	case RuleGlucoseFastingHigh, RuleGlucoseRandomHigh:
		g.Title = "血糖偏高"
		g.Actions = []string{"请按医嘱用药，不要自行停用降糖药或胰岛素，适量多饮水。", "如出现明显口渴、恶心呕吐、腹痛、呼吸深快或意识改变，请立即就医或拨打 120。", told}
	case RulePainHigh, RulePainRise:
		g.Title = "疼痛加重"
		g.Actions = []string{"请按医嘱使用止痛药物，注意休息。", "如伴有伤口红肿渗液、发热或小腿肿痛，请尽快联系个案管理师或到医院就诊。", told}
	case RuleWeightGain:
		g.Title = "体重短期内增加，警惕心衰加重"
		g.Actions = []string{"请限制饮水和食盐，按医嘱服用利尿剂。", "如出现气促加重、夜间不能平卧或下肢水肿加重，请立即就医或拨打 120。", told}
	default:
		return nil
	}
	return &g
}

// guidanceList orders guidance most urgent first.
func guidanceList(gs []observation.Guidance) []observation.Guidance {
	sort.SliceStable(gs, func(i, j int) bool { return severityRank(gs[i].Severity) > severityRank(gs[j].Severity) })
	return gs
}
