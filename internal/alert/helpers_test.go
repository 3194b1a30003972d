package alert_test

import "github.com/carepath/carepath/internal/platform/apperr"

func errAs(err error) (map[string]any, bool) {
	e, ok := apperr.As(err)
	if !ok {
		return nil, false
	}
	return e.Details, true
}
