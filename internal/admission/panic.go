package admission

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/workpool"
	admissionv1 "k8s.io/api/admission/v1"
)

// PanicError is a panic recovered while a request was evaluated: in the
// engine, a language runtime, a registry parser or a worker goroutine
// (whose panics workpool and imageverify carry back to the request's
// goroutine).
type PanicError struct {
	// Value is what the code panicked with.
	Value any
	// Stack is the stack of the goroutine that panicked.
	Stack []byte
}

// Error implements error. It names the panic value, never the stack.
func (p *PanicError) Error() string {
	return fmt.Sprintf("internal error: panic during evaluation: %v", p.Value)
}

// asPanicError turns a recovered value into a *PanicError, keeping the
// stack of the worker goroutine when the panic was carried from one.
func asPanicError(v any) *PanicError {
	var wp *workpool.Panic
	if err, ok := v.(error); ok && errors.As(err, &wp) {
		return &PanicError{Value: wp.Value, Stack: wp.Stack}
	}
	return &PanicError{Value: v, Stack: debug.Stack()}
}

// panicked records a recovered panic: counted by endpoint, logged at error
// level with its stack.
func (h *Handler) panicked(ctx context.Context, endpoint string, req *admissionv1.AdmissionRequest, p *PanicError) {
	h.metrics.panics.WithLabelValues(endpoint).Inc()
	attrs := []slog.Attr{slog.String("endpoint", endpoint), slog.String("panic", fmt.Sprint(p.Value)), slog.String("stack", string(p.Stack))}
	if req != nil {
		h.logRequest(ctx, slog.LevelError, req, "panic while evaluating an admission request", attrs...)
		return
	}
	h.log.LogAttrs(ctx, slog.LevelError, "panic while serving an admission request", attrs...)
}

// evaluateSafely is evaluate with a panic turned into the verdict of a
// failed evaluation (engine.DecideFailed): denied when an enforcing
// policy with failurePolicy Fail could apply, else admitted with a
// warning, as for a deadline.
func (h *Handler) evaluateSafely(ctx context.Context, endpoint string, set *policy.Set, d *decoded, phase engine.Phase) (v engine.Decision) {
	defer func() {
		if r := recover(); r != nil {
			p := asPanicError(r)
			h.panicked(ctx, endpoint, d.req, p)
			v = engine.DecideFailed(set, d.req.Kind.Kind, resourceOf(d.req), nil, p)
			v.Patches = nil
		}
	}()
	return h.evaluate(ctx, set, d, phase)
}

// guard answers a panic outside evaluation (decoding, encoding) with a 500
// instead of letting net/http reset the connection, and counts it. The
// API server then applies the webhook's failurePolicy. It first gives the
// request's goroutine the stack the handler needs (growStack).
func (h *Handler) guard(endpoint string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		growStack() // in one step, not by doubling deep inside the handler
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				h.panicked(r.Context(), endpoint, nil, asPanicError(v))
				writeText(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next(w, r)
	}
}
