package notify

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/database"
)

// Store reads and writes subscriptions, the push log and notifications.
type Store struct {
	db *gorm.DB
}

// NewStore builds a store.
func NewStore(db *gorm.DB) *Store { return &Store{db: db} }

// subscriptionChange is the column changes one result makes, as SQL
// expressions so that concurrent reports never lose a credit.
func subscriptionChange(result string, longTerm bool, now time.Time) map[string]any {
	ch := map[string]any{"status": result, "updated_at": now}
	switch result {
	case ResultAccept:
		ch["accepted"] = gorm.Expr("accepted + 1")
		if longTerm {
			ch["long_term"] = true
		} else {
			ch["quota"] = gorm.Expr("quota + 1")
		}
	case ResultCancelled:
		ch["refused"] = gorm.Expr("refused + 1")
		ch["quota"], ch["long_term"] = 0, false
	default:
		ch["refused"] = gorm.Expr("refused + 1")
		if longTerm {
			ch["long_term"] = false
		}
	}
	return ch
}

// ApplyResult records one subscription result of userID for a template.
func (s *Store) ApplyResult(ctx context.Context, userID string, t Template, result string, now time.Time) error {
	db := s.db.WithContext(ctx)
	for range 2 {
		res := db.Model(&Subscription{}).Where("user_id = ? AND template_id = ?", userID, t.TemplateID).
			Updates(subscriptionChange(result, t.LongTerm(), now))
		if res.Error != nil {
			return fmt.Errorf("record subscription: %w", res.Error)
		}
		if res.RowsAffected > 0 {
			return nil
		}
		// First result for this template: a zero row, then the change. A
		// concurrent first insert makes this a no-op and the update applies.
		row := Subscription{ID: database.NewID(), UserID: userID, TemplateID: t.TemplateID, Status: result, CreatedAt: now, UpdatedAt: now}
		if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
			return fmt.Errorf("record subscription: %w", err)
		}
	}
	return errors.New("record subscription: row neither updated nor created")
}

// Subscriptions lists a user's subscriptions.
func (s *Store) Subscriptions(ctx context.Context, userID string) ([]Subscription, error) {
	var out []Subscription
	if err := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("template_id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	return out, nil
}

// Subscription returns userID's subscription to a template, if any.
func (s *Store) Subscription(ctx context.Context, userID, templateID string) (Subscription, bool, error) {
	var sub Subscription
	err := s.db.WithContext(ctx).Where("user_id = ? AND template_id = ?", userID, templateID).Take(&sub).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Subscription{}, false, nil
	}
	if err != nil {
		return Subscription{}, false, fmt.Errorf("read subscription: %w", err)
	}
	return sub, true, nil
}

// AddNotification creates the in-app notification of an event once.
func (s *Store) AddNotification(ctx context.Context, n *Notification) error {
	if err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(n).Error; err != nil {
		return fmt.Errorf("add notification: %w", err)
	}
	return nil
}

// AddNotifications creates many events' in-app notifications, each once.
func (s *Store) AddNotifications(ctx context.Context, ns []Notification) error {
	if len(ns) == 0 {
		return nil
	}
	if err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(ns, 500).Error; err != nil {
		return fmt.Errorf("add notifications: %w", err)
	}
	return nil
}

// Notifications lists a patient's notifications, newest first, before the
// cursor (an id) when given.
func (s *Store) Notifications(ctx context.Context, patientID, cursor string, limit int) ([]Notification, error) {
	q := s.db.WithContext(ctx).Where("patient_id = ?", patientID)
	if cursor != "" {
		q = q.Where("id < ?", cursor)
	}
	var out []Notification
	if err := q.Order("id DESC").Limit(limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	return out, nil
}

// UnreadCount counts a patient's unread notifications.
func (s *Store) UnreadCount(ctx context.Context, patientID string) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Notification{}).Where("patient_id = ? AND read_at IS NULL", patientID).Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("count notifications: %w", err)
	}
	return n, nil
}

