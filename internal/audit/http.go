package audit

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/platform/web"
)

// Directory names the people in a patient's access log; app wires it over
// the accounts, patient and family stores.
type Directory interface {
	PatientUserID(ctx context.Context, patientID string) (string, error)
	StaffName(ctx context.Context, staffID string) (string, error)
	Relationship(ctx context.Context, patientID, userID string) (string, bool, error)
}

// Handler serves a patient's access log: who looked at or changed their
// data, when. The route is registered with the access policy's AuditRead,
// so only the patient (and their care team) reach it.
type Handler struct {
	store *Store
	dir   Directory
}

// NewHandler builds the handler.
func NewHandler(store *Store, dir Directory) *Handler { return &Handler{store: store, dir: dir} }

// Actor kinds shown in the access log.
const (
	ActorStaff  = "staff"
	ActorFamily = "family"
	ActorUser   = "user" // a WeChat user with no link to the patient (e.g. one who only opened an invitation)
)

// AccessActor is who acted, as the patient may know them: a staff member by
// name, a relative by the relationship the patient gave them.
type AccessActor struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	Role string `json:"role,omitempty"` // staff: cm, lead
}

// AccessEntry is one line of the access log.
type AccessEntry struct {
	ID       string      `json:"id"`
	At       time.Time   `json:"at"`
	Actor    AccessActor `json:"actor"`
	Action   string      `json:"action"`   // the route: GET /api/v1/patients/:patientID/vitals
	Resource string      `json:"resource"` // what of the patient's: profile, vitals, family/members …
	Summary  string      `json:"summary"`  // 查看了体征数据
}

// AccessLogResponse is one page of the access log.
type AccessLogResponse struct {
	Items      []AccessEntry `json:"items"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// AccessLog handles GET /api/v1/patients/:patientID/access-log.
func (h *Handler) AccessLog(c *gin.Context) {
	ctx := c.Request.Context()
	patientID := c.Param("patientID") // already checked by the access policy
	cursor, limit, err := web.Page(c)
	if err != nil {
		web.Error(c, err)
		return
	}
	self, err := h.dir.PatientUserID(ctx, patientID)
	if err != nil {
		web.Error(c, err)
		return
	}
	events, err := h.store.Access(ctx, AccessQuery{PatientID: patientID, ExcludeUserID: self, Cursor: cursor, Limit: limit + 1})
	if err != nil {
		web.Error(c, err)
		return
	}
	resp := AccessLogResponse{Items: make([]AccessEntry, 0, len(events))}
	if len(events) > limit {
		events = events[:limit]
		resp.NextCursor = events[limit-1].ID
	}
	actors := map[string]AccessActor{}
	for _, e := range events {
		key := e.ActorKind + ":" + e.ActorID
		actor, ok := actors[key]
		if !ok {
			if actor, err = h.actor(ctx, patientID, e); err != nil {
				web.Error(c, err)
				return
			}
			actors[key] = actor
		}
		resource := ResourceOf(e.Action)
		resp.Items = append(resp.Items, AccessEntry{ID: e.ID, At: e.At, Actor: actor, Action: e.Action,
			Resource: resource, Summary: Summarize(e.Action, resource)})
	}
	web.OK(c, resp)
}

func (h *Handler) actor(ctx context.Context, patientID string, e Event) (AccessActor, error) {
	if e.ActorKind == ActorStaff {
		name, err := h.dir.StaffName(ctx, e.ActorID)
		return AccessActor{Kind: ActorStaff, Name: name, Role: e.ActorRole}, err
	}
	rel, ok, err := h.dir.Relationship(ctx, patientID, e.ActorID)
	if err != nil || !ok {
		return AccessActor{Kind: ActorUser, Name: "未关联的微信用户"}, err
	}
	return AccessActor{Kind: ActorFamily, Name: rel}, nil
}

// ResourceOf names what of the patient's an action touched, from its route:
// the path after /patients/:patientID (or after /api/v1) without parameters;
// "profile" for the record itself.
func ResourceOf(action string) string {
	_, path, _ := strings.Cut(action, " ")
	path = strings.TrimPrefix(path, "/api/v1")
	if _, rest, ok := strings.Cut(path, "/patients/:patientID"); ok {
		path = rest
	}
	var parts []string
	for _, seg := range strings.Split(path, "/") {
		if seg != "" && !strings.HasPrefix(seg, ":") && !strings.HasPrefix(seg, "*") {
			parts = append(parts, seg)
		}
	}
	if len(parts) == 0 {
		return "profile"
	}
	return strings.Join(parts, "/")
}

var verbs = map[string]string{
	http.MethodGet: "查看了", http.MethodPost: "提交了", http.MethodPut: "修改了", http.MethodPatch: "修改了", http.MethodDelete: "删除了",
}

// resourceNames are the patient-facing names of resources; a resource not
// listed is named by its first known prefix, else shown as is.
var resourceNames = map[string]string{
	"profile":            "患者档案",
	"family":             "家属",
	"family/members":     "家属关联",
	"family/invitations": "家属邀请",
	"consents":           "同意记录",
	"access-log":         "访问记录",
	"plan":               "照护计划",
	"careplan":           "照护计划",
	"education":          "健康宣教",
	"vitals":             "体征数据",
	"observations":       "体征数据",
	"alerts":             "预警",
	"appointments":       "预约",
	"messages":           "消息",
	"followups":          "随访",
}

// Summarize says in words what an action did: 查看了体征数据.
func Summarize(action, resource string) string {
	method, _, _ := strings.Cut(action, " ")
	verb := verbs[method]
	if verb == "" {
		verb = "访问了"
	}
	for r := resource; r != ""; {
		if name, ok := resourceNames[r]; ok {
			return verb + name
		}
		i := strings.LastIndex(r, "/")
		if i < 0 {
			break
		}
		r = r[:i]
	}
	return verb + resource
}
