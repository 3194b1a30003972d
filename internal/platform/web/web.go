// Package web holds the gin plumbing every handler shares: the one place that
// maps errors to HTTP, JSON binding with field-named errors, request ids,
// structured request logs, panic recovery and request metrics.
package web

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"syscall"

	"github.com/gin-gonic/gin"
	"github.com/go-playground/validator/v10"
	"github.com/go-sql-driver/mysql"

	"github.com/carepath/carepath/internal/platform/apperr"
)

// ErrorBody is the one error shape of the API.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail names the problem with a stable code and a zh-CN message.
type ErrorDetail struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

var statusOf = map[apperr.Kind]int{
	apperr.KindInvalid:       http.StatusBadRequest,
	apperr.KindUnauthorized:  http.StatusUnauthorized,
	apperr.KindForbidden:     http.StatusForbidden,
	apperr.KindNotFound:      http.StatusNotFound,
	apperr.KindConflict:      http.StatusConflict,
	apperr.KindGone:          http.StatusGone,
	apperr.KindUnprocessable: http.StatusUnprocessableEntity,
	apperr.KindRateLimited:   http.StatusTooManyRequests,
	apperr.KindUnavailable:   http.StatusServiceUnavailable,
	apperr.KindTooLarge:      http.StatusRequestEntityTooLarge,
}

// Status is the HTTP status for err.
func Status(err error) int {
	if s, ok := statusOf[apperr.KindOf(err)]; ok {
		return s
	}
	if dependencyDown(err) {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// MySQL/MariaDB errors that mean the server is going away, not that the statement was wrong.
const (
	mysqlServerShutdown   = 1053 // ER_SERVER_SHUTDOWN
	mysqlConnectionKilled = 1927 // ER_CONNECTION_KILLED (MariaDB)
)

// dependencyDown recognises an unclassified error that means the database or
// Redis could not be reached or did not answer in time: the client should
// retry later (503), and nothing about it is the caller's fault.
func dependencyDown(err error) bool {
	var netErr net.Error
	var myErr *mysql.MySQLError
	return errors.As(err, &netErr) ||
		errors.Is(err, driver.ErrBadConn) ||
		// The connection broke mid-statement (the server stopped or
		// restarted): the driver cannot tell whether it ran, so it does not
		// retry; the client may, with its Idempotency-Key.
		errors.Is(err, mysql.ErrInvalidConn) ||
		errors.As(err, &myErr) && (myErr.Number == mysqlServerShutdown || myErr.Number == mysqlConnectionKilled) ||
		errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		strings.Contains(err.Error(), "database is closed") ||
		strings.Contains(err.Error(), "redis: client is closed")
}

// Error writes err as the API's error body, choosing the status from its
// kind. Unclassified errors become a 500 that says only "internal error"; the
// cause is logged here, once. A rate-limit error's wait becomes Retry-After.
func Error(c *gin.Context, err error) {
	status := Status(err)
	body := ErrorDetail{Code: "internal_error", Message: "服务器内部错误"}
	if e, ok := apperr.As(err); ok && status != http.StatusInternalServerError {
		body = ErrorDetail{Code: e.Code, Message: e.Message, Details: e.Details}
		if secs, ok := e.Details[apperr.RetryAfterDetail].(int); ok && status == http.StatusTooManyRequests {
			c.Header("Retry-After", strconv.Itoa(secs))
		}
	} else if status == http.StatusServiceUnavailable {
		body = ErrorDetail{Code: "dependency_unavailable", Message: "服务暂时不可用，请稍后重试"}
	}
	if status >= 500 {
		Logger(c).Error("request failed", "status", status, "error", err.Error())
	}
	c.AbortWithStatusJSON(status, ErrorBody{Error: body})
}

// Validator checks request structs; field errors name the JSON field.
type Validator struct {
	v *validator.Validate
}

// NewValidator builds a validator that reports json field names.
func NewValidator() *Validator {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		if name == "" {
			name, _, _ = strings.Cut(f.Tag.Get("form"), ",")
		}
		return name
	})
	return &Validator{v: v}
}

// Struct validates s and returns a classified error naming the first bad field.
func (val *Validator) Struct(s any) error {
	err := val.v.Struct(s)
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) || len(verrs) == 0 {
		return err
	}
	fe := verrs[0]
	field := fe.Namespace()
	if _, rest, ok := strings.Cut(field, "."); ok {
		field = rest
	}
	return apperr.Invalid(field, "invalid_field", fieldMessage(field, fe)).WithDetail("rule", fe.Tag())
}

func fieldMessage(field string, fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return fmt.Sprintf("缺少必填字段 %s", field)
	case "max":
		return fmt.Sprintf("字段 %s 超出长度或数值上限 %s", field, fe.Param())
	case "min":
		return fmt.Sprintf("字段 %s 低于长度或数值下限 %s", field, fe.Param())
	case "oneof":
		return fmt.Sprintf("字段 %s 的取值必须是以下之一：%s", field, fe.Param())
	default:
		return fmt.Sprintf("字段 %s 的取值不合法", field)
	}
}

// BindJSON decodes the body into dst and validates it. Malformed JSON and
// wrongly typed fields become 400 errors that name the problem and the field.
func (val *Validator) BindJSON(c *gin.Context, dst any) error {
	body := http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20)
	dec := json.NewDecoder(body)
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return apperr.Invalid("", "malformed_json", "请求体只能包含一个 JSON 对象")
	}
	return val.Struct(dst)
}

func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		return apperr.Invalid("", "empty_body", "请求体为空，需要一个 JSON 对象")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.Invalid("", "malformed_json", "请求体不是合法的 JSON")
	case errors.As(err, &typeErr):
		return apperr.Invalid(typeErr.Field, "invalid_field_type",
			fmt.Sprintf("字段 %s 的类型错误，应为 %s", typeErr.Field, typeErr.Type.String()))
	case errors.As(err, &tooBig):
		return ErrBodyTooLarge
	default:
		return apperr.Invalid("", "malformed_json", "请求体无法解析")
	}
}

// OK writes v as JSON with status 200.
func OK(c *gin.Context, v any) { c.JSON(http.StatusOK, v) }

// Logger is the request's logger, carrying request id (and user id once known).
func Logger(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(loggerKey); ok {
		return l.(*slog.Logger)
	}
	return slog.Default()
}

// QueryLimit reads the "limit" query parameter of a list: def when absent,
// otherwise an integer from 1 to max, or a 400 naming the field.
func QueryLimit(c *gin.Context, def, max int) (int, error) {
	s := c.Query("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, apperr.Invalid("limit", "invalid_limit", fmt.Sprintf("limit 必须是 1 到 %d 之间的整数", max))
	}
	return n, nil
}

// Page reads the cursor pagination of a list: ?cursor= (an id, at most 36
// characters) and ?limit= (1 to 200, default 50).
func Page(c *gin.Context) (cursor string, limit int, err error) {
	if limit, err = QueryLimit(c, 50, 200); err != nil {
		return "", 0, err
	}
	cursor = c.Query("cursor")
	if len(cursor) > 36 {
		return "", 0, apperr.Invalid("cursor", "invalid_cursor", "分页游标无效")
	}
	return cursor, limit, nil
}
