// Package configs embeds the data CarePath ships as files: care pathways
// (pathways/*.yaml), education articles (education/*.md) and
// questionnaires (questionnaires/*.yaml). The binary
// carries them, so the embedded default needs nothing on disk.
package configs

import "embed"

// Files holds pathways/*.yaml, education/*.md and questionnaires/*.yaml.
//
//go:embed pathways/*.yaml education/*.md questionnaires/*.yaml
var Files embed.FS
