package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/appointment"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/consent"
	"github.com/carepath/carepath/internal/demo"
	"github.com/carepath/carepath/internal/family"
	"github.com/carepath/carepath/internal/followup"
	"github.com/carepath/carepath/internal/messaging"
	"github.com/carepath/carepath/internal/org"
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/platform/fieldcrypt"
	"github.com/carepath/carepath/internal/platform/idempotency"
	"github.com/carepath/carepath/internal/questionnaire"
)

// SeedDemo loads the demo hospital in one transaction, so a failure leaves
// nothing half-written. It returns the staff password used: the given one,
// or a generated one when password is empty.
func (a *App) SeedDemo(ctx context.Context, password string) (demo.Summary, string, error) {
	if password == "" {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		password = base64.RawURLEncoding.EncodeToString(b)
	}
	secrets, err := loadSecrets(a.Config)
	if err != nil {
		return demo.Summary{}, "", err
	}
	sealer, err := fieldcrypt.New(secrets.cryptoKeys, secrets.activeKey, secrets.blindIndexKey)
	if err != nil {
		return demo.Summary{}, "", err
	}
	var sum demo.Summary
	err = a.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		accounts := auth.NewStore(tx)
		authSvc, err := auth.NewService(accounts, nil, sealer, auth.Config{TokenSecret: secrets.tokenSecret, AccessTTL: time.Minute, RefreshTTL: time.Hour}, time.Now)
		if err != nil {
			return err
		}
		loc, err := a.Config.Location()
		if err != nil {
			return err
		}
		plans, edu := careServices(tx, sealer, a.Careplan.Pathways(), a.Education.Library(), loc, a.now)
		patients := patient.NewService(patient.NewStore(tx), sealer, time.Now)
		v := buildVitals(tx, sealer, idempotency.NewStore(tx, time.Now).Sealed(sealer), patients, plans, a.loc, time.Now)
		plans.SetAlerts(v.Alerts)
		followups := followup.NewService(followup.NewStore(tx).Sealed(sealer), followupPlans{plans}, departmentLeads{tx},
			followup.Config{EscalateAfter: a.Config.Followup.EscalateAfter}, loc, a.now)
		sum, err = demo.Seed(ctx, demo.Deps{
			Org: org.NewStore(tx), Auth: authSvc, Accounts: accounts,
			Patients: patients, Family: family.NewStore(tx), Now: a.now,
			Careplan: plans, Education: edu, Location: loc, Messages: messaging.NewStore(tx).Sealed(sealer),
			Consents:     consent.NewStore(tx),
			Versions:     consent.Config{PrivacyPolicyVersion: a.Config.Consent.PrivacyPolicyVersion, HealthDataVersion: a.Config.Consent.HealthDataVersion},
			Observations: v.Observations, Alerts: v.Alerts,
			Appointments:   appointment.NewService(appointment.NewStore(tx).Sealed(sealer), loc, a.now, publicHost(a.Config.HTTP.PublicURL)),
			Followups:      followups,
			Questionnaires: questionnaire.NewService(questionnaire.NewStore(tx).Sealed(sealer), a.Questionnaires.Library(), a.now),
		}, password)
		return err
	})
	if err != nil {
		return demo.Summary{}, "", fmt.Errorf("seed demo data: %w", err)
	}
	return sum, password, nil
}

// Empty reports whether the database holds no hospital yet.
func (a *App) Empty(ctx context.Context) (bool, error) {
	n, err := a.Org.CountHospitals(ctx)
	return n == 0, err
}
