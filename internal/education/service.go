package education

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/database"
)

// Position is where an active care plan stands.
type Position struct {
	PatientID string
	PlanID    string
	Pathway   string
	Stage     string
	StageDay  int   // days since the stage began
	Refs      []Ref // the articles the pathway's stage lists
}

// Ref is an article a stage pushes, Day days into the stage.
type Ref struct {
	Article string
	Day     int
}

// Plans tells where care plans stand (the careplan feature).
type Plans interface {
	Position(ctx context.Context, planID string) (Position, bool, error)
	ActivePositions(ctx context.Context) ([]Position, error)
}

// Service holds the rules of education.
type Service struct {
	store *Store
	lib   *Library
	plans Plans
	now   func() time.Time
}

// NewService builds the service.
func NewService(store *Store, lib *Library, plans Plans, now func() time.Time) *Service {
	return &Service{store: store, lib: lib, plans: plans, now: now}
}

// Library returns the loaded articles.
func (s *Service) Library() *Library { return s.lib }

// DueArticles lists the articles a plan's position calls for today: those
// the stage lists whose day has come, and those whose front matter tags the
// pathway and stage and whose day has come. Unknown keys are skipped (the
// application checks the references at start).
func DueArticles(lib *Library, pos Position) []string {
	seen := map[string]bool{}
	var out []string
	add := func(key string) {
		if _, ok := lib.Article(key); ok && !seen[key] {
			seen[key] = true
			out = append(out, key)
		}
	}
	for _, r := range pos.Refs {
		if r.Day <= pos.StageDay {
			add(r.Article)
		}
	}
	for _, a := range lib.All() {
		if a.Day <= pos.StageDay && contains(a.Pathways, pos.Pathway) && contains(a.Stages, pos.Stage) {
			add(a.Key)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// AssignDue gives the patient every article their position calls for that
// they do not have yet; it is idempotent and returns how many were new.
func (s *Service) AssignDue(ctx context.Context, pos Position) (int, error) {
	n := 0
	for _, key := range DueArticles(s.lib, pos) {
		planID := pos.PlanID
		created, err := s.store.Assign(ctx, &Assignment{ID: database.NewID(), PatientID: pos.PatientID, ArticleKey: key,
			PlanID: &planID, StageKey: pos.Stage, Source: SourceStage, AssignedAt: s.now().UTC()})
		if err != nil {
			return n, err
		}
		if created {
			n++
		}
	}
	return n, nil
}

// HandleStageChanged assigns the education of the stage a plan has entered
// (the careplan.stage_changed event). It reads where the plan stands now, so
// a late or repeated delivery does the right thing.
func (s *Service) HandleStageChanged(ctx context.Context, payload []byte) error {
	var ev struct {
		PlanID string `json:"plan_id"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil || ev.PlanID == "" {
		return fmt.Errorf("education: bad stage_changed payload: %v", err)
	}
	pos, ok, err := s.plans.Position(ctx, ev.PlanID)
	if err != nil || !ok {
		return err
	}
	_, err = s.AssignDue(ctx, pos)
	return err
}

// AssignAllDue runs AssignDue for every active plan (the periodic job, for
// articles pushed some days into a stage).
func (s *Service) AssignAllDue(ctx context.Context) (int, error) {
	positions, err := s.plans.ActivePositions(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, pos := range positions {
		n, err := s.AssignDue(ctx, pos)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// Push gives an article to a patient by hand.
func (s *Service) Push(ctx context.Context, a auth.Actor, patientID, articleKey string) (FeedItem, error) {
	if _, ok := s.lib.Article(articleKey); !ok {
		return FeedItem{}, ErrArticleNotFound.WithDetail("field", "article")
	}
	as := Assignment{ID: database.NewID(), PatientID: patientID, ArticleKey: articleKey, Source: SourceManual,
		AssignedBy: a.ID, AssignedAt: s.now().UTC()}
	created, err := s.store.Assign(ctx, &as)
	if err != nil {
		return FeedItem{}, err
	}
	if !created {
		return FeedItem{}, ErrAlreadyAssigned
	}
	return s.itemOf(as), nil
}

// Feed returns the patient's articles, unread first.
func (s *Service) Feed(ctx context.Context, patientID string, unreadOnly bool) (FeedResponse, error) {
	rows, err := s.store.Feed(ctx, patientID, unreadOnly)
	if err != nil {
		return FeedResponse{}, fmt.Errorf("education feed: %w", err)
	}
	resp := FeedResponse{Items: make([]FeedItem, 0, len(rows))}
	for _, r := range rows {
		if _, ok := s.lib.Article(r.ArticleKey); !ok {
			continue // withdrawn from the library
		}
		it := s.itemOf(r)
		if it.Unread {
			resp.Unread++
		}
		resp.Items = append(resp.Items, it)
	}
	return resp, nil
}

// Open returns an assigned article; a patient or relative opening it is recorded.
func (s *Service) Open(ctx context.Context, rel access.Relation, patientID, id string) (ArticleDetail, error) {
	as, err := s.store.ByID(ctx, patientID, id)
	if err != nil {
		return ArticleDetail{}, err
	}
	art, ok := s.lib.Article(as.ArticleKey)
	if !ok {
		return ArticleDetail{}, ErrAssignmentNotFound
	}
	if rel != access.RelationStaff && as.OpenedAt == nil {
		if err := s.store.MarkOpened(ctx, as.ID, s.now().UTC(), string(rel)); err != nil {
			return ArticleDetail{}, fmt.Errorf("mark opened: %w", err)
		}
		if as, err = s.store.ByID(ctx, patientID, id); err != nil {
			return ArticleDetail{}, err
		}
	}
	return ArticleDetail{FeedItem: s.itemOf(as), HTML: art.HTML}, nil
}

// Finish records that the patient (or a relative) read an article to the end.
func (s *Service) Finish(ctx context.Context, rel access.Relation, patientID, id string) (FeedItem, error) {
	if rel == access.RelationStaff {
		return FeedItem{}, ErrReadersOnly
	}
	as, err := s.store.ByID(ctx, patientID, id)
	if err != nil {
		return FeedItem{}, err
	}
	if err := s.store.MarkFinished(ctx, as.ID, s.now().UTC(), string(rel)); err != nil {
		return FeedItem{}, fmt.Errorf("mark finished: %w", err)
	}
	if as, err = s.store.ByID(ctx, patientID, id); err != nil {
		return FeedItem{}, err
	}
	return s.itemOf(as), nil
}

func (s *Service) itemOf(a Assignment) FeedItem {
	art, _ := s.lib.Article(a.ArticleKey)
	return FeedItem{ID: a.ID, Article: SummaryOf(art), Source: a.Source, Stage: a.StageKey, AssignedAt: a.AssignedAt,
		OpenedAt: a.OpenedAt, FinishedAt: a.FinishedAt, ReadBy: a.ReadBy, Unread: a.OpenedAt == nil}
}
