// Package education is patient education: the article library (Markdown
// rendered to sanitized HTML), articles assigned to a patient by the stage
// of their care plan and its day or pushed by the CM, the patient's feed
// (unread first), and read tracking (opened, finished) the CM can see.
// It learns where a plan stands through the Plans interface; it never reads
// care plan tables.
package education

import (
	"time"

	"github.com/carepath/carepath/internal/platform/apperr"
)

// Assignment sources.
const (
	SourceStage  = "stage"  // pushed by the plan's stage and day
	SourceManual = "manual" // pushed by the CM
)

// Assignment is an article given to a patient, with what they did with it.
type Assignment struct {
	ID         string
	PatientID  string
	ArticleKey string
	PlanID     *string
	StageKey   string
	Source     string
	AssignedBy string
	AssignedAt time.Time
	OpenedAt   *time.Time
	FinishedAt *time.Time
	ReadBy     string // self | family: who opened it first
}

func (Assignment) TableName() string { return "education_assignments" }

// TaskAssignDue is the periodic task that pushes articles whose day has come.
const TaskAssignDue = "education.assign_due"

// Errors clients branch on.
var (
	ErrAssignmentNotFound = apperr.NotFound("宣教文章")
	ErrArticleNotFound    = apperr.NotFound("文章")
	ErrAlreadyAssigned    = apperr.New(apperr.KindConflict, "article_already_assigned", "该文章已推送给患者")
	ErrReadersOnly        = apperr.New(apperr.KindForbidden, "readers_only", "阅读记录只由患者本人或家属产生")
)
