package upstream

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadCapped(t *testing.T) {
	body := func(n int) []byte { return bytes.Repeat([]byte("x"), n) }
	broken := errors.New("connection reset")
	cases := []struct {
		name     string
		r        func() io.Reader
		limit    int64
		hint     int64
		wantLen  int
		wantErr  error
		tooLarge bool
	}{
		{"empty", func() io.Reader { return strings.NewReader("") }, 10, -1, 0, nil, false},
		{"empty, declared", func() io.Reader { return strings.NewReader("") }, 10, 0, 0, nil, false},
		{"under the cap", func() io.Reader { return bytes.NewReader(body(9)) }, 10, -1, 9, nil, false},
		{"exactly the cap", func() io.Reader { return bytes.NewReader(body(10)) }, 10, -1, 10, nil, false},
		{"exactly the cap, declared", func() io.Reader { return bytes.NewReader(body(10)) }, 10, 10, 10, nil, false},
		{"one over the cap", func() io.Reader { return bytes.NewReader(body(11)) }, 10, -1, 0, nil, true},
		{"far over the cap", func() io.Reader { return bytes.NewReader(body(1 << 20)) }, 4096, -1, 0, nil, true},
		{"hint too small", func() io.Reader { return bytes.NewReader(body(5000)) }, 8192, 10, 5000, nil, false},
		{"hint too large", func() io.Reader { return bytes.NewReader(body(10)) }, 8192, 5000, 10, nil, false},
		{"one byte at a time", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(body(3000))) }, 3000, -1, 3000, nil, false},
		{"one byte at a time, over", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(body(3001))) }, 3000, -1, 0, nil, true},
		{"data with EOF", func() io.Reader { return iotest.DataErrReader(bytes.NewReader(body(700))) }, 1000, -1, 700, nil, false},
		{"no practical cap", func() io.Reader { return bytes.NewReader(body(100000)) }, math.MaxInt64, -1, 100000, nil, false},
		{"no practical cap, declared", func() io.Reader { return bytes.NewReader(body(100)) }, math.MaxInt64, 100, 100, nil, false},
		{"broken mid-body", func() io.Reader { return io.MultiReader(bytes.NewReader(body(600)), iotest.ErrReader(broken)) }, 1000, -1, 0, broken, false},
		{"broken at the cap", func() io.Reader { return io.MultiReader(bytes.NewReader(body(10)), iotest.ErrReader(broken)) }, 10, -1, 0, broken, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readCapped(tc.r(), tc.limit, tc.hint)
			switch {
			case tc.tooLarge:
				if !errors.Is(err, errTooLarge) {
					t.Errorf("err %v, want errTooLarge", err)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("err %v, want %v", err, tc.wantErr)
				}
			case err != nil:
				t.Errorf("err %v", err)
			case len(got) != tc.wantLen || !bytes.Equal(got, body(tc.wantLen)):
				t.Errorf("read %d bytes, want %d", len(got), tc.wantLen)
			}
		})
	}
}
