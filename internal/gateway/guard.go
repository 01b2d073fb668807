package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/attestd/attestd/internal/apierr"
	"github.com/attestd/attestd/internal/verbatim"
)

// Limits bound what one REST call, and all of them together, may cost.
type Limits struct {
	// MaxBody is the largest request body accepted; larger ones get 413.
	MaxBody int64
	// MaxInFlight caps the REST calls being decoded or served at once
	// (after their bodies have arrived); beyond it calls are shed with 503
	// upstream_overloaded. 0 means no cap.
	MaxInFlight int
	// WriteTimeout bounds each response write: a caller that stops reading
	// loses its connection instead of holding it (and a goroutine) forever.
	// 0 means no bound.
	WriteTimeout time.Duration
	// MaxCallTime is the longest a call may run before its answer is
	// written (the longest call deadline); writes the server makes before
	// the answer, such as "100 Continue", are bounded by it plus
	// WriteTimeout.
	MaxCallTime time.Duration
	// Refused, when set, is told of every call the gateway answers with an
	// error before the interceptor chain runs (shed, body too large or
	// unreadable, undecodable), once the answer is written, so that such
	// calls are logged and counted as the chain's are. took runs from the
	// request's arrival at the handler.
	Refused func(r *http.Request, e *apierr.Error, took time.Duration)
}

// refusedKey carries a call's refusal hook (with its start) in the request
// context, to the gateway's error handler.
type refusedKey struct{}

type refusal struct {
	hook  func(r *http.Request, e *apierr.Error, took time.Duration)
	start time.Time
}

// refuse writes e as the answer of a call the chain never saw and tells the
// Refused hook.
func refuse(w http.ResponseWriter, r *http.Request, e *apierr.Error) {
	writeBody(w, r, e)
	if rf, ok := r.Context().Value(refusedKey{}).(*refusal); ok {
		rf.hook(r, e, time.Since(rf.start))
	}
}

// Lingering close: after refusing an oversized body, attestd reads and
// discards up to lingerBytes of it for at most lingerTime, as nginx's
// lingering close does, so a client that writes its whole body before it
// reads (Python's urllib and requests do) sees the 413 instead of a
// connection reset.
const (
	lingerBytes = 8 << 20
	lingerTime  = 5 * time.Second
)

// guard wraps the REST handler with the limits: bounded writes, the body
// cap, and the in-flight cap.
func guard(next http.Handler, l Limits) http.Handler {
	var slots chan struct{}
	if l.MaxInFlight > 0 {
		slots = make(chan struct{}, l.MaxInFlight)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// This call's slot, and its alone; what it holds goes back to the
		// upstream client's pool once the answer is written.
		ctx, slot := verbatim.WithSlot(r.Context())
		defer slot.Release()
		if l.Refused != nil {
			ctx = context.WithValue(ctx, refusedKey{}, &refusal{hook: l.Refused, start: time.Now()})
		}
		r = r.WithContext(ctx)
		if l.WriteTimeout > 0 {
			w = newDeadlineWriter(w, l)
		}
		if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !readBody(w, r, l.MaxBody) {
				return
			}
		}
		if slots != nil {
			select {
			case slots <- struct{}{}:
				defer func() { <-slots }()
			default:
				e := apierr.UpstreamOverloaded.New(fmt.Sprintf("attestd is serving its limit of %d REST calls", l.MaxInFlight))
				e.RetryAfter = time.Second
				refuse(w, r, e)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// readBody replaces r.Body with its bytes read into memory, refusing bodies
// over maxBody before any decoding. It reports whether the call goes on; when
// it does not, the answer has been written.
func readBody(w http.ResponseWriter, r *http.Request, maxBody int64) bool {
	if r.ContentLength > maxBody {
		refuseTooLarge(w, r, maxBody)
		return false
	}
	// Sized once for a declared length: ReadFrom wants MinRead bytes of
	// room before it reads, which also catches a body longer than declared.
	size := int64(bytes.MinRead)
	if r.ContentLength >= 0 {
		size += r.ContentLength
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	_, err := buf.ReadFrom(io.LimitReader(r.Body, maxBody+1))
	switch {
	case err != nil:
		refuse(w, r, apierr.BadRequest.New("request body could not be read"))
		return false
	case int64(buf.Len()) > maxBody:
		refuseTooLarge(w, r, maxBody)
		return false
	}
	r.Body = &heldBody{Reader: bytes.NewReader(buf.Bytes()), b: buf.Bytes()}
	return true
}

// heldBody is a request body already in memory: the decoder takes its bytes
// as they are instead of copying them once more.
type heldBody struct {
	*bytes.Reader
	b []byte
}

// Close implements io.Closer.
func (*heldBody) Close() error { return nil }

// Bytes returns the whole body, however much of it was read.
func (h *heldBody) Bytes() []byte { return h.b }

// refuseTooLarge answers 413 and closes the connection, first draining a
// bounded part of the body the client may still be sending (unless it waits
// for "100 Continue", in which case it sends nothing more).
func refuseTooLarge(w http.ResponseWriter, r *http.Request, maxBody int64) {
	rc := http.NewResponseController(w)
	// Reading the body after the answer needs full duplex on HTTP/1.
	// HTTP/2 streams have it already and the error is ignored.
	_ = rc.EnableFullDuplex()
	w.Header().Set("Connection", "close")
	refuse(w, r, apierr.RequestTooLarge.New(fmt.Sprintf("request body exceeds %d bytes", maxBody)))
	if r.ProtoMajor != 1 || strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		return
	}
	_ = rc.Flush()
	_ = rc.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.CopyN(io.Discard, r.Body, lingerBytes)
}

// deadlineWriter puts a deadline on the connection's writes: a generous one
// (the longest call plus the write bound) while the call runs, then
// WriteTimeout from the moment the answer starts. A per-write deadline, not
// http.Server.WriteTimeout, because the latter would also have to cover the
// call itself.
type deadlineWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	armed   bool
}

func newDeadlineWriter(w http.ResponseWriter, l Limits) *deadlineWriter {
	d := &deadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: l.WriteTimeout}
	d.set(l.MaxCallTime + l.WriteTimeout)
	return d
}

func (d *deadlineWriter) set(after time.Duration) {
	if err := d.rc.SetWriteDeadline(time.Now().Add(after)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return // the connection is gone; the write will say so
	}
}

// arm starts the answer's write bound once.
func (d *deadlineWriter) arm() {
	if !d.armed {
		d.armed = true
		d.set(d.timeout)
	}
}

// WriteHeader implements http.ResponseWriter.
func (d *deadlineWriter) WriteHeader(code int) {
	if code >= 200 {
		d.arm()
	}
	d.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (d *deadlineWriter) Write(p []byte) (int, error) {
	d.arm()
	return d.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (d *deadlineWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }
