package messaging

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm/schema"
)

// A column added to Message must be read by the page scan too, or pages
// would show it empty.
func TestMessagePagesScanEveryColumn(t *testing.T) {
	sch, err := schema.Parse(&Message{}, &sync.Map{}, schema.NamingStrategy{})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(sch.DBNames))
	got := slices.Sorted(slices.Values(strings.Split(messageColumns, ", ")))
	if !slices.Equal(got, want) {
		t.Fatalf("scanMessages reads %v, Message has %v", got, want)
	}
}
