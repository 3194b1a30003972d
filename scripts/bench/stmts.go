package main

import (
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
)

// stmtLog counts the server's SQL statements by shape (literals replaced),
// so the report can show statements per request for each scenario (an N+1
// shows as a count that grows with the data) and which shapes to EXPLAIN.
type stmtLog struct {
	mu     sync.Mutex
	m      map[string]*StmtStat
	shapes map[string]string // raw SQL → shape: the regexps ran on every statement and cost the server under test a fifth of its CPU on the home screen
}

// StmtStat is one statement shape's count and total time.
type StmtStat struct {
	SQL   string        `json:"sql"`
	Count int           `json:"count"`
	Total time.Duration `json:"total"`
}

// countStatements hooks gorm's callbacks (shared by every session of db).
func countStatements(db *gorm.DB) (*stmtLog, error) {
	l := &stmtLog{m: map[string]*StmtStat{}, shapes: map[string]string{}}
	const t0 = "bench:t0"
	before := func(tx *gorm.DB) { tx.InstanceSet(t0, time.Now()) }
	after := func(tx *gorm.DB) {
		begin, ok := tx.InstanceGet(t0)
		if !ok {
			return
		}
		l.add(tx.Statement.SQL.String(), time.Since(begin.(time.Time)))
	}
	cb := db.Callback()
	regs := []struct {
		name string
		b, a func(string, func(*gorm.DB)) error
	}{
		{"create", func(n string, f func(*gorm.DB)) error { return cb.Create().Before("*").Register(n, f) }, func(n string, f func(*gorm.DB)) error { return cb.Create().After("*").Register(n, f) }},
		{"query", func(n string, f func(*gorm.DB)) error { return cb.Query().Before("*").Register(n, f) }, func(n string, f func(*gorm.DB)) error { return cb.Query().After("*").Register(n, f) }},
		{"update", func(n string, f func(*gorm.DB)) error { return cb.Update().Before("*").Register(n, f) }, func(n string, f func(*gorm.DB)) error { return cb.Update().After("*").Register(n, f) }},
		{"delete", func(n string, f func(*gorm.DB)) error { return cb.Delete().Before("*").Register(n, f) }, func(n string, f func(*gorm.DB)) error { return cb.Delete().After("*").Register(n, f) }},
		{"row", func(n string, f func(*gorm.DB)) error { return cb.Row().Before("*").Register(n, f) }, func(n string, f func(*gorm.DB)) error { return cb.Row().After("*").Register(n, f) }},
		{"raw", func(n string, f func(*gorm.DB)) error { return cb.Raw().Before("*").Register(n, f) }, func(n string, f func(*gorm.DB)) error { return cb.Raw().After("*").Register(n, f) }},
	}
	for _, r := range regs {
		if err := r.b("bench:before_"+r.name, before); err != nil {
			return nil, err
		}
		if err := r.a("bench:after_"+r.name, after); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// maxShapes bounds the memo (statements with literals inlined never repeat).
const maxShapes = 10_000

func (l *stmtLog) add(sql string, d time.Duration) {
	l.mu.Lock()
	key, ok := l.shapes[sql]
	l.mu.Unlock()
	if !ok {
		key = shape(sql)
	}
	l.mu.Lock()
	if !ok && len(l.shapes) < maxShapes {
		l.shapes[sql] = key
	}
	s := l.m[key]
	if s == nil {
		s = &StmtStat{SQL: key}
		l.m[key] = s
	}
	s.Count++
	s.Total += d
	l.mu.Unlock()
}

// take returns the statements counted so far, most frequent first, and starts afresh.
func (l *stmtLog) take() []StmtStat {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]StmtStat, 0, len(l.m))
	for _, s := range l.m {
		out = append(out, *s)
	}
	l.m = map[string]*StmtStat{}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].SQL < out[j].SQL
	})
	return out
}

var (
	stringLit = regexp.MustCompile(`'(?:[^'\\]|\\.|'')*'`)
	numberLit = regexp.MustCompile(`\b\d+(?:\.\d+)?\b`)
	inList    = regexp.MustCompile(`\(\?(?:\s*,\s*\?)+\)`)
	spaces    = regexp.MustCompile(`\s+`)
)

// shape replaces a statement's literals with ? and IN lists with (?…), so
// the same query with other arguments counts as one.
func shape(sql string) string {
	s := stringLit.ReplaceAllString(sql, "?")
	s = numberLit.ReplaceAllString(s, "?")
	s = inList.ReplaceAllString(s, "(?…)")
	return strings.TrimSpace(spaces.ReplaceAllString(s, " "))
}
