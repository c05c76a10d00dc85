package admin

import "testing"

func TestTruncateCutsRunes(t *testing.T) {
	for _, tt := range []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exact", 5, "exact"},
		{"abcdef", 3, "abc…"},
		{"åäöåäö", 3, "åäö…"},
		{"日本語テキスト", 2, "日本…"},
		{"", 0, ""},
	} {
		if got := truncate(tt.s, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d): got %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}
