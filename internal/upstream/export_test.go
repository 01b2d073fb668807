package upstream

// OnQueued makes c run f each time a call starts waiting for a slot, so a
// test can synchronise on the queue instead of polling or sleeping. Set it
// before c's first call.
func OnQueued(c *Client, f func()) { c.limiter.onQueue = f }
