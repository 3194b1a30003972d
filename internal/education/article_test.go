package education_test

import (
	"strings"
	"testing"

	"github.com/carepath/carepath/configs"
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/education"
)

func TestShippedArticlesCoverEveryPathway(t *testing.T) {
	lib, err := education.LoadArticles(configs.Files, "education")
	if err != nil {
		t.Fatalf("shipped articles: %v", err)
	}
	pathways, err := careplan.LoadPathways(configs.Files, "pathways")
	if err != nil {
		t.Fatal(err)
	}
	for key, where := range pathways.ArticleRefs() {
		if _, ok := lib.Article(key); !ok {
			t.Errorf("%s: article %s does not exist", where, key)
		}
	}
	for _, p := range pathways.All() {
		n := 0
		for _, a := range lib.All() {
			for _, pw := range a.Pathways {
				if pw == p.Key {
					n++
				}
			}
			for _, st := range a.Stages {
				if len(a.Pathways) > 0 && p.Key == a.Pathways[0] && p.StageIndex(st) < 0 {
					t.Errorf("article %s is tagged with stage %s, which %s does not have", a.Key, st, p.Key)
				}
			}
		}
		if n < 3 {
			t.Errorf("pathway %s has %d starter articles, want at least 3", p.Key, n)
		}
	}
}

func TestArticleRenderingIsSanitized(t *testing.T) {
	src := "---\ntitle: 测试\npathways: [heart_failure]\nstages: [post_d1_7]\ntopics: [体重]\nday: 2\n---\n" +
		"# 标题\n\n正文 **加粗**。<script>alert(1)</script>\n\n![体重秤](https://example.org/scale.png)\n\n" +
		"[视频：如何称体重](https://example.org/weigh.mp4)\n\n[坏链接](javascript:alert(1))\n"
	a, err := education.ParseArticle("education/hf-test.md", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if a.Key != "hf-test" || a.Title != "测试" || a.Day != 2 || a.ReadingMinutes != 1 {
		t.Fatalf("article %+v", a)
	}
	for _, bad := range []string{"<script", "javascript:"} {
		if strings.Contains(a.HTML, bad) {
			t.Errorf("html keeps %q: %s", bad, a.HTML)
		}
	}
	for _, good := range []string{"<h1", "<strong>加粗</strong>", `<img src="https://example.org/scale.png"`, `href="https://example.org/weigh.mp4"`} {
		if !strings.Contains(a.HTML, good) {
			t.Errorf("html lacks %q: %s", good, a.HTML)
		}
	}
}

func TestBadArticlesNameTheFileAndProblem(t *testing.T) {
	cases := []struct{ name, file, src, want string }{
		{"no front matter", "education/a.md", "# 标题\n", "education/a.md: front matter: the file must begin"},
		{"no title", "education/a.md", "---\nsummary: x\n---\n正文\n", "education/a.md: front matter: title is required"},
		{"unknown field", "education/a.md", "---\ntitle: x\nauthor: y\n---\n正文\n", "field author not found"},
		{"negative day", "education/a.md", "---\ntitle: x\nday: -1\n---\n正文\n", "day -1 is before the stage begins"},
		{"bad file name", "education/A b.md", "---\ntitle: x\n---\n正文\n", "file name"},
		{"empty body", "education/a.md", "---\ntitle: x\n---\n\n", "no body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := education.ParseArticle(tc.file, []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestReadingMinutes(t *testing.T) {
	cases := []struct {
		text string
		want int
	}{
		{"", 1},
		{strings.Repeat("字", 300), 1},
		{strings.Repeat("字", 301), 2},
		{strings.Repeat("word ", 400), 2},
		{strings.Repeat("字", 900), 3},
	}
	for _, tc := range cases {
		if got := education.ReadingMinutes(tc.text); got != tc.want {
			t.Errorf("ReadingMinutes(%d runes) = %d, want %d", len([]rune(tc.text)), got, tc.want)
		}
	}
}

func TestDueArticles(t *testing.T) {
	lib, err := education.LoadArticles(configs.Files, "education")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		pos  education.Position
		want string
	}{
		{"stage list, day 0", education.Position{Pathway: "knee_arthroplasty", Stage: "post_d1_7",
			Refs: []education.Ref{{Article: "tka-home-rehab-week1"}}}, "tka-home-rehab-week1"},
		{"a later day is not due yet", education.Position{Pathway: "lung_cancer_chemo", Stage: "post_d1_7", StageDay: 1,
			Refs: []education.Ref{{Article: "lc-neutropenia-fever"}, {Article: "lc-nutrition", Day: 2}}}, "lc-neutropenia-fever"},
		{"the day has come", education.Position{Pathway: "lung_cancer_chemo", Stage: "post_d1_7", StageDay: 2,
			Refs: []education.Ref{{Article: "lc-neutropenia-fever"}, {Article: "lc-nutrition", Day: 2}}}, "lc-neutropenia-fever,lc-nutrition"},
		{"front matter tags count too", education.Position{Pathway: "lung_cancer_chemo", Stage: "post_w2_3", StageDay: 5}, "lc-nutrition"},
		{"front matter day respected", education.Position{Pathway: "lung_cancer_chemo", Stage: "post_w2_3", StageDay: 1}, ""},
		{"tagged for another pathway", education.Position{Pathway: "hypertension", Stage: "post_d1_7", StageDay: 9}, ""},
		{"unknown article skipped", education.Position{Pathway: "hypertension", Stage: "long_term", Refs: []education.Ref{{Article: "gone"}}}, "htn-medication"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(education.DueArticles(lib, tc.pos), ","); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
