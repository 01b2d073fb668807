package upstream

import (
	"bytes"
	"testing"
)

// TestAnswerBuffers: a pooled buffer is reused from empty, keeps what it
// grew into while reading, and one grown past the cap is not kept.
func TestAnswerBuffers(t *testing.T) {
	p := &bufferPool{}
	for _, tc := range []struct {
		name     string
		answer   int
		wantKept bool
	}{
		{"typical", 9 << 10, true},
		{"grown", 100 << 10, true},
		{"over the pooled cap", maxPooledAnswerBuffer + 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, 0, answerBufferSize)
			body := bytes.Repeat([]byte("x"), tc.answer)
			raw, err := readCappedInto(b, bytes.NewReader(body), 1<<20, -1)
			if err != nil || !bytes.Equal(raw, body) {
				t.Fatalf("read %d bytes, %v", len(raw), err)
			}
			p.put(&b, raw)
			if kept := len(b) == 0 && cap(b) >= tc.answer; kept != tc.wantKept {
				t.Errorf("buffer kept %v (len %d cap %d), want %v", kept, len(b), cap(b), tc.wantKept)
			}
			// A failed read returns nil: the original buffer goes back.
			orig := make([]byte, 0, answerBufferSize)
			p.put(&orig, nil)
			if cap(orig) != answerBufferSize {
				t.Errorf("failed read: cap %d", cap(orig))
			}
		})
	}
}
