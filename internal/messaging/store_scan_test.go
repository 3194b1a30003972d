package messaging

import (
	"testing"

	"github.com/carepath/carepath/internal/platform/dbtest"
)

// A column added to Message must be read by the page scan too, or pages
// would show it empty.
func TestMessagePagesScanEveryColumn(t *testing.T) {
	dbtest.CheckColumns(t, &Message{}, messageColumns)
}
