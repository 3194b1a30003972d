package observation

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm/schema"
)

// A column added to Reading must be read by the hand-written scan too, or
// lists and the alert rules would see it empty.
func TestReadingScansEveryColumn(t *testing.T) {
	sch, err := schema.Parse(&Reading{}, &sync.Map{}, schema.NamingStrategy{})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(sch.DBNames))
	got := slices.Sorted(slices.Values(strings.Split(readingColumns, ", ")))
	if !slices.Equal(got, want) {
		t.Fatalf("scanReadings reads %v, Reading has %v", got, want)
	}
}
