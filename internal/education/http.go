package education

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/web"
)

// Handler serves the library and patients' education feeds.
type Handler struct {
	svc *Service
	val *web.Validator
}

// NewHandler builds the handler.
func NewHandler(svc *Service, val *web.Validator) *Handler { return &Handler{svc: svc, val: val} }

// ArticleSummary is an article without its body.
type ArticleSummary struct {
	Key            string   `json:"key"`
	Title          string   `json:"title"`
	Summary        string   `json:"summary"`
	Pathways       []string `json:"pathways"`
	Stages         []string `json:"stages"`
	Topics         []string `json:"topics"`
	Day            int      `json:"day"`
	ReadingMinutes int      `json:"reading_minutes"`
}

// SummaryOf shows an article without its body.
func SummaryOf(a *Article) ArticleSummary {
	if a == nil {
		return ArticleSummary{Pathways: []string{}, Stages: []string{}, Topics: []string{}}
	}
	return ArticleSummary{Key: a.Key, Title: a.Title, Summary: a.Summary, Pathways: a.Pathways, Stages: a.Stages,
		Topics: a.Topics, Day: a.Day, ReadingMinutes: a.ReadingMinutes}
}

// FeedItem is an article assigned to a patient and what became of it.
type FeedItem struct {
	ID         string         `json:"id"`
	Article    ArticleSummary `json:"article"`
	Source     string         `json:"source"`
	Stage      string         `json:"stage,omitempty"`
	AssignedAt time.Time      `json:"assigned_at"`
	OpenedAt   *time.Time     `json:"opened_at"`
	FinishedAt *time.Time     `json:"finished_at"`
	ReadBy     string         `json:"read_by,omitempty"`
	Unread     bool           `json:"unread"`
}

// FeedResponse is a patient's education feed, unread first.
type FeedResponse struct {
	Items  []FeedItem `json:"items"`
	Unread int        `json:"unread"`
}

// ArticleDetail is an assigned article with its sanitized HTML.
type ArticleDetail struct {
	FeedItem
	HTML string `json:"html"`
}

// LibraryArticle is a library article with its HTML, for staff.
type LibraryArticle struct {
	ArticleSummary
	HTML string `json:"html"`
}

// ArticleList is the library.
type ArticleList struct {
	Items []ArticleSummary `json:"items"`
}

// PushRequest pushes an article to a patient.
type PushRequest struct {
	Article string `json:"article" validate:"required,max=64"`
}

// Feed handles GET /patients/:patientID/education[?status=unread].
func (h *Handler) Feed(c *gin.Context) {
	unread := false
	switch c.Query("status") {
	case "":
	case "unread":
		unread = true
	default:
		web.Error(c, apperr.Invalid("status", "invalid_status", "status 只能是 unread"))
		return
	}
	resp, err := h.svc.Feed(c.Request.Context(), access.GrantFrom(c).PatientID, unread)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, resp)
}

// Push handles POST /patients/:patientID/education.
func (h *Handler) Push(c *gin.Context) {
	var req PushRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	a, _ := auth.ActorFrom(c)
	item, err := h.svc.Push(c.Request.Context(), a, access.GrantFrom(c).PatientID, req.Article)
	if err != nil {
		web.Error(c, err)
		return
	}
	c.JSON(http.StatusCreated, item)
}

// Open handles GET /patients/:patientID/education/:assignmentID.
func (h *Handler) Open(c *gin.Context) {
	g := access.GrantFrom(c)
	d, err := h.svc.Open(c.Request.Context(), g.Relation, g.PatientID, c.Param("assignmentID"))
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, d)
}

// Finish handles POST /patients/:patientID/education/:assignmentID/finished.
func (h *Handler) Finish(c *gin.Context) {
	g := access.GrantFrom(c)
	item, err := h.svc.Finish(c.Request.Context(), g.Relation, g.PatientID, c.Param("assignmentID"))
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, item)
}

// Articles handles GET /articles[?pathway=&stage=&topic=]: the library.
func (h *Handler) Articles(c *gin.Context) {
	pathway, stage, topic := c.Query("pathway"), c.Query("stage"), c.Query("topic")
	resp := ArticleList{Items: []ArticleSummary{}}
	for _, a := range h.svc.lib.All() {
		if pathway != "" && !contains(a.Pathways, pathway) || stage != "" && !contains(a.Stages, stage) || topic != "" && !contains(a.Topics, topic) {
			continue
		}
		resp.Items = append(resp.Items, SummaryOf(a))
	}
	web.OK(c, resp)
}

// Article handles GET /articles/:key.
func (h *Handler) Article(c *gin.Context) {
	a, ok := h.svc.lib.Article(c.Param("key"))
	if !ok {
		web.Error(c, ErrArticleNotFound)
		return
	}
	web.OK(c, LibraryArticle{ArticleSummary: SummaryOf(a), HTML: a.HTML})
}
