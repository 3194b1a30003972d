// Package api embeds the HTTP contract (openapi.yaml) so the binary can serve
// it and tests can validate every response against it.
package api

import _ "embed"

// Spec is api/openapi.yaml.
//
//go:embed openapi.yaml
var Spec []byte
