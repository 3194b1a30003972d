// Package catalog loads reference data shipped as files (pathways,
// education articles, questionnaires): one entry per file, kept by key.
// Every problem in every file is reported at once, each naming its file, so
// an editor fixes a broken library in one pass. It knows no entry type.
package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
)

// Set is a loaded catalog: entries by key, listed in key order.
type Set[T any] struct {
	byKey map[string]T
	files map[string]string
	keys  []string
}

// Get returns the entry with key.
func (s *Set[T]) Get(key string) (T, bool) {
	v, ok := s.byKey[key]
	return v, ok
}

// All returns every entry, ordered by key.
func (s *Set[T]) All() []T {
	out := make([]T, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, s.byKey[k])
	}
	return out
}

// Parse decodes and checks one file, returning its entry and key; errors name the file.
type Parse[T any] func(file string, b []byte) (T, string, error)

// Load parses every file of fsys matching pattern (e.g. "pathways/*.yaml").
// what names the catalog in the error for an empty match. A key used by two
// files is an error naming both.
func Load[T any](fsys fs.FS, pattern, what string, parse Parse[T]) (*Set[T], error) {
	names, err := fs.Glob(fsys, pattern)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no file matches %s", what, pattern)
	}
	s := &Set[T]{byKey: map[string]T{}, files: map[string]string{}}
	var errs []error
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		v, key, err := parse(name, b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if other, dup := s.files[key]; dup {
			errs = append(errs, fmt.Errorf("%s: key: %q is already the key of %s", name, key, other))
			continue
		}
		s.byKey[key], s.files[key] = v, name
		s.keys = append(s.keys, key)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Strings(s.keys)
	return s, nil
}

// With returns a copy of the set with v under key (from file), added or in
// place of the entry with that key; the set itself is unchanged.
func (s *Set[T]) With(key, file string, v T) *Set[T] {
	out := &Set[T]{byKey: make(map[string]T, len(s.byKey)+1), files: make(map[string]string, len(s.files)+1)}
	for k, e := range s.byKey {
		out.byKey[k], out.files[k] = e, s.files[k]
	}
	if _, ok := out.byKey[key]; !ok {
		out.keys = append(out.keys, key)
	}
	out.keys = append(out.keys, s.keys...)
	out.byKey[key], out.files[key] = v, file
	sort.Strings(out.keys)
	return out
}
