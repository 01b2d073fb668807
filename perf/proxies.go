package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
)

// The two Go reference points measured next to attestd, in front of the
// same upstream: the floor (the least any Go design must do per call) and
// httputil.ReverseProxy (what a Go user would write instead). Both use the
// same upstream transport, sized as attestd's and nginx's keep-alive pools.

// proxyTransport is net/http's default transport with attestd's keep-alive
// pool sizes (internal/upstream.NewTransport: 256 idle, 128 per host; nginx
// gets keepalive 128), so no reference point pays for connections the others
// keep.
func proxyTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	return t
}

// serveListening listens on addr, prints the "listening" line the harness
// reads, and serves h with a plain net/http server.
func serveListening(addr string, h http.Handler) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println("listening", lis.Addr().String()) // the harness reads this line
	return (&http.Server{Handler: h}).Serve(lis)
}

// runFloor is the floor: a byte pass-through that reads the caller's body,
// POSTs it to the upstream URL over a keep-alive http.Client, and writes the
// upstream's status, Content-Type and body back. Nothing else: no parsing,
// no logging, no header copying; buffers are pooled.
func runFloor(args []string) error {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	upstream := fs.String("upstream", "", "the URL every request's body is POSTed to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*upstream)
	if err != nil || u.Host == "" {
		return fmt.Errorf("floor: -upstream %q: want an http:// URL", *upstream)
	}
	f := &floor{client: &http.Client{Transport: proxyTransport()}, url: u,
		header: http.Header{"Content-Type": {"application/json"}}}
	return serveListening(*addr, f)
}

type floor struct {
	client *http.Client
	url    *url.URL    // shared, read-only
	header http.Header // the outgoing request's, shared, read-only
	lens   sync.Map    // int → []string: Content-Length values, one allocation per distinct length
}

// floorBufs holds the buffers of the caller's body and of the upstream's
// answer.
var floorBufs = sync.Pool{New: func() any { return new(floorBuf) }}

type floorBuf struct{ b []byte }

// body is the outgoing request's body. net/http may still be writing it
// after the answer arrived, and closes it when done, so its buffer goes back
// to the pool on Close, not when the handler returns.
type body struct {
	bytes.Reader
	buf    *floorBuf
	closed atomic.Bool
}

func (b *body) Close() error {
	if b.closed.CompareAndSwap(false, true) {
		floorBufs.Put(b.buf)
	}
	return nil
}

func (f *floor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in := floorBufs.Get().(*floorBuf)
	var err error
	in.b, err = readAll(r.Body, in.b[:0], r.ContentLength)
	if err != nil {
		floorBufs.Put(in)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b := &body{buf: in}
	b.Reset(in.b)
	req := (&http.Request{
		Method:        http.MethodPost,
		URL:           f.url,
		Header:        f.header,
		Body:          b,
		ContentLength: int64(len(in.b)),
		Host:          f.url.Host,
	}).WithContext(r.Context())
	resp, err := f.client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out := floorBufs.Get().(*floorBuf)
	defer floorBufs.Put(out)
	out.b, err = readAll(resp.Body, out.b[:0], resp.ContentLength)
	resp.Body.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	h := w.Header()
	h["Content-Type"] = resp.Header["Content-Type"]
	h["Content-Length"] = f.contentLength(len(out.b))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out.b)
}

// contentLength is the Content-Length header value for n, allocated once
// per distinct n (the upstream answers with the same length every time).
func (f *floor) contentLength(n int) []string {
	if v, ok := f.lens.Load(n); ok {
		return v.([]string)
	}
	v, _ := f.lens.LoadOrStore(n, []string{strconv.Itoa(n)})
	return v.([]string)
}

// readAll appends r's bytes to b, growing it to size first when size is
// known.
func readAll(r io.Reader, b []byte, size int64) ([]byte, error) {
	if size > 0 && size < 1<<20 && int64(cap(b)) < size+1 {
		b = make([]byte, 0, size+512)
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// runRevProxy is httputil.ReverseProxy in front of the upstream, as a Go
// user would write it: Rewrite with SetURL, on the same transport as the
// floor.
func runRevProxy(args []string) error {
	fs := flag.NewFlagSet("revproxy", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	upstream := fs.String("upstream", "", "the upstream's base URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*upstream)
	if err != nil || u.Host == "" {
		return fmt.Errorf("revproxy: -upstream %q: want an http:// URL", *upstream)
	}
	rp := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
		Transport: proxyTransport(),
	}
	return serveListening(*addr, rp)
}
