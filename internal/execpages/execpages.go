package execpages

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Mapping is one mapping of the executable that Release may drop.
type Mapping struct {
	Start, End uintptr
	Perms      string // as in /proc/PID/maps, e.g. r-xp
	RssKB      int64  // resident before Release
}

// Stats says what Release did.
type Stats struct {
	// Mappings are the executable's read-only private file mappings it
	// dropped.
	Mappings []Mapping
	// Skipped counts the executable's mappings it left alone: writable
	// ones (.data, .bss) and any holding private copies of pages.
	Skipped int
}

// RssKB is the resident size of the dropped mappings before Release.
func (s Stats) RssKB() int64 {
	var n int64
	for _, m := range s.Mappings {
		n += m.RssKB
	}
	return n
}

// selectMappings parses /proc/PID/smaps and returns the mappings of the
// file with device dev and inode ino that Release may drop: private, not
// writable, readable, and without anonymous (copy-on-write) pages.
func selectMappings(smaps []byte, dev, ino uint64) (Stats, error) {
	var stats Stats
	var cur *Mapping
	var anon int64
	var ours bool
	done := func() {
		if cur == nil || !ours {
			return
		}
		if cur.Perms[0] == 'r' && cur.Perms[1] == '-' && cur.Perms[3] == 'p' && anon == 0 {
			stats.Mappings = append(stats.Mappings, *cur)
		} else {
			stats.Skipped++
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if !strings.HasSuffix(f[0], ":") {
			// A mapping: start-end perms offset major:minor inode [path].
			done()
			cur, anon, ours = nil, 0, false
			if len(f) < 5 {
				return Stats{}, fmt.Errorf("execpages: smaps: unexpected line %q", line)
			}
			m, err := parseMapping(f)
			if err != nil {
				return Stats{}, err
			}
			fdev, err := parseDev(f[3])
			if err != nil {
				return Stats{}, err
			}
			fino, err := strconv.ParseUint(f[4], 10, 64)
			if err != nil {
				return Stats{}, fmt.Errorf("execpages: smaps: inode in %q: %w", line, err)
			}
			cur, ours = &m, fino != 0 && fino == ino && fdev == dev
			continue
		}
		if cur == nil || len(f) < 2 {
			continue
		}
		switch f[0] {
		case "Rss:":
			cur.RssKB, _ = strconv.ParseInt(f[1], 10, 64)
		case "Anonymous:":
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				// Unreadable: treat as holding private pages.
				n = 1
			}
			anon = n
		}
	}
	if err := sc.Err(); err != nil {
		return Stats{}, fmt.Errorf("execpages: smaps: %w", err)
	}
	done()
	return stats, nil
}

func parseMapping(f []string) (Mapping, error) {
	start, end, ok := strings.Cut(f[0], "-")
	if !ok || len(f[1]) != 4 {
		return Mapping{}, fmt.Errorf("execpages: smaps: unexpected mapping %q", strings.Join(f, " "))
	}
	s, err := strconv.ParseUint(start, 16, 64)
	if err != nil {
		return Mapping{}, fmt.Errorf("execpages: smaps: %w", err)
	}
	e, err := strconv.ParseUint(end, 16, 64)
	if err != nil || e <= s {
		return Mapping{}, fmt.Errorf("execpages: smaps: unexpected mapping %q", f[0])
	}
	return Mapping{Start: uintptr(s), End: uintptr(e), Perms: f[1]}, nil
}

// parseDev parses major:minor (hexadecimal) of /proc/PID/maps into the
// st_dev encoding of Linux (glibc's makedev).
func parseDev(s string) (uint64, error) {
	maj, min, ok := strings.Cut(s, ":")
	if !ok {
		return 0, fmt.Errorf("execpages: smaps: device %q", s)
	}
	ma, err := strconv.ParseUint(maj, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("execpages: smaps: device %q: %w", s, err)
	}
	mi, err := strconv.ParseUint(min, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("execpages: smaps: device %q: %w", s, err)
	}
	return (ma&0xfffff000)<<32 | (ma&0xfff)<<8 | (mi&0xffffff00)<<12 | mi&0xff, nil
}
