package education

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"go.yaml.in/yaml/v3"
)

// Article is a piece of patient education, written in Markdown with YAML
// front matter in configs/education/<key>.md:
//
//	---
//	title: 出院第一周：居家康复锻炼这样做     # required
//	summary: 一句话说明                        # shown in the feed
//	pathways: [knee_arthroplasty]              # pathways it belongs to
//	stages: [post_d1_7]                        # stages it is pushed in
//	topics: [康复锻炼]                          # for the library and the feed
//	day: 0                                     # pushed this many days into the stage
//	---
//	# Markdown body; images as ![说明](https://…), videos as links
//
// The body is rendered once at load time to HTML and sanitized, so no
// script or style from a file reaches a patient's screen.
type Article struct {
	Key            string   `json:"key"`
	Title          string   `json:"title"`
	Summary        string   `json:"summary"`
	Pathways       []string `json:"pathways"`
	Stages         []string `json:"stages"`
	Topics         []string `json:"topics"`
	Day            int      `json:"day"`
	ReadingMinutes int      `json:"reading_minutes"`
	HTML           string   `json:"-"`
}

type frontMatter struct {
	Title    string   `yaml:"title"`
	Summary  string   `yaml:"summary"`
	Pathways []string `yaml:"pathways"`
	Stages   []string `yaml:"stages"`
	Topics   []string `yaml:"topics"`
	Day      int      `yaml:"day"`
}

// Library is the loaded articles by key.
type Library struct {
	byKey map[string]*Article
	keys  []string
}

// Article returns the article with key.
func (l *Library) Article(key string) (*Article, bool) {
	a, ok := l.byKey[key]
	return a, ok
}

// All returns every article ordered by key.
func (l *Library) All() []*Article {
	out := make([]*Article, 0, len(l.keys))
	for _, k := range l.keys {
		out = append(out, l.byKey[k])
	}
	return out
}

var keyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// LoadArticles reads every *.md file in dir of fsys; errors name the file and the field.
func LoadArticles(fsys fs.FS, dir string) (*Library, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.md"))
	if err != nil {
		return nil, err
	}
	lib := &Library{byKey: map[string]*Article{}}
	var errs []error
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		a, err := ParseArticle(name, b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		lib.byKey[a.Key] = a
		lib.keys = append(lib.keys, a.Key)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Strings(lib.keys)
	return lib, nil
}

var (
	markdown = goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.Linkify))
	policy   = bluemonday.UGCPolicy()
)

// ParseArticle reads one article file; its key is the file name without .md.
func ParseArticle(file string, b []byte) (*Article, error) {
	key := strings.TrimSuffix(path.Base(file), ".md")
	if !keyPattern.MatchString(key) {
		return nil, fmt.Errorf("%s: file name: %q must be lower-case letters, digits and dashes", file, key)
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	rest, ok := strings.CutPrefix(text, "---\n")
	head, body, ok2 := strings.Cut(rest, "\n---\n")
	if !ok || !ok2 {
		return nil, fmt.Errorf("%s: front matter: the file must begin with a YAML block between --- lines", file)
	}
	dec := yaml.NewDecoder(strings.NewReader(head))
	dec.KnownFields(true)
	var fm frontMatter
	if err := dec.Decode(&fm); err != nil {
		return nil, fmt.Errorf("%s: front matter: %w", file, err)
	}
	switch {
	case strings.TrimSpace(fm.Title) == "":
		return nil, fmt.Errorf("%s: front matter: title is required", file)
	case fm.Day < 0:
		return nil, fmt.Errorf("%s: front matter: day %d is before the stage begins", file, fm.Day)
	case strings.TrimSpace(body) == "":
		return nil, fmt.Errorf("%s: the article has no body", file)
	}
	var html bytes.Buffer
	if err := markdown.Convert([]byte(body), &html); err != nil {
		return nil, fmt.Errorf("%s: render markdown: %w", file, err)
	}
	return &Article{Key: key, Title: fm.Title, Summary: fm.Summary, Pathways: orEmpty(fm.Pathways), Stages: orEmpty(fm.Stages),
		Topics: orEmpty(fm.Topics), Day: fm.Day, ReadingMinutes: ReadingMinutes(body), HTML: policy.Sanitize(html.String())}, nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ReadingMinutes estimates reading time: about 300 Chinese characters or 200
// other words a minute for patients reading on a phone; at least one minute.
func ReadingMinutes(text string) int {
	han, words, inWord := 0, 0, false
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Han, r):
			han++
			inWord = false
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if !inWord {
				words++
			}
			inWord = true
		default:
			inWord = false
		}
	}
	return max(1, int(math.Ceil(float64(han)/300+float64(words)/200)))
}
