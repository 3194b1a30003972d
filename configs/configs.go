// Package configs embeds the data CarePath ships as files: care pathways
// (pathways/*.yaml), education articles (education/*.md), questionnaires
// (questionnaires/*.yaml) and the subscription-message template registry
// (notify/templates.yaml). The binary
// carries them, so the embedded default needs nothing on disk.
package configs

import "embed"

// Files holds pathways/*.yaml, education/*.md, questionnaires/*.yaml and notify/templates.yaml.
//
//go:embed pathways/*.yaml education/*.md questionnaires/*.yaml notify/templates.yaml
var Files embed.FS
