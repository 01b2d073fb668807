package server

import (
	"io/fs"
	"testing"
)

// TestContainerMemoryLimit: the limit is read from cgroup v2, then v1;
// "max", v1's huge "no limit" and unreadable or malformed files mean none.
func TestContainerMemoryLimit(t *testing.T) {
	files := []string{"v2", "v1"}
	for _, tc := range []struct {
		name   string
		v2, v1 string // "" : the file does not exist
		want   int64
		wantOK bool
	}{
		{"v2 limit", "268435456\n", "", 256 << 20, true},
		{"v2 unlimited", "max\n", "1073741824", 0, false},
		{"v1 limit", "", "536870912\n", 512 << 20, true},
		{"v1 unlimited", "", "9223372036854771712\n", 0, false},
		{"no cgroup files", "", "", 0, false},
		{"malformed", "lots", "", 0, false},
		{"zero", "0", "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			read := func(name string) ([]byte, error) {
				v := map[string]string{"v2": tc.v2, "v1": tc.v1}[name]
				if v == "" {
					return nil, fs.ErrNotExist
				}
				return []byte(v), nil
			}
			got, ok := containerMemoryLimit(files, read)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("got %d %v, want %d %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
