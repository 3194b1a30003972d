// Package configs embeds the data CarePath ships as files: care pathways
// (pathways/*.yaml), education articles (education/*.md) and the
// subscription-message template registry (notify/templates.yaml). The binary
// carries them, so the embedded default needs nothing on disk.
package configs

import "embed"

// Files holds pathways/*.yaml, education/*.md and notify/templates.yaml.
//
//go:embed pathways/*.yaml education/*.md notify/templates.yaml
var Files embed.FS
