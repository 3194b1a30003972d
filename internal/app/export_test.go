package app

import "github.com/carepath/carepath/internal/platform/fieldcrypt"

// Opener opens what the app sealed, for tests of values no route returns.
func (a *App) Opener() fieldcrypt.Opener { return a.sealer }
