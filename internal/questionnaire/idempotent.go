package questionnaire

import (
	"context"
	"encoding/json"
	"net/http"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/idempotency"
)

// SetKeys makes answers honour the Idempotency-Key header: the key and the
// first response are stored in the answering transaction, so a retry on a
// weak network gets the first answer's result instead of a 409.
func (s *Service) SetKeys(keys *idempotency.Store) { s.keys = keys }

// AnswerOnce is Answer at most once per key (key may be empty); view
// renders the response that is stored and replayed.
func (s *Service) AnswerOnce(ctx context.Context, actor auth.Actor, key, patientID, id string, raw map[string]json.RawMessage,
	view func(Assignment) any) (idempotency.Outcome, error) {
	if s.keys == nil {
		a, err := s.Answer(ctx, actor, patientID, id, raw)
		if err != nil {
			return idempotency.Outcome{}, err
		}
		b, err := json.Marshal(view(a))
		return idempotency.Outcome{Status: http.StatusOK, Body: b}, err
	}
	b, _ := json.Marshal(raw) // map keys are sorted: the same answers hash the same
	k := idempotency.Key{ActorID: actor.ID, Key: key,
		Hash: idempotency.Hash([]byte("questionnaire.answer"), []byte(patientID), []byte(id), b)}
	return s.keys.Do(ctx, k, func(tx *gorm.DB) (int, any, error) {
		bound := *s
		bound.store = s.store.WithDB(tx)
		a, err := bound.Answer(ctx, actor, patientID, id, raw)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, view(a), nil
	})
}
