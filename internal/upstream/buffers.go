package upstream

import "sync"

// Answer buffers: Stytch's answers (~9 KB typically) are read into pooled
// buffers, so a call does not allocate one, grow it and leave it to the
// collector. A buffer goes back once the answer is decoded, or, when a REST
// call serves the bytes verbatim, once that call has written them
// (verbatim.Slot.Release).
const (
	// answerBufferSize is a new buffer's capacity: room for a typical
	// answer without growing.
	answerBufferSize = 16 << 10
	// maxPooledAnswerBuffer is the largest buffer kept: an unusually large
	// answer's buffer is left to the collector rather than held forever.
	maxPooledAnswerBuffer = 256 << 10
)

// bufferPool recycles answer buffers.
type bufferPool struct{ pool sync.Pool }

var answerBuffers = &bufferPool{pool: sync.Pool{New: func() any {
	b := make([]byte, 0, answerBufferSize)
	return &b
}}}

// get returns an empty buffer.
func (p *bufferPool) get() *[]byte { return p.pool.Get().(*[]byte) }

// put returns b to the pool, keeping used, what it grew into while reading
// (nil when reading failed), when that is larger.
func (p *bufferPool) put(b *[]byte, used []byte) {
	if cap(used) > cap(*b) {
		*b = used
	}
	if cap(*b) > maxPooledAnswerBuffer {
		return
	}
	*b = (*b)[:0]
	p.pool.Put(b)
}
