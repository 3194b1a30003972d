// Package home is the patient home screen in one request: the care plan and
// its current stage, the next appointment, unread messages and education,
// and the newest reading of each type. The mini-program used to make four
// calls for it (each authenticated and access-checked again); one call checks
// access once and shows each section only when the caller's grant holds its
// permission, so a relative sees what the patient allowed and no more.
package home

import (
	"context"
	"errors"
	"fmt"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/appointment"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/education"
	"github.com/carepath/carepath/internal/observation"
	"github.com/carepath/carepath/internal/platform/web"
)

// Plans is the care-plan service.
type Plans interface {
	Current(ctx context.Context, patientID string) (careplan.PlanView, error)
}

// Appointments is the appointment service.
type Appointments interface {
	List(ctx context.Context, patientID string, past bool, limit int) ([]appointment.Appointment, error)
}

// Messages is the messaging service.
type Messages interface {
	Unread(ctx context.Context, a auth.Actor, g access.Grant) (int, error)
}

// Education is the education service.
type Education interface {
	Feed(ctx context.Context, patientID string, unreadOnly bool) (education.FeedResponse, error)
}

// Readings is the observation service.
type Readings interface {
	Latest(ctx context.Context, patientID string) ([]observation.View, error)
}

// View is the home screen. A null section is one the caller may not see
// (a relative without that scope), or that has nothing yet (no active plan,
// no upcoming appointment).
type View struct {
	PatientID       string              `json:"patient_id"`
	Plan            *careplan.PlanView  `json:"plan"`
	NextAppointment *appointment.View   `json:"next_appointment"`
	UnreadMessages  *int                `json:"unread_messages"`
	UnreadEducation *int                `json:"unread_education"`
	LatestReadings  *[]observation.View `json:"latest_readings"`
}

// Handler serves GET /patients/:patientID/home.
type Handler struct {
	plans        Plans
	appointments Appointments
	messages     Messages
	education    Education
	readings     Readings
}

// NewHandler returns the home screen handler.
func NewHandler(plans Plans, appointments Appointments, messages Messages, education Education, readings Readings) *Handler {
	return &Handler{plans: plans, appointments: appointments, messages: messages, education: education, readings: readings}
}

// Get handles GET /api/v1/patients/:patientID/home.
func (h *Handler) Get(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	v, err := h.view(c.Request.Context(), a, access.GrantFrom(c))
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, v)
}

func (h *Handler) view(ctx context.Context, a auth.Actor, g access.Grant) (View, error) {
	v := View{PatientID: g.PatientID}
	if g.Allows(access.PlanRead) {
		plan, err := h.plans.Current(ctx, g.PatientID)
		switch {
		case err == nil:
			v.Plan = &plan
		case !errors.Is(err, careplan.ErrNoActivePlan):
			return View{}, fmt.Errorf("home plan: %w", err)
		}
		feed, err := h.education.Feed(ctx, g.PatientID, true)
		if err != nil {
			return View{}, fmt.Errorf("home education: %w", err)
		}
		v.UnreadEducation = &feed.Unread
	}
	if g.Allows(access.AppointmentsRead) {
		next, err := h.appointments.List(ctx, g.PatientID, false, 1)
		if err != nil {
			return View{}, fmt.Errorf("home appointment: %w", err)
		}
		if len(next) > 0 {
			av := appointment.ViewOf(next[0])
			v.NextAppointment = &av
		}
	}
	if g.Allows(access.MessagesRead) {
		n, err := h.messages.Unread(ctx, a, g)
		if err != nil {
			return View{}, fmt.Errorf("home messages: %w", err)
		}
		v.UnreadMessages = &n
	}
	if g.Allows(access.VitalsRead) {
		latest, err := h.readings.Latest(ctx, g.PatientID)
		if err != nil {
			return View{}, fmt.Errorf("home readings: %w", err)
		}
		v.LatestReadings = &latest
	}
	return v, nil
}
