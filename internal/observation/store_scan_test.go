package observation

import (
	"testing"

	"github.com/carepath/carepath/internal/platform/dbtest"
)

// A column added to Reading must be read by the hand-written scan too, or
// lists and the alert rules would see it empty.
func TestReadingScansEveryColumn(t *testing.T) {
	dbtest.CheckColumns(t, &Reading{}, readingColumns)
}
