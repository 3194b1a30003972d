// Package configs embeds the data CarePath ships as files: care pathways
// (pathways/*.yaml) and education articles (education/*.md). The binary
// carries them, so the embedded default needs nothing on disk.
package configs

import "embed"

// Files holds pathways/*.yaml and education/*.md.
//
//go:embed pathways/*.yaml education/*.md
var Files embed.FS
