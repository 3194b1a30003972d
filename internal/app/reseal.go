package app

import (
	"context"
	"fmt"

	"github.com/carepath/carepath/internal/alert"
	"github.com/carepath/carepath/internal/appointment"
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/followup"
	"github.com/carepath/carepath/internal/messaging"
	"github.com/carepath/carepath/internal/observation"
	"github.com/carepath/carepath/internal/questionnaire"
)

// resealer seals, batch by batch, the rows of one kind written in the clear.
type resealer interface {
	Reseal(ctx context.Context, batch int) (int, error)
}

// Reseal seals the sensitive free text written in the clear before it was
// sealed at rest (message text before migration 0010, follow-up outcome
// text and questionnaire answers before 0012, reading notes before 0013,
// alert resolution notes before 0014, appointments' cancel reasons and
// reschedule notes, care plans' risk and history reasons and account
// deactivation reasons before 0015), batch rows at a time, and
// returns how many rows of each kind it sealed. It is idempotent: sealed
// rows are never touched again, so it can be stopped and rerun, and a
// second run seals nothing.
func (a *App) Reseal(ctx context.Context, batch int) (map[string]int, error) {
	if batch <= 0 {
		batch = 500
	}
	kinds := []struct {
		name string
		r    resealer
	}{
		{"messages", messaging.NewStore(a.DB).Sealed(a.sealer)},
		{"followups", followup.NewStore(a.DB).Sealed(a.sealer)},
		{"questionnaire_answers", questionnaire.NewStore(a.DB).Sealed(a.sealer)},
		{"observation_notes", observation.NewStore(a.DB).Sealed(a.sealer)},
		{"alert_notes", alert.NewStore(a.DB).Sealed(a.sealer)},
		{"appointment_reasons", appointment.NewStore(a.DB).Sealed(a.sealer)},
		{"plan_reasons", careplan.NewStore(a.DB).Sealed(a.sealer)},
		{"deactivation_reasons", a.Accounts},
	}
	out := map[string]int{}
	for _, k := range kinds {
		for {
			n, err := k.r.Reseal(ctx, batch)
			out[k.name] += n
			if err != nil {
				return out, fmt.Errorf("reseal %s: %w", k.name, err)
			}
			if n == 0 {
				break
			}
		}
	}
	return out, nil
}
