package client

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestNotRunning(t *testing.T) {
	c := New(filepath.Join(t.TempDir(), "none.sock"))
	defer c.Close()
	_, err := c.Status(context.Background())
	if !IsNotRunning(err) {
		t.Fatalf("got %v, want IsNotRunning", err)
	}
	if !strings.Contains(err.Error(), Hint) {
		t.Errorf("error %q lacks the hint", err)
	}
	if IsAccessDenied(err) || IsConflict(err) {
		t.Error("not-running error classified as an API error")
	}
}

func TestErrorClasses(t *testing.T) {
	for _, tt := range []struct {
		code int
		is   func(error) bool
	}{{403, IsAccessDenied}, {404, IsNotFound}, {409, IsConflict}, {400, IsBadRequest}} {
		if err := error(&Error{Status: tt.code, Message: "x"}); !tt.is(err) || IsNotRunning(err) {
			t.Errorf("%d: misclassified", tt.code)
		}
	}
}
