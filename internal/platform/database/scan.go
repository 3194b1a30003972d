package database

import "gorm.io/gorm"

// ScanAll runs db with columns selected and scans each row into a new T
// through the pointers fields gives, in the columns' order: for the hot
// lists where gorm's reflective scan costs more CPU than the query (a CM's
// readings, a report's history window, a catch-up page of 200 messages).
func ScanAll[T any](db *gorm.DB, columns string, fields func(*T) []any) ([]T, error) {
	rows, err := db.Select(columns).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var v T
		if err := rows.Scan(fields(&v)...); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
