package careplan_test

import (
	"net/http"
	"testing"

	"github.com/carepath/carepath/internal/apitest"
)

type feedBody struct {
	Items []struct {
		ID      string `json:"id"`
		Article struct {
			Key string `json:"key"`
		} `json:"article"`
		Unread bool `json:"unread"`
	} `json:"items"`
	Unread int `json:"unread"`
}

func feedOf(t *testing.T, e *apitest.Env, a actor, patientID string) feedBody {
	t.Helper()
	var f feedBody
	do(t, e, a, http.MethodGet, "/api/v1/patients/"+patientID+"/education", nil, http.StatusOK).JSON(t, &f)
	return f
}

func countArticle(f feedBody, key string) int {
	n := 0
	for _, it := range f.Items {
		if it.Article.Key == key {
			n++
		}
	}
	return n
}