// MarkRead marks the given notifications of a patient read (all when ids is empty).
func (s *Store) MarkRead(ctx context.Context, patientID string, ids []string, now time.Time) (int64, error) {
	q := s.db.WithContext(ctx).Model(&Notification{}).Where("patient_id = ? AND read_at IS NULL", patientID)
	if len(ids) > 0 {
		q = q.Where("id IN ?", ids)
	}
	res := q.Update("read_at", now)
	if res.Error != nil {
		return 0, fmt.Errorf("mark notifications read: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// AddPush creates the push of an event to a recipient unless one exists,
// and returns the one that is stored.
func (s *Store) AddPush(ctx context.Context, p Push) (Push, error) {
	db := s.db.WithContext(ctx)
	if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&p).Error; err != nil {
		return Push{}, fmt.Errorf("add push: %w", err)
	}
	var stored Push
	if err := db.Where("dedupe_key = ? AND user_id = ?", p.DedupeKey, p.UserID).Take(&stored).Error; err != nil {
		return Push{}, fmt.Errorf("read push: %w", err)
	}
	return stored, nil
}

// AddPushes creates many pushes, each unless one exists for its event and
// recipient, and returns the ones that are stored.
func (s *Store) AddPushes(ctx context.Context, ps []Push) ([]Push, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	db := s.db.WithContext(ctx)
	if err := db.Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(ps, 500).Error; err != nil {
		return nil, fmt.Errorf("add pushes: %w", err)
	}
	keys := make([]string, 0, len(ps))
	want := make(map[[2]string]bool, len(ps))
	for _, p := range ps {
		if !want[[2]string{p.DedupeKey, p.UserID}] {
			keys = append(keys, p.DedupeKey)
		}
		want[[2]string{p.DedupeKey, p.UserID}] = true
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	out := make([]Push, 0, len(ps))
	for lo := 0; lo < len(keys); lo += 500 {
		var page []Push
		if err := db.Where("dedupe_key IN ?", keys[lo:min(lo+500, len(keys))]).Find(&page).Error; err != nil {
			return nil, fmt.Errorf("read pushes: %w", err)
		}
		for _, p := range page {
			if want[[2]string{p.DedupeKey, p.UserID}] {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// Push returns one push.
func (s *Store) Push(ctx context.Context, id string) (Push, error) {
	var p Push
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Push{}, apperr.NotFound("推送记录")
	}
	if err != nil {
		return Push{}, fmt.Errorf("read push: %w", err)
	}
	return p, nil
}

// SendState is what a send checks before it goes: the push, the recipient's
// subscription to its template (found false when there is none) and how many
// of the patient's pushes WeChat accepted since the start of the day.
type SendState struct {
	Push      Push
	Sub       Subscription
	SubFound  bool
	SentToday int
}

// SendState loads the push, its subscription and the day's sent count in one
// query (the send path's checks were three round trips). The credit is still
// taken atomically by Claim; this read only decides whether to try.
func (s *Store) SendState(ctx context.Context, pushID string, dayStart time.Time) (SendState, error) {
	sts, err := s.SendStates(ctx, []string{pushID}, dayStart)
	if err != nil {
		return SendState{}, err
	}
	if len(sts) == 0 {
		return SendState{}, apperr.NotFound("推送记录")
	}
	return sts[0], nil
}

// SendStates is SendState for many pushes in one query (a batch of sends),
// in the order of pushIDs; pushes that do not exist are left out.
func (s *Store) SendStates(ctx context.Context, pushIDs []string, dayStart time.Time) ([]SendState, error) {
	var rows []struct {
		Push        `gorm:"embedded"`
		SubID       *string
		SubQuota    *int
		SubLongTerm *bool
		SubStatus   *string
		SentToday   int
	}
	err := s.db.WithContext(ctx).Table("push_log AS p").
		Select(`p.*, s.id AS sub_id, s.quota AS sub_quota, s.long_term AS sub_long_term, s.status AS sub_status,
			(SELECT COUNT(*) FROM push_log AS c WHERE c.patient_id = p.patient_id AND c.status = ? AND c.sent_at >= ?) AS sent_today`,
			StatusSent, dayStart).
		Joins("LEFT JOIN push_subscriptions AS s ON s.user_id = p.user_id AND s.template_id = p.template_id").
		Where("p.id IN ?", pushIDs).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("read push: %w", err)
	}
	byID := make(map[string]SendState, len(rows))
	for _, row := range rows {
		st := SendState{Push: row.Push, SentToday: row.SentToday, SubFound: row.SubID != nil}
		if st.SubFound {
			st.Sub = Subscription{ID: *row.SubID, UserID: row.UserID, TemplateID: row.TemplateID}
			if row.SubQuota != nil {
				st.Sub.Quota = *row.SubQuota
			}
			if row.SubLongTerm != nil {
				st.Sub.LongTerm = *row.SubLongTerm
			}
			if row.SubStatus != nil {
				st.Sub.Status = *row.SubStatus
			}
		}
		byID[row.ID] = st
	}
	out := make([]SendState, 0, len(rows))
	for _, id := range pushIDs {
		if st, ok := byID[id]; ok {
			out = append(out, st)
			delete(byID, id) // an id given twice is sent once
		}
	}
	return out, nil
}

// Pushes lists a patient's pushes, newest first.
func (s *Store) Pushes(ctx context.Context, patientID, cursor string, limit int) ([]Push, error) {
	q := s.db.WithContext(ctx).Where("patient_id = ?", patientID)
	if cursor != "" {
		q = q.Where("id < ?", cursor)
	}
	var out []Push
	if err := q.Order("id DESC").Limit(limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list pushes: %w", err)
	}
	return out, nil
}

// Attempts lists the attempts at the given pushes, oldest first.
func (s *Store) Attempts(ctx context.Context, pushIDs []string) ([]Attempt, error) {
	if len(pushIDs) == 0 {
		return nil, nil
	}
	var out []Attempt
	if err := s.db.WithContext(ctx).Where("push_id IN ?", pushIDs).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list push attempts: %w", err)
	}
	return out, nil
}

// CountSentSince counts a patient's pushes WeChat accepted since t.
func (s *Store) CountSentSince(ctx context.Context, patientID string, t time.Time) (int, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Push{}).Where("patient_id = ? AND status = ? AND sent_at >= ?", patientID, StatusSent, t).Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("count pushes sent: %w", err)
	}
	return int(n), nil
}

// Claim outcomes.
const (
	Claimed          = iota // the push is StatusSending, its credit (if any) taken
	ClaimedElsewhere        // another delivery holds it, or it is settled: nothing to do
	ClaimNoCredit           // a one-time template with no credit left
)

// Claim records, before WeChat is called, that a send holds the push, and
// with reserve takes a one-time credit, in one transaction: two deliveries
// of one task cannot both send, and a send that dies before recording
// WeChat's answer is found StatusSending, never resent.
func (s *Store) Claim(ctx context.Context, p Push, reserve bool, now time.Time) (int, error) {
	var outcome int
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		outcome, err = claimOneTx(tx, p, reserve, now)
		return err
	})
	if errors.Is(err, errRollback) {
		err = nil
	}
	return outcome, err
}

