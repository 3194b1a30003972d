package education

import (
	"bytes"
	"fmt"
	"io/fs"
	"math"
	"path"
	"regexp"
	"strings"
	"unicode"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"go.yaml.in/yaml/v3"

	"github.com/carepath/carepath/internal/platform/catalog"
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
	*catalog.Set[*Article]
}

// Article returns the article with key.
func (l *Library) Article(key string) (*Article, bool) { return l.Get(key) }

var keyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// LoadArticles reads every *.md file in dir of fsys; errors name the file and the field.
func LoadArticles(fsys fs.FS, dir string) (*Library, error) {
	set, err := catalog.Load(fsys, path.Join(dir, "*.md"), "education", func(file string, b []byte) (*Article, string, error) {
		a, err := ParseArticle(file, b)
		if err != nil {
			return nil, "", err
		}
		return a, a.Key, nil
	})
	if err != nil {
		return nil, err
	}
	return &Library{set}, nil
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
