package execpages

import (
	"hash/crc32"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// written lives in the executable's writable data (.data: an initialised
// variable); Release must leave what the process wrote there alone.
var written = [4096]byte{1, 2, 3}

func rssFileKB(t *testing.T) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "RssFile:" {
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// rodataSum reads read-only data of the executable: the unicode tables.
func rodataSum() uint32 {
	h := crc32.NewIEEE()
	for _, name := range []string{"Han", "Latin", "Greek", "Cyrillic", "Arabic"} {
		for _, r := range unicode.Scripts[name].R16 {
			h.Write([]byte{byte(r.Lo), byte(r.Lo >> 8), byte(r.Hi), byte(r.Hi >> 8)})
		}
	}
	return h.Sum32()
}

// TestRelease drops the test binary's own code and read-only data pages:
// RssFile falls, the process keeps running (its code is mapped again on
// use), read-only data reads the same, and what it wrote to its writable
// data is still there.
func TestRelease(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	for i := range written {
		written[i] = byte(i * 7)
	}
	sum := rodataSum()
	before := rssFileKB(t)
	stats, err := Release()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFileKB(t)
	t.Logf("RssFile %d kB -> %d kB; dropped %d mappings (%d kB resident), skipped %d", before, after, len(stats.Mappings), stats.RssKB(), stats.Skipped)
	var code bool
	for _, m := range stats.Mappings {
		if m.Perms[1] != '-' {
			t.Errorf("dropped a writable mapping %x-%x %s", m.Start, m.End, m.Perms)
		}
		code = code || m.Perms == "r-xp"
	}
	if !code {
		t.Errorf("the code mapping was not dropped: %+v", stats.Mappings)
	}
	if stats.Skipped == 0 {
		t.Error("no writable mapping of the executable seen (its .data)")
	}
	// What the test runs next is mapped again at once (with the kernel's
	// fault-around): in a small test binary that is much of it.
	if stats.RssKB() < 512 || after >= before-256 {
		t.Errorf("RssFile %d kB -> %d kB: want it to fall (%d kB dropped)", before, after, stats.RssKB())
	}
	if got := rodataSum(); got != sum {
		t.Errorf("read-only data changed: checksum %x, was %x", got, sum)
	}
	for i := range written {
		if written[i] != byte(i*7) {
			t.Fatalf("writable data lost: written[%d] = %d, want %d", i, written[i], byte(i*7))
		}
	}
}

// TestSelectMappings: only the executable's private, read-only, readable
// mappings without private (copy-on-write) pages are chosen.
func TestSelectMappings(t *testing.T) {
	const smaps = `00400000-02f40000 r-xp 00000000 fd:01 1234   /bin/portcullis
Size:              44288 kB
Rss:               41072 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
02f40000-0645f000 r--p 02b40000 fd:01 1234   /bin/portcullis
Rss:               32188 kB
Anonymous:             0 kB
0645f000-066c9000 rw-p 0605f000 fd:01 1234   /bin/portcullis
Rss:                1188 kB
Anonymous:           900 kB
066c9000-066d0000 r--p 06300000 fd:01 1234   /bin/portcullis
Rss:                  28 kB
Anonymous:             4 kB
066d0000-066e0000 ---p 06310000 fd:01 1234   /bin/portcullis
Rss:                   0 kB
Anonymous:             0 kB
7f0000000000-7f0000100000 r-xp 00000000 fd:01 99   /lib/x86_64-linux-gnu/libc.so.6
Rss:                 800 kB
Anonymous:             0 kB
7f0000200000-7f0000300000 r-xp 00000000 fd:02 1234   /other/device/same/inode
Rss:                 800 kB
Anonymous:             0 kB
c000000000-c004000000 rw-p 00000000 00:00 0
Rss:               65536 kB
Anonymous:         65536 kB
`
	dev, err := parseDev("fd:01")
	if err != nil {
		t.Fatal(err)
	}
	stats, err := selectMappings([]byte(smaps), dev, 1234)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats.Mappings) != 2 || stats.Mappings[0].Start != 0x400000 || stats.Mappings[0].End != 0x2f40000 ||
		stats.Mappings[1].Start != 0x2f40000 || stats.Mappings[1].Perms != "r--p" {
		t.Fatalf("mappings %+v", stats.Mappings)
	}
	if stats.RssKB() != 41072+32188 {
		t.Errorf("RssKB %d", stats.RssKB())
	}
	// Skipped: the writable one, the read-only one with a private page,
	// the unreadable guard.
	if stats.Skipped != 3 {
		t.Errorf("skipped %d, want 3", stats.Skipped)
	}
	if _, err := selectMappings([]byte("00400000 r-xp\n"), dev, 1234); err == nil {
		t.Error("a malformed line was accepted")
	}
}
