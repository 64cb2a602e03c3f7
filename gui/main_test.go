package gui

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	// The windows' texts in English whatever the machine's locale (the
	// golden images are English).
	os.Setenv("LANGUAGE", "en")
	os.Setenv("LC_ALL", "en_US.UTF-8")
	os.Exit(m.Run())
}
