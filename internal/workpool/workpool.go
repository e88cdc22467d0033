package workpool

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Run calls fn(i) for every i in [0, n) on at most workers goroutines
// (GOMAXPROCS when workers <= 0) and returns when every call has
// returned. Items are handed out in index order; fn must be safe for
// concurrent use and write its output by index. With one item or one
// worker, fn runs on the calling goroutine.
//
// If calls panic, the remaining items still run (an item cannot leave the
// pool half-done) and the first panic is raised again on the calling
// goroutine as a *Panic once all workers have stopped.
func Run(n, workers int, fn func(i int)) {
	if n <= 0 {
		return
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, n)
	if workers == 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first *Panic
	)
	call := func(i int) {
		defer func() {
			if v := recover(); v != nil {
				p := &Panic{Value: v, Stack: stack()}
				once.Do(func() { first = p })
			}
		}()
		fn(i)
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				call(i)
			}
		}()
	}
	wg.Wait()
	if first != nil {
		panic(first)
	}
}

// Panic is a panic raised by a work item, carried to the caller of Run.
type Panic struct {
	// Value is what the item panicked with.
	Value any
	// Stack is the worker goroutine's stack at the panic.
	Stack []byte
}

// Error implements error, so a recovered *Panic can be reported as one.
func (p *Panic) Error() string { return fmt.Sprintf("panic in work item: %v", p.Value) }

func stack() []byte {
	buf := make([]byte, 16<<10)
	return buf[:runtime.Stack(buf, false)]
}
