package server

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
)

// Docs serves the OpenAPI contract and a readable page rendered from it on
// the server, so the docs need no JavaScript and no CDN.
type Docs struct {
	spec []byte
	page []byte
}

// NewDocs parses the spec once and renders the page.
func NewDocs(spec []byte) (*Docs, error) {
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("parse api/openapi.yaml: %w", err)
	}
	type op struct {
		Method, Path, Summary, Description, Security string
		Params                                       []string
		Body                                         string
		Responses                                    []string
	}
	var ops []op
	for _, path := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(path)
		for method, o := range item.Operations() {
			x := op{Method: method, Path: path, Summary: o.Summary, Description: o.Description}
			for _, p := range append(item.Parameters, o.Parameters...) {
				if p.Value != nil {
					x.Params = append(x.Params, fmt.Sprintf("%s (%s)%s", p.Value.Name, p.Value.In, map[bool]string{true: " 必填"}[p.Value.Required]))
				}
			}
			if o.RequestBody != nil && o.RequestBody.Value != nil {
				for ct, mt := range o.RequestBody.Value.Content {
					x.Body = ct + " " + schemaName(mt.Schema)
				}
			}
			for code, r := range o.Responses.Map() {
				desc := ""
				if r.Value != nil && r.Value.Description != nil {
					desc = *r.Value.Description
				}
				x.Responses = append(x.Responses, code+" "+desc)
			}
			sort.Strings(x.Responses)
			if o.Security != nil && len(*o.Security) == 0 {
				x.Security = "无需登录"
			}
			ops = append(ops, x)
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].Path != ops[j].Path {
			return ops[i].Path < ops[j].Path
		}
		return ops[i].Method < ops[j].Method
	})
	var buf bytes.Buffer
	err = docsTemplate.Execute(&buf, map[string]any{"Title": doc.Info.Title, "Version": doc.Info.Version, "Description": doc.Info.Description, "Ops": ops})
	if err != nil {
		return nil, err
	}
	return &Docs{spec: spec, page: buf.Bytes()}, nil
}

func schemaName(s *openapi3.SchemaRef) string {
	if s == nil {
		return ""
	}
	if s.Ref != "" {
		return s.Ref[strings.LastIndex(s.Ref, "/")+1:]
	}
	return "object"
}

// Page serves the HTML docs.
func (d *Docs) Page(c *gin.Context) { c.Data(http.StatusOK, "text/html; charset=utf-8", d.page) }

// Spec serves the raw contract.
func (d *Docs) Spec(c *gin.Context) { c.Data(http.StatusOK, "application/yaml", d.spec) }

var docsTemplate = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{.Title}} API</title>
<style>body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}
.op{border:1px solid #ddd;border-radius:6px;margin:1em 0;padding:.6em 1em}.m{font-weight:bold;display:inline-block;min-width:4em}
.GET{color:#0a7}.POST{color:#c60}.PUT,.PATCH{color:#05c}.DELETE{color:#c22}code{background:#f4f4f4;padding:0 .3em}small{color:#666}</style></head>
<body><h1>{{.Title}} <small>v{{.Version}}</small></h1><p>{{.Description}}</p><p>机器可读的契约：<a href="/api/openapi.yaml">/api/openapi.yaml</a></p>
{{range .Ops}}<div class="op"><div><span class="m {{.Method}}">{{.Method}}</span> <code>{{.Path}}</code> {{.Summary}} <small>{{.Security}}</small></div>
{{if .Description}}<p>{{.Description}}</p>{{end}}{{if .Params}}<div><small>参数：</small>{{range .Params}}<code>{{.}}</code> {{end}}</div>{{end}}
{{if .Body}}<div><small>请求体：</small><code>{{.Body}}</code></div>{{end}}<div><small>响应：</small>{{range .Responses}}<code>{{.}}</code> {{end}}</div></div>{{end}}
</body></html>`))
