package admission

// stackReserve is the stack a request handler is given up front, in one
// step (growStack): enough for decoding a review and evaluating the
// built-in rules on it (TestGrowStackCoversARequest), whose recursion
// (encoding/json, go-jmespath's interpreter with its large frames) would
// otherwise grow the stack of every request's new goroutine (net/http
// runs each HTTP/2 request on one, starting at a few KiB) by doubling,
// copying the deep stack each time: 12% of the CPU time of a /validate
// request in BenchmarkServeValidateGoroutine (28% with the small
// compliant-pod review) and 10% of the server's under load before this;
// growing once costs about 2%.
// The goroutine's stack becomes 32 KiB (the frame plus what is below it,
// rounded up to a power of two), freed when the request ends.
const stackReserve = 24 << 10

// growStack grows the calling goroutine's stack to hold stackReserve more
// bytes, while it is still shallow and copying it is cheap.
//
//go:noinline
func growStack() {
	var buf [stackReserve]byte
	keepStack(buf[:])
}

// keepStack keeps growStack's frame from being optimised away.
//
//go:noinline
func keepStack([]byte) {}
