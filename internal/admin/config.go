package admin

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/notify"
	"github.com/carepath/carepath/internal/platform/web"
)

// The administrator's configuration pages: subscription templates (read
// only: they come from configs/notify), and pathways (validate a file with
// the care plan loader, then load it into the running library).

// maxPathwayBytes bounds a pasted or uploaded pathway file.
const maxPathwayBytes = 256 << 10

// TemplateRow is one subscription template of the registry.
type TemplateRow struct {
	Kind string
	notify.Template
}

// TemplatesPage handles GET /admin/templates.
func (h *Handler) TemplatesPage(c *gin.Context) {
	var rows []TemplateRow
	if h.d.Templates != nil {
		for _, k := range h.d.Templates.Kinds() {
			t, _ := h.d.Templates.Template(k)
			rows = append(rows, TemplateRow{Kind: k, Template: t})
		}
	}
	h.render(c, http.StatusOK, "templates.html", h.page(c, "订阅消息模板", map[string]any{"Templates": rows}))
}

// pathwayFile reads the pasted YAML, or the uploaded file when one is sent.
func pathwayFile(c *gin.Context) (name string, body []byte, problem string) {
	if fh, err := c.FormFile("file"); err == nil {
		if fh.Size > maxPathwayBytes {
			return "", nil, "文件过大（不超过 256 KB）"
		}
		f, err := fh.Open()
		if err != nil {
			return "", nil, "无法读取上传的文件"
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxPathwayBytes+1))
		if err != nil {
			return "", nil, "无法读取上传的文件"
		}
		return fh.Filename, b, ""
	}
	text := c.PostForm("yaml")
	if strings.TrimSpace(text) == "" {
		return "", nil, "请粘贴路径 YAML 或选择文件"
	}
	if len(text) > maxPathwayBytes {
		return "", nil, "内容过长（不超过 256 KB）"
	}
	return "pasted.yaml", []byte(text), ""
}

// checkPathway parses and validates a pathway file and checks that every
// article it pushes is in the education library. It returns every problem.
func (h *Handler) checkPathway(c *gin.Context) (*careplan.Pathway, string, []string) {
	name, b, problem := pathwayFile(c)
	if problem != "" {
		return nil, "", []string{problem}
	}
	p, err := careplan.ParsePathway(name, b)
	if err != nil {
		return nil, string(b), problemsOf(err)
	}
	var problems []string
	for i, s := range p.Stages {
		for j, e := range s.Education {
			if _, ok := h.d.Education.Library().Article(e.Article); !ok {
				problems = append(problems, fmt.Sprintf("%s: stages[%d].education[%d].article: 健康教育库中没有文章 %q", name, i, j, e.Article))
			}
		}
	}
	return p, string(b), problems
}

// problemsOf splits a joined error into its lines.
func problemsOf(err error) []string {
	var out []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

func (h *Handler) pathwaysPage(c *gin.Context, status int, extra map[string]any) {
	extra["Pathways"] = h.d.Plans.Pathways().All()
	h.render(c, status, "pathways.html", h.page(c, "临床路径", extra))
}

// ValidatePathway handles POST /admin/pathways/validate: every problem of
// the file, or that it is valid. Nothing changes.
func (h *Handler) ValidatePathway(c *gin.Context) {
	p, text, problems := h.checkPathway(c)
	if len(problems) > 0 {
		h.pathwaysPage(c, http.StatusUnprocessableEntity, map[string]any{"Problems": problems, "YAML": text})
		return
	}
	h.pathwaysPage(c, http.StatusOK, map[string]any{"Valid": p, "YAML": text})
}

// LoadPathway handles POST /admin/pathways/load: a valid pathway joins the
// running library (or replaces the one with its key) in this process only;
// it is not persisted, and a restart loads configs/pathways again.
func (h *Handler) LoadPathway(c *gin.Context) {
	p, text, problems := h.checkPathway(c)
	if len(problems) > 0 {
		h.pathwaysPage(c, http.StatusUnprocessableEntity, map[string]any{"Problems": problems, "YAML": text})
		return
	}
	if err := h.d.Plans.ReplacePathways(ctx(c), h.d.Plans.Pathways().With(p)); err != nil {
		web.Error(c, err)
		return
	}
	web.Logger(c).Info("pathway loaded into the running library", "pathway", p.Key, "version", p.Version)
	h.pathwaysPage(c, http.StatusOK, map[string]any{"Loaded": p})
}

func (h *Handler) templateCount() int {
	if h.d.Templates == nil {
		return 0
	}
	return len(h.d.Templates.Kinds())
}
