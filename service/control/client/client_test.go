package client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/timesync/timesync/service/config"
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

// An error body's "field" reaches the typed error; a body without one
// (a service from before it was added) leaves it empty.
func TestErrorField(t *testing.T) {
	for _, tt := range []struct {
		body, field string
	}{
		{`{"error": "server 192.0.2.8: minpoll 9 is greater than maxpoll 7", "field": "server.minpoll"}`, "server.minpoll"},
		{`{"error": "minpoll 9 is greater than maxpoll 7"}`, ""},
	} {
		path := filepath.Join(t.TempDir(), "c.sock")
		ln, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, tt.body)
		})}
		go srv.Serve(ln)
		c := New(path)
		_, err = c.AddServer(context.Background(), config.Server{Address: "192.0.2.8", MinPoll: 9, MaxPoll: 7})
		c.Close()
		srv.Close()
		if !IsBadRequest(err) || FieldOf(err) != tt.field || !strings.Contains(err.Error(), "greater than maxpoll") {
			t.Errorf("body %s: got %v (field %q), want a 400 with field %q", tt.body, err, FieldOf(err), tt.field)
		}
	}
	if FieldOf(errors.New("x")) != "" {
		t.Error("FieldOf of a non-API error is not empty")
	}
}
