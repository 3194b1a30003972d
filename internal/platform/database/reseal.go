package database

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// Sealed names the text columns of a table sealed at rest together and the
// boolean column that says a row's are sealed. Table and column names are
// constants of the calling store, never input.
type Sealed struct {
	Table   string
	Flag    string
	Columns []string
}

// Reseal seals the columns of up to batch rows written in the clear (flag
// false, some column non-empty) and returns how many rows it sealed; 0
// means none is left. A row sealed meanwhile by another run is left alone,
// so runs may overlap or be repeated.
func Reseal(ctx context.Context, db *gorm.DB, s Sealed, seal func(string) (string, error), batch int) (int, error) {
	var rows []map[string]any
	nonEmpty := strings.Join(s.Columns, " <> '' OR ") + " <> ''"
	err := db.WithContext(ctx).Table(s.Table).Select(append([]string{"id"}, s.Columns...)).
		Where(s.Flag+" = ? AND ("+nonEmpty+")", false).Order("id").Limit(batch).Find(&rows).Error
	if err != nil {
		return 0, fmt.Errorf("find unsealed %s: %w", s.Table, err)
	}
	n := 0
	for _, row := range rows {
		fields := map[string]any{s.Flag: true}
		for _, col := range s.Columns {
			v, err := seal(text(row[col]))
			if err != nil {
				return n, fmt.Errorf("seal %s.%s: %w", s.Table, col, err)
			}
			fields[col] = v
		}
		res := db.WithContext(ctx).Table(s.Table).Where("id = ? AND "+s.Flag+" = ?", row["id"], false).Updates(fields)
		if res.Error != nil {
			return n, fmt.Errorf("reseal %s %v: %w", s.Table, row["id"], res.Error)
		}
		n += int(res.RowsAffected)
	}
	return n, nil
}

// text is a scanned text column: a string, or bytes from some drivers.
func text(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []byte:
		return string(t)
	default:
		return ""
	}
}
