package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-sql-driver/mysql"

	"github.com/carepath/carepath/internal/platform/apperr"
)

func serve(t *testing.T, h gin.HandlerFunc, body string) (*httptest.ResponseRecorder, string) {
	t.Helper()
	gin.SetMode(gin.TestMode)
	var logs bytes.Buffer
	e := gin.New()
	e.Use(RequestID(slog.New(slog.NewJSONHandler(&logs, nil))), Recover())
	e.POST("/", h)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body)))
	return rec, logs.String()
}

func TestRateLimitErrorSetsRetryAfter(t *testing.T) {
	err := apperr.RateLimited("slow", "太频繁", 41500*time.Millisecond)
	rec, _ := serve(t, func(c *gin.Context) { Error(c, err) }, "")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "42" {
		t.Fatalf("got %d Retry-After %q, want 429 and 42", rec.Code, rec.Header().Get("Retry-After"))
	}
	rec, _ = serve(t, func(c *gin.Context) { Error(c, apperr.New(apperr.KindRateLimited, "slow", "太频繁")) }, "")
	if rec.Header().Get("Retry-After") != "" {
		t.Fatalf("Retry-After without a detail: %q", rec.Header().Get("Retry-After"))
	}
}

func TestErrorMapsKindsToStatusAndHidesInternals(t *testing.T) {
	cases := []struct {
		err        error
		wantStatus int
		wantCode   string
	}{
		{apperr.Invalid("age", "invalid_field", "年龄不合法"), 400, "invalid_field"},
		{apperr.Unauthorized("token_expired", "登录已过期"), 401, "token_expired"},
		{apperr.NotFound("患者"), 404, "not_found"},
		{apperr.New(apperr.KindConflict, "dup", "重复"), 409, "dup"},
		{apperr.New(apperr.KindGone, "expired", "已过期"), 410, "expired"},
		{apperr.New(apperr.KindUnprocessable, "order", "顺序错误"), 422, "order"},
		{apperr.New(apperr.KindRateLimited, "slow", "太频繁"), 429, "slow"},
		{apperr.Unavailable("redis", errors.New("dial tcp 10.0.0.1:6379: refused")), 503, "dependency_unavailable"},
		{errors.New("sql: password=hunter2 leaked in a driver error"), 500, "internal_error"},
		{fmt.Errorf("load session: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), 503, "dependency_unavailable"},
		{fmt.Errorf("load user: %w", context.DeadlineExceeded), 503, "dependency_unavailable"},
		// MariaDB stopped or restarted under a request (scripts/faults): 503, not 500.
		{fmt.Errorf("lock patient: %w", mysql.ErrInvalidConn), 503, "dependency_unavailable"},
		{fmt.Errorf("insert message: %w", &mysql.MySQLError{Number: 1053, Message: "Server shutdown in progress"}), 503, "dependency_unavailable"},
		{fmt.Errorf("insert message: %w", &mysql.MySQLError{Number: 1927, Message: "Connection was killed"}), 503, "dependency_unavailable"},
		{fmt.Errorf("insert message: %w", &mysql.MySQLError{Number: 1062, Message: "Duplicate entry"}), 500, "internal_error"},
	}
	for _, tc := range cases {
		rec, logs := serve(t, func(c *gin.Context) { Error(c, tc.err) }, "")
		var body ErrorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if rec.Code != tc.wantStatus || body.Error.Code != tc.wantCode || body.Error.Message == "" {
			t.Errorf("%v: got %d %+v, want %d %s", tc.err, rec.Code, body.Error, tc.wantStatus, tc.wantCode)
		}
		if strings.Contains(rec.Body.String(), "hunter2") || strings.Contains(rec.Body.String(), "10.0.0.1") {
			t.Errorf("error body leaks the cause: %s", rec.Body)
		}
		if tc.wantStatus >= 500 && !strings.Contains(logs, "request failed") {
			t.Errorf("a %d must be logged once with its cause", tc.wantStatus)
		}
	}
}

func TestBindJSONNamesTheProblem(t *testing.T) {
	type req struct {
		Name string `json:"name" validate:"required,max=4"`
		Age  int    `json:"age" validate:"min=0,max=150"`
	}
	val := NewValidator()
	cases := map[string]struct {
		body      string
		wantCode  string
		wantField string
	}{
		"ok":           {`{"name":"张三","age":30}`, "", ""},
		"syntax":       {`{"name":`, "malformed_json", ""},
		"wrong type":   {`{"name":"a","age":"old"}`, "invalid_field_type", "age"},
		"missing":      {`{"age":3}`, "invalid_field", "name"},
		"too long":     {`{"name":"abcdefg"}`, "invalid_field", "name"},
		"out of range": {`{"name":"a","age":200}`, "invalid_field", "age"},
		"empty":        {``, "empty_body", ""},
		"two objects":  {`{"name":"a"}{"name":"b"}`, "malformed_json", ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got error
			serve(t, func(c *gin.Context) {
				var r req
				got = val.BindJSON(c, &r)
			}, tc.body)
			if tc.wantCode == "" {
				if got != nil {
					t.Fatalf("got %v, want no error", got)
				}
				return
			}
			e, ok := apperr.As(got)
			if !ok || e.Code != tc.wantCode || e.Kind != apperr.KindInvalid {
				t.Fatalf("got %v, want %s", got, tc.wantCode)
			}
			if field, _ := e.Details["field"].(string); field != tc.wantField {
				t.Fatalf("field = %q, want %q", field, tc.wantField)
			}
			if !strings.ContainsAny(e.Message, "字段请求") {
				t.Fatalf("message %q is not a Chinese explanation", e.Message)
			}
		})
	}
}

func TestRecoverTurnsAPanicIntoA500(t *testing.T) {
	rec, logs := serve(t, func(c *gin.Context) { panic("boom") }, "")
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "internal_error") || !strings.Contains(logs, "panic") {
		t.Fatalf("got %d %s, logs %s", rec.Code, rec.Body, logs)
	}
	if rec.Header().Get(RequestIDHeader) == "" {
		t.Fatal("no request id echoed")
	}
}
