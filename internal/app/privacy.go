package app

import (
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/questionnaire"
)

// catalogNames gives the export its pathway, stage and questionnaire names.
type catalogNames struct {
	pathways       *careplan.Library
	questionnaires *questionnaire.Library
}

func (n catalogNames) Pathway(key string) (string, map[string]string) {
	p, ok := n.pathways.Pathway(key)
	if !ok {
		return "", nil
	}
	stages := make(map[string]string, len(p.Stages))
	for _, s := range p.Stages {
		stages[s.Key] = s.Name
	}
	return p.Name, stages
}

func (n catalogNames) Questionnaire(key string) string {
	if d, ok := n.questionnaires.Get(key); ok {
		return d.Name
	}
	return ""
}
