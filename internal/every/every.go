// Package every runs a function periodically in the background until stopped: apply's progress
// ticks, its heap bound, its copy progress and the memory profile's sampler.
package every

import "time"

// Do calls f every period, from one goroutine, until stop is called. stop waits for a call in
// progress to return, so that no call happens after it; it must be called once.
func Do(period time.Duration, f func()) (stop func()) {
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				f()
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}
