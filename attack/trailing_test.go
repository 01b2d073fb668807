package attack

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/attestd/attestd/internal/stytchtest"
)

// TestTrailingData attacks the REST decoder with bodies that hold more than
// one JSON value: a second object, an array, garbage, a stray closing
// bracket or a NUL after the request object. Must hold: each is refused with
// 400 bad_request in Stytch's error shape and never reaches Stytch, while
// trailing whitespace alone is accepted (200).
func TestTrailingData(t *testing.T) {
	fake := stytchtest.NewServer(t)
	tg := start(t, fake)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tc := range []struct {
		name, trailer string
	}{
		{"SecondObject", `{"profile_id":"other","token":"other"}`},
		{"SecondObjectAfterNewline", "\n" + `{"x":1}`},
		{"Array", `[1,2]`},
		{"Garbage", ` garbage`},
		{"Number", ` 42`},
		{"ClosingBracket", `}`},
		{"NUL", "\x00"},
	} {
		before := fake.Calls()
		r := tg.rest(ctx, []byte(normalBody+tc.trailer))
		e, shape := r.stytchError()
		if r.status != http.StatusBadRequest || e.ErrorType != "bad_request" || shape != "" {
			t.Errorf("%s: %v, want 400 bad_request %s", tc.name, r, shape)
		} else {
			t.Logf("%s: 400 %q", tc.name, e.ErrorMessage)
		}
		if n := fake.Calls() - before; n != 0 {
			t.Errorf("%s: the body reached Stytch", tc.name)
		}
	}
	if r := tg.rest(ctx, []byte(normalBody+" \r\n\t ")); r.status != http.StatusOK {
		t.Errorf("trailing whitespace: %v, want 200", r)
	}
}
