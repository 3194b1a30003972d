package notify

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Template types.
const (
	OneTime  = "one_time"
	LongTerm = "long_term"
)

// WeChat keyword value types and their limits in characters (0: formatted, no limit to apply).
var typeLimits = map[string]int{
	"thing": 20, "phrase": 5, "name": 10, "character_string": 32, "number": 32, "time": 0, "date": 0,
}

// safeFields are the request fields a keyword may take its value from:
// times and a stage name, never anything health-related.
var safeFields = map[string]bool{"at": true, "stage_name": true}

// Keyword is one template field.
type Keyword struct {
	Key   string `yaml:"key"`
	Type  string `yaml:"type"`
	Value string `yaml:"value"`
	From  string `yaml:"from"`
}

// Template is how one kind of push is sent.
type Template struct {
	Kind       string    `yaml:"-"`
	TemplateID string    `yaml:"template_id"`
	Type       string    `yaml:"type"`
	Priority   int       `yaml:"priority"`
	Title      string    `yaml:"title"`
	Page       string    `yaml:"page"`
	Keywords   []Keyword `yaml:"keywords"`
}

// LongTerm reports whether the template is a long-term one.
func (t Template) LongTerm() bool { return t.Type == LongTerm }

// Registry is every template by kind.
type Registry struct {
	byKind map[string]Template
	byID   map[string]Template
}

// LoadRegistry reads the shipped registry from fsys, or the file at
// override when it is not empty.
func LoadRegistry(fsys fs.FS, path, override string) (*Registry, error) {
	var b []byte
	var err error
	if override != "" {
		b, err = os.ReadFile(override)
	} else {
		b, err = fs.ReadFile(fsys, path)
	}
	if err != nil {
		return nil, fmt.Errorf("notify templates: %w", err)
	}
	return ParseRegistry(b)
}

// ParseRegistry parses and checks a registry file.
func ParseRegistry(b []byte) (*Registry, error) {
	var doc struct {
		Templates map[string]Template `yaml:"templates"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("notify templates: %w", err)
	}
	r := &Registry{byKind: map[string]Template{}, byID: map[string]Template{}}
	var errs []error
	for kind, t := range doc.Templates {
		t.Kind = kind
		if err := t.check(); err != nil {
			errs = append(errs, fmt.Errorf("template %s: %w", kind, err))
			continue
		}
		if other, dup := r.byID[t.TemplateID]; dup {
			errs = append(errs, fmt.Errorf("template %s: template_id %s is also used by %s", kind, t.TemplateID, other.Kind))
			continue
		}
		r.byKind[kind], r.byID[t.TemplateID] = t, t
	}
	for _, kind := range []string{KindStageBegins, KindAppointmentReminder, KindCMMessage, KindQuestionnaireDue, KindEducationReady, KindReadingAttention, KindReportingReminder} {
		if _, ok := doc.Templates[kind]; !ok {
			errs = append(errs, fmt.Errorf("no template for kind %s", kind))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("notify templates: %w", errors.Join(errs...))
	}
	return r, nil
}

func (t Template) check() error {
	switch {
	case t.TemplateID == "" || len(t.TemplateID) > 64:
		return errors.New("template_id must be 1..64 characters")
	case t.Type != OneTime && t.Type != LongTerm:
		return fmt.Errorf("type must be %s or %s", OneTime, LongTerm)
	case t.Priority < 1:
		return errors.New("priority must be at least 1")
	case t.Title == "" || len([]rune(t.Title)) > 64:
		return errors.New("title must be 1..64 characters")
	case t.Page == "" || len(t.Page) > 200:
		return errors.New("page is required")
	case len(t.Keywords) == 0:
		return errors.New("keywords are required")
	}
	seen := map[string]bool{}
	for _, k := range t.Keywords {
		limit, ok := typeLimits[k.Type]
		switch {
		case !ok:
			return fmt.Errorf("keyword %s: unknown type %q", k.Key, k.Type)
		case !strings.HasPrefix(k.Key, k.Type) || seen[k.Key]:
			return fmt.Errorf("keyword %s: the key must start with its type %s and be unique", k.Key, k.Type)
		case (k.Value == "") == (k.From == ""):
			return fmt.Errorf("keyword %s: exactly one of value and from", k.Key)
		case k.From != "" && !safeFields[k.From]:
			return fmt.Errorf("keyword %s: from %q is not a field a push may show", k.Key, k.From)
		case (k.Type == "time" || k.Type == "date") && k.From != "at":
			return fmt.Errorf("keyword %s: a %s comes from at", k.Key, k.Type)
		case k.Value != "" && limit > 0 && len([]rune(k.Value)) > limit:
			return fmt.Errorf("keyword %s: %q is longer than %d characters", k.Key, k.Value, limit)
		}
		seen[k.Key] = true
	}
	return nil
}

// Template returns the template of a kind.
func (r *Registry) Template(kind string) (Template, bool) {
	t, ok := r.byKind[kind]
	return t, ok
}

// ByID returns the template with a WeChat template id.
func (r *Registry) ByID(id string) (Template, bool) {
	t, ok := r.byID[id]
	return t, ok
}

// Kinds lists the kinds, sorted.
func (r *Registry) Kinds() []string {
	out := make([]string, 0, len(r.byKind))
	for k := range r.byKind {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Render gives the keyword values of a push, each cut to its type's limit
// (by characters, not bytes), times in the hospital's zone.
func (t Template) Render(req Request, loc *time.Location) map[string]string {
	out := make(map[string]string, len(t.Keywords))
	for _, k := range t.Keywords {
		v := k.Value
		switch {
		case k.Type == "time":
			v = req.At.In(loc).Format("2006年01月02日 15:04")
		case k.Type == "date":
			v = req.At.In(loc).Format("2006年01月02日")
		case k.From != "":
			v = req.Data[k.From]
		}
		v = Truncate(strings.TrimSpace(v), typeLimits[k.Type])
		if v == "" {
			v = "-" // WeChat refuses an empty value (47003)
		}
		out[k.Key] = v
	}
	return out
}

// PageFor is the page a push about patientID opens.
func (t Template) PageFor(patientID string) string {
	return strings.ReplaceAll(t.Page, "{patient_id}", patientID)
}

// Truncate cuts s to at most limit characters (runes), marking a cut with
// "…" within the limit; limit 0 leaves s as is.
func Truncate(s string, limit int) string {
	r := []rune(s)
	if limit <= 0 || len(r) <= limit {
		return s
	}
	if limit == 1 {
		return string(r[:1])
	}
	return string(r[:limit-1]) + "…"
}
