package alert

import (
	"context"

	"github.com/hibiken/asynq"
)

// TaskScanNoReport is the periodic scan for reports a plan expects but the
// patient has not sent. It is safe to run at any time and any number of
// times: repeated findings fold into the open alert.
const TaskScanNoReport = "alert:scan_no_report"

// ScanSchedule runs the scan hourly (in the hospital's zone), so an overdue
// report is found within an hour of local midnight.
const ScanSchedule = "5 * * * *"

// HandleScanNoReport is the asynq handler of TaskScanNoReport.
func (s *Service) HandleScanNoReport(ctx context.Context, _ *asynq.Task) error {
	_, err := s.ScanNoReport(ctx)
	return err
}
