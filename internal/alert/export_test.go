package alert

import (
	"context"
	"time"
)

// MissedReportingOne is the reporting reminder's rule for one patient, the
// way it was asked before the scan went a page at a time: the plan, the
// thresholds and each last reading, one query at a time. Tests compare the
// page-at-a-time scan with it.
func (s *Service) MissedReportingOne(ctx context.Context, patientID string, days int, now time.Time) (bool, error) {
	exps, err := s.reporting.ExpectedReporting(ctx, patientID)
	if err != nil || len(exps) == 0 {
		return false, err
	}
	l, err := s.Thresholds(ctx, patientID)
	if err != nil || l.Effective.NoReportDays <= 0 {
		return false, err
	}
	th := l.Effective
	th.NoReportDays = float64(days)
	for _, exp := range exps {
		last, err := s.readings.LastMeasured(ctx, patientID, exp.Type)
		if err != nil {
			return false, err
		}
		if EvaluateNoReport(th, exp, last, now, s.loc) != nil {
			return true, nil
		}
	}
	return false, nil
}
