package execpages

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// Release drops the running executable's read-only private file mappings
// from the process's page tables (madvise MADV_DONTNEED): the code and
// read-only data pages mapped so far stop counting in the process's RSS,
// and are mapped again from the page cache when next used. Only mappings
// of the executable's own file (same device and inode as /proc/self/exe)
// that are not writable and hold no private (copy-on-write) pages are
// dropped: their contents are the file's, so dropping them loses nothing;
// the kernel's reclaim does the same to them under memory pressure.
// Writable mappings and everything anonymous are left alone. It is safe
// to call at any time from any goroutine, and on a system without
// /proc/self/smaps it returns an error and does nothing.
func Release() (Stats, error) {
	exe, err := os.Stat("/proc/self/exe")
	if err != nil {
		return Stats{}, fmt.Errorf("execpages: %w", err)
	}
	st, ok := exe.Sys().(*syscall.Stat_t)
	if !ok {
		return Stats{}, fmt.Errorf("execpages: no inode for /proc/self/exe")
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return Stats{}, fmt.Errorf("execpages: %w", err)
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return Stats{}, fmt.Errorf("execpages: reading smaps: %w", err)
	}
	stats, err := selectMappings(data, st.Dev, st.Ino)
	if err != nil {
		return Stats{}, err
	}
	for _, m := range stats.Mappings {
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, m.Start, m.End-m.Start, syscall.MADV_DONTNEED); errno != 0 {
			return stats, fmt.Errorf("execpages: madvise %x-%x: %w", m.Start, m.End, errno)
		}
	}
	return stats, nil
}
