package config

import (
	"errors"
	"fmt"
)

// Error names the configuration key that is wrong and why. Key is relative
// to the section the settings were read from until In puts it under its
// section; an empty Key stands for the whole section.
type Error struct {
	Key string
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("config: %s: %s", e.Key, e.Msg) }

// Errorf returns an *Error naming key, with a message formatted as by
// fmt.Sprintf.
func Errorf(key, format string, args ...any) error {
	return &Error{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// In returns err with its key under section: an *Error for "batch_size"
// becomes one for "sync.batch_size", one for "scorecard[2].feature" one for
// "scoring.scorecard[2].feature", and one for the whole section (empty key)
// names the section. Any other error becomes an *Error naming the section.
// In returns nil for a nil err.
func In(section string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		return &Error{Key: section, Msg: err.Error()}
	}
	key := section
	switch {
	case e.Key == "":
	case e.Key[0] == '[':
		key += e.Key
	default:
		key += "." + e.Key
	}
	return &Error{Key: key, Msg: e.Msg}
}
