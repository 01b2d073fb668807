package jwks

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/apierr"
	"github.com/attestd/attestd/internal/verbatim"
)

// CacheControlHeader is the metadata key of the caching answer the gateway
// passes on to REST callers as Cache-Control.
const CacheControlHeader = "cache-control"

// ProjectNotFound is Stytch's answer for a project it does not know, as
// attestd gives it for any project other than its own.
var ProjectNotFound = apierr.Kind{Code: codes.NotFound, HTTPStatus: 404, Type: apierr.TypeProjectNotFound}

// GetJwks serves SessionService.GetJwks: the set for attestd's own
// project, with Cache-Control for the time it stays fresh; REST callers
// get Stytch's bytes as they are (package verbatim).
func (c *Cache) GetJwks(ctx context.Context, req *b2bsessionv1.GetJwksRequest) (*b2bsessionv1.GetJwksResponse, error) {
	if req.GetProjectId() != c.opts.ProjectID {
		return nil, ProjectNotFound.New(fmt.Sprintf("Project %s could not be found.", req.GetProjectId())).Bound()
	}
	set, maxAge, err := c.Get(ctx)
	if err != nil {
		return nil, err
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs(CacheControlHeader, CacheControl(maxAge)))
	// A message of this call's own (the set's is shared), over the same
	// read-only keys: the verbatim slot binds bytes to a message by pointer.
	resp := &b2bsessionv1.GetJwksResponse{Keys: set.Msg.GetKeys(), RequestId: set.Msg.GetRequestId(), StatusCode: set.Msg.GetStatusCode()}
	verbatim.Keep(ctx, resp, set.Raw, nil)
	return resp, nil
}

// CacheControl is the Cache-Control value for a set fresh for maxAge more
// (whole seconds, rounded down).
func CacheControl(maxAge time.Duration) string {
	return fmt.Sprintf("public, max-age=%d", int64(max(0, maxAge)/time.Second))
}
