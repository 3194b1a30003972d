package questionnaire

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/carepath/carepath/internal/platform/catalog"
)

// A Definition is a questionnaire written as data in
// configs/questionnaires/*.yaml:
//
//	key: phq2                       # ^[a-z][a-z0-9_]*$, unique
//	name: 患者健康问卷-2（PHQ-2）
//	version: 1
//	source: where the instrument comes from, and why its use is free
//	items:
//	  - {key: mood, type: single, text: ..., required: true,
//	     options: [{value: "0", label: 完全不会, score: 0}, ...]}
//	  # types: single | multiple (options, each may score) | scale (integer
//	  # min..max) | number (min..max, unit) | text (max_length, default 500)
//	scoring:
//	  method: sum | max            # over the listed items' scores
//	  items: [mood, interest]
//	  scale_to: 100                # optional: rescale to 0..scale_to
//	  invert: true                 # optional, with scale_to: higher is better
//	  bands: [{min: 0, max: 2, label: negative, name: 筛查阴性}, ...]
//	  alert: {at_least: 3}         # or at_most / below / above
type Definition struct {
	Key     string  `yaml:"key" json:"key"`
	Name    string  `yaml:"name" json:"name"`
	Version int     `yaml:"version" json:"version"`
	Source  string  `yaml:"source" json:"source"`
	Items   []Item  `yaml:"items" json:"items"`
	Scoring Scoring `yaml:"scoring" json:"-"`
}

// Item types.
const (
	TypeSingle   = "single"
	TypeMultiple = "multiple"
	TypeScale    = "scale"
	TypeNumber   = "number"
	TypeText     = "text"
)

// Item is one question.
type Item struct {
	Key       string   `yaml:"key" json:"key"`
	Type      string   `yaml:"type" json:"type"`
	Text      string   `yaml:"text" json:"text"`
	Required  bool     `yaml:"required" json:"required"`
	Options   []Option `yaml:"options" json:"options,omitempty"`
	Min       *float64 `yaml:"min" json:"min,omitempty"`
	Max       *float64 `yaml:"max" json:"max,omitempty"`
	Unit      string   `yaml:"unit" json:"unit,omitempty"`
	MaxLength int      `yaml:"max_length" json:"max_length,omitempty"`
}

// Option is a choice of a single or multiple choice item.
type Option struct {
	Value string  `yaml:"value" json:"value"`
	Label string  `yaml:"label" json:"label"`
	Score float64 `yaml:"score" json:"-"`
}

// Scoring says how answers become a score.
type Scoring struct {
	Method  string   `yaml:"method"`
	Items   []string `yaml:"items"`
	ScaleTo float64  `yaml:"scale_to"`
	Invert  bool     `yaml:"invert"`
	Bands   []Band   `yaml:"bands"`
	Alert   Alert    `yaml:"alert"`
}

// Band names a score range (inclusive).
type Band struct {
	Min   float64 `yaml:"min"`
	Max   float64 `yaml:"max"`
	Label string  `yaml:"label"`
	Name  string  `yaml:"name"`
}

// Alert is the threshold past which a score alerts the CM; at most one is set.
type Alert struct {
	AtLeast *float64 `yaml:"at_least"`
	Above   *float64 `yaml:"above"`
	AtMost  *float64 `yaml:"at_most"`
	Below   *float64 `yaml:"below"`
}

const defaultTextLength = 500

var keyPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Library is the loaded questionnaires, by key (Get, All).
type Library struct {
	*catalog.Set[*Definition]
}

// Load reads dir/*.yaml from fsys and checks every definition.
func Load(fsys fs.FS, dir string) (*Library, error) {
	set, err := catalog.Load(fsys, path.Join(dir, "*.yaml"), "questionnaires", func(file string, b []byte) (*Definition, string, error) {
		d, err := Parse(file, b)
		if err != nil {
			return nil, "", err
		}
		return d, d.Key, nil
	})
	if err != nil {
		return nil, err
	}
	return &Library{set}, nil
}

// Parse reads and checks one definition; file names it in messages.
func Parse(file string, b []byte) (*Definition, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var d Definition
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if err := d.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &d, nil
}

func (d *Definition) check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !keyPattern.MatchString(d.Key) {
		bad("key: %q must match %s", d.Key, keyPattern)
	}
	if d.Name == "" || d.Version < 1 || d.Source == "" {
		bad("name, version (>= 1) and source are required")
	}
	if len(d.Items) == 0 {
		bad("items: at least one")
	}
	seen := map[string]*Item{}
	for i := range d.Items {
		it := &d.Items[i]
		if !keyPattern.MatchString(it.Key) || seen[it.Key] != nil {
			bad("items[%d].key: %q is not a key or is used twice", i, it.Key)
		}
		seen[it.Key] = it
		if it.Text == "" {
			bad("items[%d].text: required", i)
		}
		switch it.Type {
		case TypeSingle, TypeMultiple:
			if len(it.Options) < 2 {
				bad("items[%d].options: at least two", i)
			}
			values := map[string]bool{}
			for _, o := range it.Options {
				if o.Value == "" || o.Label == "" || values[o.Value] {
					bad("items[%d].options: value and label required, values unique", i)
				}
				values[o.Value] = true
			}
		case TypeScale, TypeNumber:
			if it.Min == nil || it.Max == nil || *it.Max <= *it.Min {
				bad("items[%d]: min < max required", i)
			}
		case TypeText:
			if it.MaxLength == 0 {
				it.MaxLength = defaultTextLength
			}
		default:
			bad("items[%d].type: %q is not single, multiple, scale, number or text", i, it.Type)
		}
	}
	s := d.Scoring
	if s.Method != "sum" && s.Method != "max" {
		bad("scoring.method: %q is not sum or max", s.Method)
	}
	for _, k := range s.Items {
		it := seen[k]
		if it == nil || it.Type == TypeText {
			bad("scoring.items: %q is not a scorable item", k)
		} else if !it.Required {
			bad("scoring.items: %q must be required, so every score has all its parts", k)
		}
	}
	if s.Invert && s.ScaleTo == 0 {
		bad("scoring.invert needs scale_to")
	}
	n := 0
	for _, v := range []*float64{s.Alert.AtLeast, s.Alert.Above, s.Alert.AtMost, s.Alert.Below} {
		if v != nil {
			n++
		}
	}
	if n > 1 {
		bad("scoring.alert: at most one threshold")
	}
	for i, b := range s.Bands {
		if b.Label == "" || b.Max < b.Min || i > 0 && b.Min <= s.Bands[i-1].Max {
			bad("scoring.bands[%d]: label required, ranges ascending and disjoint", i)
		}
	}
	return errors.Join(errs...)
}