// claimOneTx claims one push in tx as Claim does; with ClaimNoCredit it
// returns errRollback: the caller rolls tx back (the push stays claimable).
func claimOneTx(tx *gorm.DB, p Push, reserve bool, now time.Time) (int, error) {
	res := tx.Model(&Push{}).Where("id = ? AND status IN ?", p.ID, claimable).
		Updates(map[string]any{"status": StatusSending, "updated_at": now})
	if res.Error != nil {
		return 0, fmt.Errorf("claim push: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ClaimedElsewhere, nil
	}
	if !reserve {
		return Claimed, nil
	}
	res = tx.Model(&Subscription{}).Where("user_id = ? AND template_id = ? AND quota > 0", p.UserID, p.TemplateID).
		Updates(map[string]any{"quota": gorm.Expr("quota - 1"), "updated_at": now})
	if res.Error != nil {
		return 0, fmt.Errorf("reserve credit: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ClaimNoCredit, errRollback
	}
	return Claimed, nil
}

var errRollback = errors.New("notify: roll back")

// claimable are the statuses a send may claim.
var claimable = []string{StatusQueued, StatusRetrying, StatusDeferred}

// ClaimBatch claims many pushes as Claim claims one (reserve[i]: take a
// one-time credit for ps[i]) and returns each one's outcome.
func (s *Store) ClaimBatch(ctx context.Context, ps []Push, reserve []bool, now time.Time) ([]int, error) {
	return s.SettleAndClaim(ctx, nil, ps, reserve, now)
}

// SettleAndClaim settles the sends of one chunk of a batch (as SettleBatch)
// and claims the pushes of the next (as ClaimBatch) in one transaction: one
// commit where there were two. The usual claim (none held elsewhere, every
// credit there, one push per user and template) is one statement for the
// pushes and one per template for the credits; anything else rolls that
// claim back to a savepoint and claims one push at a time, each in a
// savepoint of its own, still in the same transaction. All or nothing: with
// an error nothing is recorded and nothing claimed, so the caller may record
// the settlements on their own and no push is left claimed but never sent.
func (s *Store) SettleAndClaim(ctx context.Context, settle []Settlement, ps []Push, reserve []bool, now time.Time) ([]int, error) {
	if len(settle) == 0 && len(ps) == 0 {
		return nil, nil
	}
	out := make([]int, len(ps)) // Claimed (0) unless the fallback says otherwise
	ids := make([]string, len(ps))
	users := map[string][]string{} // template id → users whose credit is taken
	seen := map[[2]string]bool{}
	fast := len(ps) > 0
	for i, p := range ps {
		ids[i] = p.ID
		if !reserve[i] {
			continue
		}
		k := [2]string{p.UserID, p.TemplateID}
		if seen[k] {
			fast = false // two credits of one user: counted one at a time
		}
		seen[k] = true
		users[p.TemplateID] = append(users[p.TemplateID], p.UserID)
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := settleTx(tx, settle, now); err != nil {
			return err
		}
		if len(ps) == 0 {
			return nil
		}
		if fast {
			err := tx.Transaction(func(sp *gorm.DB) error { return claimTx(sp, ids, users, now) })
			if !errors.Is(err, errRollback) {
				return err // claimed, or failed: the whole transaction rolls back
			}
		}
		for i, p := range ps {
			err := tx.Transaction(func(sp *gorm.DB) error {
				var err error
				out[i], err = claimOneTx(sp, p, reserve[i], now)
				return err
			})
			if err != nil && !errors.Is(err, errRollback) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// claimTx claims the pushes ids and takes the credits of users (by
// template); errRollback unless every push and every credit was there.
func claimTx(tx *gorm.DB, ids []string, users map[string][]string, now time.Time) error {
	res := tx.Model(&Push{}).Where("id IN ? AND status IN ?", ids, claimable).
		Updates(map[string]any{"status": StatusSending, "updated_at": now})
	if res.Error != nil {
		return fmt.Errorf("claim pushes: %w", res.Error)
	}
	if res.RowsAffected != int64(len(ids)) {
		return errRollback
	}
	for _, tid := range slices.Sorted(maps.Keys(users)) {
		us := slices.Sorted(slices.Values(users[tid]))
		res := tx.Model(&Subscription{}).Where("template_id = ? AND user_id IN ? AND quota > 0", tid, us).
			Updates(map[string]any{"quota": gorm.Expr("quota - 1"), "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("reserve credits: %w", res.Error)
		}
		if res.RowsAffected != int64(len(us)) {
			return errRollback
		}
	}
	return nil
}

// Interrupt records a push found still claimed (status sending) as
// interrupted, unless its send has settled meanwhile: a redelivery racing a
// send that is still in flight must not overwrite the "sent" it records.
func (s *Store) Interrupt(ctx context.Context, p Push, now time.Time) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Push{}).Where("id = ? AND status = ?", p.ID, StatusSending).Updates(map[string]any{
			"status": StatusInterrupted, "attempts": gorm.Expr("attempts + 1"), "err_code": 0, "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("mark push interrupted: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil
		}
		if err := tx.Create(&Attempt{ID: database.NewID(), PushID: p.ID, Outcome: StatusInterrupted, At: now}).Error; err != nil {
			return fmt.Errorf("record push attempt: %w", err)
		}
		return nil
	})
}

// Settle records an attempt and moves the push to status. With refund, the
// credit Claim took goes back (WeChat did not accept the send), in the
// same transaction; with zeroQuota the credits are cleared (43101).
func (s *Store) Settle(ctx context.Context, p Push, status, outcome string, errCode int, now time.Time, refund, zeroQuota bool) error {
	return s.SettleBatch(ctx, []Settlement{{Push: p, Status: status, Outcome: outcome, ErrCode: errCode, Refund: refund, ZeroQuota: zeroQuota}}, now)
}

// Settlement is how one send attempt ends: see Settle.
type Settlement struct {
	Push      Push
	Status    string
	Outcome   string // the attempt's outcome; "" records no attempt
	ErrCode   int
	Refund    bool
	ZeroQuota bool
}

// SettleBatch settles many sends in one transaction: one insert for their
// attempts, one update per kind of ending (all of a batch's "sent" in one),
// and the credit changes of the few WeChat did not accept.
func (s *Store) SettleBatch(ctx context.Context, ss []Settlement, now time.Time) error {
	if len(ss) == 0 {
		return nil
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return settleTx(tx, ss, now) })
}

func settleTx(tx *gorm.DB, ss []Settlement, now time.Time) error {
	if len(ss) == 0 {
		return nil
	}
	var attempts []Attempt
	type ending struct {
		status  string
		attempt bool
		code    int
	}
	var order []ending
	groups := map[ending][]string{}
	for _, st := range ss {
		if st.Outcome != "" {
			attempts = append(attempts, Attempt{ID: database.NewID(), PushID: st.Push.ID, Outcome: st.Outcome, ErrCode: st.ErrCode, At: now})
		}
		e := ending{st.Status, st.Outcome != "", st.ErrCode}
		if _, ok := groups[e]; !ok {
			order = append(order, e)
		}
		groups[e] = append(groups[e], st.Push.ID)
	}
	if len(attempts) > 0 {
		if err := tx.CreateInBatches(attempts, 500).Error; err != nil {
			return fmt.Errorf("record push attempt: %w", err)
		}
	}
	for _, e := range order {
		ch := map[string]any{"status": e.status, "err_code": e.code, "updated_at": now}
		if e.attempt {
			ch["attempts"] = gorm.Expr("attempts + 1")
		}
		if e.status == StatusSent {
			ch["sent_at"] = now
		}
		if err := tx.Model(&Push{}).Where("id IN ?", groups[e]).Updates(ch).Error; err != nil {
			return fmt.Errorf("update push: %w", err)
		}
	}
	for _, st := range ss {
		sub := tx.Model(&Subscription{}).Where("user_id = ? AND template_id = ?", st.Push.UserID, st.Push.TemplateID)
		switch {
		case st.ZeroQuota:
			if err := sub.Updates(map[string]any{"quota": 0, "long_term": false, "updated_at": now}).Error; err != nil {
				return fmt.Errorf("clear credit: %w", err)
			}
		case st.Refund:
			if err := sub.Updates(map[string]any{"quota": gorm.Expr("quota + 1"), "updated_at": now}).Error; err != nil {
				return fmt.Errorf("refund credit: %w", err)
			}
		}
	}
	return nil
}

// StopUser clears every subscription of userID inside tx (a deactivated
// account): no credit and no long-term permission left, so nothing queued
// or planned for them is sent.
func (s *Store) StopUser(ctx context.Context, tx *gorm.DB, userID string, now time.Time) error {
	return tx.WithContext(ctx).Model(&Subscription{}).Where("user_id = ?", userID).Updates(map[string]any{
		"quota": 0, "long_term": false, "status": ResultCancelled, "updated_at": now,
	}).Error
}
