package model

import (
	"embed"
	"sync"

	"fyne.io/fyne/v2/lang"
)

//go:embed translations/*.json
var translations embed.FS

var loadOnce sync.Once

// LoadTranslations registers the English and Japanese texts with fyne's
// lang package, which picks the language from the system locale
// (LANGUAGE, LC_ALL, LC_MESSAGES, LANG on Linux). Safe to call more than
// once.
func LoadTranslations() {
	loadOnce.Do(func() {
		if err := lang.AddTranslationsFS(translations, "translations"); err != nil {
			panic("gui/model: translations: " + err.Error())
		}
	})
}

// langL is lang.L after the translations are loaded.
func langL(s string, data ...any) string {
	LoadTranslations()
	return lang.L(s, data...)
}
