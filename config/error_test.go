package config_test

import (
	"errors"
	"fmt"
	"testing"

	"kassa/config"
)

func TestIn(t *testing.T) {
	tests := []struct {
		section string
		err     error
		want    string
	}{
		{"sync", config.Errorf("batch_size", "must be between 1 and 10000, got %d", 0), "sync.batch_size"},
		{"scoring", config.Errorf("scorecard[2].feature", "unknown"), "scoring.scorecard[2].feature"},
		{"checkout", config.Errorf("", "refused"), "checkout"},
		{"peers", config.Errorf("[0].url", "bad"), "peers[0].url"},
		{"ledger", errors.New("plain"), "ledger"},
	}
	for _, tt := range tests {
		err := config.In(tt.section, tt.err)
		var e *config.Error
		if !errors.As(err, &e) || e.Key != tt.want {
			t.Errorf("In(%q, %v): got %v, want an *Error naming %s", tt.section, tt.err, err, tt.want)
		}
	}
	if config.In("sync", nil) != nil {
		t.Error("In of nil: got an error, want nil")
	}
}

func ExampleIn() {
	err := config.In("sync", config.Errorf("batch_size", "must be between 1 and 10000, got %d", 0))
	fmt.Println(err)
	// Output: config: sync.batch_size: must be between 1 and 10000, got 0
}
